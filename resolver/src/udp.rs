//! The UDP listener: one socket per core on the same address
//! (`SO_REUSEPORT`, so the kernel spreads clients over them), each read by
//! its own task with reused buffers for a batch of datagrams (one
//! `recvmmsg`/`sendmmsg` each way on Linux, see [`batch`]).
//!
//! Each datagram goes to the handler's front in the receive loop: a
//! blocked name or an answer-cache hit is answered there (no decoding, no
//! allocation, no task). Everything else is decoded once and handed to the
//! handler's core on its own task, its response encoded as hickory's own
//! UDP server does (512 bytes without EDNS, else the client's payload size
//! up to 1232 bytes, truncated with TC beyond it).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::access::Context;
use crate::event::Protocol;
use crate::handler::{Front, Handler};
use crate::net::InFlight;
use crate::wire;

mod batch;

#[cfg(target_os = "linux")]
pub(crate) use batch::pktinfo;

use batch::{Local, Received, Replies};

/// How many sockets to open per address: one per CPU this process may use
/// (bound by [`crate::listen::udp`]).
pub(crate) fn socket_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Serve queries on `socket` until `shutdown`; queries in flight get to
/// finish (their tasks are awaited).
///
/// Datagrams are taken a batch at a time (see [`batch`]); the answers
/// written in the loop (blocked names, answer-cache hits, FORMERR) are sent
/// together once the whole batch has been looked at, while queries that
/// need the full handler go to their own tasks at once.
///
/// Queries that need a task hold a permit of `in_flight` while it runs;
/// when none is left, such a query is dropped and counted (blocked names
/// and cached answers are still answered in the loop).
pub(crate) async fn serve(
    socket: UdpSocket,
    handler: Handler,
    in_flight: InFlight,
    shutdown: CancellationToken,
) {
    let socket = Arc::new(socket);
    let mut received = Received::new();
    let mut replies = Replies::new();
    let mut tasks = JoinSet::new();
    // One waiter for the whole loop, not one registered per batch.
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    loop {
        tokio::select! {
            r = received.recv(&socket) => if let Err(error) = r {
                // ICMP errors from earlier sends surface here; keep going.
                debug!(%error, "UDP receive error");
                continue;
            },
            _ = &mut cancelled => break,
        }
        while tasks.try_join_next().is_some() {}
        let mut count = 0;
        for (packet, src, local) in received.iter() {
            dispatch(
                packet,
                (src, local),
                &handler,
                &in_flight,
                &socket,
                &mut replies,
                &mut tasks,
            );
            count += 1;
        }
        if !replies.is_empty() {
            replies.flush(&socket).await;
        }
        // Tokio's cooperative budget counts I/O calls, and a batch is one
        // call each way: charge each datagram, so that under a flood this
        // loop still lets the forwarding tasks (and their upstream replies)
        // run as often as it did with one call per datagram.
        for _ in 0..count {
            tokio::task::coop::consume_budget().await;
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Answer one datagram in the loop (queued in `replies`) through the
/// front, hand it to the core on a task, or drop it (a response: never
/// answer answers).
fn dispatch(
    packet: &[u8],
    (src, local): (SocketAddr, Option<Local>),
    handler: &Handler,
    in_flight: &InFlight,
    socket: &Arc<UdpSocket>,
    replies: &mut Replies,
    tasks: &mut JoinSet<()>,
) {
    let context = Context::new(src, Protocol::Udp);
    let out = replies.next_buffer();
    let handoff = match handler.front(packet, &context, out) {
        Front::Answered { prefetch } => {
            // Nothing written: rate-limited and dropped.
            if !out.is_empty() {
                replies.queue(src, local);
            }
            if let Some(prefetch) = prefetch {
                tasks.spawn(handler.clone().prefetch(*prefetch));
            }
            return;
        }
        Front::Pass(handoff) => handoff,
    };
    let Some(permit) = in_flight.try_start() else {
        return;
    };
    match Handler::parse(packet.to_vec(), &context) {
        Ok(request) => {
            let socket = Arc::clone(socket);
            let handler = handler.clone();
            tasks.spawn(async move {
                let answer = handler.core(&request, &context, handoff).await;
                drop(permit);
                if answer.is_empty() {
                    return;
                }
                if let Err(error) = batch::send_one(&socket, &answer, src, local).await {
                    debug!(client = %src, %error, "response not sent");
                }
            });
        }
        Err(error) => {
            debug!(client = %src, %error, "undecodable UDP query");
            // A response (or less than a header) gets nothing.
            if wire::formerr(packet, replies.next_buffer()) {
                replies.queue(src, local);
                handler.report_undecodable(&context);
            }
        }
    }
}
