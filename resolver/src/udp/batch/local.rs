//! The local address a datagram came to.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The local address a datagram was sent to, where the socket is bound to
/// a wildcard and says so (Linux: see `pktinfo`); replies leave from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Local {
    /// An IPv4 address (also for IPv4 clients of a dual-stack socket).
    V4(Ipv4Addr),
    /// An IPv6 address and the interface it came in on.
    V6(Ipv6Addr, u32),
}
