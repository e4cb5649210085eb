//! Plain DNS over TCP (port 53), served by parapet's own accept loop so
//! that connections are bounded by the [connection table](crate::conntable)
//! like DoT and DoH, and queries on one connection are answered
//! concurrently. A client off the allow-list gets its answers (REFUSED)
//! during [`Limits::untrusted_grace`], then the connection is closed.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{
    limits::{Limits, accept_bounded},
    stream::FramedDns,
};
use crate::access::ClientAuth;
use crate::event::Protocol;
use crate::handler::DnsService;

/// Serve plain DNS over TCP on `listener` until `shutdown` is cancelled.
pub async fn serve<H>(
    listener: TcpListener,
    handler: H,
    limits: Limits,
    shutdown: CancellationToken,
) where
    H: DnsService,
{
    let stop = shutdown.clone();
    let auth: super::stream::AuthFn = Arc::new(|| ClientAuth::Address);
    accept_bounded("TCP", listener, &limits, stop, |tcp, src, slot| {
        let framed = FramedDns {
            handler: handler.clone(),
            src,
            protocol: Protocol::Tcp,
            limits: limits.clone(),
            auth: Arc::clone(&auth),
            stop: shutdown.clone(),
        };
        async move { framed.serve(tcp, &slot).await }
    })
    .await;
}
