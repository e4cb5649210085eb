//! IP rules as sorted, non-overlapping ranges. Overlaps are resolved at
//! compile time: the most specific prefix wins, allow wins ties.

use crate::rule::better;

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

/// Turn CIDR rules (nested or disjoint, never partially overlapping) into
/// sorted, disjoint ranges, each decided by its most specific covering rule.
pub(crate) fn resolve(mut rules: Vec<IpRule>) -> Vec<Range> {
    // Outer ranges first; equal ranges merged by precedence.
    rules.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut uniq: Vec<IpRule> = Vec::with_capacity(rules.len());
    for r in rules {
        match uniq.last_mut() {
            Some(last) if last.start == r.start && last.end == r.end => {
                last.decision = better(last.decision, r.decision);
            }
            _ => uniq.push(r),
        }
    }
    let mut out: Vec<Range> = Vec::with_capacity(uniq.len());
    // Stack of open rules with the next address not yet emitted (None = done).
    let mut stack: Vec<(IpRule, Option<u128>)> = Vec::new();
    for r in uniq {
        close_until(&mut stack, &mut out, Some(r.start));
        if let Some((parent, cursor)) = stack.last_mut() {
            if let Some(c) = *cursor
                && c < r.start
            {
                emit(&mut out, c, r.start - 1, parent.decision);
            }
            *cursor = r.end.checked_add(1).filter(|n| *n <= parent.end);
        }
        stack.push((r, Some(r.start)));
    }
    close_until(&mut stack, &mut out, None);
    out
}

/// Pop and finish every open rule that ends before `start` (all when None).
fn close_until(stack: &mut Vec<(IpRule, Option<u128>)>, out: &mut Vec<Range>, start: Option<u128>) {
    while let Some((top, cursor)) = stack.last().copied() {
        if start.is_some_and(|s| top.end >= s) {
            break;
        }
        stack.pop();
        if let Some(c) = cursor {
            emit(out, c, top.end, top.decision);
        }
        if let Some((parent, pcursor)) = stack.last_mut() {
            *pcursor = top.end.checked_add(1).filter(|n| *n <= parent.end);
        }
    }
}

fn emit(out: &mut Vec<Range>, start: u128, end: u128, decision: u32) {
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
    use crate::{Action, Scope};

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
        let got = resolve(vec![host, outer, inner]);
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
        let got = resolve(vec![dup_block, all, dup_allow]);
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
}
