//! Opening a connection to an upstream: TCP connect, then the TLS
//! handshake, each within a deadline.

use std::net::SocketAddr;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};

fn timed_out(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// A TCP connection to `addr` (Nagle off: queries are small and
/// latency-bound) within `timeout`.
pub(crate) async fn tcp(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| timed_out("TCP connect"))??;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// TLS over `tcp`, the certificate checked for `name`, within `timeout`.
pub(crate) async fn tls(
    tcp: TcpStream,
    connector: &TlsConnector,
    name: &ServerName<'static>,
    timeout: Duration,
) -> std::io::Result<TlsStream<TcpStream>> {
    tokio::time::timeout(timeout, connector.connect(name.clone(), tcp))
        .await
        .map_err(|_| timed_out("TLS handshake"))?
}
