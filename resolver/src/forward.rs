//! Forwarding of queries that are not blocked, on parapet's own upstream
//! client ([`crate::upstream`]): the query is built with hickory-proto
//! (RD, the client's DO and CD, EDNS with a 1232-byte payload), sent with
//! deadline and retry, and the upstream's whole message comes back:
//! every section, DNSSEC records included, owner names in the case the
//! upstream sent.
//!
//! Concurrent forwards of the same question (lower-cased name, type,
//! class, DO and CD) share one upstream exchange ([`coalesce`]): the
//! first asks, the others wait for its answer (counted in
//! `parapet_upstream_coalesced_total`). There is no cache here: the answer
//! cache ([`crate::answer_cache`]) is the cache.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tracing::warn;

use crate::config::UpstreamConfig;
use crate::metrics::{Metrics, UpstreamFailure};
use crate::upstream::{ClientMetrics, ExchangeError, Upstreams};

mod answer;
mod chain;
mod coalesce;
mod failure_log;

use coalesce::Flights;

pub use answer::{DnssecFlags, ForwardError, Upstream};
use failure_log::FailureLog;

/// EDNS payload size parapet advertises to upstreams (DNS Flag Day 2020).
pub const UPSTREAM_PAYLOAD: u16 = 1232;

/// Why a forwarder could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(String);

/// The forwarder. Cheap to clone (shared upstreams and flights).
#[derive(Clone)]
pub struct Forwarder {
    inner: Arc<Inner>,
}

struct Inner {
    upstreams: Upstreams,
    deadline: Duration,
    randomize_case: bool,
    flights: Flights,
    metrics: OnceLock<Arc<Metrics>>,
    /// The configured upstreams, as the failure log names them.
    names: String,
    failures: FailureLog,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("deadline", &self.inner.deadline)
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    /// Build a forwarder for `[upstream]`. Sockets open on first use.
    ///
    /// # Errors
    /// The CA file of TLS upstreams cannot be read, or a TLS name is bad.
    pub fn new(config: &UpstreamConfig) -> Result<Self, BuildError> {
        let upstreams =
            Upstreams::new(config, Arc::new(ClientMetrics::default())).map_err(BuildError)?;
        Ok(Forwarder {
            inner: Arc::new(Inner {
                upstreams,
                deadline: config.timeout(),
                randomize_case: config.randomize_case,
                flights: Flights::default(),
                metrics: OnceLock::new(),
                names: config
                    .servers
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                failures: FailureLog::new(failure_log::INTERVAL),
            }),
        })
    }

    /// Resolve `name`/`qtype` with the client's DNSSEC `flags`, sharing
    /// the exchange of a concurrent identical forward.
    pub async fn forward(
        &self,
        name: &Name,
        qtype: RecordType,
        flags: DnssecFlags,
    ) -> Result<Upstream, ForwardError> {
        let started = Instant::now();
        let key = coalesce::Key::new(name, qtype, flags);
        let mut joined = false;
        let result = self
            .inner
            .flights
            .run(
                key,
                || self.lookup(name, qtype, flags),
                || {
                    joined = true;
                    self.inner.upstreams.metrics().coalesced();
                },
            )
            .await
            .map(|mut upstream| {
                upstream.elapsed = started.elapsed();
                upstream
            });
        self.record(&result, started.elapsed(), joined);
        result
    }

    /// UDP sockets to upstreams open now.
    pub fn open_sockets(&self) -> usize {
        self.inner.upstreams.open_sockets()
    }

    /// Record upstream latency, failures, sockets and coalesced queries in
    /// `metrics`.
    pub fn set_metrics(&mut self, metrics: Arc<Metrics>) {
        self.inner
            .upstreams
            .metrics()
            .attach(metrics.upstream_client());
        let _ = self.inner.metrics.set(metrics);
    }

