//! The request handler: one query through the query path of DESIGN.md.
//!
//! ```text
//! access control ─▶ rate limit ─▶ policy check ─┬─ block ─▶ synthesised answer
//!                                               └─ pass  ─▶ forward ─▶ inspect ─▶ relay or sinkhole
//!                                    ─▶ respond ─▶ observe(Outcome)
//! ```
//!
//! The same [`Handler`] serves every transport (UDP, TCP, DoT, DoH): it only
//! sees a hickory [`Request`] and a [`ResponseHandler`]. It is cheap to clone
//! (one `Arc`). Every query ends in exactly one [`Outcome`], reported once to
//! each registered [`Observer`] (metrics, query log).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{
    Edns, Header, HeaderCounts, Message, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_resolver::net::runtime::Time;
use hickory_resolver::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use parapet_blocklist::{Blocklist, RuleRef, Verdict};
use tracing::debug;

use crate::SharedBlocklist;
use crate::access::AccessList;
use crate::answer;
use crate::answer_cache::{AnswerCache, Key};
use crate::config::{BlockConfig, Config, PrivateAnswers};
use crate::fastpath::{self, WireQuery};
use crate::forward::{Cache, Forwarder, Upstream};
use crate::lookalike::{self, LookalikeAction, Lookalikes, SharedLookalikes};
use crate::metrics::Metrics;
use crate::policy::{self, Trigger};
use crate::ratelimit::{Limit, UdpLimits};
use crate::rebinding;
use crate::transport::exchange::CapturedResponse;
use crate::transport::tokens;

/// How a query ended. Recorded once per query, at one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Relayed from an upstream with this response code.
    Forwarded {
        /// NOERROR or NXDOMAIN as the upstream said.
        rcode: ResponseCode,
    },
    /// Answered from parapet's caches (the answer cache or the resolver
    /// cache) without contacting an upstream.
    Cached {
        /// The response code of the cached answer.
        rcode: ResponseCode,
    },
    /// Answered from the blocklist.
    Blocked {
        /// What matched: the name, a CNAME target or an answer address.
        trigger: Trigger,
        /// The deciding rule (resolve it with [`QueryEvent::list`]).
        rule: RuleRef,
    },
    /// An allowlist source's rule (`allow = true`) let the name through;
    /// forwarded without inspection. (An exception inside a block list only
    /// cancels that list's blocks: its answers are still inspected.)
    AllowedByException {
        /// The allow rule.
        rule: RuleRef,
        /// The upstream response code.
        rcode: ResponseCode,
    },
    /// The client is outside `access.allow`, or the query is not one a
    /// resolver serves (class other than IN, zone transfer).
    Refused,
    /// The client exceeded its rate over UDP: dropped, or answered
    /// truncated (TC=1) so that it retries over TCP.
    RateLimited,
    /// No usable upstream answer in time.
    ServFail,
    /// The request was not a single standard query (FORMERR), had an
    /// opcode other than QUERY (NOTIMP), or asked for an EDNS version
    /// above 0 (BADVERS).
    FormErr,
    /// A forwarded answer held a private address and was replaced by the
    /// block answer (`[block] private_answers = "block"`).
    Rebinding,
    /// Answered by parapet itself: a minimal `ANY` answer (RFC 8482) or
    /// NXDOMAIN for Firefox's canary `use-application-dns.net`.
    Synthesised,
    /// The name imitates a protected domain (`[lookalikes]`; the domain is
    /// [`QueryEvent::matched`]): answered like a blocked name, or with
    /// `action = "log"` forwarded and answered with this response code.
    Lookalike {
        /// Answered with the block action.
        blocked: bool,
        /// The response code sent.
        rcode: ResponseCode,
    },
}

impl Outcome {
    /// Stable lower-case label for metrics and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Forwarded { .. } => "forwarded",
            Outcome::Cached { .. } => "cached",
            Outcome::Blocked { .. } => "blocked",
            Outcome::AllowedByException { .. } => "allowed_by_exception",
            Outcome::Refused => "refused",
            Outcome::RateLimited => "rate_limited",
            Outcome::ServFail => "servfail",
            Outcome::FormErr => "formerr",
            Outcome::Rebinding => "rebinding",
            Outcome::Synthesised => "synthesised",
            Outcome::Lookalike { .. } => "lookalike",
        }
    }
}

