//! The serving tasks: one UDP loop, one TCP accept loop, one task per TCP
//! connection and per query; all stop on the server's cancellation token.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use hickory_proto::op::Message;
use hickory_proto::rr::Name;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::behaviour::{BATCH_WAIT, name_key};
use super::{Shared, Transport, lock};

/// Start serving `udp` and `tcp` until `shutdown` is cancelled.
pub(super) fn spawn(
    udp: UdpSocket,
    tcp: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    spawn_until(
        &shutdown,
        serve_udp(Arc::new(udp), shared.clone(), shutdown.clone()),
    );
    spawn_until(&shutdown, serve_tcp(tcp, shared, shutdown.clone()));
}

/// Spawn `task`, ended early when `shutdown` is cancelled.
fn spawn_until(shutdown: &CancellationToken, task: impl Future<Output = ()> + Send + 'static) {
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = task => {}
        }
    });
}

async fn serve_udp(socket: Arc<UdpSocket>, shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let bytes = buf[..len].to_vec();
        let (socket, shared) = (socket.clone(), shared.clone());
        spawn_until(&shutdown, async move {
            for datagram in answer(&shared, &bytes, Transport::Udp).await {
                let _ = socket.send_to(&datagram, peer).await;
            }
        });
    }
}

async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let guard = shared.tcp_opened();
        let (shared, token) = (shared.clone(), shutdown.clone());
        spawn_until(&shutdown, async move {
            serve_connection(stream, shared, token).await;
            drop(guard);
        });
    }
}

/// Read length-prefixed queries until EOF (or until the behaviour's
/// `close_tcp_after` count); answers go out through one writer task in the
/// order they are ready (or in reversed batches), then the connection
/// closes.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, shutdown: CancellationToken) {
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let write_task = async move {
        while let Some(message) = rx.recv().await {
            let Ok(len) = u16::try_from(message.len()) else {
                continue;
            };
            let mut frame = len.to_be_bytes().to_vec();
            frame.extend_from_slice(&message);
            if writer.write_all(&frame).await.is_err() {
                return;
            }
        }
    };
    let read_task = async move {
        let mut batch: Vec<Vec<u8>> = Vec::new();
        let mut read = 0;
        loop {
            let (k, close_after) = {
                let behaviour = lock(&shared.behaviour);
                (behaviour.tcp_reverse_batch, behaviour.close_tcp_after)
            };
            if close_after > 0 && read >= close_after {
                break;
            }
            let wait = if batch.is_empty() {
                None
            } else {
                Some(BATCH_WAIT)
            };
            let query = match read_frame(&mut reader, wait).await {
                Ok(Some(query)) => {
                    read += 1;
                    query
                }
                Ok(None) => break,
                Err(()) => {
                    // A partial batch waited long enough: answer it.
                    answer_reversed(&shared, &shutdown, &tx, std::mem::take(&mut batch));
                    continue;
                }
            };
            if k <= 1 {
                let (shared, tx) = (shared.clone(), tx.clone());
                spawn_until(&shutdown, async move {
                    for message in answer(&shared, &query, Transport::Tcp).await {
                        let _ = tx.send(message);
                    }
                });
                continue;
            }
            batch.push(query);
            if batch.len() >= k {
                answer_reversed(&shared, &shutdown, &tx, std::mem::take(&mut batch));
            }
        }
        answer_reversed(&shared, &shutdown, &tx, batch);
    };
    // The writer ends when every sender is gone: the reader's and those of
    // the queries still being answered.
    tokio::join!(read_task, write_task);
}

/// Answer `batch` last query first, one after another.
fn answer_reversed(
    shared: &Arc<Shared>,
    shutdown: &CancellationToken,
    tx: &mpsc::UnboundedSender<Vec<u8>>,
    batch: Vec<Vec<u8>>,
) {
    if batch.is_empty() {
        return;
    }
    let (shared, tx) = (shared.clone(), tx.clone());
    spawn_until(shutdown, async move {
        for query in batch.iter().rev() {
            for message in answer(&shared, query, Transport::Tcp).await {
                let _ = tx.send(message);
            }
        }
    });
}

/// One length-prefixed message; `Ok(None)` at EOF or on a broken frame,
/// `Err(())` when `wait` passed before a message began.
async fn read_frame(
    reader: &mut OwnedReadHalf,
    wait: Option<std::time::Duration>,
) -> Result<Option<Vec<u8>>, ()> {
    let mut len = [0u8; 2];
    let first = match wait {
        Some(wait) => tokio::time::timeout(wait, reader.read_exact(&mut len))
            .await
            .map_err(|_| ())?,
        None => reader.read_exact(&mut len).await,
    };
    if first.is_err() {
        return Ok(None);
    }
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    match reader.read_exact(&mut message).await {
        Ok(_) => Ok(Some(message)),
        Err(_) => Ok(None),
    }
}

/// The messages to send back for the query `bytes` (none when it is
/// dropped, silent, or not a DNS message), after any delay for its name.
async fn answer(shared: &Shared, bytes: &[u8], transport: Transport) -> Vec<Vec<u8>> {
    let Ok(query) = Message::from_vec(bytes) else {
        return Vec::new();
    };
    let count = shared.stats.record(&query, transport);
    let behaviour = lock(&shared.behaviour).clone();
    if transport == Transport::Udp && behaviour.drops_udp(count) {
        shared.stats.udp_dropped.fetch_add(1, Ordering::SeqCst);
        return Vec::new();
    }
    if behaviour.silent {
        return Vec::new();
    }
    let key = query
        .queries
        .first()
        .map(|q| name_key(&q.name.to_ascii()))
        .unwrap_or_default();
    if let Some(delay) = behaviour.slow.get(&key) {
        tokio::time::sleep(*delay).await;
    }
    let mut reply = (shared.responder)(&query);
    reply.metadata.id = query.metadata.id;
    reply.queries = query.queries.clone();
    if behaviour.lowercase_question {
        for question in &mut reply.queries {
            question.name = question.name.to_lowercase();
        }
    }
    if transport == Transport::Tcp {
        return reply.to_vec().into_iter().collect();
    }
    if behaviour.truncate_udp.contains(&key) {
        reply = reply.truncate();
    }
    let mut out = Vec::new();
    if behaviour.wrong_id_first {
        let mut wrong = poisoned(&reply);
        wrong.metadata.id = query.metadata.id.wrapping_add(1);
        out.extend(wrong.to_vec());
    }
    if behaviour.wrong_name_first {
        let mut wrong = poisoned(&reply);
        for question in &mut wrong.queries {
            question.name = Name::from_ascii("wrong.invalid.").expect("a valid name");
        }
        out.extend(wrong.to_vec());
    }
    out.extend(fit_udp(reply, query.max_payload()));
    out
}

/// A forged copy of `reply`: NXDOMAIN without records, so a client that
/// takes it shows it.
fn poisoned(reply: &Message) -> Message {
    let mut forged = reply.clone();
    forged.metadata.response_code = hickory_proto::op::ResponseCode::NXDomain;
    forged.answers.clear();
    forged.authorities.clear();
    forged.additionals.clear();
    forged
}

/// `reply` encoded, or its truncated form (TC=1, no records) when it is
/// larger than the client's UDP payload size.
fn fit_udp(reply: Message, max_payload: u16) -> Option<Vec<u8>> {
    let bytes = reply.to_vec().ok()?;
    if bytes.len() <= usize::from(max_payload.max(512)) {
        return Some(bytes);
    }
    reply.truncate().to_vec().ok()
}
