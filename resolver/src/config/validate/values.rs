//! Checks of single values shared by the section checks: counts,
//! listen addresses, networks.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::config::issue::Issues;

/// A value above 0 (`default` when unset).
pub(super) fn positive(is: &mut Issues, key: &str, v: Option<u64>, default: u64) -> u64 {
    match v {
        Some(0) => {
            is.push(key, "must be above 0");
            default
        }
        Some(v) => v,
        None => default,
    }
}

/// A count above 0 that fits in `usize` (`default` when unset).
pub(super) fn count(is: &mut Issues, key: &str, v: Option<u64>, default: usize) -> usize {
    let v = positive(is, key, v, default as u64);
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Listen addresses; IPv4-mapped IPv6 is refused (IPv6 listeners are
/// IPv6-only).
pub(super) fn socket_addrs(is: &mut Issues, key: &str, raw: Vec<String>) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        match s.parse::<SocketAddr>() {
            Ok(SocketAddr::V6(a)) if a.ip().to_ipv4_mapped().is_some() => is.push(
                format!("{key}[{i}]"),
                format!("{s:?}: write IPv4 addresses as IPv4 (IPv6 listeners are IPv6-only)"),
            ),
            Ok(a) => out.push(a),
            Err(_) => is.push(
                format!("{key}[{i}]"),
                format!("{s:?} is not an address:port (e.g. \"127.0.0.1:53\", \"[::1]:53\")"),
            ),
        }
    }
    out
}

/// A CIDR network, or a single address as its /32 or /128.
pub(super) fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}
