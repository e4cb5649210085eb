//! Resource bounds shared by the plain TCP, DoT and DoH listeners, so that
//! handshake floods, slowloris clients and idle connections cannot starve
//! others: timeouts, and one [connection table](crate::conntable) with
//! per-client and total caps.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::{
    access::AccessList,
    conntable::{ConnTable, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT, Slot},
};

/// Default for [`Limits::handshake_timeout`]: a TLS handshake that takes
/// longer is dropped (phones on bad networks finish well within this).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`Limits::idle_timeout`]: a connection with no query in
/// flight and none arriving for this long is closed (RFC 7766 §6.2.3 asks
/// for some seconds; phones reconnect cheaply with TLS resumption).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`Limits::request_timeout`]: the time a client gets to send
/// one whole request (DoT frame, HTTP headers and body) once it started.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`Limits::untrusted_grace`]: how long a connection from an
/// address off the allow-list may stay open without showing a valid token.
pub const DEFAULT_UNTRUSTED_GRACE: Duration = Duration::from_secs(5);
/// Default for [`Limits::max_in_flight`]: concurrent queries (DoT pipelined
/// frames, HTTP/2 streams) per connection.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// The largest DoH request body accepted; a DNS message is at most 65535
/// bytes. Larger bodies get HTTP 413.
pub const MAX_DOH_BODY: usize = 65_535;

/// Per-listener resource bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// See [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
    /// See [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// See [`DEFAULT_REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// The connection table every listener sharing these limits admits
    /// its connections into (clones share it).
    pub connections: Arc<ConnTable>,
    /// The address allow-list: connections from elsewhere are *untrusted*
    /// until they show a valid token. `None`: every address is trusted.
    pub allow: Option<Arc<AccessList>>,
    /// See [`DEFAULT_UNTRUSTED_GRACE`].
    pub untrusted_grace: Duration,
    /// See [`DEFAULT_MAX_IN_FLIGHT`].
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connections: Arc::new(ConnTable::new(
                DEFAULT_MAX_CONNECTIONS,
                DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            )),
            allow: None,
            untrusted_grace: DEFAULT_UNTRUSTED_GRACE,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

impl Limits {
    /// Whether `ip` is on the allow-list (always, without one).
    pub fn is_allowed(&self, ip: IpAddr) -> bool {
        self.allow.as_ref().is_none_or(|a| a.is_allowed(ip))
    }
}

/// Accept TCP connections on `listener` until `shutdown` is cancelled
/// (through [`crate::net::accept_loop`]), each admitted into `limits`'
/// [connection table](crate::conntable) (trusted when its address is
/// allowed): each accepted connection is served by the future `serve`
/// returns, in its own task that holds the connection's slot. The task
/// ends when the table closes the connection to make room, or when the
/// client is still untrusted (off the allow-list, no valid token seen)
/// after [`Limits::untrusted_grace`]. A connection the table refuses is
/// closed at once, before any handshake. `what` names the listener in logs
/// (`"TCP"`, `"DoT"`, `"DoH"`).
pub(crate) async fn accept_bounded<F, Fut>(
    what: &'static str,
    listener: TcpListener,
    limits: &Limits,
    shutdown: CancellationToken,
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr, Arc<Slot>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let grace = limits.untrusted_grace;
    let admit = |src: SocketAddr| {
        let trusted = limits.is_allowed(src.ip());
        limits.connections.admit(src.ip(), trusted).map(Arc::new)
    };
    crate::net::accept_loop(what, listener, shutdown, admit, |tcp, src, slot| {
        let connection = serve(tcp, src, Arc::clone(&slot));
        async move {
            tokio::select! {
                () = connection => {}
                () = slot.watch(grace) => {
                    tracing::debug!(client = %src, "{what} connection closed by the limits");
                }
            }
        }
    })
    .await;
}
