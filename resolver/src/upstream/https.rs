//! DNS over HTTPS upstreams (RFC 8484) on HTTP/2: many streams on one
//! connection.
//!
//! Each query is POSTed as `application/dns-message` with ID 0 on the
//! wire (cache-friendly, RFC 8484 §4.1); the answer gets the query's own
//! ID back after its question is checked. The connection ([`conn`]) is
//! kept while used and closed after [`Settings::idle_timeout`]; when the
//! server ends it (GOAWAY) or it fails, the next query opens another, and
//! a request the closing connection did not take is tried once more on
//! the new one. Failed connects back off as for stream upstreams.

mod conn;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, atomic::AtomicUsize, atomic::Ordering};
use std::time::Instant;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, CONTENT_TYPE};
use hyper::{Request, StatusCode, Uri};
use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::ExchangeError;
use super::stream::{Backoff, Settings, message, with_alpn};
use conn::H2;

/// The media type of DNS messages over HTTPS.
const DNS_MESSAGE: &str = "application/dns-message";

/// The largest DNS message, and so the largest answer body taken.
const MAX_BODY: usize = u16::MAX as usize;

/// A DNS-over-HTTPS upstream.
pub struct HttpsUpstream {
    addr: SocketAddr,
    server_name: ServerName<'static>,
    /// `https://name[:port]/path`, or why it could not be made.
    uri: Result<Uri, String>,
    connector: TlsConnector,
    settings: Settings,
    state: Mutex<State>,
    /// Held while connecting, so that concurrent queries wait for one new
    /// connection instead of opening one each.
    connecting: tokio::sync::Mutex<()>,
    open: Arc<AtomicUsize>,
}

struct State {
    h2: Option<H2>,
    backoff: Backoff,
}

/// Why one POST gave no answer, and whether another connection may.
enum Failure {
    /// The connection did not take the request (closed, GOAWAY, reset):
    /// worth one more try on a new one.
    Retry(ExchangeError),
    /// The upstream answered, badly.
    Final(ExchangeError),
}

impl std::fmt::Debug for HttpsUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsUpstream")
            .field("addr", &self.addr)
            .field("uri", &self.uri)
            .field("open", &self.open_connections())
            .finish()
    }
}

