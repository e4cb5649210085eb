//! `[server]` and `[metrics]`: the listeners.

use std::net::SocketAddr;

use super::values::{count, positive, socket_addrs};
use crate::config::issue::{Issues, Resolve};
use crate::config::raw::{RawMetrics, RawServer};
use crate::config::types::{
    DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
    DEFAULT_METRICS_LISTEN, DEFAULT_TCP_TIMEOUT_MS, MetricsConfig, ServerConfig,
};

/// `[server]`.
pub(super) fn server(is: &mut Issues, raw: RawServer, resolve: &Resolve<'_>) -> ServerConfig {
    let issues_before_listen = is.0.len();
    let listen = socket_addrs(
        is,
        "server.listen",
        raw.listen
            .unwrap_or_else(|| vec![DEFAULT_LISTEN.to_string()]),
    );
    // Bad entries are reported on their own; "none" only for an empty list.
    if listen.is_empty() && is.0.len() == issues_before_listen {
        is.push("server.listen", "at least one address is needed");
    }
    let tls_listen = socket_addrs(is, "server.tls_listen", raw.tls_listen.unwrap_or_default());
    let https_listen = socket_addrs(
        is,
        "server.https_listen",
        raw.https_listen.unwrap_or_default(),
    );
    let tls_cert = raw.tls_cert.map(|p| resolve.path(&p));
    let tls_key = raw.tls_key.map(|p| resolve.path(&p));
    if !tls_listen.is_empty() || !https_listen.is_empty() {
        for (key, path) in [("server.tls_cert", &tls_cert), ("server.tls_key", &tls_key)] {
            if path.is_none() {
                is.push(key, "required when tls_listen or https_listen is set");
            }
        }
    }
    let server = ServerConfig {
        listen,
        tls_listen,
        https_listen,
        tls_cert,
        tls_key,
        tcp_timeout_ms: positive(
            is,
            "server.tcp_timeout_ms",
            raw.tcp_timeout_ms,
            DEFAULT_TCP_TIMEOUT_MS,
        ),
        freebind: raw.freebind.unwrap_or(false),
        max_connections: count(
            is,
            "server.max_connections",
            raw.max_connections,
            DEFAULT_MAX_CONNECTIONS,
        ),
        max_connections_per_client: count(
            is,
            "server.max_connections_per_client",
            raw.max_connections_per_client,
            DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
        ),
    };
    if server.max_connections_per_client > server.max_connections {
        is.push(
            "server.max_connections_per_client",
            format!(
                "{} is above server.max_connections ({})",
                server.max_connections_per_client, server.max_connections
            ),
        );
    }
    server
}

/// `[metrics]`.
pub(super) fn metrics(is: &mut Issues, raw: RawMetrics) -> MetricsConfig {
    let listen = raw
        .listen
        .unwrap_or_else(|| DEFAULT_METRICS_LISTEN.to_string());
    MetricsConfig {
        enabled: raw.enabled.unwrap_or(true),
        listen: listen.parse().unwrap_or_else(|_| {
            is.push(
                "metrics.listen",
                format!("{listen:?} is not an address:port"),
            );
            SocketAddr::from(([127, 0, 0, 1], 9153))
        }),
    }
}
