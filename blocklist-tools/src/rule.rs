//! The rule model and the packed 32-bit decision stored in the artifact.

use ipnet::IpNet;

/// What a rule does when it is the most specific one covering a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Block the name or address.
    Block,
    /// An exception: let the name through even if a less specific rule
    /// blocks it. An exception inside a list cancels that list's own blocks
    /// only; a source marked `allow` (an allowlist) allows across sources.
    Allow,
}

/// Which names or addresses a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The name and every name under it (hosts, domain lists, `||name^`).
    Subtree,
    /// The name only (RPZ `name CNAME .`, sources declared exact).
    Exact,
    /// Names under the name, not the name itself (RPZ `*.name CNAME .`).
    Below,
    /// An IP address or CIDR range.
    Ip,
}

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

/// A name rule's decision as stored for a key `up` labels below the rule's
/// own name (the prefix bits, unused by name rules, hold it).
pub(crate) fn with_up(d: u32, up: u32) -> u32 {
    (d & !(0xFF << PREFIX_SHIFT)) | ((up.min(0xFF)) << PREFIX_SHIFT)
}

/// How many labels above the key holding it a name rule's name is.
pub(crate) fn up(d: u32) -> u32 {
    u32::from(prefix(d))
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
    fn up_round_trips_and_keeps_the_rest() {
        let d = pack(Action::Allow, Scope::Below, 0, 77);
        let u = with_up(d, 5);
        assert_eq!(up(u), 5);
        assert_eq!(
            (action(u), scope(u), source(u)),
            (Action::Allow, Scope::Below, 77)
        );
        assert_eq!(with_up(u, 0), d);
    }
}
