//! One pipelined connection to a stream upstream (RFC 7766 §6.2.1.1):
//! queries go out under IDs unique on the connection, answers are matched
//! by ID in any order, checked against the question and given the query's
//! own ID back.
//!
//! One task drives the connection: a writer that batches queued frames
//! and closes the connection after the idle timeout, beside a reader that
//! hands answers to their waiters. Whatever ends the connection (the
//! peer closing, an I/O error, malformed framing, idleness, the upstream
//! being dropped) fails every query still waiting on it with the reason.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};
use std::time::Duration;

use ahash::AHashMap;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::message::{self, HEADER_LEN};
use crate::upstream::ExchangeError;

/// Queued frames written to the socket in one go at most.
const WRITE_BATCH: usize = 16 * 1024;

/// How long closing a connection may wait on the peer (TLS close_notify).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Why a query on a connection got no answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// The connection was closed before the query was sent: try another.
    NotSent,
    /// The query was sent; this is what became of it.
    Failed(ExchangeError),
}

/// One open connection, shared by the queries pipelined on it.
#[derive(Debug)]
pub(super) struct Conn {
    shared: Arc<Shared>,
    frames: mpsc::Sender<Vec<u8>>,
    permits: Arc<Semaphore>,
    dead: CancellationToken,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    tickets: AtomicU64,
}

#[derive(Debug)]
struct State {
    closed: bool,
    waiting: AHashMap<u16, Waiter>,
    last_active: Instant,
}

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    question: Box<[u8]>,
    own_id: u16,
    reply: oneshot::Sender<Result<Vec<u8>, ExchangeError>>,
}

impl Conn {
    /// Drive `stream` on a task of its own; `open` counts it until it
    /// closes.
    pub(super) fn spawn<S>(
        stream: S,
        max_in_flight: usize,
        idle: Duration,
        open: Arc<AtomicUsize>,
    ) -> Arc<Conn>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let max_in_flight = max_in_flight.max(1);
        let (frames, queue) = mpsc::channel(max_in_flight);
        let conn = Arc::new(Conn {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    closed: false,
                    waiting: AHashMap::with_capacity(max_in_flight),
                    last_active: Instant::now(),
                }),
                tickets: AtomicU64::new(0),
            }),
            frames,
            permits: Arc::new(Semaphore::new(max_in_flight)),
            dead: CancellationToken::new(),
        });
        open.fetch_add(1, Ordering::Relaxed);
        let (shared, dead, permits) =
            (conn.shared.clone(), conn.dead.clone(), conn.permits.clone());
        tokio::spawn(async move {
            let (r, w) = tokio::io::split(stream);
            tokio::join!(
                read_loop(r, &shared, &dead),
                write_loop(w, queue, &shared, &dead, idle)
            );
            permits.close();
            open.fetch_sub(1, Ordering::Relaxed);
        });
        conn
    }

    /// Whether the connection has closed.
    pub(super) fn is_dead(&self) -> bool {
        self.dead.is_cancelled()
    }

    /// Room for more queries in flight now.
    pub(super) fn room(&self) -> usize {
        self.permits.available_permits()
    }

    /// Send `query` (whose question section is `question`) and wait for
    /// its answer, with the query's own ID restored.
    pub(super) async fn exchange(&self, query: &[u8], question: &[u8]) -> Result<Vec<u8>, Failure> {
        let _permit: OwnedSemaphorePermit = match self.permits.clone().acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => return Err(Failure::NotSent),
        };
        let (reply, answer) = oneshot::channel();
        let (wire_id, ticket) = self
            .shared
            .register(question, message::id(query), reply)
            .ok_or(Failure::NotSent)?;
        let _unregister = Unregister {
            shared: &self.shared,
            wire_id,
            ticket,
        };
        let mut frame = Vec::with_capacity(2 + query.len());
        frame.extend_from_slice(&(query.len() as u16).to_be_bytes());
        frame.extend_from_slice(query);
        message::set_id(&mut frame[2..], wire_id);
        if self.frames.send(frame).await.is_err() {
            return Err(Failure::NotSent);
        }
        match answer.await {
            Ok(result) => result.map_err(Failure::Failed),
            Err(_) => Err(Failure::Failed(ExchangeError::Closed)),
        }
    }
}

