//! Queries and blocks today (since 00:00 UTC), from the metrics' totals:
//! the status page costs the query path nothing. At each midnight the
//! totals are noted; today's counts are the totals less that note.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Seconds in a day.
const DAY: u64 = 86_400;

/// Today's counts.
#[derive(Debug)]
pub struct Today {
    metrics: Arc<Metrics>,
    /// The totals when today began: (answered, blocked).
    start: Mutex<(u64, u64)>,
}

impl Today {
    /// Counting from now, from the totals of `metrics`; a new day starts at
    /// every 00:00 UTC until `shutdown`.
    pub fn start(metrics: Arc<Metrics>, shutdown: CancellationToken) -> Arc<Today> {
        let today = Arc::new(Today {
            start: Mutex::new(metrics.answered_and_blocked()),
            metrics,
        });
        let midnight = Arc::clone(&today);
        tokio::spawn(async move {
            loop {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let wait = Duration::from_secs(DAY - now % DAY);
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(wait) => midnight.new_day(),
                }
            }
        });
        today
    }

    /// Queries answered and blocked today (since start on the first day).
    pub fn counts(&self) -> (u64, u64) {
        let (answered, blocked) = self.metrics.answered_and_blocked();
        let (a0, b0) = *self.start.lock().unwrap_or_else(|e| e.into_inner());
        (answered.saturating_sub(a0), blocked.saturating_sub(b0))
    }

    /// Start a new day: today's counts start from zero.
    pub fn new_day(&self) {
        let totals = self.metrics.answered_and_blocked();
        *self.start.lock().unwrap_or_else(|e| e.into_inner()) = totals;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{OutcomeKind, Protocol, Trigger};

    #[tokio::test]
    async fn counts_answered_and_blocked_since_the_day_began() {
        let metrics = Arc::new(Metrics::new());
        metrics.record_query(Protocol::Udp, OutcomeKind::Forwarded);
        let shutdown = CancellationToken::new();
        let today = Today::start(Arc::clone(&metrics), shutdown.clone());
        assert_eq!(today.counts(), (0, 0), "from start");
        metrics.record_query(Protocol::Tcp, OutcomeKind::Blocked);
        metrics.record_block(Trigger::Name, None);
        metrics.record_query(Protocol::Udp, OutcomeKind::Cached);
        metrics.record_query(Protocol::Udp, OutcomeKind::Refused);
        metrics.record_query(Protocol::Udp, OutcomeKind::RateLimited);
        assert_eq!(
            today.counts(),
            (2, 1),
            "refused and rate-limited are not answers"
        );
        today.new_day();
        assert_eq!(today.counts(), (0, 0));
        shutdown.cancel();
    }
}
