//! Metrics of parapet's own upstream client ([`crate::upstream`]): UDP
//! sockets open, answers ignored, queries that shared an exchange.

use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use prometheus_client::registry::Registry;

/// The upstream client's handles, created and registered at start. Clones
/// share the values.
#[derive(Debug, Clone, Default)]
pub struct UpstreamMetrics {
    /// `parapet_upstream_sockets`: UDP sockets to upstreams open now.
    pub sockets: Gauge,
    /// `parapet_upstream_ignored_total`: datagrams on an upstream socket
    /// that answered no query waiting there (wrong ID, name, type, class
    /// or 0x20 case, or too late).
    pub ignored: Counter,
    /// `parapet_upstream_coalesced_total`: forwarded queries that shared
    /// another one's upstream exchange.
    pub coalesced: Counter,
}

impl UpstreamMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let m = UpstreamMetrics::default();
        registry.register(
            "upstream_sockets",
            "UDP sockets to upstream resolvers open now (the pools' sockets and retired ones still waiting for answers)",
            m.sockets.clone(),
        );
        registry.register(
            "upstream_ignored",
            "Datagrams from an upstream that answered no waiting query (wrong ID or question, or too late): ignored",
            m.ignored.clone(),
        );
        registry.register(
            "upstream_coalesced",
            "Forwarded queries that shared a concurrent identical query's upstream exchange",
            m.coalesced.clone(),
        );
        m
    }
}
