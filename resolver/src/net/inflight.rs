//! The bound on UDP queries in flight: queries that need the full handler
//! (forwarded, not cached) each hold a permit while their task runs.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default bound on UDP queries in flight across all UDP sockets. Under a
/// healthy upstream a few hundred are in flight at 100k queries per
/// second; the bound matters when the upstream stalls, when every query
/// would otherwise hold a task for the whole upstream timeout.
pub(crate) const DEFAULT_MAX_UDP_IN_FLIGHT: usize = 8_192;

/// Permits for UDP queries in flight; clones share them.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    permits: Arc<Semaphore>,
    dropped: Counter,
}

impl InFlight {
    /// At most `limit` queries in flight; drops are counted in `dropped`
    /// (the server passes `parapet_udp_dropped_total`'s).
    pub(crate) fn new(limit: usize, dropped: Counter) -> Self {
        InFlight {
            permits: Arc::new(Semaphore::new(limit)),
            dropped,
        }
    }

    /// A permit for one more query, or `None` (counted) when the bound is
    /// reached: the caller drops the query, and the client retries.
    pub(crate) fn try_start(&self) -> Option<OwnedSemaphorePermit> {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                self.dropped.inc();
                None
            }
        }
    }
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight::new(DEFAULT_MAX_UDP_IN_FLIGHT, Counter::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bound_refuses_and_counts_until_a_permit_returns() {
        let dropped = Counter::default();
        let bound = InFlight::new(1, dropped.clone());
        let first = bound.try_start().expect("one permit");
        assert!(bound.try_start().is_none());
        assert_eq!(dropped.get(), 1);
        drop(first);
        assert!(bound.try_start().is_some());
    }
}
