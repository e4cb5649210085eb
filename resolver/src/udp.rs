//! The UDP listener: one socket per core on the same address
//! (`SO_REUSEPORT`, so the kernel spreads clients over them), each read by
//! its own task with reused buffers for a batch of datagrams (one
//! `recvmmsg`/`sendmmsg` each way on Linux, see [`batch`]).
//!
//! A query for a blocked name is answered in the receive loop by
//! [`crate::fastpath`] (no decoding, no allocation, no task); everything
//! else is decoded into a hickory [`Request`] and handed to the
//! [`Handler`] on its own task, its response encoded as hickory's own UDP
//! server does (512 bytes without EDNS, else the client's payload size up
//! to 1232 bytes, truncated with TC beyond it).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use hickory_proto::op::{
    Edns, Header, HeaderCounts, Message, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_resolver::net::NetError;
use hickory_resolver::net::xfer::Protocol;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::fastpath;
use crate::handler::Handler;
use crate::net::InFlight;

mod batch;

use batch::{Received, Replies};

/// How many sockets to open per address: one per CPU this process may use
/// (bound by [`crate::listen::udp`]).
pub fn socket_count() -> usize {
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
pub async fn serve(
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
        for (packet, src) in received.iter() {
            dispatch(
                packet,
                src,
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

/// Answer one datagram in the loop (queued in `replies`), hand it to the
/// handler on a task, or drop it (a response: never answer answers).
fn dispatch(
    packet: &[u8],
    src: SocketAddr,
    handler: &Handler,
    in_flight: &InFlight,
    socket: &Arc<UdpSocket>,
    replies: &mut Replies,
    tasks: &mut JoinSet<()>,
) {
    let out = replies.next_buffer();
    if handler.answer_udp_fast(packet, src, out) {
        // Nothing written: rate-limited and dropped.
        if !out.is_empty() {
            replies.queue(src);
        }
        return;
    }
    let Some(permit) = in_flight.try_start() else {
        return;
    };
    let key = handler.answer_cache_key(packet);
    match Request::from_bytes(packet.to_vec(), src, Protocol::Udp) {
        Ok(request) => {
            if request.metadata.message_type == MessageType::Response {
                return; // never answer answers (reflection)
            }
            let sent = Arc::new(OnceLock::new());
            let responder = UdpResponder {
                socket: socket.clone(),
                dst: src,
                max_size: max_size(&request),
                sent: key.is_some().then(|| sent.clone()),
            };
            let handler = handler.clone();
            tasks.spawn(async move {
                handler.handle_udp(&request, responder, key, &sent).await;
                drop(permit);
            });
        }
        Err(error) => {
            debug!(client = %src, %error, "undecodable UDP query");
            if formerr(packet, replies.next_buffer()) {
                replies.queue(src);
            }
        }
    }
}

/// Response size limit for a UDP query: RFC 1035's 512 bytes, or the EDNS
/// payload size the client offered, at most 1232 (see
/// [`fastpath::udp_payload`]).
fn max_size(request: &Request) -> u16 {
    fastpath::udp_payload(request.edns.as_ref().map(|e| e.max_payload()))
}

/// Write into `out` a FORMERR for a query whose header could be read but
/// not the rest; `false` (nothing to send) for a packet shorter than a
/// header or one that is itself a response.
fn formerr(packet: &[u8], out: &mut Vec<u8>) -> bool {
    let mut decoder = BinDecoder::new(packet);
    let Ok(header) = Header::read(&mut decoder) else {
        return false;
    };
    if header.metadata.message_type != MessageType::Query {
        return false;
    }
    let mut metadata = Metadata::response_from_request(&header.metadata);
    metadata.response_code = ResponseCode::FormErr;
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    out.clear();
    header.emit(&mut BinEncoder::new(out)).is_ok()
}

/// Encode `response` within `max_size` bytes; if it cannot be encoded at
/// all, a bare SERVFAIL with the same ID.
pub fn encode<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    id: u16,
    max_size: u16,
) -> Result<(ResponseInfo, Vec<u8>), NetError> {
    let edns = response.edns().cloned();
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max_size);
    match response.destructive_emit(&mut encoder) {
        Ok(info) => {
            // A record that did not fit is rolled back by moving the
            // encoder's offset, not by shortening the buffer: cut its
            // half-written bytes, so a TC answer ends on a record boundary.
            let end = encoder.offset();
            bytes.truncate(end);
            if info.truncation
                && let Some(edns) = &edns
                && let Some(short) = question_and_opt(&bytes, edns, max_size)
            {
                return Ok(short);
            }
            Ok((info, bytes))
        }
        Err(error) => {
            warn!(%error, "cannot encode a response; sending SERVFAIL");
            let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
            metadata.response_code = ResponseCode::ServFail;
            let header = Header {
                metadata,
                counts: HeaderCounts::default(),
            };
            let bytes = header.to_bytes().map_err(NetError::from)?;
            Ok((ResponseInfo::from(header), bytes))
        }
    }
}

/// A truncated answer to an EDNS query that lost its OPT record (the
/// records filled the size limit, and hickory writes OPT last) rewritten
/// as the question and an OPT only, as RFC 6891 §7 wants an OPT in every
/// answer to an EDNS query. The OPT keeps the payload size and DO bit, not
/// the options (an EDE text may be what did not fit). `None` when the OPT
/// is there, or the rewrite would not fit either.
fn question_and_opt(bytes: &[u8], edns: &Edns, max_size: u16) -> Option<(ResponseInfo, Vec<u8>)> {
    let mut message = Message::from_vec(bytes).ok()?;
    if message.edns.is_some() {
        return None;
    }
    message.answers.clear();
    message.authorities.clear();
    message.additionals.clear();
    let mut opt = Edns::new();
    opt.set_max_payload(edns.max_payload())
        .set_dnssec_ok(edns.flags().dnssec_ok);
    message.edns = Some(opt);
    let short = message.to_vec().ok()?;
    let counts = HeaderCounts {
        queries: u16::try_from(message.queries.len()).ok()?,
        answers: 0,
        authorities: 0,
        additionals: 1,
    };
    let header = Header {
        metadata: message.metadata,
        counts,
    };
    (short.len() <= usize::from(max_size)).then(|| (ResponseInfo::from(header), short))
}

/// Sends one encoded response back to a UDP client.
#[derive(Clone)]
struct UdpResponder {
    socket: Arc<UdpSocket>,
    dst: SocketAddr,
    max_size: u16,
    /// Where to leave the encoded response for the answer cache.
    sent: Option<Arc<OnceLock<Vec<u8>>>>,
}

#[async_trait::async_trait]
impl ResponseHandler for UdpResponder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let id = response.metadata().id;
        let (info, bytes) = encode(response, id, self.max_size)?;
        self.socket
            .send_to(&bytes, self.dst)
            .await
            .map_err(NetError::from)?;
        if let Some(sent) = &self.sent {
            let _ = sent.set(bytes);
        }
        Ok(info)
    }
}
