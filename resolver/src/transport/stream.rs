//! DNS over a byte stream (RFC 7766 framing: a two-byte length before each
//! message), shared by plain TCP and DoT: queries on one connection are
//! answered concurrently (up to [`Limits::max_in_flight`]), in the order
//! they finish.

use std::{net::SocketAddr, sync::Arc};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::{Semaphore, mpsc},
    time::timeout,
};
use tokio_util::sync::CancellationToken;

use super::limits::Limits;
use crate::access::{ClientAuth, Context};
use crate::conntable::Slot;
use crate::event::Protocol;
use crate::handler::DnsService;
use crate::wire::formerr_for;

/// How each query on a connection is authenticated, asked per query (so a
/// token revoked while the connection is open takes effect on its next query).
pub(crate) type AuthFn = Arc<dyn Fn() -> ClientAuth + Send + Sync>;

/// One framed DNS connection.
pub(crate) struct FramedDns<H> {
    /// The resolver (front, then core).
    pub handler: H,
    /// The client.
    pub src: SocketAddr,
    /// `Tcp` or `Tls`, for the handler (metrics, logs, truncation).
    pub protocol: Protocol,
    /// Timeouts and in-flight bound; `idle_timeout` applies between queries.
    pub limits: Limits,
    /// See [`AuthFn`].
    pub auth: AuthFn,
    /// Cancelled on shutdown: stop reading, answer the queries in flight.
    pub stop: CancellationToken,
}

impl<H: DnsService> FramedDns<H> {
    /// Serve queries from `stream` until the client closes it, stays idle
    /// for the idle timeout, sends a bad frame, stops reading, or
    /// [`FramedDns::stop`] is cancelled (the queries in flight are still
    /// answered). The
    /// connection is marked busy in `slot` while a query is being read or
    /// answered.
    pub(crate) async fn serve<S>(self, stream: S, slot: &Slot)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let src = self.src;
        let (mut reader, mut writer) = tokio::io::split(stream);
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
        let max_in_flight = self.limits.max_in_flight.max(1);
        let in_flight = Arc::new(Semaphore::new(max_in_flight));
        let read_loop = async move {
            loop {
                // Wait for the next query while idle; then the rest of the
                // frame must follow promptly.
                let idle = async {
                    // Idle only counts while nothing is in flight.
                    let _all = in_flight.acquire_many(max_in_flight as u32).await;
                    tokio::time::sleep(self.limits.idle_timeout).await;
                };
                let first = tokio::select! {
                    b = reader.read_u8() => b,
                    () = idle => break,
                    () = self.stop.cancelled() => break,
                };
                let Ok(first) = first else { break };
                let busy = slot.busy();
                let Ok(Ok(query)) = timeout(request_timeout, read_frame(&mut reader, first)).await
                else {
                    break;
                };
                let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                    break;
                };
                let auth = (self.auth)();
                let handler = self.handler.clone();
                let answers = answers.clone();
                let protocol = self.protocol;
                tokio::spawn(async move {
                    let _busy = busy;
                    let _permit = permit;
                    let context = Context {
                        client: src,
                        protocol,
                        auth,
                    };
                    let answer = match handler.answer(query.clone(), context).await {
                        Ok(answer) => Some(answer),
                        Err(error) => {
                            tracing::debug!(client = %src, %error, "{protocol} query not answered");
                            let formerr = formerr_for(&query);
                            if formerr.is_some() {
                                handler.undecodable(&Context::new(src, protocol));
                            }
                            formerr
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
