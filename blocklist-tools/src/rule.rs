//! The rule model and the packed 32-bit decision stored in the artifact.

use crate::{Action, Scope};
use ipnet::IpNet;

/// What a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A normalised domain name.
    Name(String),
    /// An address range.
    Ip(IpNet),
}

/// A rule as read from a list, before compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawRule {
    pub(crate) target: Target,
    pub(crate) scope: Scope,
    pub(crate) action: Action,
}

impl RawRule {
    pub(crate) fn block(name: String, scope: Scope) -> Self {
        RawRule {
            target: Target::Name(name),
            scope,
            action: Action::Block,
        }
    }
    pub(crate) fn ip(net: IpNet, action: Action) -> Self {
        RawRule {
            target: Target::Ip(net.trunc()),
            scope: Scope::Ip,
            action,
        }
    }
}

/// Packed decision: bit 31 present, bit 30 allow, bits 28-29 scope, bits
/// 20-27 IP prefix length, bits 0-19 source index.
pub(crate) const PRESENT: u32 = 1 << 31;
const ALLOW: u32 = 1 << 30;
const SCOPE_SHIFT: u32 = 28;
const PREFIX_SHIFT: u32 = 20;
/// Largest number of sources an artifact holds.
pub(crate) const MAX_SOURCES: usize = 1 << 20;

/// Pack a decision.
pub(crate) fn pack(action: Action, scope: Scope, prefix: u8, source: u32) -> u32 {
    let scope_bits = match scope {
        Scope::Subtree => 0,
        Scope::Exact => 1,
        Scope::Below => 2,
        Scope::Ip => 3,
    };
    let allow = if action == Action::Allow { ALLOW } else { 0 };
    PRESENT
        | allow
        | (scope_bits << SCOPE_SHIFT)
        | (u32::from(prefix) << PREFIX_SHIFT)
        | (source & 0xF_FFFF)
}

pub(crate) fn action(d: u32) -> Action {
    if d & ALLOW != 0 {
        Action::Allow
    } else {
        Action::Block
    }
}

pub(crate) fn scope(d: u32) -> Scope {
    match (d >> SCOPE_SHIFT) & 3 {
        0 => Scope::Subtree,
        1 => Scope::Exact,
        2 => Scope::Below,
        _ => Scope::Ip,
    }
}

pub(crate) fn prefix(d: u32) -> u8 {
    ((d >> PREFIX_SHIFT) & 0xFF) as u8
}

pub(crate) fn source(d: u32) -> usize {
    (d & 0xF_FFFF) as usize
}

/// Of two decisions for the same name (or the same range), the one that
/// wins: a present one over an absent one, allow over block, then the
/// lower source index, then the lower scope code. Deterministic.
pub(crate) fn better(a: u32, b: u32) -> u32 {
    if a & PRESENT == 0 {
        return b;
    }
    if b & PRESENT == 0 {
        return a;
    }
    let key = |d: u32| (d & ALLOW == 0, source(d), (d >> SCOPE_SHIFT) & 3);
    if key(b) < key(a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips() {
        let d = pack(Action::Allow, Scope::Below, 24, 77);
        assert_eq!(action(d), Action::Allow);
        assert_eq!(scope(d), Scope::Below);
        assert_eq!(prefix(d), 24);
        assert_eq!(source(d), 77);
        let d = pack(Action::Block, Scope::Ip, 128, 0xF_FFFF);
        assert_eq!(
            (action(d), scope(d), prefix(d), source(d)),
            (Action::Block, Scope::Ip, 128, 0xF_FFFF)
        );
    }

    #[test]
    fn allow_wins_ties() {
        let b = pack(Action::Block, Scope::Subtree, 0, 0);
        let a = pack(Action::Allow, Scope::Exact, 0, 3);
        assert_eq!(better(b, a), a);
        assert_eq!(better(a, b), a);
        assert_eq!(better(0, b), b);
        assert_eq!(better(b, 0), b);
    }
}
