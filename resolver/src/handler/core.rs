//! The resolver core: a parsed query and its [`Context`] in, an
//! [`Outcome`] and a reply out, encoded once.
//!
//! ```text
//! admission (access decided by the front, UDP rate limit) ─▶ shape checks
//!   ─▶ policy check ─┬─ block ─▶ synthesised answer
//!                    └─ pass  ─▶ look-alike check ─▶ forward ─▶ inspect ─▶ relay or sinkhole
//!   ─▶ encode ─▶ answer cache ─▶ observe(Outcome)
//! ```

use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_server::zone_handler::MessageRequest;
use parapet_blocklist::{Blocklist, RuleRef, Verdict};
use tracing::debug;

use super::Handler;
use super::handoff::Handoff;
use super::reply::{Reply, Trace};
use crate::access::Context;
use crate::answer;
use crate::config::PrivateAnswers;
use crate::event::{Outcome, Protocol, QueryEvent, Trigger};
use crate::forward::{DnssecFlags, Upstream};
use crate::lookalike::{self, LookalikeAction, Lookalikes};
use crate::policy;
use crate::ratelimit::Limit;
use crate::rebinding;
use crate::wire;

impl Handler {
    /// The core: answer `request` for `context`, given what the front
    /// learnt (`handoff`). Returns the encoded answer (within the UDP size
    /// limit over UDP), empty when nothing is to be sent (a rate-limited
    /// UDP query's drop). A forwarded answer is kept in the answer cache
    /// under the front's key; observers hear of the query before this
    /// returns.
    pub async fn core(
        &self,
        request: &MessageRequest,
        context: &Context,
        handoff: Handoff,
    ) -> Vec<u8> {
        let inner = &*self.inner;
        let started = Instant::now();
        // The snapshots this query is checked against, kept to the end even
        // if a reload swaps them meanwhile.
        let list = inner.list.load_full();
        let lookalikes = inner.lookalikes.load_full();
        let key = handoff.key.filter(|_| inner.answers.is_some());
        let (mut outcome, mut reply) = self
            .resolve(request, context, handoff.admitted, &list, &lookalikes)
            .await;
        // Every upstream failed: a stale answer if one is kept (RFC 8767).
        if outcome == Outcome::ServFail
            && let Some(stale) = self.serve_stale(key.as_ref(), &list, lookalikes.generation())
        {
            (outcome, reply) = stale;
        }
        let max_size = match context.protocol {
            Protocol::Udp => wire::udp_payload(request.edns.as_ref().map(|e| e.max_payload())),
            _ => u16::MAX,
        };
        let bytes = reply.encode(request, max_size);
        // AD went to a client that asked with AD but without DO: the key
        // does not tell such clients from those that get no AD.
        let ad_without_do =
            reply.authentic_data && !request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
        if let (Some(cache), Some(key)) = (&inner.answers, key)
            && !ad_without_do
            && matches!(
                outcome,
                Outcome::Forwarded { .. }
                    | Outcome::Cached { .. }
                    | Outcome::AllowedByException { .. }
            )
        {
            let checked = lookalikes.generation();
            // Truncated for this UDP client: keep the whole answer, which
            // serves the client's TCP retry without a second upstream query.
            let whole = (max_size < u16::MAX && crate::upstream::wire::truncated(&bytes))
                .then(|| reply.encode(request, u16::MAX));
            let kept = whole.as_deref().unwrap_or(&bytes);
            cache.insert_checked(&key, kept, &list, checked, outcome);
        }
        if !handoff.refresh {
            self.observe(request, context, &list, outcome, &reply, started);
        }
        bytes
    }