/// Everything known about a finished query, handed to each [`Observer`].
#[derive(Debug)]
pub struct QueryEvent<'a> {
    /// Client address.
    pub client: SocketAddr,
    /// Transport the query came in on.
    pub protocol: Protocol,
    /// Query name (absent for malformed requests).
    pub name: Option<&'a Name>,
    /// Query type (`RecordType::NULL` when absent).
    pub qtype: RecordType,
    /// How it ended.
    pub outcome: Outcome,
    /// Response code sent.
    pub rcode: ResponseCode,
    /// The list snapshot this query was checked against; resolve
    /// [`Outcome::Blocked`] rules with `list.rule_info(rule, name)`.
    pub list: &'a Blocklist,
    /// Time from receipt to response sent.
    pub elapsed: Duration,
    /// Time the upstream lookup took, for queries that contacted an
    /// upstream (also those blocked on answer inspection); `None` for
    /// answers from the cache.
    pub upstream: Option<Duration>,
    /// For CNAME and answer-IP blocks: the CNAME target or address that
    /// matched (resolve the rule with `list.rule_info(rule, matched)`); for
    /// a look-alike, the protected domain it imitates.
    pub matched: Option<&'a str>,
}

/// A sink for finished queries (metrics, query log). Called on the query
/// path after the response is sent: keep it cheap and non-blocking.
pub trait Observer: Send + Sync + 'static {
    /// Record one finished query.
    fn observe(&self, event: &QueryEvent<'_>);

    /// Whether this observer reads [`QueryEvent::name`] and
    /// [`QueryEvent::elapsed`]. When no observer does, queries answered in
    /// the UDP receive loop are reported without them (`None`; zero for a
    /// blocked name), which saves an allocation and clock reads per query.
    fn wants_details(&self) -> bool {
        true
    }
}

/// Why a handler could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The upstream resolver could not be configured.
    #[error("cannot configure upstream resolvers: {0}")]
    Forwarder(#[from] hickory_resolver::net::NetError),
}

/// parapet's request handler. Clone it freely; clones share everything.
#[derive(Clone)]
pub struct Handler {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    list: SharedBlocklist,
    forwarder: Forwarder,
    block: BlockConfig,
    access: AccessList,
    /// Rate limits on UDP answers (clients, refusals).
    limits: Arc<UdpLimits>,
    observers: Vec<Arc<dyn Observer>>,
    /// Some observer reads the query name and time taken.
    details_wanted: bool,
    /// Encoded answers for repeated queries on every transport (`None`:
    /// cache off).
    answers: Option<Arc<AnswerCache>>,
    metrics: Option<Arc<Metrics>>,
    /// The look-alike check (swapped on config reload).
    lookalikes: SharedLookalikes,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("forwarder", &self.inner.forwarder)
            .field("observers", &self.inner.observers.len())
            .finish_non_exhaustive()
    }
}

/// The list a query was checked against and the generation of the
/// look-alike check it passed: an answer-cache entry is tied to both.
type Checked = (Arc<Blocklist>, u64);

/// A response body on its way out.
struct Reply {
    rcode: ResponseCode,
    recursion_available: bool,
    authentic_data: bool,
    answers: Vec<Record>,
    authorities: Vec<Record>,
    additionals: Vec<Record>,
    ede: Option<(u16, String)>,
    /// Sent with TC=1 (a rate-limited query's slip).
    truncated: bool,
    /// Not sent at all (a rate-limited query's drop).
    dropped: bool,
    /// For the observers, not sent.
    trace: Trace,
}

/// What observers learn about a query besides its outcome.
#[derive(Debug, Default)]
struct Trace {
    upstream: Option<Duration>,
    matched: Option<String>,
}

impl Reply {
    fn empty(rcode: ResponseCode, recursion_available: bool) -> Self {
        Reply {
            rcode,
            recursion_available,
            authentic_data: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            ede: None,
            truncated: false,
            dropped: false,
            trace: Trace::default(),
        }
    }

    /// The reply to a UDP query over a rate limit: nothing, or an empty
    /// truncated answer.
    fn limited(limit: Limit) -> Self {
        let mut reply = Reply::empty(ResponseCode::NoError, true);
        reply.truncated = limit == Limit::Slip;
        reply.dropped = limit != Limit::Slip;
        reply
    }

