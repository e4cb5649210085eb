//! Access control: only the configured networks are served; everyone else
//! gets REFUSED and no recursion.

use std::net::IpAddr;

use ipnet::IpNet;

/// The networks allowed to query. Checked on every query: a linear scan of
/// a handful of prefixes, no allocation.
#[derive(Debug, Clone)]
pub struct AccessList {
    allow: Vec<IpNet>,
}

impl AccessList {
    /// Allow exactly `allow`.
    pub fn new(allow: Vec<IpNet>) -> Self {
        AccessList { allow }
    }

    /// Whether `ip` may query. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`,
    /// as seen on dual-stack sockets) are checked as IPv4.
    pub fn is_allowed(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.allow.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_listed_networks_only() {
        let acl = AccessList::new(vec![
            "127.0.0.0/8".parse().expect("net"),
            "fd00::/8".parse().expect("net"),
        ]);
        assert!(acl.is_allowed("127.0.0.2".parse().expect("ip")));
        assert!(acl.is_allowed("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(acl.is_allowed("fd00::1".parse().expect("ip")));
        assert!(!acl.is_allowed("192.0.2.1".parse().expect("ip")));
        assert!(!acl.is_allowed("::1".parse().expect("ip")));
    }
}