/// Takes a query's entry out of the table when it ends, answered or not
/// (a caller's deadline drops the exchange): its ID is free again.
struct Unregister<'a> {
    shared: &'a Shared,
    wire_id: u16,
    ticket: u64,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        if state
            .waiting
            .get(&self.wire_id)
            .is_some_and(|w| w.ticket == self.ticket)
        {
            state.waiting.remove(&self.wire_id);
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enter a query under a random ID free on this connection; `None`
    /// when the connection has closed.
    fn register(
        &self,
        question: &[u8],
        own_id: u16,
        reply: oneshot::Sender<Result<Vec<u8>, ExchangeError>>,
    ) -> Option<(u16, u64)> {
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        // In flight is bounded far below 65,536, so a free ID is found in
        // a few draws.
        let wire_id = loop {
            let id: u16 = rand::random();
            if !state.waiting.contains_key(&id) {
                break id;
            }
        };
        let waiter = Waiter {
            ticket,
            question: question.into(),
            own_id,
            reply,
        };
        state.waiting.insert(wire_id, waiter);
        Some((wire_id, ticket))
    }

    /// Hand an answer to the query it answers. An answer to no query in
    /// flight (one whose caller gave up) is dropped.
    fn deliver(&self, mut answer: Vec<u8>) {
        let waiter = {
            let mut state = self.lock();
            state.last_active = Instant::now();
            state.waiting.remove(&message::id(&answer))
        };
        let Some(waiter) = waiter else {
            tracing::debug!("stream upstream: an answer to no query in flight");
            return;
        };
        let result = if message::answers(&waiter.question, &answer) {
            message::set_id(&mut answer, waiter.own_id);
            Ok(answer)
        } else {
            Err(ExchangeError::Malformed(
                "the answer does not repeat the question".into(),
            ))
        };
        let _ = waiter.reply.send(result);
    }

    /// Close: no more queries, and every query waiting gets `why`.
    fn close(&self, why: &ExchangeError) {
        let waiting = {
            let mut state = self.lock();
            state.closed = true;
            std::mem::take(&mut state.waiting)
        };
        for (_, waiter) in waiting {
            let _ = waiter.reply.send(Err(replicate(why)));
        }
    }

    /// Close if nothing has been sent or received for `idle` and no query
    /// waits; otherwise when to look again.
    fn close_if_idle(&self, idle: Duration) -> Result<(), Instant> {
        let mut state = self.lock();
        let due = state.last_active + idle;
        if !state.waiting.is_empty() {
            return Err(Instant::now() + idle);
        }
        if Instant::now() < due {
            return Err(due);
        }
        state.closed = true;
        Ok(())
    }

    fn touch(&self) {
        self.lock().last_active = Instant::now();
    }
}

/// The same error again, for the next waiter.
fn replicate(e: &ExchangeError) -> ExchangeError {
    let io = |e: &std::io::Error| std::io::Error::new(e.kind(), e.to_string());
    match e {
        ExchangeError::Timeout => ExchangeError::Timeout,
        ExchangeError::Connect(e) => ExchangeError::Connect(io(e)),
        ExchangeError::Io(e) => ExchangeError::Io(io(e)),
        ExchangeError::Closed => ExchangeError::Closed,
        ExchangeError::Malformed(m) => ExchangeError::Malformed(m.clone()),
        ExchangeError::Http(s) => ExchangeError::Http(*s),
    }
}

async fn read_loop<R: AsyncRead + Unpin>(mut r: R, shared: &Shared, dead: &CancellationToken) {
    let why = loop {
        let frame = tokio::select! {
            _ = dead.cancelled() => break ExchangeError::Closed,
            frame = read_frame(&mut r) => frame,
        };
        match frame {
            Ok(frame) => shared.deliver(frame),
            Err(e) => break e,
        }
    };
    shared.close(&why);
    dead.cancel();
}

/// One length-prefixed message. A frame too short to hold a DNS header is
/// malformed framing; the peer closing, even mid-frame, is `Closed`.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<Vec<u8>, ExchangeError> {
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ExchangeError::Closed,
        _ => ExchangeError::Io(e),
    };
    let len = usize::from(r.read_u16().await.map_err(io)?);
    if len < HEADER_LEN {
        return Err(ExchangeError::Malformed(format!(
            "a frame of {len} bytes cannot hold a DNS message"
        )));
    }
    let mut frame = vec![0; len];
    r.read_exact(&mut frame).await.map_err(io)?;
    Ok(frame)
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut w: W,
    mut queue: mpsc::Receiver<Vec<u8>>,
    shared: &Shared,
    dead: &CancellationToken,
    idle: Duration,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    let mut look_again = Instant::now() + idle;
    loop {
        tokio::select! {
            _ = dead.cancelled() => break,
            _ = tokio::time::sleep_until(look_again) => match shared.close_if_idle(idle) {
                Ok(()) => break,
                Err(at) => look_again = at,
            },
            frame = queue.recv() => {
                let Some(frame) = frame else {
                    // The upstream was dropped.
                    shared.close(&ExchangeError::Closed);
                    break;
                };
                batch.extend_from_slice(&frame);
                while batch.len() < WRITE_BATCH {
                    match queue.try_recv() {
                        Ok(frame) => batch.extend_from_slice(&frame),
                        Err(_) => break,
                    }
                }
                // A peer that stops reading must not hold the connection
                // (and every query sent to it) forever.
                let write = async { w.write_all(&batch).await?; w.flush().await };
                let written = tokio::select! {
                    _ = dead.cancelled() => break,
                    r = tokio::time::timeout(idle, write) => r,
                };
                batch.clear();
                match written {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        shared.close(&ExchangeError::Io(e));
                        break;
                    }
                    Err(_) => {
                        shared.close(&ExchangeError::Timeout);
                        break;
                    }
                }
                shared.touch();
            }
        }
    }
    dead.cancel();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, w.shutdown()).await;
}
