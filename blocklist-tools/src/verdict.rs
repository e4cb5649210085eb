//! Lookup results: the deciding rule ([`RuleRef`]), the [`Verdict`], and
//! what is known about a rule ([`SourceInfo`], [`RuleInfo`]).

use crate::rule::{self, Action, Scope};

/// A reference to the rule that decided a lookup. Cheap to copy; resolve it
/// with [`Blocklist::rule_info`](crate::Blocklist::rule_info).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleRef {
    /// Packed rule value as stored in the artifact (source index, scope, action).
    pub(crate) value: u64,
    /// For name rules: how many trailing labels of the query the rule covers.
    /// For IP rules: index of the range.
    pub(crate) pos: u32,
}

impl RuleRef {
    /// Whether the rule blocks or allows.
    pub fn action(&self) -> Action {
        rule::action(self.value as u32)
    }
    /// The rule's scope.
    pub fn scope(&self) -> Scope {
        rule::scope(self.value as u32)
    }
}

/// The outcome of a lookup: no rule, a blocking rule, or an allow exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No rule covers the name or address.
    None,
    /// The most specific covering rule blocks.
    Block(RuleRef),
    /// No block survives and an exception decided: an allowlist's rule (see
    /// [`Blocklist::allows_across_sources`](crate::Blocklist::allows_across_sources)), or a list's own exception
    /// that cancelled that list's block.
    Allow(RuleRef),
}

impl Verdict {
    #[inline]
    pub(crate) fn from_rule(rule: RuleRef) -> Verdict {
        match rule.action() {
            Action::Block => Verdict::Block(rule),
            Action::Allow => Verdict::Allow(rule),
        }
    }
    /// The deciding rule, if any.
    pub fn rule(&self) -> Option<RuleRef> {
        match self {
            Verdict::None => None,
            Verdict::Block(r) | Verdict::Allow(r) => Some(*r),
        }
    }
    /// True for [`Verdict::Block`].
    pub fn is_block(&self) -> bool {
        matches!(self, Verdict::Block(_))
    }
}

/// The source and category of a rule: cheap, borrowed from the artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo<'a> {
    /// Source name (config feed name or file name).
    pub name: &'a str,
    /// Optional category such as `phishing` or `malware`.
    pub category: Option<&'a str>,
}

/// Everything known about a rule, for explaining a block. Allocates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The rule as text: `evil.example`, `*.evil.example`, `=evil.example`
    /// (exact), `192.0.2.0/24`.
    pub pattern: String,
    /// Block or allow.
    pub action: Action,
    /// Scope of the rule.
    pub scope: Scope,
    /// Source name.
    pub source: String,
    /// Category, if the source has one.
    pub category: Option<String>,
}
