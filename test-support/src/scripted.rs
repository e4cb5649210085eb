//! A scriptable, deliberately hostile DNS server for upstream tests: UDP and
//! TCP on one loopback port, answering from a small record set (or a
//! closure), with behaviours a test switches on to exercise an upstream
//! client — lost packets, spoofed-looking answers, slow names, out-of-order
//! pipelined TCP answers, truncation — and counters a test asserts on
//! (queries per name and type, TCP connections, the last query's flags and
//! the case of its name).
//!
//! ```no_run
//! use std::time::Duration;
//! use hickory_proto::rr::RecordType;
//! use parapet_test_support::scripted::{self, Behaviour, ScriptedServer};
//!
//! # async fn t() {
//! let server = ScriptedServer::start(vec![scripted::a("www.example.", [192, 0, 2, 1])]).await;
//! server.set_behaviour(
//!     Behaviour::default()
//!         .drop_every_nth_udp(2)
//!         .slow("www.example.", Duration::from_millis(300)),
//! );
//! // … point the client under test at server.addr() …
//! assert_eq!(server.queries_for("www.example", RecordType::A), 1);
//! # }
//! ```
//!
//! Every answer echoes the query's ID, question (with its case), RD and CD
//! bits, and, when the query carried EDNS, an OPT record with the DO bit the
//! query had. A UDP answer larger than the query's EDNS payload size (512
//! without EDNS) goes out truncated (TC=1, no records), as a real server's
//! would. The server stops when the [`ScriptedServer`] is dropped.

mod behaviour;
mod serve;
mod zone;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, Record, RecordType};
use tokio_util::sync::CancellationToken;

pub use behaviour::{BATCH_WAIT, Behaviour};
pub use zone::{NEGATIVE_TTL, TTL, a, answer_from_records, cname, reply_to, soa, txt};

/// Builds the answer to one query. The server then overwrites the answer's
/// ID and question with the query's (unless a behaviour says otherwise), so
/// a responder need not copy them. [`reply_to`] makes a header that echoes
/// the query's flags.
pub type Responder = Arc<dyn Fn(&Message) -> Message + Send + Sync>;

/// The transport a query arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A UDP datagram.
    Udp,
    /// A length-prefixed message on a TCP connection.
    Tcp,
}

/// What the server saw of one query (see [`ScriptedServer::last_query`]).
#[derive(Clone, Debug)]
pub struct SeenQuery {
    /// The question name exactly as sent (its case kept, for 0x20 tests).
    pub name: Name,
    /// The question type.
    pub query_type: RecordType,
    /// The message ID.
    pub id: u16,
    /// UDP or TCP.
    pub transport: Transport,
    /// RD (recursion desired).
    pub recursion_desired: bool,
    /// CD (checking disabled).
    pub checking_disabled: bool,
    /// AD (authentic data) in the query.
    pub authentic_data: bool,
    /// Whether the query carried an EDNS OPT record.
    pub edns: bool,
    /// The EDNS DO (DNSSEC OK) bit (false without EDNS).
    pub dnssec_ok: bool,
}

/// Counters and the last query, shared by the serving tasks.
#[derive(Default)]
struct Stats {
    queries: AtomicU64,
    udp_queries: AtomicU64,
    tcp_queries: AtomicU64,
    udp_dropped: AtomicU64,
    tcp_accepted: AtomicU64,
    tcp_open: AtomicU64,
    tcp_open_peak: AtomicU64,
    per_question: Mutex<HashMap<(String, RecordType), u64>>,
    last: Mutex<Option<SeenQuery>>,
}

/// What the serving tasks share with the handle.
struct Shared {
    responder: Responder,
    behaviour: Mutex<Behaviour>,
    stats: Stats,
}

/// A running scripted server on loopback (UDP and TCP on one port). Stops
/// when dropped.
pub struct ScriptedServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

impl ScriptedServer {
    /// Serve `records` on `127.0.0.1` (see [`answer_from_records`] for how
    /// answers are made). Panics if no port can be bound (a test helper).
    pub async fn start(records: Vec<Record>) -> ScriptedServer {
        let records = Arc::new(records);
        Self::start_with(
            Arc::new(move |query: &Message| answer_from_records(&records, query)),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        )
        .await
        .expect("bind a scripted DNS server on loopback")
    }

