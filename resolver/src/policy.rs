//! Policy checks against a [`Blocklist`] snapshot: the query name, every
//! CNAME target in a forwarded answer, every A/AAAA address in it.
//!
//! These run on every query. They do not allocate, lock or make system
//! calls: names are handed to the matcher as hickory's wire labels.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use hickory_proto::rr::{Name, RData, Record};
use parapet_blocklist::{Blocklist, RuleRef, Verdict};

use crate::event::Trigger;

/// A block decided by answer inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnswerHit {
    /// What matched.
    pub trigger: Trigger,
    /// The rule that matched.
    pub rule: RuleRef,
    /// The CNAME target or address that matched, as text (for logs).
    pub subject: String,
}

/// Check a name (any case, wire labels) against the domain rules.
pub(crate) fn check_name(list: &Blocklist, name: &Name) -> Verdict {
    list.check_labels(name.iter())
}

/// The allow rule under which a name's answer is passed on uninspected: only
/// a rule of an allowlist source (`allow = true`, `--allow FILE`). An
/// exception inside a block list cancels that list's own blocks of the name,
/// but a compromised list must not be able to switch off the CNAME and
/// address checks of the answer with it.
pub(crate) fn uninspected_allow(list: &Blocklist, rule: RuleRef) -> Option<RuleRef> {
    list.allows_across_sources(rule).then_some(rule)
}

/// Check a forwarded answer: every CNAME target against the domain rules and
/// every A/AAAA address against the IP rules. The first blocking hit wins.
/// A CNAME target no surviving block covers (an exception cancelled its own
/// list's block, or an allowlist allows it) goes through.
pub(crate) fn inspect_answers<'r>(
    list: &Blocklist,
    records: impl IntoIterator<Item = &'r Record>,
) -> Option<AnswerHit> {
    for record in records {
        let (verdict, trigger) = match &record.data {
            RData::CNAME(target) => (check_name(list, &target.0), Trigger::Cname),
            RData::A(a) => (list.check_ip(a.0.into()), Trigger::Ip),
            RData::AAAA(a) => (list.check_ip(a.0.into()), Trigger::Ip),
            _ => continue,
        };
        if let Verdict::Block(rule) = verdict {
            let subject = match &record.data {
                RData::CNAME(target) => target.0.to_string(),
                RData::A(a) => a.0.to_string(),
                RData::AAAA(a) => a.0.to_string(),
                _ => String::new(),
            };
            return Some(AnswerHit {
                trigger,
                rule,
                subject,
            });
        }
    }
    None
}
