//! No two listeners on one address and port.
//!
//! Every listener the config asks for, with the key that asks for it:
//! `server.listen` (UDP and TCP), `server.tls_listen`, `server.https_listen`,
//! `warning_page.listen` and `warning_page.tls_listen` (also their defaults,
//! derived from the sinkhole addresses) and `metrics.listen`. Two of them
//! overlap when they share a transport (UDP, TCP) and a port, and their
//! addresses are equal or one is the wildcard of the other's family
//! (`0.0.0.0:P` takes every IPv4 address on port P, `[::]:P` every IPv6
//! one: parapet binds IPv6 with `IPV6_V6ONLY`, see [`crate::listen`]).
//! Port 0 (a free port each) never overlaps. `check-config` and start-up
//! refuse an overlap with an error naming both keys, instead of a server
//! that stops with "address in use" on its own other listener.

use std::net::SocketAddr;

/// One listener the config asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The key and index, e.g. `server.listen[1]`, or for a default
    /// `warning_page.listen (default: the sinkhole address, port 80)`.
    pub key: String,
    /// The address.
    pub addr: SocketAddr,
    /// Listens on UDP.
    pub udp: bool,
    /// Listens on TCP.
    pub tcp: bool,
}

impl Listener {
    fn stream(key: String, addr: SocketAddr) -> Self {
        Listener {
            key,
            addr,
            udp: false,
            tcp: true,
        }
    }
}

/// The listeners of a config, in config order.
pub fn listeners(config: &super::types::Config) -> Vec<Listener> {
    listeners_of(
        &config.server,
        &config.block,
        &config.warning_page,
        &config.metrics,
    )
}

/// [`listeners`] from the sections that name them (while validating).
pub fn listeners_of(
    server: &super::types::ServerConfig,
    block: &super::types::BlockConfig,
    page: &crate::warning::config::WarningPageConfig,
    metrics: &super::types::MetricsConfig,
) -> Vec<Listener> {
    let mut out = Vec::new();
    for (i, &addr) in server.listen.iter().enumerate() {
        out.push(Listener {
            key: format!("server.listen[{i}]"),
            addr,
            udp: true,
            tcp: true,
        });
    }
    let indexed = |out: &mut Vec<Listener>, key: &str, addrs: &[SocketAddr]| {
        for (i, &addr) in addrs.iter().enumerate() {
            out.push(Listener::stream(format!("{key}[{i}]"), addr));
        }
    };
    indexed(&mut out, "server.tls_listen", &server.tls_listen);
    indexed(&mut out, "server.https_listen", &server.https_listen);
    let sinkholes = block.sinkhole_addrs();
    for (key, (addrs, explicit), port) in [
        ("warning_page.listen", page.listen_addrs(&sinkholes), 80),
        (
            "warning_page.tls_listen",
            page.tls_listen_addrs(&sinkholes),
            443,
        ),
    ] {
        if explicit {
            indexed(&mut out, key, &addrs);
        } else {
            for addr in addrs {
                let key = format!(
                    "{key} (default: the sinkhole address {}, port {port})",
                    addr.ip()
                );
                out.push(Listener::stream(key, addr));
            }
        }
    }
    if metrics.enabled {
        out.push(Listener::stream(
            "metrics.listen".to_string(),
            metrics.listen,
        ));
    }
    out
}

/// Whether two addresses would take the same port on the same address.
pub fn addrs_overlap(a: SocketAddr, b: SocketAddr) -> bool {
    let same_family = a.is_ipv4() == b.is_ipv4();
    let same_ip = a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified();
    a.port() != 0 && a.port() == b.port() && same_family && same_ip
}

/// Every overlapping pair, as (key of the later listener, message naming
/// both keys and the fix).
pub fn find(listeners: &[Listener]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (j, b) in listeners.iter().enumerate() {
        for a in &listeners[..j] {
            let udp = a.udp && b.udp;
            let tcp = a.tcp && b.tcp;
            if !(udp || tcp) || !addrs_overlap(a.addr, b.addr) {
                continue;
            }
            let transport = match (udp, tcp) {
                (true, true) => "UDP and TCP",
                (true, false) => "UDP",
                _ => "TCP",
            };
            let mut message = format!(
                "{} overlaps {} {} ({transport} port {}): two listeners cannot share an \
                 address and port; give one of them another address or port",
                b.addr,
                a.key,
                a.addr,
                b.addr.port()
            );
            if let Some(advice) = advice(a, b) {
                message.push_str("; ");
                message.push_str(advice);
            }
            found.push((b.key.clone(), message));
        }
    }
    found
}

/// Extra advice for the pairs people run into.
fn advice(a: &Listener, b: &Listener) -> Option<&'static str> {
    let keys = [a.key.as_str(), b.key.as_str()];
    let has = |prefix: &str| keys.iter().any(|k| k.starts_with(prefix));
    if has("server.https_listen") && has("warning_page.tls_listen") {
        return Some(
            "the DoH listener already resets https:// visits to names its certificate does \
             not cover (the sinkholed ones), so set warning_page.tls_listen = [] \
             (see the README, one public address)",
        );
    }
    if keys.iter().any(|k| k.contains("(default:")) {
        return Some(
            "the warning page listens on the sinkhole addresses unless warning_page.listen \
             and tls_listen say otherwise",
        );
    }
    None
}

#[cfg(test)]
mod tests;
