//! Access control and its inputs: the networks served ([`AccessList`]),
//! who a request is from ([`ClientAuth`]: an address, or a valid access
//! token), and the [`Context`] every transport passes with each query.
//! Everyone not admitted gets REFUSED and no recursion.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

use crate::event::Protocol;

/// Who a request is from, as far as the transport knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// No token: the address allow-list decides.
    #[default]
    Address,
    /// A valid token with this label (see [`crate::transport::tokens`]):
    /// the address allow-list is skipped.
    Token(Arc<str>),
}

impl ClientAuth {
    /// Whether the request carried a valid token.
    pub fn is_token(&self) -> bool {
        matches!(self, ClientAuth::Token(_))
    }
}

/// The context of one query, passed explicitly from the transport to the
/// access check, the rate limit and the observers: the client's address,
/// the transport, and the client's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Client address (as the socket saw it).
    pub client: SocketAddr,
    /// Transport the query came in on.
    pub protocol: Protocol,
    /// Token identity, if the transport checked one.
    pub auth: ClientAuth,
}

impl Context {
    /// A query from `client` over `protocol` carrying no token.
    pub fn new(client: SocketAddr, protocol: Protocol) -> Self {
        Context {
            client,
            protocol,
            auth: ClientAuth::Address,
        }
    }

    /// The same context with identity `auth`.
    pub fn with_auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }
}

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

    /// The access decision for one query: a client in the allowed
    /// networks, or one carrying a valid access token (DoT, DoH).
    pub fn admits(&self, context: &Context) -> bool {
        context.auth.is_token() || self.is_allowed(context.client.ip())
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

    #[test]
    fn a_token_admits_a_client_outside_the_networks() {
        let acl = AccessList::new(vec!["127.0.0.0/8".parse().expect("net")]);
        let outsider = Context::new("192.0.2.1:53".parse().expect("addr"), Protocol::Https);
        assert!(!acl.admits(&outsider));
        assert!(acl.admits(&outsider.with_auth(ClientAuth::Token("phone".into()))));
        let insider = Context::new("127.0.0.1:53".parse().expect("addr"), Protocol::Udp);
        assert!(acl.admits(&insider));
    }
}
