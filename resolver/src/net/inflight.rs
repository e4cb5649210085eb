//! The bound on UDP queries in flight: queries that need the full handler
//! (forwarded, not cached) each hold a permit while their task runs.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::Metrics;

/// Default bound on UDP queries in flight across all UDP sockets. Under a
/// healthy upstream a few hundred are in flight at 100k queries per
/// second; the bound matters when the upstream stalls, when every query
/// would otherwise hold a task for the whole upstream timeout.
pub const DEFAULT_MAX_UDP_IN_FLIGHT: usize = 8_192;

/// Permits for UDP queries in flight; clones share them.
#[derive(Debug, Clone)]
pub struct InFlight {
    permits: Arc<Semaphore>,
    metrics: Option<Arc<Metrics>>,
}

impl InFlight {
    /// At most `limit` queries in flight; drops are counted in `metrics`
    /// (`parapet_udp_dropped_total`).
    pub fn new(limit: usize, metrics: Option<Arc<Metrics>>) -> Self {
        InFlight {
            permits: Arc::new(Semaphore::new(limit)),
            metrics,
        }
    }

    /// A permit for one more query, or `None` (counted) when the bound is
    /// reached: the caller drops the query, and the client retries.
    pub fn try_start(&self) -> Option<OwnedSemaphorePermit> {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                if let Some(metrics) = &self.metrics {
                    metrics.record_udp_dropped();
                }
                None
            }
        }
    }
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight::new(DEFAULT_MAX_UDP_IN_FLIGHT, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bound_refuses_and_counts_until_a_permit_returns() {
        let metrics = Arc::new(Metrics::new());
        let bound = InFlight::new(1, Some(Arc::clone(&metrics)));
        let first = bound.try_start().expect("one permit");
        assert!(bound.try_start().is_none());
        assert!(
            metrics.encode().contains("parapet_udp_dropped_total 1"),
            "{}",
            metrics.encode()
        );
        drop(first);
        assert!(bound.try_start().is_some());
    }
}