    /// Serve answers made by `responder` on a free port of `ip` (UDP and
    /// TCP on the same port).
    ///
    /// # Errors
    /// When no port free for both UDP and TCP is found on `ip`.
    pub async fn start_with(responder: Responder, ip: IpAddr) -> io::Result<ScriptedServer> {
        let (udp, tcp) = crate::ports::bind_pair(ip).await?;
        let addr = udp.local_addr()?;
        let shared = Arc::new(Shared {
            responder,
            behaviour: Mutex::new(Behaviour::default()),
            stats: Stats::default(),
        });
        let shutdown = CancellationToken::new();
        serve::spawn(udp, tcp, shared.clone(), shutdown.clone());
        Ok(ScriptedServer {
            addr,
            shared,
            shutdown,
        })
    }

    /// The address (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replace the behaviour; it applies to queries that arrive from now
    /// on (and TCP connections' batching from their next query).
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *lock(&self.shared.behaviour) = behaviour;
    }

    /// Queries received, over both transports (dropped ones included).
    pub fn queries(&self) -> u64 {
        self.shared.stats.queries.load(Ordering::SeqCst)
    }

    /// Queries received over UDP (dropped ones included).
    pub fn udp_queries(&self) -> u64 {
        self.shared.stats.udp_queries.load(Ordering::SeqCst)
    }

    /// Queries received over TCP.
    pub fn tcp_queries(&self) -> u64 {
        self.shared.stats.tcp_queries.load(Ordering::SeqCst)
    }

    /// UDP queries dropped by [`Behaviour::drop_every_nth_udp`].
    pub fn udp_dropped(&self) -> u64 {
        self.shared.stats.udp_dropped.load(Ordering::SeqCst)
    }

    /// Queries received for `name` (any case, trailing dot optional) and
    /// `query_type`, over both transports.
    pub fn queries_for(&self, name: &str, query_type: RecordType) -> u64 {
        let key = (behaviour::name_key(name), query_type);
        lock(&self.shared.stats.per_question)
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    /// TCP connections accepted so far.
    pub fn tcp_accepted(&self) -> u64 {
        self.shared.stats.tcp_accepted.load(Ordering::SeqCst)
    }

    /// TCP connections open now.
    pub fn tcp_open(&self) -> u64 {
        self.shared.stats.tcp_open.load(Ordering::SeqCst)
    }

    /// The most TCP connections open at once so far.
    pub fn tcp_open_peak(&self) -> u64 {
        self.shared.stats.tcp_open_peak.load(Ordering::SeqCst)
    }

    /// The last query received (`None` before the first).
    pub fn last_query(&self) -> Option<SeenQuery> {
        lock(&self.shared.stats.last).clone()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Stats {
    /// Count `query` (arrived on `transport`) and remember it as the last;
    /// returns its number among the queries of its transport (1-based).
    fn record(&self, query: &Message, transport: Transport) -> u64 {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let count = match transport {
            Transport::Udp => &self.udp_queries,
            Transport::Tcp => &self.tcp_queries,
        }
        .fetch_add(1, Ordering::SeqCst)
            + 1;
        let Some(question) = query.queries.first() else {
            return count;
        };
        let key = (
            behaviour::name_key(&question.name.to_ascii()),
            question.query_type,
        );
        *lock(&self.per_question).entry(key).or_default() += 1;
        let meta = &query.metadata;
        *lock(&self.last) = Some(SeenQuery {
            name: question.name.clone(),
            query_type: question.query_type,
            id: meta.id,
            transport,
            recursion_desired: meta.recursion_desired,
            checking_disabled: meta.checking_disabled,
            authentic_data: meta.authentic_data,
            edns: query.edns.is_some(),
            dnssec_ok: query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
        });
        count
    }
}

impl Shared {
    /// A TCP connection was accepted; returns a guard that counts it closed.
    fn tcp_opened(self: &Arc<Self>) -> TcpOpenGuard {
        let stats = &self.stats;
        stats.tcp_accepted.fetch_add(1, Ordering::SeqCst);
        let open = stats.tcp_open.fetch_add(1, Ordering::SeqCst) + 1;
        stats.tcp_open_peak.fetch_max(open, Ordering::SeqCst);
        TcpOpenGuard(self.clone())
    }
}

/// Counts a TCP connection closed when dropped.
struct TcpOpenGuard(Arc<Shared>);

impl Drop for TcpOpenGuard {
    fn drop(&mut self) {
        self.0.stats.tcp_open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Lock a mutex, ignoring poisoning (a panicking test thread must not hide
/// the counters from the assertion that reports it).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
