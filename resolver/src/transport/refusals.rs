//! DoH requests refused for their access token before they reach the query
//! path (HTTP 403 for an unknown, revoked or malformed token; 404 for a
//! malformed path under `/dns-query/`). Each is counted by reason
//! (`parapet_token_refusals_total`), written to the query log when it logs
//! refusals (`mode = "all"`: outcome `refused`, with the `reason`), and
//! logged at WARN at most once per [`WARN_EVERY`] with a count of those not
//! logged. The presented token itself is never written anywhere: a
//! guessed token is a secret too, if it ever becomes valid.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::metrics::{Metrics, OutcomeKind, Protocol, TokenRefusal};
use crate::querylog::{QueryLog, QueryRecord};

/// The shortest time between two WARN lines about refused tokens.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Where token refusals are recorded. Cheap to clone; the default records
/// nothing but the WARN log.
#[derive(Debug, Clone, Default)]
pub struct Refusals {
    metrics: Option<Arc<Metrics>>,
    query_log: QueryLog,
    warn: Arc<WarnGate>,
}

impl Refusals {
    /// Record refusals in `metrics` and `query_log`.
    pub fn new(metrics: Arc<Metrics>, query_log: QueryLog) -> Self {
        Refusals {
            metrics: Some(metrics),
            query_log,
            warn: Arc::default(),
        }
    }

    /// Record one DoH request from `client` refused for `reason`.
    pub fn record(&self, client: SocketAddr, reason: TokenRefusal) {
        if let Some(metrics) = &self.metrics {
            metrics.record_token_refusal(reason);
        }
        if self.query_log.wants(OutcomeKind::Refused) {
            let mut record = QueryRecord::new(
                client.ip(),
                Protocol::Https,
                "",
                RecordType::NULL,
                OutcomeKind::Refused,
            );
            record.reason = Some(reason);
            self.query_log.log(record);
        }
        if let Some(suppressed) = self.warn.pass(Instant::now()) {
            tracing::warn!(
                client = %client.ip(),
                %reason,
                suppressed,
                "DoH request refused: {} access token (HTTP 403/404)",
                reason
            );
        }
    }
}

/// At most one pass per [`WARN_EVERY`], counting the calls turned away.
#[derive(Debug, Default)]
struct WarnGate {
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl WarnGate {
    /// `Some(calls turned away since the last pass)` when a line may be
    /// written at `now`.
    fn pass(&self, now: Instant) -> Option<u64> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| now.duration_since(at) < WARN_EVERY) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(now);
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warn_gate_passes_once_per_interval_and_counts_the_rest() {
        let gate = WarnGate::default();
        let t0 = Instant::now();
        assert_eq!(gate.pass(t0), Some(0));
        assert_eq!(gate.pass(t0 + Duration::from_secs(1)), None);
        assert_eq!(gate.pass(t0 + Duration::from_secs(9)), None);
        assert_eq!(gate.pass(t0 + WARN_EVERY), Some(2));
        assert_eq!(gate.pass(t0 + WARN_EVERY), None);
    }
}
