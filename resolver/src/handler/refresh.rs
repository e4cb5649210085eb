//! What the answer cache adds to the core when upstreams are slow to
//! change or down: background refreshes of popular answers (prefetch, as
//! Unbound's `prefetch: yes`) and stale answers when every upstream fails
//! (serve-stale, RFC 8767).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::Message;
use parapet_blocklist::Blocklist;

use super::Handler;
use super::handoff::{Handoff, Prefetch};
use super::reply::Reply;
use crate::access::Context;
use crate::answer_cache::Key;
use crate::event::{Outcome, Protocol};

/// TTL of a stale answer (RFC 8767 §4 recommends 30 s).
const STALE_TTL: u32 = 30;
/// Extended DNS Error 3: Stale Answer (RFC 8914).
const EDE_STALE_ANSWER: u16 = 3;

impl Handler {
    /// Refresh a cached answer: the core's whole path (policy, forward,
    /// inspection, answer cache) for the question of `prefetch`, as an
    /// internal query (no rate limit, no observer; counted in
    /// `parapet_prefetches_total`). The new answer replaces the cached one.
    pub async fn prefetch(self, prefetch: Prefetch) {
        let context = Context::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), Protocol::Other);
        let Ok(request) = Self::parse(prefetch.query, &context) else {
            return;
        };
        if let Some(metrics) = &self.inner.metrics {
            metrics.record_prefetch();
        }
        let handoff = Handoff {
            admitted: true,
            key: Some(prefetch.key),
            refresh: true,
        };
        self.core(&request, &context, handoff).await;
    }

    /// The stale answer for `key` when every upstream failed: an expired
    /// entry within `[upstream] serve_stale_secs` that `list` (and
    /// look-alike check `checked`) still lets through, with every TTL 30
    /// and EDE 3 (Stale Answer). `None`: answer SERVFAIL as before.
    pub(super) fn serve_stale(
        &self,
        key: Option<&Key>,
        list: &Arc<Blocklist>,
        checked: u64,
    ) -> Option<(Outcome, Reply)> {
        let bytes = self.inner.answers.as_ref()?.stale(key?, list, checked)?;
        let msg = Message::from_vec(&bytes).ok()?;
        let rcode = msg.metadata.response_code;
        let mut reply = Reply::empty(rcode, true);
        let stale = |mut records: Vec<_>| {
            for r in &mut records {
                let r: &mut hickory_proto::rr::Record = r;
                r.ttl = STALE_TTL;
            }
            records
        };
        reply.answers = stale(msg.answers);
        reply.authorities = stale(msg.authorities);
        reply.additionals = stale(msg.additionals);
        reply.ede = Some((EDE_STALE_ANSWER, String::new()));
        Some((Outcome::Stale { rcode }, reply))
    }
}
