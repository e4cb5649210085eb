//! Resource bounds shared by the DoT and DoH listeners, so that handshake
//! floods, slowloris clients and idle connections cannot starve others.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tokio_util::sync::CancellationToken;

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
/// Default for [`Limits::max_connections`], per listener.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
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
    /// See [`DEFAULT_MAX_CONNECTIONS`]. Connections beyond it are closed at
    /// once, before the handshake.
    pub max_connections: usize,
    /// See [`DEFAULT_MAX_IN_FLIGHT`].
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// Accept TCP connections on `listener` until `shutdown` is cancelled, at
/// most [`Limits::max_connections`] at a time: each accepted connection
/// (with Nagle off: answers are small and latency-bound) is served by the
/// future `serve` returns, in its own task that holds the connection's slot.
/// Connections beyond the limit are closed at once, before any handshake.
/// `what` names the listener in logs (`"DoT"`, `"DoH"`).
pub(crate) async fn accept_bounded<F, Fut>(
    what: &'static str,
    listener: TcpListener,
    max_connections: usize,
    shutdown: CancellationToken,
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    loop {
        let (tcp, src) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(%error, "{what} accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = tcp.set_nodelay(true);
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(client = %src, "{what} connection limit reached; closing");
            continue;
        };
        let connection = serve(tcp, src);
        tokio::spawn(async move {
            let _slot = slot;
            connection.await;
        });
    }
}