impl HttpsUpstream {
    /// An upstream at `addr`, certificate checked for `server_name` under
    /// `tls` (see [`super::stream::client_config`]; ALPN h2 is offered),
    /// queries POSTed to `path` (e.g. `/dns-query`).
    pub fn new(
        addr: SocketAddr,
        server_name: ServerName<'static>,
        path: &str,
        tls: Arc<rustls::ClientConfig>,
    ) -> HttpsUpstream {
        let settings = Settings::default();
        HttpsUpstream {
            addr,
            uri: uri(&server_name, addr.port(), path),
            server_name,
            connector: TlsConnector::from(with_alpn(&tls, &[b"h2"])),
            state: Mutex::new(State {
                h2: None,
                backoff: Backoff::new(settings.backoff_min, settings.backoff_max),
            }),
            settings,
            connecting: tokio::sync::Mutex::new(()),
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The same upstream with other connection settings (before first
    /// use). One connection is kept whatever `max_connections` says; the
    /// server's HTTP/2 settings bound the streams on it.
    pub fn with_settings(mut self, settings: Settings) -> HttpsUpstream {
        self.lock().backoff = Backoff::new(settings.backoff_min, settings.backoff_max);
        self.settings = settings;
        self
    }

    /// Send one encoded query and return the encoded answer, with the
    /// query's own ID restored.
    ///
    /// # Errors
    /// [`ExchangeError::Http`] for a status other than 200; `Connect` when
    /// no connection can be made (at once while backing off); `Io` or
    /// `Closed` when the connection fails under the request (after one
    /// more try on a new connection); `Malformed` for a query without a
    /// well-formed question, or an answer that is too long, too short or
    /// does not repeat the question. Deadlines are the caller's.
    pub async fn exchange(&self, query: &[u8]) -> Result<Vec<u8>, ExchangeError> {
        let question = message::question(query).map_err(ExchangeError::Malformed)?;
        let uri = self.uri.as_ref().map_err(|e| {
            ExchangeError::Connect(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                e.clone(),
            ))
        })?;
        let mut wire = query.to_vec();
        message::set_id(&mut wire, 0);
        let body = Bytes::from(wire);
        let mut retried = false;
        loop {
            let h2 = self.connection().await?;
            let _busy = h2.busy();
            match post(h2.send.clone(), uri, body.clone()).await {
                Ok(mut answer) => {
                    if !message::answers(question, &answer) {
                        return Err(ExchangeError::Malformed(
                            "the answer does not repeat the question".into(),
                        ));
                    }
                    message::set_id(&mut answer, message::id(query));
                    return Ok(answer);
                }
                Err(Failure::Retry(_)) if !retried => {
                    retried = true;
                    self.forget(&h2);
                }
                Err(Failure::Retry(e) | Failure::Final(e)) => return Err(e),
            }
        }
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take `h2` out of use (a request failed on it): the next query
    /// opens a new connection.
    fn forget(&self, h2: &H2) {
        h2.retire();
        let mut state = self.lock();
        if state.h2.as_ref().is_some_and(|c| c.same(h2)) {
            state.h2 = None;
        }
    }

    /// The open connection, or a new one.
    async fn connection(&self) -> Result<H2, ExchangeError> {
        if let Some(h2) = self.current()? {
            return Ok(h2);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(h2) = self.current()? {
            return Ok(h2);
        }
        let result = H2::connect(
            self.addr,
            &self.server_name,
            &self.connector,
            self.settings.connect_timeout,
            self.settings.idle_timeout,
            self.open.clone(),
        )
        .await;
        let mut state = self.lock();
        let h2 = state.backoff.record(self.addr, result)?;
        state.h2 = Some(h2.clone());
        Ok(h2)
    }

    /// The connection in use if it still takes requests; `None` when one
    /// should be opened.
    ///
    /// # Errors
    /// `Connect` while backing off.
    fn current(&self) -> Result<Option<H2>, ExchangeError> {
        let mut state = self.lock();
        if let Some(h2) = state.h2.as_ref().filter(|h2| h2.is_usable()) {
            return Ok(Some(h2.clone()));
        }
        state.h2 = None;
        match state.backoff.refusal(self.addr, Instant::now()) {
            Some(e) => Err(ExchangeError::Connect(e)),
            None => Ok(None),
        }
    }
}

/// `https://name[:port]/path` for requests to this upstream.
fn uri(name: &ServerName<'static>, port: u16, path: &str) -> Result<Uri, String> {
    let host = match name {
        ServerName::IpAddress(rustls_pki_types::IpAddr::V6(_)) => format!("[{}]", name.to_str()),
        _ => name.to_str().into_owned(),
    };
    let authority = if port == 443 {
        host
    } else {
        format!("{host}:{port}")
    };
    let text = format!("https://{authority}{path}");
    match text.parse::<Uri>() {
        Ok(uri) if path.starts_with('/') => Ok(uri),
        Ok(_) => Err(format!("{text}: the path must start with '/'")),
        Err(e) => Err(format!("{text}: {e}")),
    }
}

/// POST one query; the answer body if the status is 200.
async fn post(
    mut send: hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    uri: &Uri,
    body: Bytes,
) -> Result<Vec<u8>, Failure> {
    let retry = |e: hyper::Error| Failure::Retry(ExchangeError::Io(std::io::Error::other(e)));
    send.ready().await.map_err(retry)?;
    let request = Request::post(uri.clone())
        .header(CONTENT_TYPE, DNS_MESSAGE)
        .header(ACCEPT, DNS_MESSAGE)
        .body(Full::new(body))
        .map_err(|e| Failure::Final(ExchangeError::Malformed(e.to_string())))?;
    let response = send.send_request(request).await.map_err(retry)?;
    if response.status() != StatusCode::OK {
        return Err(Failure::Final(ExchangeError::Http(
            response.status().as_u16(),
        )));
    }
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            Failure::Final(match e.downcast::<hyper::Error>() {
                Ok(e) => ExchangeError::Io(std::io::Error::other(e)),
                Err(e) => ExchangeError::Malformed(format!("answer body: {e}")),
            })
        })?
        .to_bytes();
    if body.len() < message::HEADER_LEN {
        return Err(Failure::Final(ExchangeError::Malformed(format!(
            "an answer body of {} bytes",
            body.len()
        ))));
    }
    Ok(body.to_vec())
}