    /// A reply made of a synthesised answer.
    fn synthesised(synth: answer::Synthesised) -> Self {
        let mut reply = Reply::empty(synth.rcode, true);
        reply.answers = synth.answers;
        reply.authorities = synth.authorities;
        reply
    }
}

impl Handler {
    /// A handler for `config`, checking queries against `list`.
    pub fn new(config: &Config, list: SharedBlocklist) -> Result<Self, HandlerError> {
        Ok(Handler {
            inner: Arc::new(Inner {
                list,
                forwarder: Forwarder::new(&config.upstream)?,
                block: config.block.clone(),
                access: AccessList::new(config.access.allow.clone()),
                limits: Arc::new(UdpLimits::from_config(&config.access)),
                observers: Vec::new(),
                details_wanted: false,
                answers: AnswerCache::new(&config.upstream),
                metrics: None,
                lookalikes: Lookalikes::shared(&config.lookalikes),
            }),
        })
    }

    /// Add an observer of finished queries (metrics, query log). Call it
    /// while setting up; clones made earlier do not see it.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        inner.details_wanted |= observer.wants_details();
        inner.observers.push(observer);
        self
    }

    /// Count every query and forwarded lookup in `metrics` (registers it
    /// as an observer and gives it to the forwarder).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        inner.forwarder.set_metrics(Arc::clone(&metrics));
        inner.metrics = Some(Arc::clone(&metrics));
        inner.details_wanted |= metrics.wants_details();
        inner.observers.push(metrics);
        self
    }

    /// The list in service (shared with the reloader).
    pub fn blocklist(&self) -> &SharedBlocklist {
        &self.inner.list
    }

    /// The look-alike check in service (swapped on config reload).
    pub fn lookalikes(&self) -> &SharedLookalikes {
        &self.inner.lookalikes
    }

    /// Answer a plain UDP query for a blocked name straight from its bytes
    /// into `out` (see [`crate::fastpath`]): same access control, rate
    /// limit, answer and observers as the full path. Returns `false`, having
    /// done nothing, when the full path must handle the query (not blocked,
    /// unusual shape, client not allowed).
    pub fn answer_udp_fast(&self, packet: &[u8], client: SocketAddr, out: &mut Vec<u8>) -> bool {
        let Some(query) = WireQuery::parse(packet) else {
            return false;
        };
        let inner = &*self.inner;
        if !inner.access.is_allowed(client.ip()) || query.is_canary() {
            return false;
        }
        let started = inner.details_wanted.then(Instant::now);
        let list = inner.list.load();
        let rule = match query.check(&list) {
            Verdict::Block(rule) => rule,
            Verdict::Allow(_) | Verdict::None => {
                let started = started.unwrap_or_else(Instant::now);
                return self.answer_udp_cached(&query, client, &list, started, out);
            }
        };
        let limit = inner
            .limits
            .check_client(client.ip(), inner.metrics.as_deref());
        let (outcome, rcode) = match limit {
            Limit::Drop | Limit::Slip => {
                write_limited(&query, limit, out);
                (Outcome::RateLimited, ResponseCode::NoError)
            }
            Limit::Pass => {
                query.write_blocked(&inner.block, &list, rule, out);
                if out.len() > query.max_response_size() {
                    // Too long for the client (a long EDE text): the full
                    // path truncates it as hickory does.
                    return false;
                }
                let outcome = Outcome::Blocked {
                    trigger: Trigger::Name,
                    rule,
                };
                (outcome, fastpath::rcode_of(&inner.block, query.qtype))
            }
        };
        if !inner.observers.is_empty() {
            let name = self.observed_name(&query);
            self.notify(&QueryEvent {
                client,
                protocol: Protocol::Udp,
                name: name.as_ref(),
                qtype: query.qtype,
                outcome,
                rcode,
                list: &list,
                elapsed: started.map_or(Duration::ZERO, |s| s.elapsed()),
                upstream: None,
                matched: None,
            });
        }
        true
    }

    /// Answer a UDP query from the encoded-answer cache (the name is not
    /// blocked; the entry was made against this `list`).
    fn answer_udp_cached(
        &self,
        query: &WireQuery<'_>,
        client: SocketAddr,
        list: &Arc<Blocklist>,
        started: Instant,
        out: &mut Vec<u8>,
    ) -> bool {
        let max_size = query.max_response_size();
        self.answer_cached(query, client, Protocol::Udp, list, started, max_size, out)
    }

    /// Answer `query` from the encoded-answer cache into `out` if it holds
    /// an answer of at most `max_size` bytes made against `list` (the name
    /// is not blocked, the client passed access control); rate limit,
    /// metrics and observers as on the full path.
    #[allow(clippy::too_many_arguments)]
    fn answer_cached(
        &self,
        query: &WireQuery<'_>,
        client: SocketAddr,
        protocol: Protocol,
        list: &Arc<Blocklist>,
        started: Instant,
        max_size: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        let inner = &*self.inner;
        let Some(cache) = &inner.answers else {
            return false;
        };
        let Some(key) = Key::of(query) else {
            return false;
        };
        // An entry is only served under the look-alike check its name passed.
        let checked = inner.lookalikes.load().generation();
        let Some(mut outcome) = cache.answer_checked(&key, query, list, checked, max_size, out)
        else {
            return false;
        };
        let lookup = started.elapsed();
        let mut rcode = match outcome {
            Outcome::Forwarded { rcode } | Outcome::Cached { rcode } => {
                // A hit: no upstream was asked this time.
                outcome = Outcome::Cached { rcode };
                rcode
            }
            Outcome::AllowedByException { rcode, .. } => rcode,
            _ => ResponseCode::NoError,
        };
        // Only UDP is limited: a stream's client address is not spoofed,
        // and its answer is no reflection.
        let limit = match protocol {
            Protocol::Udp => inner
                .limits
                .check_client(client.ip(), inner.metrics.as_deref()),
            _ => Limit::Pass,
        };
        if limit != Limit::Pass {
            write_limited(query, limit, out);
            outcome = Outcome::RateLimited;
            rcode = ResponseCode::NoError;
        } else if let Some(metrics) = &inner.metrics {
            metrics.record_upstream(lookup, true);
        }
        if !inner.observers.is_empty() {
            let name = self.observed_name(query);
            self.notify(&QueryEvent {
                client,
                protocol,
                name: name.as_ref(),
                qtype: query.qtype,
                outcome,
                rcode,
                list,
                elapsed: started.elapsed(),
                upstream: None,
                matched: None,
            });
        }
        true
    }

    /// A query over a stream transport (TCP, DoT, DoH): answered from the
    /// encoded-answer cache when it holds the answer, else by the full path
    /// with hickory's small side cache, its answer kept for repeats on
    /// every transport. Shapes the answer cache does not take use the full
    /// hickory cache, as on UDP.
    ///
    /// Entries are only ever complete answers (TC is never stored), so one
    /// entry serves both transport classes: a stream client gets any size,
    /// a UDP client only one within its limit (else the full path truncates
    /// as before).
    async fn handle_stream<R: ResponseHandler>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        let inner = &*self.inner;
        let (Some(cache), Some(query)) = (&inner.answers, WireQuery::parse(request.as_slice()))
        else {
            return self.handle(request, response_handle, Cache::Full).await.0;
        };
        let Some(key) = Key::of(&query) else {
            return self.handle(request, response_handle, Cache::Full).await.0;
        };
        let client = request.src();
        // Access control as in `decide`, blocked names before the cache.
        if self.admits(client.ip()) {
            let started = Instant::now();
            let list = inner.list.load_full();
            if !matches!(query.check(&list), Verdict::Block(_)) {
                let mut out = Vec::new();
                let max = usize::from(u16::MAX);
                if self.answer_cached(
                    &query,
                    client,
                    request.protocol(),
                    &list,
                    started,
                    max,
                    &mut out,
                ) {
                    return send_encoded(request, response_handle, &out).await;
                }
            }
        }
        let (info, outcome, (list, checked), bytes) = self
            .handle_capturing(request, response_handle, Cache::Answers, true)
            .await;
        if let Some(bytes) = bytes
            && matches!(
                outcome,
                Outcome::Forwarded { .. }
                    | Outcome::Cached { .. }
                    | Outcome::AllowedByException { .. }
            )
        {
            cache.insert_checked(&key, &bytes, &list, checked, outcome);
        }
        info
    }

    /// The query name for the observers of a fast-path answer, lower case
    /// as the full path reports it (hickory's `LowerQuery`); `None` when no
    /// observer reads it.
    fn observed_name(&self, query: &WireQuery<'_>) -> Option<Name> {
        if !self.inner.details_wanted {
            return None;
        }
        Name::from_labels(query.labels())
            .ok()
            .map(|n| n.to_lowercase())
    }

    /// The cache key for a UDP query, when the answer cache is on and the
    /// query has the simple shape it serves.
    pub fn answer_cache_key(&self, packet: &[u8]) -> Option<Key> {
        self.inner.answers.as_ref()?;
        Key::of(&WireQuery::parse(packet)?)
    }

    /// Run the full path for a UDP query whose encoded response the
    /// responder captured in `sent`, and keep that response for repeats of
    /// `key` if it was a forwarded answer.
    pub async fn handle_udp<R: ResponseHandler>(
        &self,
        request: &Request,
        response_handle: R,
        key: Option<Key>,
        sent: &std::sync::OnceLock<Vec<u8>>,
    ) -> ResponseInfo {
        // With a key the answer goes into the answer cache, which serves its
        // repeats: hickory's small side cache is enough behind it.
        let cache = match (&self.inner.answers, &key) {
            (Some(_), Some(_)) => Cache::Answers,
            _ => Cache::Full,
        };
        let (info, outcome, (list, checked)) = self.handle(request, response_handle, cache).await;
        if let (Some(cache), Some(key), Some(bytes)) = (&self.inner.answers, key, sent.get())
            && matches!(
                outcome,
                Outcome::Forwarded { .. }
                    | Outcome::Cached { .. }
                    | Outcome::AllowedByException { .. }
            )
        {
            cache.insert_checked(&key, bytes, &list, checked, outcome);
        }
        info
    }

    async fn handle<R: ResponseHandler>(
        &self,
        request: &Request,
        response_handle: R,
        cache: Cache,
    ) -> (ResponseInfo, Outcome, Checked) {
        let (info, outcome, checked, _) = self
            .handle_capturing(request, response_handle, cache, false)
            .await;
        (info, outcome, checked)
    }

    /// [`Self::handle`], also returning the response encoded without a size
    /// limit (as a stream transport sends it) when `capture` is set.
    async fn handle_capturing<R: ResponseHandler>(
        &self,
        request: &Request,
        response_handle: R,
        cache: Cache,
        capture: bool,
    ) -> (ResponseInfo, Outcome, Checked, Option<Vec<u8>>) {
        let started = Instant::now();
        // The snapshots this query is checked against, kept to the end even
        // if a reload swaps them meanwhile.
        let list = self.inner.list.load_full();
        let lookalikes = self.inner.lookalikes.load_full();
        let (outcome, mut reply) = self.decide(request, &list, &lookalikes, cache).await;
        let rcode = reply.rcode;
        let trace = std::mem::take(&mut reply.trace);
        let (info, captured) = if !capture {
            (send(request, response_handle, &reply).await, None)
        } else if let Some(own) = (&response_handle as &dyn Any)
            .downcast_ref::<CapturedResponse>()
            .cloned()
        {
            // DoT and DoH capture the answer unbounded anyway: read it back.
            let info = send(request, response_handle, &reply).await;
            (info, own.peek())
        } else {
            // Other handles (a caller's own ResponseHandler) take records:
            // encode a copy.
            let capturer = CapturedResponse::default();
            send(request, capturer.clone(), &reply).await;
            (
                send(request, response_handle, &reply).await,
                capturer.take(),
            )
        };
        self.observe(request, &list, outcome, rcode, &trace, started);
        let checked = lookalikes.generation();
        (info, outcome, (list, checked), captured)
    }

    fn notify(&self, event: &QueryEvent<'_>) {
        for o in &self.inner.observers {
            o.observe(event);
        }
    }

    /// Access control: a client in the allowed networks, or a DoT/DoH
    /// query carrying a valid access token.
    fn admits(&self, client: std::net::IpAddr) -> bool {
        self.inner.access.is_allowed(client) || tokens::is_token_authenticated()
    }

    /// Access control, then the UDP rate limit: the outcome and reply of a
    /// request turned away, `None` for one to answer.
    ///
    /// Outside the allowed networks → REFUSED, no recursion, no text; over
    /// UDP itself rate-limited (dropped beyond). A DoT/DoH query carrying a
    /// valid access token skips the address check. Over the rate over UDP
    /// (RRL): dropped or slipped, never REFUSED.
    fn admission(&self, request: &Request) -> Option<(Outcome, Reply)> {
        let inner = &*self.inner;
        let ip = request.src().ip();
        let udp = request.protocol() == Protocol::Udp;
        let metrics = inner.metrics.as_deref();
        if !self.admits(ip) {
            if udp && inner.limits.check_refusal(ip, metrics) != Limit::Pass {
                return Some((Outcome::Refused, Reply::limited(Limit::Drop)));
            }
            let mut reply = Reply::empty(ResponseCode::Refused, false);
            reply.ede = Some((answer::EDE_PROHIBITED, String::new()));
            return Some((Outcome::Refused, reply));
        }
        if udp {
            let limit = inner.limits.check_client(ip, metrics);
            if limit != Limit::Pass {
                return Some((Outcome::RateLimited, Reply::limited(limit)));
            }
        }
        None
    }

    /// The query path for one request; returns the outcome and the reply.
    /// `cache` is the hickory cache a forwarded lookup uses.
    async fn decide(
        &self,
        request: &Request,
        list: &Blocklist,
        lookalikes: &Lookalikes,
        cache: Cache,
    ) -> (Outcome, Reply) {
        let inner = &*self.inner;

        // 1. Access control and 2. rate limit.
        if let Some(turned_away) = self.admission(request) {
            return turned_away;
        }
        // EDNS versions above 0 are not spoken here (RFC 6891 §6.1.3).
        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            return (Outcome::FormErr, Reply::empty(ResponseCode::BADVERS, true));
        }
        // Only QUERY is spoken: other opcodes (NOTIFY, UPDATE, IQUERY,
        // unassigned) get NOTIMP, as RFC 8906 §3.1.4 asks.
        if request.metadata.op_code != OpCode::Query {
            return (Outcome::FormErr, Reply::empty(ResponseCode::NotImp, true));
        }
        // One standard query, class IN.
        let queries = request.queries.queries();
        if request.metadata.message_type != MessageType::Query || queries.len() != 1 {
            return (Outcome::FormErr, Reply::empty(ResponseCode::FormErr, true));
        }
        let query = &queries[0];
        if query.query_class() != DNSClass::IN {
            return (Outcome::Refused, Reply::empty(ResponseCode::Refused, true));
        }
        let name: &Name = query.name();
        let qtype = query.query_type();
        // Zone transfers are not a resolver's business.
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return (Outcome::Refused, Reply::empty(ResponseCode::Refused, true));
        }

        // Firefox's canary: NXDOMAIN whatever the lists say.
        if answer::is_canary(name) {
            let synth = answer::canary(name, inner.block.ttl);
            return (Outcome::Synthesised, Reply::synthesised(synth));
        }

        // 3. Policy check on the name.
        let mut imitates = None;
        let exception = match policy::check_name(list, name) {
            Verdict::Block(rule) => return self.blocked(list, name, qtype, Trigger::Name, rule),
            Verdict::Allow(rule) => policy::uninspected_allow(list, rule),
            Verdict::None => {
                // 3b. Look-alikes of protected domains.
                if let Some(hit) = lookalikes.check(name.iter()) {
                    debug!(query = %name, imitates = hit.imitates, class = ?hit.class, "look-alike");
                    if lookalikes.action() == LookalikeAction::Block {
                        return self.lookalike_blocked(name, qtype, hit.imitates);
                    }
                    imitates = Some(hit.imitates.to_string());
                }
                None
            }
        };
        // ANY gets a minimal answer (RFC 8482), not every record set.
        if qtype == RecordType::ANY {
            let synth = answer::minimal_any(name, inner.block.ttl);
            return (Outcome::Synthesised, Reply::synthesised(synth));
        }

        // 4. Forward.
        let upstream = match inner.forwarder.forward(name, qtype, cache).await {
            Ok(u) => u,
            Err(e) => {
                // The forwarder logs failures (rate-limited, at WARN).
                debug!(query = %name, %qtype, error = %e, "upstream failure");
                let mut reply = Reply::empty(ResponseCode::ServFail, true);
                reply.ede = Some((e.ede_code(), e.ede_text().into()));
                return (Outcome::ServFail, reply);
            }
        };

        // 5. Inspect the answer: CNAME targets and addresses.
        let outcome = match exception {
            Some(rule) => Outcome::AllowedByException {
                rule,
                rcode: upstream.rcode,
            },
            None => {
                if let Some(hit) = policy::inspect_answers(list, &upstream.answers) {
                    debug!(query = %name, %qtype, trigger = hit.trigger.as_str(), subject = %hit.subject, "answer blocked");
                    let (outcome, mut reply) =
                        self.blocked(list, name, qtype, hit.trigger, hit.rule);
                    reply.trace = Trace {
                        upstream: (!upstream.from_cache).then_some(upstream.elapsed),
                        matched: Some(hit.subject),
                    };
                    return (outcome, reply);
                }
                if let Some(reply) = self.rebinding(name, qtype, &upstream) {
                    return (Outcome::Rebinding, reply);
                }
                if imitates.is_some() {
                    Outcome::Lookalike {
                        blocked: false,
                        rcode: upstream.rcode,
                    }
                } else if upstream.from_cache {
                    Outcome::Cached {
                        rcode: upstream.rcode,
                    }
                } else {
                    Outcome::Forwarded {
                        rcode: upstream.rcode,
                    }
                }
            }
        };
        // Upstream time only when an upstream was asked.
        let upstream_time = (!upstream.from_cache).then_some(upstream.elapsed);
        let reply = Reply {
            rcode: upstream.rcode,
            recursion_available: true,
            authentic_data: upstream.authentic_data,
            answers: upstream.answers,
            authorities: upstream.authorities,
            additionals: upstream.additionals,
            ede: None,
            truncated: false,
            dropped: false,
            trace: Trace {
                upstream: upstream_time,
                matched: imitates,
            },
        };
        (outcome, reply)
    }

    /// The block answer to a look-alike of `imitates`: EDE 15 names it.
    fn lookalike_blocked(
        &self,
        name: &Name,
        qtype: RecordType,
        imitates: &str,
    ) -> (Outcome, Reply) {
        let synth = answer::blocked(&self.inner.block, name, qtype);
        let rcode = synth.rcode;
        let mut reply = Reply::synthesised(synth);
        reply.ede = Some((answer::EDE_BLOCKED, lookalike::config::ede_text(imitates)));
        reply.trace.matched = Some(imitates.to_string());
        (
            Outcome::Lookalike {
                blocked: true,
                rcode,
            },
            reply,
        )
    }

    /// The block answer replacing `upstream` when it holds a private
    /// address and `[block] private_answers = "block"` covers `name`.
    fn rebinding(&self, name: &Name, qtype: RecordType, upstream: &Upstream) -> Option<Reply> {
        let block = &self.inner.block;
        if block.private_answers != PrivateAnswers::Block
            || rebinding::is_exempt(&block.private_answers_allow, name)
        {
            return None;
        }
        let address = rebinding::private_address(&upstream.answers)?;
        debug!(query = %name, %qtype, %address, "private address in answer blocked");
        let mut reply = Reply::synthesised(answer::blocked(block, name, qtype));
        reply.ede = Some((
            answer::EDE_BLOCKED,
            "Blocked: private address in a public answer (DNS rebinding)".into(),
        ));
        reply.trace = Trace {
            upstream: Some(upstream.elapsed),
            matched: Some(address.to_string()),
        };
        Some(reply)
    }

    fn blocked(
        &self,
        list: &Blocklist,
        name: &Name,
        qtype: RecordType,
        trigger: Trigger,
        rule: RuleRef,
    ) -> (Outcome, Reply) {
        let block = &self.inner.block;
        let synth = answer::blocked(block, name, qtype);
        let text = answer::ede_text(block, list.source_of(rule));
        let reply = Reply {
            rcode: synth.rcode,
            recursion_available: true,
            authentic_data: false,
            answers: synth.answers,
            authorities: synth.authorities,
            additionals: Vec::new(),
            ede: Some((answer::EDE_BLOCKED, text)),
            truncated: false,
            dropped: false,
            trace: Trace::default(),
        };
        (Outcome::Blocked { trigger, rule }, reply)
    }

    fn observe(
        &self,
        request: &Request,
        list: &Blocklist,
        outcome: Outcome,
        rcode: ResponseCode,
        trace: &Trace,
        started: Instant,
    ) {
        if self.inner.observers.is_empty() {
            return;
        }
        let query = request.queries.queries().first();
        let event = QueryEvent {
            client: request.src(),
            protocol: request.protocol(),
            name: query.map(|q| &**q.name()),
            qtype: query.map_or(RecordType::NULL, |q| q.query_type()),
            outcome,
            rcode,
            list,
            elapsed: started.elapsed(),
            upstream: trace.upstream,
            matched: trace.matched.as_deref(),
        };
        self.notify(&event);
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        if request.protocol() == Protocol::Udp {
            // The UDP listener calls `handle_udp`; this is for other callers.
            return self.handle(request, response_handle, Cache::Full).await.0;
        }
        self.handle_stream(request, response_handle).await
    }
}

