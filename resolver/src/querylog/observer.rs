//! The handler's observe hook → the query log. Costs one branch for a
//! query the mode does not log; a logged query allocates its record here
//! and is formatted and written by the [`super::Writer`] task.

use parapet_blocklist::{Blocklist, RuleInfo, RuleRef};

use super::{QueryLog, QueryRecord};
use crate::event::{Observer, Outcome, QueryEvent, Trigger};
use crate::lookalike::config::LOOKALIKE_CATEGORY;
use crate::metrics::OutcomeKind;

impl Observer for QueryLog {
    fn observe(&self, event: &QueryEvent<'_>) {
        let outcome = OutcomeKind::from(&event.outcome);
        if !self.wants(outcome) {
            return;
        }
        let name = event
            .name
            .map(|name| name.to_lowercase().to_ascii())
            .unwrap_or_default();
        let (trigger, rule) = match event.outcome {
            Outcome::Blocked { trigger, rule } => {
                let looked_up = event.matched.unwrap_or(&name);
                (Some(trigger), Some(rule_info(event.list, rule, looked_up)))
            }
            Outcome::AllowedByException { rule, .. } => {
                (None, Some(rule_info(event.list, rule, &name)))
            }
            Outcome::Rebinding => (Some(Trigger::Rebinding), None),
            Outcome::Lookalike { .. } => (Some(Trigger::Lookalike), None),
            _ => (None, None),
        };
        let mut record = QueryRecord::new(
            event.client.ip(),
            event.protocol,
            name,
            event.qtype,
            outcome,
        );
        record.upstream = event.upstream;
        record.trigger = trigger;
        if let (Outcome::Lookalike { .. }, Some(imitates)) = (event.outcome, event.matched) {
            // The rule is the protected domain imitated.
            record.rule = Some(imitates.to_string());
            record.source = Some("lookalikes".to_string());
            record.category = Some(LOOKALIKE_CATEGORY.to_string());
        }
        if let Some(info) = rule {
            record.rule = Some(info.pattern);
            record.source = Some(info.source);
            record.category = info.category;
        }
        self.log(record);
    }
}

/// The rule that decided the lookup of `looked_up` (the query name, or
/// the CNAME target or address that matched).
fn rule_info(list: &Blocklist, rule: RuleRef, looked_up: &str) -> RuleInfo {
    list.rule_info(rule, looked_up.trim_end_matches('.'))
}
