//! A pool of connected UDP sockets to one plain-DNS upstream.
//!
//! Each socket is bound to port 0 (the kernel picks a random ephemeral
//! port) and connected to the upstream, so the kernel drops datagrams from
//! any other address and port. One receive task per socket reads every
//! answer and hands it to the query waiting for it, matched by ID and then
//! by the question (name, type, class); anything else is ignored and
//! counted (`parapet_upstream_ignored_total`).
//!
//! # How the pool keeps RFC 5452's properties
//!
//! - **Random ID per query.** Every exchange draws a fresh 16-bit ID from
//!   the thread's cryptographic generator (`rand`), redrawn until no other
//!   query in flight on the same socket holds it; the caller's ID never
//!   goes on the wire.
//! - **Random port per query.** Each query goes out on a socket chosen at
//!   random among the pool's [`POOL_SIZE`] sockets, each on its own random
//!   port. A spoofer must hit one of the ports open now (about
//!   `log2(ephemeral range / POOL_SIZE)` ≈ 10 bits on Linux's default
//!   range) as well as the ID (16 bits) and the exact question (and, with
//!   `randomize_case`, its 0x20 case: one more bit per letter).
//! - **Fresh ports over time.** A socket is retired after
//!   [`RENEW_AFTER_QUERIES`] queries or [`RENEW_AFTER`], whichever comes
//!   first; its slot gets a new socket on a new random port, and the old
//!   one closes once its last query in flight is answered or given up. So
//!   no port is usable to a spoofer for long, and the set of open ports
//!   keeps changing.
//!
//! # Bounds
//!
//! At most [`POOL_SIZE`] sockets take new queries; retired ones still
//! draining count too, and no slot is renewed while the pool holds
//! `2 × POOL_SIZE` sockets (the slot's socket then serves on a little
//! longer). At most [`MAX_IN_FLIGHT`] queries wait on one socket. The
//! sockets open now are in [`UdpPool::open_sockets`] and the
//! `parapet_upstream_sockets` gauge.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use super::ExchangeError;
use super::metrics::ClientMetrics;
use super::wire;

/// Sockets per upstream that take new queries.
pub const POOL_SIZE: usize = 32;
/// A socket is renewed after this many queries...
pub const RENEW_AFTER_QUERIES: u32 = 2048;
/// ...or after this long, whichever comes first.
pub const RENEW_AFTER: Duration = Duration::from_secs(60);
/// Queries waiting on one socket at most (a 16-bit ID space, kept sparse
/// so that a random ID is rarely redrawn).
pub const MAX_IN_FLIGHT: usize = 4096;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 65_535;

/// The pool of one upstream. Dropping it stops every receive task.
#[derive(Debug)]
pub struct UdpPool {
    addr: SocketAddr,
    slots: Box<[Mutex<Option<Arc<Socket>>>]>,
    /// Sockets of this pool open now (retired ones still draining too).
    open: Arc<AtomicUsize>,
    metrics: Arc<ClientMetrics>,
    stop: CancellationToken,
    /// When a socket is renewed: after this many queries or this long.
    renew: (u32, Duration),
}

/// What the pool matches an answer against.
#[derive(Debug)]
struct Waiter {
    /// The query's question section as sent (name, type, class).
    question: Box<[u8]>,
    /// The answer must echo the question's case exactly (0x20).
    exact_case: bool,
    /// Tells this waiter from a later one that drew the same ID.
    token: u64,
    tx: oneshot::Sender<Result<Vec<u8>, ExchangeError>>,
}

/// One connected socket and the queries waiting on it.
#[derive(Debug)]
struct Socket {
    socket: UdpSocket,
    pending: Mutex<HashMap<u16, Waiter>>,
    sent: AtomicU32,
    born: Instant,
    retired: AtomicBool,
    /// The receive task has ended (set under the `pending` lock, so a
    /// query registered before it was set is always read).
    closed: AtomicBool,
    /// Wakes the receive task when a retired socket's last query is gone.
    drained: Notify,
    next_token: AtomicU64,
    open: Arc<AtomicUsize>,
    metrics: Arc<ClientMetrics>,
}

