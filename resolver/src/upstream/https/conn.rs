//! One HTTP/2 connection to a DNS-over-HTTPS upstream: TLS with ALPN h2,
//! hyper's client handshake, and a task that drives the connection until
//! the peer ends it (GOAWAY, error) or it has been idle too long.

use std::net::SocketAddr;
use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls_pki_types::ServerName;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::upstream::stream::dial;

/// An open HTTP/2 connection: the handle to send requests on, and what it
/// is doing.
#[derive(Debug, Clone)]
pub(super) struct H2 {
    pub(super) send: SendRequest<Full<Bytes>>,
    activity: Arc<Activity>,
}

#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    last_active: Mutex<Instant>,
    closed: AtomicBool,
    /// Wakes the idle watch when the connection is retired, or when a
    /// request on a retired connection ends.
    retired: Notify,
}

impl Activity {
    fn touch(&self) {
        *self.last_active.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn last_active(&self) -> Instant {
        *self.last_active.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counts a request in flight on a connection while it lives.
pub(super) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.0.closed.load(Ordering::Relaxed) {
            self.0.retired.notify_one();
        }
    }
}

impl H2 {
    /// Whether new requests can go on this connection.
    pub(super) fn is_usable(&self) -> bool {
        !self.activity.closed.load(Ordering::Relaxed) && !self.send.is_closed()
    }

    /// Whether `other` is this same connection.
    pub(super) fn same(&self, other: &H2) -> bool {
        Arc::ptr_eq(&self.activity, &other.activity)
    }

    /// Take no more requests; the connection closes once idle (requests
    /// in flight on it finish).
    pub(super) fn retire(&self) {
        self.activity.closed.store(true, Ordering::Relaxed);
        self.activity.retired.notify_one();
    }

    /// Mark a request in flight until the guard drops.
    pub(super) fn busy(&self) -> Busy {
        self.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        self.activity.touch();
        Busy(self.activity.clone())
    }

    /// Connect to `addr`, check the certificate for `name`, agree on h2,
    /// and drive the connection on a task that `open` counts until it ends.
    pub(super) async fn connect(
        addr: SocketAddr,
        name: &ServerName<'static>,
        tls: &TlsConnector,
        timeout: Duration,
        idle: Duration,
        open: Arc<AtomicUsize>,
    ) -> std::io::Result<H2> {
        let tcp = dial::tcp(addr, timeout).await?;
        let stream = dial::tls(tcp, tls, name, timeout).await?;
        if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err(std::io::Error::other("the upstream does not speak HTTP/2"));
        }
        let handshake = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(TokioIo::new(stream));
        let (send, connection) = tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "HTTP/2 handshake timed out")
            })?
            .map_err(std::io::Error::other)?;
        let activity = Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last_active: Mutex::new(Instant::now()),
            closed: AtomicBool::new(false),
            retired: Notify::new(),
        });
        open.fetch_add(1, Ordering::Relaxed);
        let watched = activity.clone();
        tokio::spawn(async move {
            tokio::select! {
                ended = connection => if let Err(e) = ended {
                    tracing::debug!(upstream = %addr, error = %e, "DoH upstream connection ended");
                },
                () = until_idle(&watched, idle) => {}
            }
            watched.closed.store(true, Ordering::Relaxed);
            open.fetch_sub(1, Ordering::Relaxed);
        });
        Ok(H2 { send, activity })
    }
}

/// Returns once nothing has been in flight for `idle`, or at once when
/// nothing is in flight on a retired connection; dropping the connection
/// then closes it.
async fn until_idle(activity: &Activity, idle: Duration) {
    loop {
        let now = Instant::now();
        let quiet = activity.in_flight.load(Ordering::Relaxed) == 0;
        let due = activity.last_active() + idle;
        if quiet && (activity.closed.load(Ordering::Relaxed) || now >= due) {
            activity.closed.store(true, Ordering::Relaxed);
            return;
        }
        let wake = if quiet { due } else { now + idle };
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = activity.retired.notified() => {}
        }
    }
}
