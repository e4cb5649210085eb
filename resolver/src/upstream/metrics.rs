//! The upstream client's counters: sockets open, answers ignored,
//! reported to Prometheus once metrics are on. A leaf, so that the pools
//! and the client share it without importing each other.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::metrics::UpstreamMetrics;

/// The upstream client's metrics, shared by every pool; attached to the
/// Prometheus handles once metrics are on.
#[derive(Debug, Default)]
pub struct ClientMetrics {
    handles: OnceLock<UpstreamMetrics>,
    pub(super) sockets: AtomicI64,
}

impl ClientMetrics {
    /// Report to `handles` from now on.
    pub fn attach(&self, handles: UpstreamMetrics) {
        handles.sockets.set(self.sockets.load(Ordering::Relaxed));
        let _ = self.handles.set(handles);
    }

    pub(super) fn socket_opened(&self) {
        self.sockets.fetch_add(1, Ordering::Relaxed);
        if let Some(h) = self.handles.get() {
            h.sockets.inc();
        }
    }

    pub(super) fn socket_closed(&self) {
        self.sockets.fetch_sub(1, Ordering::Relaxed);
        if let Some(h) = self.handles.get() {
            h.sockets.dec();
        }
    }

    pub(super) fn answer_ignored(&self) {
        if let Some(h) = self.handles.get() {
            h.ignored.inc();
        }
    }

    /// Count a query that shared another's upstream exchange.
    pub fn coalesced(&self) {
        if let Some(h) = self.handles.get() {
            h.coalesced.inc();
        }
    }
}