impl UdpPool {
    /// A pool for `addr`; sockets are opened on first use.
    pub fn new(addr: SocketAddr, metrics: Arc<ClientMetrics>) -> UdpPool {
        UdpPool {
            addr,
            slots: (0..POOL_SIZE).map(|_| Mutex::new(None)).collect(),
            open: Arc::new(AtomicUsize::new(0)),
            metrics,
            stop: CancellationToken::new(),
            renew: (RENEW_AFTER_QUERIES, RENEW_AFTER),
        }
    }

    /// Sockets open now.
    pub fn open_sockets(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Send `query` (its ID is replaced by a random one on the wire) and
    /// wait for the answer whose ID and question match; returns it with
    /// the query's own ID restored. With `exact_case` the answer's question
    /// must have the query's case byte for byte (0x20). Deadlines are the
    /// caller's: dropping the future gives the query up.
    pub async fn exchange(&self, query: &[u8], exact_case: bool) -> Result<Vec<u8>, ExchangeError> {
        let question = wire::question(query)
            .ok_or_else(|| ExchangeError::Malformed("query without a question".into()))?;
        // A socket whose receive task has just ended refuses the query;
        // the next pick gets its slot's fresh socket.
        let mut tries = 0;
        let (socket, (id, token, rx)) = loop {
            let socket = self.socket()?;
            match socket.register(question, exact_case) {
                Ok(registration) => break (socket, registration),
                Err(ExchangeError::Closed) if tries < 3 => tries += 1,
                Err(e) => return Err(e),
            }
        };
        let mut packet = query.to_vec();
        let _guard = Registered {
            socket: &socket,
            id,
            token,
        };
        packet[..2].copy_from_slice(&id.to_be_bytes());
        socket.socket.send(&packet).await.map_err(send_error)?;
        let mut answer = rx.await.map_err(|_| ExchangeError::Closed)??;
        answer[..2].copy_from_slice(&query[..2]);
        Ok(answer)
    }

    /// A socket for the next query: a random slot's, renewed when due.
    fn socket(&self) -> Result<Arc<Socket>, ExchangeError> {
        let i = rand::random_range(0..self.slots.len());
        let mut slot = self.slots[i].lock().map_err(|_| poisoned())?;
        if let Some(s) = slot.as_ref()
            && !s.closed.load(Ordering::Acquire)
            && (!s.due(self.renew) || self.open.load(Ordering::Relaxed) >= 2 * POOL_SIZE)
        {
            s.sent.fetch_add(1, Ordering::Relaxed);
            return Ok(Arc::clone(s));
        }
        let fresh = Arc::new(self.open_socket().map_err(ExchangeError::Connect)?);
        fresh.sent.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(receive(Arc::clone(&fresh), self.stop.clone()));
        if let Some(old) = slot.replace(Arc::clone(&fresh)) {
            old.retire();
        }
        Ok(fresh)
    }

    fn open_socket(&self) -> io::Result<Socket> {
        let local: SocketAddr = match self.addr {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let std = std::net::UdpSocket::bind(local)?;
        std.connect(self.addr)?;
        std.set_nonblocking(true)?;
        let socket = UdpSocket::from_std(std)?;
        self.open.fetch_add(1, Ordering::Relaxed);
        self.metrics.socket_opened();
        Ok(Socket {
            socket,
            pending: Mutex::new(HashMap::new()),
            sent: AtomicU32::new(0),
            born: Instant::now(),
            retired: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            drained: Notify::new(),
            next_token: AtomicU64::new(0),
            open: Arc::clone(&self.open),
            metrics: Arc::clone(&self.metrics),
        })
    }
}

impl Drop for UdpPool {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

type Registration = (u16, u64, oneshot::Receiver<Result<Vec<u8>, ExchangeError>>);

impl Socket {
    fn due(&self, (queries, age): (u32, Duration)) -> bool {
        self.sent.load(Ordering::Relaxed) >= queries || self.born.elapsed() >= age
    }

    fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        self.drained.notify_one();
    }

    /// Wait for an answer to `question` under a fresh random ID.
    fn register(&self, question: &[u8], exact_case: bool) -> Result<Registration, ExchangeError> {
        let mut pending = self.pending.lock().map_err(|_| poisoned())?;
        if self.closed.load(Ordering::Acquire) {
            return Err(ExchangeError::Closed);
        }
        if pending.len() >= MAX_IN_FLIGHT {
            return Err(ExchangeError::Io(io::Error::other(
                "too many queries in flight on one upstream socket",
            )));
        }
        let id = loop {
            let id: u16 = rand::random();
            if !pending.contains_key(&id) {
                break id;
            }
        };
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        pending.insert(
            id,
            Waiter {
                question: question.into(),
                exact_case,
                token,
                tx,
            },
        );
        Ok((id, token, rx))
    }

    /// Hand `packet` to its waiter, or count it as ignored.
    fn deliver(&self, packet: &[u8]) {
        let matched = self.pending.lock().ok().and_then(|mut pending| {
            let id = u16::from_be_bytes([*packet.first()?, *packet.get(1)?]);
            let waiter = pending.get(&id)?;
            if !wire::answers(packet, &waiter.question, waiter.exact_case) {
                return None;
            }
            pending.remove(&id)
        });
        match matched {
            Some(waiter) => {
                let _ = waiter.tx.send(Ok(packet.to_vec()));
            }
            None => self.metrics.answer_ignored(),
        }
    }

    /// Fail every query waiting here (the upstream refused: ICMP port
    /// unreachable is reported on the socket, not on one query).
    fn fail_all(&self, error: &io::Error) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        for (_, waiter) in pending.drain() {
            let e = io::Error::new(error.kind(), error.to_string());
            let _ = waiter.tx.send(Err(ExchangeError::Connect(e)));
        }
    }

    /// Retired with no query left: marked closed (no query registers
    /// after this), and the receive task may end.
    fn close_if_drained(&self) -> bool {
        let Ok(pending) = self.pending.lock() else {
            return true;
        };
        let drained = self.retired.load(Ordering::Acquire) && pending.is_empty();
        if drained {
            self.closed.store(true, Ordering::Release);
        }
        drained
    }

    /// Mark the socket closed for good (its receive task ends).
    fn close(&self) {
        let _guard = self.pending.lock();
        self.closed.store(true, Ordering::Release);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
        self.metrics.socket_closed();
    }
}

/// Removes a query's waiter when its exchange ends (answered, timed out or
/// given up), unless a later query has the ID by now.
struct Registered<'a> {
    socket: &'a Socket,
    id: u16,
    token: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let Ok(mut pending) = self.socket.pending.lock() else {
            return;
        };
        if pending.get(&self.id).is_some_and(|w| w.token == self.token) {
            pending.remove(&self.id);
        }
        let empty = pending.is_empty();
        drop(pending);
        if empty && self.socket.retired.load(Ordering::Acquire) {
            self.socket.drained.notify_one();
        }
    }
}

/// The receive task of one socket: until the pool stops, or the socket is
/// retired and has no query left.
async fn receive(socket: Arc<Socket>, stop: CancellationToken) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        if socket.close_if_drained() {
            break;
        }
        tokio::select! {
            read = socket.socket.recv(&mut buf) => match read {
                Ok(n) => socket.deliver(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => socket.fail_all(&e),
                Err(e) => {
                    tracing::debug!(error = %e, "upstream UDP socket failed; renewing it");
                    socket.close();
                    socket.fail_all(&e);
                    socket.retired.store(true, Ordering::Release);
                    socket.sent.store(u32::MAX, Ordering::Relaxed);
                    break;
                }
            },
            () = socket.drained.notified() => {}
            () = stop.cancelled() => {
                socket.close();
                break;
            }
        }
    }
}

fn send_error(e: io::Error) -> ExchangeError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::HostUnreachable => ExchangeError::Connect(e),
        _ => ExchangeError::Io(e),
    }
}

fn poisoned() -> ExchangeError {
    ExchangeError::Io(io::Error::other("upstream socket table poisoned"))
}

#[cfg(test)]
mod tests;