    /// Rate limit for an admitted client, REFUSED for one that is not: the
    /// outcome and reply of a request turned away, `None` for one to answer.
    ///
    /// Not admitted (outside the allowed networks, no valid token) →
    /// REFUSED, no recursion, EDE 18; over UDP itself rate-limited (dropped
    /// beyond). Over the rate over UDP (RRL): dropped or slipped, never
    /// REFUSED. Streams are not rate-limited: their client address is not
    /// spoofed, and their answer is no reflection.
    fn admission(&self, context: &Context, admitted: bool) -> Option<(Outcome, Reply)> {
        let inner = &*self.inner;
        let ip = context.client.ip();
        let udp = context.protocol == Protocol::Udp;
        let metrics = inner.metrics.as_deref();
        if !admitted {
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

    /// The query path for one request up to the forward; returns the
    /// outcome and the reply.
    async fn resolve(
        &self,
        request: &MessageRequest,
        context: &Context,
        admitted: bool,
        list: &Blocklist,
        lookalikes: &Lookalikes,
    ) -> (Outcome, Reply) {
        let ttl = self.inner.block.ttl;
        // 1. Access control and 2. rate limit.
        if let Some(turned_away) = self.admission(context, admitted) {
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
            return (
                Outcome::Synthesised,
                Reply::synthesised(answer::canary(name, ttl)),
            );
        }
        // parapet's test names (crate::reserved), before any list.
        if let Some(kind) = crate::reserved::of_name(name) {
            let (synth, ede) = crate::reserved::answer(kind, &self.inner.block, name, qtype);
            let mut reply = Reply::synthesised(synth);
            reply.ede = ede;
            return (Outcome::Synthesised, reply);
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
            let synth = answer::minimal_any(name, ttl);
            return (Outcome::Synthesised, Reply::synthesised(synth));
        }
        self.forward(request, list, name, qtype, exception, imitates)
            .await
    }

    /// Forward (step 4) with the client's DO and CD, then inspect the
    /// answer (step 5): CNAME targets and addresses (not under an
    /// allowlist `exception`), then private addresses. The upstream's
    /// sections are relayed whole; its AD bit only from a trusted upstream
    /// and to a client that set DO or AD.
    async fn forward(
        &self,
        request: &MessageRequest,
        list: &Blocklist,
        name: &Name,
        qtype: RecordType,
        exception: Option<RuleRef>,
        imitates: Option<String>,
    ) -> (Outcome, Reply) {
        let dnssec_ok = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
        let flags = DnssecFlags {
            dnssec_ok,
            checking_disabled: request.metadata.checking_disabled,
        };
        let wants_ad = dnssec_ok || request.metadata.authentic_data;
        let upstream = match self.inner.forwarder.forward(name, qtype, flags).await {
            Ok(u) => u,
            Err(e) => {
                // The forwarder logs failures (rate-limited, at WARN).
                debug!(query = %name, %qtype, error = %e, "upstream failure");
                let mut reply = Reply::empty(ResponseCode::ServFail, true);
                reply.ede = Some((e.ede_code(), e.ede_text().into()));
                return (Outcome::ServFail, reply);
            }
        };
        let rcode = upstream.rcode;
        let outcome = if let Some(rule) = exception {
            Outcome::AllowedByException { rule, rcode }
        } else {
            if let Some(hit) = policy::inspect_answers(list, &upstream.answers) {
                debug!(query = %name, %qtype, trigger = hit.trigger.as_str(), subject = %hit.subject, "answer blocked");
                let (outcome, mut reply) = self.blocked(list, name, qtype, hit.trigger, hit.rule);
                reply.trace = Trace {
                    upstream: Some(upstream.elapsed),
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
                    rcode,
                }
            } else {
                Outcome::Forwarded { rcode }
            }
        };
        let reply = Reply {
            rcode,
            recursion_available: true,
            authentic_data: upstream.authentic_data && wants_ad,
            answers: upstream.answers,
            authorities: upstream.authorities,
            additionals: upstream.additionals,
            ede: None,
            truncated: false,
            dropped: false,
            trace: Trace {
                upstream: Some(upstream.elapsed),
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

    /// The block answer for `name`, blocked by `rule` on `trigger`, with
    /// EDE 15 naming the rule's source.
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
        let mut reply = Reply::synthesised(synth);
        reply.ede = Some((answer::EDE_BLOCKED, text));
        (Outcome::Blocked { trigger, rule }, reply)
    }

    /// Tell the observers how `request` ended.
    fn observe(
        &self,
        request: &MessageRequest,
        context: &Context,
        list: &Arc<Blocklist>,
        outcome: Outcome,
        reply: &Reply,
        started: Instant,
    ) {
        if self.inner.observers.is_empty() {
            return;
        }
        let query = request.queries.queries().first();
        self.notify(&QueryEvent {
            client: context.client,
            protocol: context.protocol,
            name: query.map(|q| &**q.name()),
            qtype: query.map_or(RecordType::NULL, |q| q.query_type()),
            outcome,
            rcode: reply.rcode,
            list,
            elapsed: started.elapsed(),
            upstream: reply.trace.upstream,
            matched: reply.trace.matched.as_deref(),
        });
    }
}
