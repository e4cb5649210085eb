//! Listening sockets, bound the way other daemons bind them. Every listener
//! parapet opens (UDP and TCP DNS, DoT, DoH, the warning page and its TLS
//! reset port, metrics) is bound here:
//!
//! - an IPv6 socket sets `IPV6_V6ONLY`, so `[::]:53` takes IPv6 only and can
//!   be listed beside `0.0.0.0:53` whatever `net.ipv6.bindv6only` says
//!   (Linux defaults to 0: a plain `[::]` socket would also claim IPv4 and
//!   the second bind would fail with "address in use"). The one exception:
//!   a `[::]:P` listener when no IPv4 listener of the config uses port P is
//!   dual-stack on purpose (whatever the sysctl says), so `[::]:53` alone
//!   serves IPv4 clients too, as `::ffff:a.b.c.d` ([`BindOptions::v4_ports`]);
//! - TCP listeners set `SO_REUSEADDR` (a restart is not refused while old
//!   connections linger in `TIME_WAIT`); UDP sockets set `SO_REUSEPORT`
//!   (one socket per core on the same address, see [`crate::udp`]);
//! - with [`BindOptions::freebind`] (`[server] freebind = true`),
//!   `IP_FREEBIND`/`IPV6_FREEBIND` let an address that is not on the machine
//!   yet be bound (it receives once it appears);
//! - a failure is a [`BindError`] that names the config key, the address,
//!   what the system said and the usual cause and fix.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Listen backlog of TCP listeners.
pub(crate) const BACKLOG: i32 = 1024;

/// How listeners are bound (from the config).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BindOptions {
    /// Set `IP_FREEBIND`/`IPV6_FREEBIND`: bind addresses not (yet) present.
    pub freebind: bool,
    /// Ports that some IPv4 listener of the config uses: a `[::]` listener
    /// on one of them is IPv6-only; on any other port it is dual-stack.
    pub v4_ports: PortSet,
}

/// A small set of ports (configs list a handful of listeners). Past its
/// capacity it answers `true` for every port: IPv6-only everywhere, the
/// safe side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortSet {
    ports: [u16; 16],
    len: usize,
    overflow: bool,
}

impl PortSet {
    /// Every port: every `[::]` listener IPv6-only.
    pub fn all() -> Self {
        PortSet {
            overflow: true,
            ..PortSet::default()
        }
    }

