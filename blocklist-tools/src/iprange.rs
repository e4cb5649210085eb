//! IP rules as sorted, non-overlapping ranges. Overlaps are resolved at
//! compile time: for each piece of the address space, the chain of rules
//! covering it (outer to inner) decides as [`crate::scoped`] says: an
//! exception cancels its own source's blocks only, the most specific
//! surviving rule wins, allow wins ties.

use crate::rule;
use crate::scoped::Chain;

/// One IP rule before resolution (v4 addresses are stored in the low 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpRule {
    pub(crate) start: u128,
    pub(crate) end: u128,
    pub(crate) decision: u32,
}

/// A resolved range: every address in `start..=end` is decided by `decision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) start: u128,
    pub(crate) end: u128,
    pub(crate) decision: u32,
}

/// An open rule and the next address of it not yet emitted (None = done).
type Open = (IpRule, Option<u128>);

/// Turn CIDR rules (nested or disjoint, never partially overlapping) into
/// sorted, disjoint ranges; `cross[s]` tells whether source `s` allows
/// across sources. Addresses no rule decides are left out.
pub(crate) fn resolve(mut rules: Vec<IpRule>, cross: &[bool]) -> Vec<Range> {
    // Outer ranges first; equal ranges nest in each other.
    rules.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<Range> = Vec::with_capacity(rules.len());
    let mut stack: Vec<Open> = Vec::new();
    for r in rules {
        close_until(&mut stack, &mut out, Some(r.start), cross);
        if let Some(&(_, Some(c))) = stack.last()
            && c < r.start
        {
            emit(&mut out, c, r.start - 1, decide(&stack, cross));
        }
        if let Some((parent, cursor)) = stack.last_mut() {
            *cursor = r.end.checked_add(1).filter(|n| *n <= parent.end);
        }
        stack.push((r, Some(r.start)));
    }
    close_until(&mut stack, &mut out, None, cross);
    out
}

/// The decision for addresses covered by every rule on the stack.
fn decide(stack: &[Open], cross: &[bool]) -> u32 {
    let mut chain = Chain::default();
    for (r, _) in stack {
        chain.overlay(r.decision, u32::from(rule::prefix(r.decision)));
    }
    chain.decide(cross).map_or(0, |d| d.d)
}

/// Pop and finish every open rule that ends before `start` (all when None).
fn close_until(stack: &mut Vec<Open>, out: &mut Vec<Range>, start: Option<u128>, cross: &[bool]) {
    while let Some((top, cursor)) = stack.last().copied() {
        if start.is_some_and(|s| top.end >= s) {
            break;
        }
        if let Some(c) = cursor {
            emit(out, c, top.end, decide(stack, cross));
        }
        stack.pop();
        if let Some((parent, pcursor)) = stack.last_mut() {
            *pcursor = top.end.checked_add(1).filter(|n| *n <= parent.end);
        }
    }
}

fn emit(out: &mut Vec<Range>, start: u128, end: u128, decision: u32) {
    if decision == 0 {
        return;
    }
    if let Some(last) = out.last_mut()
        && last.decision == decision
        && last.end.checked_add(1) == Some(start)
    {
        last.end = end;
        return;
    }
    out.push(Range {
        start,
        end,
        decision,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::pack;
    use crate::rule::{Action, Scope};

    const ONE: &[bool] = &[false];

    fn rule(start: u128, end: u128, action: Action, prefix: u8) -> IpRule {
        IpRule {
            start,
            end,
            decision: pack(action, Scope::Ip, prefix, 0),
        }
    }

    #[test]
    fn nested_ranges_split_around_the_inner_one() {
        let outer = rule(0, 255, Action::Block, 24);
        let inner = rule(16, 31, Action::Allow, 28);
        let host = rule(20, 20, Action::Block, 32);
        let got = resolve(vec![host, outer, inner], ONE);
        let want = vec![
            Range {
                start: 0,
                end: 15,
                decision: outer.decision,
            },
            Range {
                start: 16,
                end: 19,
                decision: inner.decision,
            },
            Range {
                start: 20,
                end: 20,
                decision: host.decision,
            },
            Range {
                start: 21,
                end: 31,
                decision: inner.decision,
            },
            Range {
                start: 32,
                end: 255,
                decision: outer.decision,
            },
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn whole_space_and_duplicates() {
        let all = rule(0, u128::MAX, Action::Block, 0);
        let dup_block = rule(u128::MAX, u128::MAX, Action::Block, 128);
        let dup_allow = rule(u128::MAX, u128::MAX, Action::Allow, 128);
        let got = resolve(vec![dup_block, all, dup_allow], ONE);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[1],
            Range {
                start: u128::MAX,
                end: u128::MAX,
                decision: dup_allow.decision
            }
        );
        assert_eq!(got[0].end, u128::MAX - 1);
    }

    #[test]
    fn an_exception_of_another_source_leaves_the_block() {
        let block = rule(0, 255, Action::Block, 24);
        let other = IpRule {
            decision: pack(Action::Allow, Scope::Ip, 32, 1),
            ..rule(7, 7, Action::Allow, 32)
        };
        let got = resolve(vec![block, other], &[false, false]);
        assert_eq!(
            got,
            vec![Range {
                start: 0,
                end: 255,
                decision: block.decision
            }]
        );
        // The same exception from an allowlist source punches its hole.
        let got = resolve(vec![block, other], &[false, true]);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].decision, other.decision);
    }
}
