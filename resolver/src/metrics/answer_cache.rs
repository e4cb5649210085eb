//! The answer cache's metrics: its size (read at each scrape) and the
//! background refreshes it asked for.

use std::sync::OnceLock;

use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use prometheus_client::registry::{Registry, Unit};

/// Reads the cache's entries and bytes.
type Usage = Box<dyn Fn() -> (usize, usize) + Send + Sync>;

/// `parapet_answer_cache_{entries,bytes}`, `parapet_prefetches_total`.
#[derive(Debug)]
pub(super) struct CacheMetrics {
    entries: Gauge,
    bytes: Gauge,
    prefetches: Counter,
    usage: OnceLock<Watch>,
}

/// The cache's size reader (opaque in `Debug`).
struct Watch(Usage);

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watch")
    }
}

impl CacheMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let m = CacheMetrics {
            entries: Gauge::default(),
            bytes: Gauge::default(),
            prefetches: Counter::default(),
            usage: OnceLock::new(),
        };
        registry.register(
            "answer_cache_entries",
            "Answers held in the answer cache",
            m.entries.clone(),
        );
        registry.register_with_unit(
            "answer_cache",
            "Memory charged to the answer cache (entries with their table and queue slots, and ghosts)",
            Unit::Bytes,
            m.bytes.clone(),
        );
        registry.register(
            "prefetches",
            "Background refreshes of popular cached answers close to expiry",
            m.prefetches.clone(),
        );
        m
    }

    pub(super) fn watch(&self, usage: Usage) {
        let _ = self.usage.set(Watch(usage));
    }

    pub(super) fn prefetched(&self) {
        self.prefetches.inc();
    }

    /// Read the cache's size into the gauges (before a scrape).
    pub(super) fn update(&self) {
        if let Some(Watch(usage)) = self.usage.get() {
            let (entries, bytes) = usage();
            self.entries.set(i64::try_from(entries).unwrap_or(i64::MAX));
            self.bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
    }
}