    /// Add `port`.
    pub fn insert(&mut self, port: u16) {
        if self.contains(port) {
            return;
        }
        match self.ports.get_mut(self.len) {
            Some(slot) => {
                *slot = port;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    /// Whether `port` is in the set (always, past its capacity).
    pub fn contains(&self, port: u16) -> bool {
        self.overflow || self.ports[..self.len].contains(&port)
    }
}

impl FromIterator<u16> for PortSet {
    fn from_iter<I: IntoIterator<Item = u16>>(iter: I) -> Self {
        let mut set = PortSet::default();
        for port in iter {
            set.insert(port);
        }
        set
    }
}

/// A listener that could not be opened: the config key, the address, what
/// the system said, and a hint at the cause and the fix.
#[derive(Debug, thiserror::Error)]
pub struct BindError {
    /// The config key, e.g. `server.listen` or `warning_page.tls_listen`.
    pub key: &'static str,
    /// The address.
    pub addr: SocketAddr,
    /// What the system said.
    #[source]
    pub source: io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: cannot listen on {}: {}",
            self.key, self.addr, self.source
        )?;
        match hint(self.addr, &self.source) {
            Some(hint) => write!(f, " ({hint})"),
            None => Ok(()),
        }
    }
}

impl BindError {
    /// The error for `key` and `addr`.
    pub fn new(key: &'static str, addr: SocketAddr, source: io::Error) -> Self {
        BindError { key, addr, source }
    }
}

/// The usual cause of a bind failure and its fix, in words.
pub(crate) fn hint(addr: SocketAddr, error: &io::Error) -> Option<String> {
    let port = addr.port();
    let ip = addr.ip();
    match error.kind() {
        io::ErrorKind::AddrInUse => {
            let suspect = match port {
                53 => {
                    "; on port 53 it is usually systemd-resolved's stub listener on \
                     127.0.0.53:53 (set DNSStubListener=no in /etc/systemd/resolved.conf \
                     and restart it) or dnsmasq"
                }
                5353 => "; on port 5353 it is usually avahi-daemon (mDNS): pick another port",
                _ => "",
            };
            Some(format!(
                "another program is using it{suspect}; `ss -lnptu 'sport = :{port}'` names it"
            ))
        }
        io::ErrorKind::PermissionDenied if port < 1024 => Some(format!(
            "port {port} is below 1024: run as root or with CAP_NET_BIND_SERVICE \
             (the systemd unit grants it)"
        )),
        io::ErrorKind::AddrNotAvailable => Some(format!(
            "{ip} is not an address of this machine (yet): correct it, start parapet after \
             network-online.target, or set server.freebind = true to bind it before it appears"
        )),
        _ => None,
    }
}

/// A socket for `addr` with the options every listener shares.
fn socket(
    addr: SocketAddr,
    kind: Type,
    protocol: Protocol,
    opts: BindOptions,
) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if addr.is_ipv6() {
        // Dual-stack only for a wildcard no IPv4 listener shares a port with.
        let dual = addr.ip().is_unspecified() && !opts.v4_ports.contains(addr.port());
        socket.set_only_v6(!dual)?;
    }
    if opts.freebind {
        if addr.is_ipv6() {
            socket.set_freebind_v6(true)?;
        } else {
            socket.set_freebind_v4(true)?;
        }
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Bind a TCP listener on `addr` (port 0 picks a free port), non-blocking,
/// for config key `key`.
///
/// # Errors
/// The address cannot be bound; the error names `key` and the fix.
pub(crate) fn tcp(
    key: &'static str,
    addr: SocketAddr,
    opts: BindOptions,
) -> Result<std::net::TcpListener, BindError> {
    let open = || -> io::Result<std::net::TcpListener> {
        let socket = socket(addr, Type::STREAM, Protocol::TCP, opts)?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        Ok(socket.into())
    };
    open().map_err(|source| BindError::new(key, addr, source))
}

/// [`tcp`], registered with the tokio runtime.
///
/// # Errors
/// As [`tcp`], or the runtime refuses the socket.
pub(crate) fn tokio_tcp(
    key: &'static str,
    addr: SocketAddr,
    opts: BindOptions,
) -> Result<tokio::net::TcpListener, BindError> {
    let listener = tcp(key, addr, opts)?;
    tokio::net::TcpListener::from_std(listener).map_err(|source| BindError::new(key, addr, source))
}

/// Bind `count` UDP sockets to `addr` with `SO_REUSEPORT` (Linux spreads
/// clients over them), registered with the tokio runtime. With port 0 the
/// first socket picks the port and the others join it.
///
/// # Errors
/// The address cannot be bound; the error names `key` and the fix.
pub(crate) fn udp(
    key: &'static str,
    addr: SocketAddr,
    count: usize,
    opts: BindOptions,
) -> Result<Vec<tokio::net::UdpSocket>, BindError> {
    let mut sockets = Vec::with_capacity(count.max(1));
    let mut at = addr;
    for _ in 0..count.max(1) {
        let open = || -> io::Result<tokio::net::UdpSocket> {
            let socket = socket(at, Type::DGRAM, Protocol::UDP, opts)?;
            socket.set_reuse_port(true)?;
            // A wildcard answers from the address each query was sent to.
            #[cfg(target_os = "linux")]
            crate::udp::pktinfo::enable(&socket, at)?;
            socket.bind(&at.into())?;
            tokio::net::UdpSocket::from_std(socket.into())
        };
        let socket = open().map_err(|source| BindError::new(key, addr, source))?;
        at = socket
            .local_addr()
            .map_err(|source| BindError::new(key, addr, source))?;
        sockets.push(socket);
    }
    Ok(sockets)
}

#[cfg(test)]
mod tests;
