//! DNS over HTTPS upstreams (RFC 8484) on HTTP/2: many streams on one
//! connection. Placeholder: the interface the rest of the upstream client
//! uses.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::ServerName;

use super::ExchangeError;

/// A DNS-over-HTTPS upstream.
#[derive(Debug)]
pub struct HttpsUpstream {
    addr: SocketAddr,
}

impl HttpsUpstream {
    /// An upstream at `addr`, certificate checked for `server_name` under
    /// `tls`, queries POSTed to `path` (e.g. `/dns-query`).
    pub fn new(
        addr: SocketAddr,
        _server_name: ServerName<'static>,
        _path: &str,
        _tls: Arc<rustls::ClientConfig>,
    ) -> HttpsUpstream {
        HttpsUpstream { addr }
    }

    /// Send one encoded query and return the encoded answer, with the
    /// query's own ID restored.
    pub async fn exchange(&self, _query: &[u8]) -> Result<Vec<u8>, ExchangeError> {
        Err(ExchangeError::Connect(std::io::Error::other(format!(
            "{}: DoH upstreams are not built yet",
            self.addr
        ))))
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        0
    }
}
