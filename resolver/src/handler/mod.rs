//! The request handler: one query through the query path of DESIGN.md,
//! in two layers.
//!
//! ```text
//! transport ─▶ front (bytes: access, blocked names over UDP, answer cache)   front.rs
//!           ─▶ parse once (hickory)                                        mod.rs
//!           ─▶ core (access decided, rate limit, policy, forward, inspect) core.rs
//!           ─▶ encode once, answer cache, observe(Outcome)                 core.rs, reply.rs
//! ```
//!
//! Every transport (UDP, TCP, DoT, DoH) passes each query's [`Context`]
//! (client address, protocol, token identity) explicitly; UDP calls
//! [`Handler::front`] in its receive loop and [`Handler::core`] on a task,
//! the stream transports call both through [`DnsService::answer`]. The
//! handler is cheap to clone (one `Arc`). Every query ends in exactly one
//! [`Outcome`](crate::event::Outcome), reported once to each registered [`Observer`] (metrics,
//! query log).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod core;
mod front;
mod handoff;
mod refresh;
mod reply;

pub use handoff::{Front, Handoff, Prefetch};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{MessageType, ResponseCode};
use hickory_server::net::xfer::Protocol as HickoryProtocol;
use hickory_server::server::Request;

use crate::access::{AccessList, Context};
use crate::answer_cache::AnswerCache;
use crate::config::{BlockConfig, Config};
use crate::event::{Observer, Protocol, QueryEvent};
use crate::forward::Forwarder;
use crate::list::SharedBlocklist;
use crate::lookalike::{Lookalikes, SharedLookalikes};
use crate::metrics::Metrics;
use crate::ratelimit::UdpLimits;
use crate::wire;

/// Why a handler could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The upstream resolvers could not be configured.
    #[error("cannot configure upstream resolvers: {0}")]
    Forwarder(#[from] crate::forward::BuildError),
}

/// Why a query got no answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExchangeError {
    /// Not a DNS query: too short, undecodable, or a response message.
    #[error("not a DNS query: {0}")]
    Malformed(String),
    /// The handler finished without producing an answer.
    #[error("the request handler produced no answer")]
    NoAnswer,
}

/// What a stream transport (TCP, DoT, DoH) needs from the resolver: one
/// query's bytes and context in, the encoded answer out. [`Handler`]
/// implements it as front, then core.
pub trait DnsService: Clone + Send + Sync + 'static {
    /// Answer `query` (wire bytes) for `context`.
    ///
    /// # Errors
    /// [`ExchangeError::Malformed`] for bytes that are not a DNS query (the
    /// caller answers FORMERR or HTTP 400), [`ExchangeError::NoAnswer`] if
    /// there is nothing to send.
    fn answer(
        &self,
        query: Vec<u8>,
        context: Context,
    ) -> impl Future<Output = Result<Vec<u8>, ExchangeError>> + Send;

    /// Note a query the caller answered FORMERR (or HTTP 400) because
    /// [`DnsService::answer`] found it malformed.
    fn undecodable(&self, _context: &Context) {}
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
        if let Some(cache) = &inner.answers {
            let cache = Arc::downgrade(cache);
            metrics.watch_answer_cache(move || cache.upgrade().map_or((0, 0), |c| c.usage()));
        }
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

    /// Decode `packet` for the core (the one full parse of a query the
    /// front passed on).
    ///
    /// # Errors
    /// [`ExchangeError::Malformed`]: undecodable, or a response rather than
    /// a query (never answer answers).
    pub fn parse(packet: Vec<u8>, context: &Context) -> Result<Request, ExchangeError> {
        let protocol = match context.protocol {
            Protocol::Udp => HickoryProtocol::Udp,
            Protocol::Tcp | Protocol::Other => HickoryProtocol::Tcp,
            Protocol::Tls => HickoryProtocol::Tls,
            Protocol::Https => HickoryProtocol::Https,
        };
        let request = Request::from_bytes(packet, context.client, protocol)
            .map_err(|e| ExchangeError::Malformed(e.to_string()))?;
        if request.metadata.message_type != MessageType::Query {
            return Err(ExchangeError::Malformed("a response, not a query".into()));
        }
        Ok(request)
    }

    /// The core alone on a query's bytes, as if the front could answer
    /// nothing: parse, [`Handler::core`] (access decided here, no answer
    /// cache), encode. For benchmarks and for tests that compare the front
    /// with the core.
    ///
    /// # Errors
    /// As [`DnsService::answer`].
    pub async fn core_from_bytes(
        &self,
        query: Vec<u8>,
        context: &Context,
    ) -> Result<Vec<u8>, ExchangeError> {
        let request = Self::parse(query, context)?;
        let bytes = self.core(&request, context, self.handoff(context)).await;
        nonempty(bytes, request.metadata.id)
    }

    /// [`Handler::front`] for a UDP query from `client`: `true` when it
    /// answered (into `out`; empty = dropped), `false` when the core must.
    pub fn answer_udp_fast(&self, packet: &[u8], client: SocketAddr, out: &mut Vec<u8>) -> bool {
        let context = Context::new(client, Protocol::Udp);
        matches!(self.front(packet, &context, out), Front::Answered { .. })
    }

    /// Report a query that did not decode and was answered FORMERR (or, over
    /// DoH, 400) by the transport, so that a flood of malformed packets is
    /// seen in the metrics and the query log (`outcome` formerr, no name).
    pub fn report_undecodable(&self, context: &Context) {
        if self.inner.observers.is_empty() {
            return;
        }
        let list = self.inner.list.load();
        self.notify(&QueryEvent {
            client: context.client,
            protocol: context.protocol,
            name: None,
            qtype: hickory_proto::rr::RecordType::NULL,
            outcome: crate::event::Outcome::FormErr,
            rcode: ResponseCode::FormErr,
            list: &list,
            elapsed: std::time::Duration::ZERO,
            upstream: None,
            matched: None,
        });
    }

    fn notify(&self, event: &QueryEvent<'_>) {
        for o in &self.inner.observers {
            o.observe(event);
        }
    }
}

impl DnsService for Handler {
    async fn answer(&self, query: Vec<u8>, context: Context) -> Result<Vec<u8>, ExchangeError> {
        let mut out = Vec::new();
        let handoff = match self.front(&query, &context, &mut out) {
            Front::Answered { prefetch } => {
                if let Some(prefetch) = prefetch {
                    tokio::spawn(self.clone().prefetch(*prefetch));
                }
                let id = query
                    .get(..2)
                    .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                return nonempty(out, id);
            }
            Front::Pass(handoff) => handoff,
        };
        let request = Self::parse(query, &context)?;
        let bytes = self.core(&request, &context, handoff).await;
        nonempty(bytes, request.metadata.id)
    }

    fn undecodable(&self, context: &Context) {
        self.report_undecodable(context);
    }
}

/// `bytes`, or a header-only SERVFAIL with `id` when there is nothing to
/// send (a dropped UDP query asked through a stream interface).
fn nonempty(bytes: Vec<u8>, id: u16) -> Result<Vec<u8>, ExchangeError> {
    if !bytes.is_empty() {
        return Ok(bytes);
    }
    wire::error_answer(id, ResponseCode::ServFail).ok_or(ExchangeError::NoAnswer)
}
