//! The wire front: what can be answered from a query's bytes is answered
//! here, without decoding it into hickory's types; the rest goes on to the
//! [core](super::core) with what the front learnt ([`Handoff`]).
//!
//! ```text
//! bytes ─▶ access (decided once) ─▶ parse the question (wire::WireQuery)
//!   ├─ blocked name (UDP) ─▶ rate limit ─▶ sinkhole written from bytes (fastpath)
//!   ├─ answer-cache hit   ─▶ rate limit (UDP) ─▶ cached bytes, patched
//!   └─ anything else      ─▶ Handoff { admitted, key } ─▶ core
//! ```
//!
//! Over streams (TCP, DoT, DoH) blocked names go to the core, which answers
//! them as before (owner names lower case); the front serves their
//! answer-cache hits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;
use parapet_blocklist::{Blocklist, RuleRef, Verdict};

use super::Handler;
use super::handoff::{Front, Handoff, Prefetch};
use crate::access::Context;
use crate::answer_cache::Key;
use crate::event::{Outcome, Protocol, QueryEvent, Trigger};
use crate::fastpath;
use crate::ratelimit::Limit;
use crate::wire::WireQuery;

impl Handler {
    /// The handoff for a query that skips the front (the core alone, as
    /// [`Handler::core_from_bytes`] runs it): access decided here, no
    /// answer-cache key.
    pub fn handoff(&self, context: &Context) -> Handoff {
        Handoff {
            admitted: self.inner.access.admits(context),
            key: None,
            refresh: false,
        }
    }

    /// The front: answer `packet` from its bytes into `out` if it can (a
    /// blocked name over UDP, an answer-cache hit), with the same access
    /// control, rate limit, answer and observers as the core; otherwise
    /// say what the core needs, having written nothing.
    pub fn front(&self, packet: &[u8], context: &Context, out: &mut Vec<u8>) -> Front {
        let inner = &*self.inner;
        let admitted = inner.access.admits(context);
        let pass = |key| {
            Front::Pass(Handoff {
                admitted,
                key,
                refresh: false,
            })
        };
        let Some(query) = WireQuery::parse(packet) else {
            return pass(None);
        };
        if !admitted || fastpath::is_canary(&query) || fastpath::is_reserved(&query) {
            return pass(None);
        }
        let udp = context.protocol == Protocol::Udp;
        let started = (inner.details_wanted || !udp).then(Instant::now);
        let list = inner.list.load();
        match query.check(&list) {
            Verdict::Block(rule) if udp => {
                if self.answer_blocked(&query, context, &list, rule, started, out) {
                    Front::Answered { prefetch: None }
                } else {
                    pass(None)
                }
            }
            // Blocked names over streams: the core answers them.
            Verdict::Block(_) => pass(None),
            Verdict::Allow(_) | Verdict::None => {
                let Some(key) = inner.answers.as_ref().and_then(|_| Key::of(&query)) else {
                    return pass(None);
                };
                let started = started.unwrap_or_else(Instant::now);
                match self.answer_cached(&query, &key, context, &list, started, out) {
                    Some(prefetch) => Front::Answered {
                        prefetch: prefetch.then(|| Prefetch::new(&query, key)),
                    },
                    None => pass(Some(key)),
                }
            }
        }
    }

    /// Answer a plain UDP query for a blocked name straight from its bytes
    /// into `out` (see [`crate::fastpath`]); `false`, having done nothing,
    /// when the answer would be too long for the client (a long EDE text:
    /// the core truncates it as hickory does).
    fn answer_blocked(
        &self,
        query: &WireQuery<'_>,
        context: &Context,
        list: &Arc<Blocklist>,
        rule: RuleRef,
        started: Option<Instant>,
        out: &mut Vec<u8>,
    ) -> bool {
        let inner = &*self.inner;
        let limit = inner
            .limits
            .check_client(context.client.ip(), inner.metrics.as_deref());
        let (outcome, rcode) = match limit {
            Limit::Drop | Limit::Slip => {
                write_limited(query, limit, out);
                (Outcome::RateLimited, ResponseCode::NoError)
            }
            Limit::Pass => {
                fastpath::write_blocked(query, &inner.block, list, rule, out);
                if out.len() > query.max_response_size() {
                    return false;
                }
                let trigger = Trigger::Name;
                let outcome = Outcome::Blocked { trigger, rule };
                (outcome, fastpath::rcode_of(&inner.block, query.qtype))
            }
        };
        let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
        self.notify_front(query, context, list, outcome, rcode, elapsed);
        true
    }

    /// Answer `query` from the encoded-answer cache into `out` if it holds
    /// an answer for `key` made against `list` that fits the transport (the
    /// name is not blocked, the client was admitted); rate limit (UDP),
    /// metrics and observers as in the core. `Some(true)`: answered, and
    /// the answer should be refreshed in the background.
    fn answer_cached(
        &self,
        query: &WireQuery<'_>,
        key: &Key,
        context: &Context,
        list: &Arc<Blocklist>,
        started: Instant,
        out: &mut Vec<u8>,
    ) -> Option<bool> {
        let inner = &*self.inner;
        let cache = inner.answers.as_ref()?;
        let udp = context.protocol == Protocol::Udp;
        let max_size = if udp {
            query.max_response_size()
        } else {
            usize::from(u16::MAX)
        };
        // An entry is only served under the look-alike check its name passed.
        let checked = inner.lookalikes.load().generation();
        let hit = cache.answer_checked(key, query, list, checked, max_size, out)?;
        let mut outcome = hit.outcome;
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
        let limit = if udp {
            inner
                .limits
                .check_client(context.client.ip(), inner.metrics.as_deref())
        } else {
            Limit::Pass
        };
        if limit != Limit::Pass {
            write_limited(query, limit, out);
            outcome = Outcome::RateLimited;
            rcode = ResponseCode::NoError;
        } else if let Some(metrics) = &inner.metrics {
            metrics.record_upstream(lookup, true);
        }
        self.notify_front(query, context, list, outcome, rcode, started.elapsed());
        Some(hit.prefetch)
    }

    /// Tell the observers of a query the front answered.
    fn notify_front(
        &self,
        query: &WireQuery<'_>,
        context: &Context,
        list: &Blocklist,
        outcome: Outcome,
        rcode: ResponseCode,
        elapsed: Duration,
    ) {
        if self.inner.observers.is_empty() {
            return;
        }
        let name = self.observed_name(query);
        self.notify(&QueryEvent {
            client: context.client,
            protocol: context.protocol,
            name: name.as_ref(),
            qtype: query.qtype,
            outcome,
            rcode,
            list,
            elapsed,
            upstream: None,
            matched: None,
        });
    }

    /// The query name for the observers of a front answer, lower case as
    /// the core reports it (hickory's `LowerQuery`); `None` when no
    /// observer reads it.
    fn observed_name(&self, query: &WireQuery<'_>) -> Option<Name> {
        if !self.inner.details_wanted {
            return None;
        }
        Name::from_labels(query.labels())
            .ok()
            .map(|n| n.to_lowercase())
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
