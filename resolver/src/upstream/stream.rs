//! Pipelined TCP and DNS-over-TLS upstream connections (RFC 7766, RFC
//! 7858).
//!
//! An upstream keeps a few persistent connections (one under normal load,
//! up to [`Settings::max_connections`] when one has
//! [`Settings::max_in_flight`] queries in flight). Queries are pipelined
//! on them and answered in any order ([`conn`]); a connection idle for
//! [`Settings::idle_timeout`] is closed. A failed connect starts a backoff
//! ([`backoff`]) during which queries fail at once with
//! [`ExchangeError::Connect`] instead of hammering a dead upstream.

mod backoff;
mod conn;
pub(crate) mod dial;
pub(crate) mod message;
mod tls;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testserver;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, atomic::AtomicUsize, atomic::Ordering};
use std::time::{Duration, Instant};

use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::ExchangeError;
pub(crate) use backoff::Backoff;
use conn::{Conn, Failure};
pub(crate) use tls::with_alpn;
pub use tls::{client_config, load_roots};

/// ALPN protocol of DNS over TLS (RFC 7858).
const ALPN_DOT: &[u8] = b"dot";

/// How connections to one upstream are kept (stream and HTTPS upstreams).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Close a connection after this long with nothing sent or received
    /// (default 10 s: reused under steady traffic, not held open for
    /// nothing; servers close idle clients after 10-30 s).
    pub idle_timeout: Duration,
    /// Queries in flight on one connection at most (default 128); more
    /// open another connection or wait.
    pub max_in_flight: usize,
    /// Connections to one upstream at most (default 2).
    pub max_connections: usize,
    /// Longest a TCP connect plus TLS handshake may take (default 5 s).
    pub connect_timeout: Duration,
    /// Wait after the first failed connect (default 500 ms); it doubles
    /// with each further failure.
    pub backoff_min: Duration,
    /// Longest wait between connect attempts (default 30 s).
    pub backoff_max: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            idle_timeout: Duration::from_secs(10),
            max_in_flight: 128,
            max_connections: 2,
            connect_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// A persistent, pipelined stream upstream: plain TCP or DNS over TLS.
pub struct StreamUpstream {
    addr: SocketAddr,
    tls: Option<(ServerName<'static>, TlsConnector)>,
    settings: Settings,
    pool: Mutex<Pool>,
    /// Held while connecting, so that concurrent queries wait for one new
    /// connection instead of opening one each.
    connecting: tokio::sync::Mutex<()>,
    open: Arc<AtomicUsize>,
}

struct Pool {
    conns: Vec<Arc<Conn>>,
    backoff: Backoff,
}

impl std::fmt::Debug for StreamUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamUpstream")
            .field("addr", &self.addr)
            .field("tls", &self.tls.as_ref().map(|(name, _)| name))
            .field("open", &self.open_connections())
            .finish()
    }
}

impl StreamUpstream {
    /// A plain-TCP upstream at `addr`.
    pub fn tcp(addr: SocketAddr) -> StreamUpstream {
        StreamUpstream::new(addr, None)
    }

    /// A DNS-over-TLS upstream at `addr`, its certificate checked for
    /// `server_name` under `tls` (see [`client_config`]; ALPN `dot` is
    /// offered).
    pub fn tls(
        addr: SocketAddr,
        server_name: ServerName<'static>,
        tls: Arc<rustls::ClientConfig>,
    ) -> StreamUpstream {
        let connector = TlsConnector::from(with_alpn(&tls, &[ALPN_DOT]));
        StreamUpstream::new(addr, Some((server_name, connector)))
    }

    fn new(addr: SocketAddr, tls: Option<(ServerName<'static>, TlsConnector)>) -> Self {
        let settings = Settings::default();
        StreamUpstream {
            addr,
            tls,
            pool: Mutex::new(Pool {
                conns: Vec::new(),
                backoff: Backoff::new(settings.backoff_min, settings.backoff_max),
            }),
            settings,
            connecting: tokio::sync::Mutex::new(()),
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The same upstream with other connection settings (before first use).
    pub fn with_settings(mut self, settings: Settings) -> StreamUpstream {
        self.pool_lock().backoff = Backoff::new(settings.backoff_min, settings.backoff_max);
        self.settings = settings;
        self
    }

    /// Send one encoded query (its ID may be rewritten on the wire) and
    /// return the encoded answer, with the query's own ID restored.
    ///
    /// # Errors
    /// [`ExchangeError::Connect`] when no connection can be made (at once
    /// while backing off after a failed connect); `Closed`, `Io` or
    /// `Malformed` when the connection ends before the answer (a query
    /// that met a connection closed or reset under it is tried once more
    /// on a new one); `Timeout` when the upstream stopped reading;
    /// `Malformed` for a query without a well-formed question, or an
    /// answer that does not repeat it. Deadlines are the caller's.
    pub async fn exchange(&self, query: &[u8]) -> Result<Vec<u8>, ExchangeError> {
        let question = message::question(query).map_err(ExchangeError::Malformed)?;
        let mut unsent = 0;
        let mut retried = false;
        loop {
            let conn = self.connection().await?;
            match conn.exchange(query, question).await {
                Ok(answer) => return Ok(answer),
                Err(Failure::NotSent) if unsent < 3 => unsent += 1,
                Err(Failure::NotSent) => return Err(ExchangeError::Closed),
                // Queries are idempotent: one that met a connection ending
                // under it (the server's idle close, a reset) goes once more
                // on a new one.
                Err(Failure::Failed(ExchangeError::Closed | ExchangeError::Io(_))) if !retried => {
                    retried = true;
                }
                Err(Failure::Failed(e)) => return Err(e),
            }
        }
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    fn pool_lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection to send on: an open one with room, else a new one,
    /// else (all full) the least busy to wait on.
    async fn connection(&self) -> Result<Arc<Conn>, ExchangeError> {
        if let Some(conn) = self.pick()? {
            return Ok(conn);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(conn) = self.pick()? {
            return Ok(conn);
        }
        let result = self.connect().await;
        let mut pool = self.pool_lock();
        let conn = pool.backoff.record(self.addr, result)?;
        pool.conns.push(conn.clone());
        Ok(conn)
    }

    /// An open connection with room; when none has room and no more may
    /// be opened, the least busy one; `None` when one should be opened.
    ///
    /// # Errors
    /// `Connect` while backing off with no connection open.
    fn pick(&self) -> Result<Option<Arc<Conn>>, ExchangeError> {
        let mut pool = self.pool_lock();
        pool.conns.retain(|c| !c.is_dead());
        if let Some(conn) = pool.conns.iter().find(|c| c.room() > 0) {
            return Ok(Some(conn.clone()));
        }
        if pool.conns.len() >= self.settings.max_connections.max(1) {
            return Ok(pool.conns.iter().max_by_key(|c| c.room()).cloned());
        }
        match pool.backoff.refusal(self.addr, Instant::now()) {
            Some(e) if pool.conns.is_empty() => Err(ExchangeError::Connect(e)),
            _ => Ok(None),
        }
    }

    async fn connect(&self) -> std::io::Result<Arc<Conn>> {
        let timeout = self.settings.connect_timeout;
        let tcp = dial::tcp(self.addr, timeout).await?;
        let (max, idle, open) = (
            self.settings.max_in_flight,
            self.settings.idle_timeout,
            self.open.clone(),
        );
        Ok(match &self.tls {
            None => Conn::spawn(tcp, max, idle, open),
            Some((name, connector)) => {
                let tls = dial::tls(tcp, connector, name, timeout).await?;
                Conn::spawn(tls, max, idle, open)
            }
        })
    }
}
