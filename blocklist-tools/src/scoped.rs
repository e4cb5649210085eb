//! Exceptions with a scope, resolved at compile time.
//!
//! An exception (`@@||name^`, an RPZ passthru, a dnsmasq `#` server) cancels
//! the blocks of its own source only; a source marked `allow` (an allowlist)
//! allows across sources. For a name (or address), each source's most
//! specific covering rule is kept, along with whether that rule is an
//! exception that cancelled a block of the same source ([`Chain`]). The
//! verdict ([`Chain::decide`]) is then the most specific of the surviving
//! blocks and the cross-source allows, allow winning ties; failing both, an
//! exception that cancelled its own source's block is reported as the
//! allow that applied.
//!
//! The compiler walks the keys with their ancestors, so every key stores its
//! verdict already resolved and a lookup stays one pass that keeps the
//! deepest key it meets. A verdict decided by an ancestor's rule records how
//! many labels above the key that rule is (see [`rule::with_up`]).

use crate::rule::Action;
use crate::rule::{self, PRESENT};

/// One source's most specific rule covering a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// The rule's packed decision (source index included).
    d: u32,
    /// Labels of the rule's name (for IP rules: the prefix length).
    depth: u32,
    /// An exception that cancelled a block of the same source.
    cancels: bool,
}

/// The rules covering one name, at most one per source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chain {
    entries: Vec<Entry>,
}

/// What [`Chain::decide`] found: the deciding rule and its depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decided {
    pub(crate) d: u32,
    pub(crate) depth: u32,
}

impl Chain {
    /// Add a rule at `depth`, at least as deep as the rules added before:
    /// it replaces its source's rule if deeper; at equal depth the
    /// exception wins.
    pub(crate) fn overlay(&mut self, d: u32, depth: u32) {
        if d & PRESENT == 0 {
            return;
        }
        let allow = rule::action(d) == Action::Allow;
        let source = rule::source(d);
        let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| rule::source(e.d) == source)
        else {
            self.entries.push(Entry {
                d,
                depth,
                cancels: false,
            });
            return;
        };
        let old_allow = rule::action(e.d) == Action::Allow;
        let covers_block = !old_allow || e.cancels;
        if e.depth == depth && old_allow && !allow {
            // Same name, same source: the exception stands and cancels this block.
            e.cancels = true;
            return;
        }
        if e.depth == depth && old_allow == allow {
            return;
        }
        *e = Entry {
            d,
            depth,
            cancels: allow && covers_block,
        };
    }

    /// The deciding rule, `cross[s]` telling whether source `s` allows
    /// across sources: the most specific surviving block or cross-source
    /// allow (allow wins ties, then the lower source index); else the most
    /// specific exception that cancelled its own source's block; else none.
    pub(crate) fn decide(&self, cross: &[bool]) -> Option<Decided> {
        let mut block: Option<Entry> = None;
        let mut global: Option<Entry> = None;
        let mut local: Option<Entry> = None;
        let deeper = |cand: &Entry, best: &Option<Entry>| match best {
            None => true,
            Some(b) => {
                (cand.depth, std::cmp::Reverse(rule::source(cand.d)))
                    > (b.depth, std::cmp::Reverse(rule::source(b.d)))
            }
        };
        for e in &self.entries {
            let allow = rule::action(e.d) == Action::Allow;
            let slot = if !allow {
                &mut block
            } else if cross.get(rule::source(e.d)).copied().unwrap_or(false) {
                &mut global
            } else if e.cancels {
                &mut local
            } else {
                continue;
            };
            if deeper(e, slot) {
                *slot = Some(*e);
            }
        }
        let winner = match (block, global) {
            (Some(b), Some(g)) if g.depth >= b.depth => Some(g),
            (Some(b), _) => Some(b),
            (None, Some(g)) => Some(g),
            (None, None) => local,
        };
        winner.map(|e| Decided {
            d: e.d,
            depth: e.depth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Scope;
    use crate::rule::pack;

    fn block(source: u32) -> u32 {
        pack(Action::Block, Scope::Subtree, 0, source)
    }
    fn allow(source: u32) -> u32 {
        pack(Action::Allow, Scope::Subtree, 0, source)
    }

    #[test]
    fn an_exception_cancels_its_own_sources_block_only() {
        let cross = [false, false];
        let mut c = Chain::default();
        c.overlay(block(0), 2);
        c.overlay(allow(1), 2);
        assert_eq!(c.decide(&cross).map(|d| d.d), Some(block(0)));
        let mut c = Chain::default();
        c.overlay(block(0), 2);
        c.overlay(allow(0), 3);
        assert_eq!(c.decide(&cross).map(|d| d.d), Some(allow(0)));
        // An exception with nothing of its own to cancel decides nothing.
        let mut c = Chain::default();
        c.overlay(allow(1), 2);
        assert_eq!(c.decide(&cross), None);
    }

    #[test]
    fn a_cross_source_allow_beats_blocks_at_or_above_it() {
        let cross = [false, true];
        let mut c = Chain::default();
        c.overlay(block(0), 2);
        c.overlay(allow(1), 2);
        assert_eq!(c.decide(&cross).map(|d| d.d), Some(allow(1)));
        let mut c = Chain::default();
        c.overlay(allow(1), 2);
        c.overlay(block(0), 3);
        assert_eq!(
            c.decide(&cross),
            Some(Decided {
                d: block(0),
                depth: 3
            })
        );
    }

    #[test]
    fn a_deeper_block_of_the_same_source_revives_it() {
        let mut c = Chain::default();
        c.overlay(block(0), 2);
        c.overlay(allow(0), 3);
        c.overlay(block(0), 4);
        assert_eq!(c.decide(&[false]).map(|d| d.d), Some(block(0)));
        // Block and exception for the same name in one source: the exception.
        let mut c = Chain::default();
        c.overlay(block(0), 2);
        c.overlay(allow(0), 2);
        assert_eq!(c.decide(&[false]).map(|d| d.d), Some(allow(0)));
    }
}