/// Write the UDP reply to a query over its rate limit into `out`: nothing
/// for a drop, an empty truncated answer for a slip.
fn write_limited(query: &WireQuery<'_>, limit: Limit, out: &mut Vec<u8>) {
    match limit {
        Limit::Slip => query.write_truncated(out),
        Limit::Drop | Limit::Pass => out.clear(),
    }
}

/// Send an answer from the encoded-answer cache. DoT and DoH capture
/// answers as bytes ([`CapturedResponse`]): they get these as they are.
/// Other [`ResponseHandler`]s (a caller's own; every parapet listener
/// captures bytes) only take records:
/// decode it and hand them over (sections, flags and EDNS as cached and
/// patched).
async fn send_encoded<R: ResponseHandler>(
    request: &Request,
    mut handle: R,
    bytes: &[u8],
) -> ResponseInfo {
    if let Some(captured) = (&mut handle as &mut dyn Any).downcast_mut::<CapturedResponse>()
        && let Ok(header) = Header::read(&mut BinDecoder::new(bytes))
    {
        captured.put(bytes.to_vec());
        return ResponseInfo::from(header);
    }
    let metadata = match Message::from_vec(bytes) {
        Ok(msg) => {
            let mut builder = MessageResponseBuilder::new(&request.queries, None);
            if let Some(e) = &msg.edns {
                builder.edns(e);
            }
            let response = builder.build(
                msg.metadata,
                msg.answers.iter(),
                msg.authorities.iter(),
                std::iter::empty(),
                msg.additionals.iter(),
            );
            match handle.send_response(response).await {
                Ok(info) => return info,
                Err(error) => {
                    debug!(client = %request.src(), %error, "response not sent");
                    Metadata::response_from_request(&request.metadata)
                }
            }
        }
        Err(error) => {
            debug!(client = %request.src(), %error, "cached answer undecodable");
            Metadata::response_from_request(&request.metadata)
        }
    };
    let mut metadata = metadata;
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

/// Encode and send `reply`; EDNS (and the EDE option) only when the query
/// carried EDNS.
async fn send<R: ResponseHandler>(request: &Request, mut handle: R, reply: &Reply) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    if reply.dropped {
        return ResponseInfo::from(Header {
            metadata,
            counts: HeaderCounts::default(),
        });
    }
    metadata.truncation = reply.truncated;
    metadata.recursion_available = reply.recursion_available;
    metadata.authentic_data = reply.authentic_data;
    metadata.response_code = reply.rcode;

    let edns = request.edns.as_ref().map(|req| {
        let mut edns = Edns::new();
        edns.set_max_payload(fastpath::udp_payload(Some(req.max_payload())));
        edns.set_dnssec_ok(req.flags().dnssec_ok);
        // Extended response codes (BADVERS) carry their high bits here.
        edns.set_rcode_high(reply.rcode.high());
        if let Some((code, text)) = &reply.ede {
            edns.options_mut().insert(answer::ede_option(*code, text));
        }
        edns
    });
    let mut builder = MessageResponseBuilder::new(&request.queries, None);
    if let Some(e) = &edns {
        builder.edns(e);
    }
    let response = builder.build(
        metadata,
        reply.answers.iter(),
        reply.authorities.iter(),
        std::iter::empty(),
        reply.additionals.iter(),
    );
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(error) => {
            debug!(client = %request.src(), %error, "response not sent");
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        }
    }
}
