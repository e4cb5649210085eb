//! Pipelined TCP and DNS-over-TLS upstream connections (RFC 7766).
//! Placeholder: the interface the rest of the upstream client uses.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::ServerName;

use super::ExchangeError;

/// A persistent, pipelined stream upstream: plain TCP or DNS over TLS.
#[derive(Debug)]
pub struct StreamUpstream {
    addr: SocketAddr,
}

impl StreamUpstream {
    /// A plain-TCP upstream at `addr`.
    pub fn tcp(addr: SocketAddr) -> StreamUpstream {
        StreamUpstream { addr }
    }

    /// A DNS-over-TLS upstream at `addr`, its certificate checked for
    /// `server_name` under `tls`.
    pub fn tls(
        addr: SocketAddr,
        _server_name: ServerName<'static>,
        _tls: Arc<rustls::ClientConfig>,
    ) -> StreamUpstream {
        StreamUpstream { addr }
    }

    /// Send one encoded query (its ID may be rewritten on the wire) and
    /// return the encoded answer, with the query's own ID restored.
    pub async fn exchange(&self, _query: &[u8]) -> Result<Vec<u8>, ExchangeError> {
        Err(ExchangeError::Connect(std::io::Error::other(format!(
            "{}: stream upstreams are not built yet",
            self.addr
        ))))
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        0
    }
}
