//! DNS over TLS (RFC 7858): TLS on a TCP listener (port 853), DNS messages
//! framed with a two-byte length as in DNS over TCP.
//!
//! parapet runs its own accept loop (rather than hickory's) so that it can
//! bound connections, read the TLS server name of each connection for
//! [token](super::tokens) access, and answer pipelined queries concurrently.
//! Each query goes to the same request handler as plain DNS.

use std::{net::SocketAddr, sync::Arc};

use hickory_server::{net::xfer::Protocol, server::RequestHandler};
use rustls::ServerConfig;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc},
    time::timeout,
};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::{
    exchange::{exchange, formerr_for},
    limits::{Limits, accept_bounded},
    tokens::{ClientAuth, Tokens},
};

/// The ALPN id for DNS over TLS.
pub const ALPN_DOT: &[u8] = b"dot";

/// Serve DoT on `listener` until `shutdown` is cancelled.
///
/// `tls` should offer the [`ALPN_DOT`] protocol (see
/// [`certs::server_config`](super::certs::server_config)).
pub async fn serve<H>(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    handler: H,
    tokens: Arc<Tokens>,
    limits: Limits,
    shutdown: CancellationToken,
) where
    H: RequestHandler + Clone,
{
    let acceptor = TlsAcceptor::from(tls);
    let max_connections = limits.max_connections;
    let stop = shutdown.clone();
    accept_bounded("DoT", listener, max_connections, stop, |tcp, src| {
        let conn = Connection {
            handler: handler.clone(),
            tokens: Arc::clone(&tokens),
            limits: limits.clone(),
            src,
        };
        let acceptor = acceptor.clone();
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                () = conn.run(acceptor, tcp) => {}
                () = shutdown.cancelled() => {}
            }
        }
    })
    .await;
}

struct Connection<H> {
    handler: H,
    tokens: Arc<Tokens>,
    limits: Limits,
    src: SocketAddr,
}

impl<H: RequestHandler + Clone> Connection<H> {
    async fn run(self, acceptor: TlsAcceptor, tcp: TcpStream) {
        let src = self.src;
        let tls = match timeout(self.limits.handshake_timeout, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::debug!(client = %src, %error, "DoT handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(client = %src, "DoT handshake timed out");
                return;
            }
        };
        // The first label of the server name is the token candidate.
        let token = tls
            .get_ref()
            .1
            .server_name()
            .and_then(|name| name.split('.').next())
            .map(str::to_owned);
        let (mut reader, mut writer) = tokio::io::split(tls);
        let (answers, mut to_send) = mpsc::channel::<Vec<u8>>(self.limits.max_in_flight);
        let request_timeout = self.limits.request_timeout;
        let write_loop = async move {
            while let Some(answer) = to_send.recv().await {
                let Ok(len) = u16::try_from(answer.len()) else {
                    continue;
                };
                let mut frame = Vec::with_capacity(answer.len() + 2);
                frame.extend_from_slice(&len.to_be_bytes());
                frame.extend_from_slice(&answer);
                let write = async {
                    writer.write_all(&frame).await?;
                    writer.flush().await
                };
                if !matches!(timeout(request_timeout, write).await, Ok(Ok(()))) {
                    return; // the client stopped reading
                }
            }
            let _ = writer.shutdown().await;
        };
        let in_flight = Arc::new(Semaphore::new(self.limits.max_in_flight.max(1)));
        let read_loop = async move {
            loop {
                // Wait for the next query while idle; then the rest of the
                // frame must follow promptly.
                let idle = async {
                    // Idle only counts while nothing is in flight.
                    let _all = in_flight
                        .acquire_many(self.limits.max_in_flight.max(1) as u32)
                        .await;
                    tokio::time::sleep(self.limits.idle_timeout).await;
                };
                let first = tokio::select! {
                    b = reader.read_u8() => b,
                    () = idle => break,
                };
                let Ok(first) = first else { break };
                let Ok(Ok(query)) = timeout(request_timeout, read_frame(&mut reader, first)).await
                else {
                    break;
                };
                let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                    break;
                };
                let auth = match &token {
                    Some(t) => self
                        .tokens
                        .check(t)
                        .map_or(ClientAuth::Address, ClientAuth::Token),
                    None => ClientAuth::Address,
                };
                let handler = self.handler.clone();
                let answers = answers.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let answer =
                        match exchange(&handler, query.clone(), src, Protocol::Tls, auth).await {
                            Ok(answer) => Some(answer),
                            Err(error) => {
                                tracing::debug!(client = %src, %error, "DoT query not answered");
                                formerr_for(&query)
                            }
                        };
                    if let Some(answer) = answer {
                        let _ = answers.send(answer).await;
                    }
                });
            }
            // Dropping `answers` here lets the writer finish once every
            // query in flight has been answered.
        };
        // The writer ends early only when the client stopped reading: then
        // stop reading too. Otherwise let it drain the answers in flight.
        tokio::pin!(write_loop);
        tokio::select! {
            () = &mut write_loop => {}
            () = read_loop => write_loop.await,
        }
    }
}

/// Read the rest of a length-prefixed frame whose first length byte is `first`.
async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R, first: u8) -> std::io::Result<Vec<u8>> {
    let second = reader.read_u8().await?;
    let len = usize::from(u16::from_be_bytes([first, second]));
    let mut query = vec![0; len];
    reader.read_exact(&mut query).await?;
    Ok(query)
}
