//! Resource bounds shared by the DoT and DoH listeners, so that handshake
//! floods, slowloris clients and idle connections cannot starve others.

use std::{sync::Arc, time::Duration};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// Counts open connections of one listener against [`Limits::max_connections`].
#[derive(Debug, Clone)]
pub(crate) struct ConnectionSlots(Arc<Semaphore>);

impl ConnectionSlots {
    pub(crate) fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max.max(1))))
    }

    /// A slot for a new connection, or `None` when the listener is full.
    pub(crate) fn try_take(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.0).try_acquire_owned().ok()
    }
}
