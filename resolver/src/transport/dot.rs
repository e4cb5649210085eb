//! DNS over TLS (RFC 7858): TLS on a TCP listener (port 853), DNS messages
//! framed with a two-byte length as in DNS over TCP.
//!
//! parapet runs its own accept loop (rather than hickory's) so that it can
//! bound connections, read the TLS server name of each connection for
//! [token](super::tokens) access, and answer pipelined queries concurrently.
//! Each query goes to the same request handler as plain DNS.

use std::{net::SocketAddr, sync::Arc};

use rustls::ServerConfig;
use tokio::{net::TcpListener, time::timeout};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::{
    limits::{Limits, accept_bounded},
    stream::FramedDns,
    tokens::Tokens,
};
use crate::access::ClientAuth;
use crate::conntable::Slot;
use crate::event::Protocol;
use crate::handler::DnsService;

/// The ALPN id for DNS over TLS.
pub const ALPN_DOT: &[u8] = b"dot";

/// Serve DoT on `listener` until `shutdown` is cancelled.
///
/// `tls` should offer the [`ALPN_DOT`] protocol (see
/// [`certs::server_config`](super::certs::server_config)). A client off
/// the allow-list whose server name does not start with a valid token is
/// closed [`Limits::untrusted_grace`] after it connected: it could only be
/// REFUSED.
pub async fn serve<H>(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    handler: H,
    tokens: Arc<Tokens>,
    limits: Limits,
    shutdown: CancellationToken,
) where
    H: DnsService,
{
    let acceptor = TlsAcceptor::from(tls);
    let stop = shutdown.clone();
    accept_bounded("DoT", listener, &limits, stop, |tcp, src, slot| {
        let conn = Connection {
            handler: handler.clone(),
            tokens: Arc::clone(&tokens),
            limits: limits.clone(),
            src,
        };
        let acceptor = acceptor.clone();
        let shutdown = shutdown.clone();
        async move { conn.run(acceptor, tcp, slot, shutdown).await }
    })
    .await;
}

struct Connection<H> {
    handler: H,
    tokens: Arc<Tokens>,
    limits: Limits,
    src: SocketAddr,
}

impl<H: DnsService> Connection<H> {
    async fn run(
        self,
        acceptor: TlsAcceptor,
        tcp: tokio::net::TcpStream,
        slot: Arc<Slot>,
        shutdown: CancellationToken,
    ) {
        let src = self.src;
        let handshake = timeout(self.limits.handshake_timeout, acceptor.accept(tcp));
        let handshake = tokio::select! {
            h = handshake => h,
            () = shutdown.cancelled() => return,
        };
        let tls = match handshake {
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
        // A valid token lets the connection stay; a client off the
        // allow-list without one is answered (REFUSED) for the grace only.
        if token
            .as_deref()
            .and_then(|t| self.tokens.check(t))
            .is_some()
        {
            slot.trust();
        }
        // Checked per query: a revoked token takes effect on the next one
        // (REFUSED off the allow-list, and the connection loses its trust:
        // among the first closed when the table is full).
        let tokens = self.tokens;
        let allowed = self.limits.is_allowed(src.ip());
        let auth_slot = Arc::clone(&slot);
        let auth = move || match token.as_deref().and_then(|t| tokens.check(t)) {
            Some(label) => ClientAuth::Token(label),
            None => {
                if !allowed && auth_slot.is_trusted() {
                    auth_slot.distrust();
                }
                ClientAuth::Address
            }
        };
        let framed = FramedDns {
            handler: self.handler,
            src,
            protocol: Protocol::Tls,
            limits: self.limits,
            auth: Arc::new(auth),
            stop: shutdown,
        };
        framed.serve(tls, &slot).await;
    }
}
