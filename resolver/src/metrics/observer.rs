//! The query observer hook → metrics: one query, one count.

use super::{Metrics, OutcomeKind, Trigger};
use crate::event::{Observer, Outcome, QueryEvent};
use crate::lookalike::config::LOOKALIKE_CATEGORY;

impl From<&Outcome> for OutcomeKind {
    fn from(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Forwarded { .. } => OutcomeKind::Forwarded,
            Outcome::Cached { .. } => OutcomeKind::Cached,
            Outcome::Stale { .. } => OutcomeKind::Stale,
            Outcome::Blocked { .. } => OutcomeKind::Blocked,
            Outcome::AllowedByException { .. } => OutcomeKind::AllowedByException,
            Outcome::Refused => OutcomeKind::Refused,
            Outcome::RateLimited => OutcomeKind::RateLimited,
            Outcome::ServFail => OutcomeKind::Servfail,
            Outcome::FormErr => OutcomeKind::Formerr,
            Outcome::Rebinding => OutcomeKind::Blocked,
            Outcome::Synthesised => OutcomeKind::Synthesised,
            Outcome::Lookalike { blocked: true, .. } => OutcomeKind::Blocked,
            Outcome::Lookalike { blocked: false, .. } => OutcomeKind::Lookalike,
        }
    }
}

impl Observer for Metrics {
    /// Atomic increments on pre-registered handles; the category lookup is
    /// a lock-free table load and a short scan. No allocation.
    fn observe(&self, event: &QueryEvent<'_>) {
        self.record_query(event.protocol, OutcomeKind::from(&event.outcome));
        match event.outcome {
            Outcome::Blocked { trigger, rule } => {
                self.record_block(trigger, event.list.source_of(rule).category)
            }
            Outcome::Rebinding => self.record_block(Trigger::Rebinding, None),
            Outcome::Lookalike { blocked: true, .. } => {
                self.record_block(Trigger::Lookalike, Some(LOOKALIKE_CATEGORY))
            }
            _ => {}
        }
    }

    fn wants_details(&self) -> bool {
        false
    }
}