    /// One upstream exchange for the question, decoded and checked.
    async fn lookup(
        &self,
        name: &Name,
        qtype: RecordType,
        flags: DnssecFlags,
    ) -> Result<Upstream, ForwardError> {
        let started = Instant::now();
        let query = encode_query(name, qtype, flags)?;
        let answer = self
            .inner
            .upstreams
            .exchange(&query)
            .await
            .map_err(|e| match e {
                ExchangeError::Timeout => ForwardError::Timeout(self.inner.deadline),
                e => ForwardError::Upstream(e),
            })?;
        let mut msg = Message::from_vec(&answer.bytes)
            .map_err(|e| ExchangeError::Malformed(e.to_string()))?;
        let rcode = msg.metadata.response_code;
        if !matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
            return Err(ForwardError::Rcode(rcode));
        }
        if self.inner.randomize_case {
            restore_case(&mut msg, name);
        }
        if chain::loops(name, &msg.answers) {
            return Err(ForwardError::CnameLoop);
        }
        for record in msg
            .answers
            .iter_mut()
            .chain(&mut msg.authorities)
            .chain(&mut msg.additionals)
        {
            record.ttl = sane_ttl(record.ttl);
        }
        Ok(Upstream {
            rcode,
            authentic_data: msg.metadata.authentic_data && answer.trusted,
            answers: msg.answers,
            authorities: msg.authorities,
            additionals: msg.additionals,
            elapsed: started.elapsed(),
        })
    }

    /// The failure log and the metrics, for one forward (`joined`: it
    /// shared another's exchange, and its wait is no upstream latency).
    fn record(&self, result: &Result<Upstream, ForwardError>, elapsed: Duration, joined: bool) {
        if let Err(error) = result
            && let Some(suppressed) = self.inner.failures.note(Instant::now())
        {
            warn!(
                upstreams = %self.inner.names,
                %error,
                suppressed,
                "upstream failure: answered with a stale answer where one is kept, else SERVFAIL (logged once per {}s at most; suppressed: failures not logged since the last line)",
                failure_log::INTERVAL.as_secs()
            );
        }
        let Some(metrics) = self.inner.metrics.get() else {
            return;
        };
        match result {
            Ok(_) if joined => {}
            Ok(_) => metrics.record_upstream(elapsed, false),
            Err(e) if e.is_timeout() => metrics.record_upstream_failure(UpstreamFailure::Timeout),
            Err(_) => metrics.record_upstream_failure(UpstreamFailure::Error),
        }
    }
}

/// Longest TTL passed on and cached: a week (RFC 8767 §4's suggested cap),
/// so that no upstream pins an answer in the cache and in clients for good.
pub(crate) const MAX_TTL: u32 = 604_800;

/// A TTL as passed on: one with the top bit set counts as 0 (RFC 2181 §8),
/// others are capped at [`MAX_TTL`].
fn sane_ttl(ttl: u32) -> u32 {
    if ttl > i32::MAX as u32 {
        0
    } else {
        ttl.min(MAX_TTL)
    }
}

/// The upstream query: RD, AD (the client understands it; RFC 6840
/// §5.7), the client's CD, EDNS with DO as the client asked.
fn encode_query(
    name: &Name,
    qtype: RecordType,
    flags: DnssecFlags,
) -> Result<Vec<u8>, ForwardError> {
    let mut msg = Message::new(0, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.metadata.authentic_data = true;
    msg.metadata.checking_disabled = flags.checking_disabled;
    let mut fqdn = name.clone();
    fqdn.set_fqdn(true);
    msg.add_query(Query::query(fqdn, qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(UPSTREAM_PAYLOAD);
    edns.set_dnssec_ok(flags.dnssec_ok);
    msg.set_edns(edns);
    msg.to_vec()
        .map_err(|e| ForwardError::Upstream(ExchangeError::Malformed(e.to_string())))
}

/// Owner names equal to the query name but in the 0x20 case the upstream
/// echoed get the client's case back.
fn restore_case(msg: &mut Message, name: &Name) {
    let mut fqdn = name.clone();
    fqdn.set_fqdn(true);
    let sections = [&mut msg.answers, &mut msg.authorities, &mut msg.additionals];
    for record in sections.into_iter().flatten() {
        // Equal ignoring case, but not label for label as sent.
        if record.name == fqdn && !record.name.iter().eq(fqdn.iter()) {
            record.name = fqdn.clone();
        }
    }
}

#[cfg(test)]
mod tests;
