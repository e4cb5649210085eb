//! A cache of encoded answers in front of the forwarder, shared by every
//! transport (UDP, TCP, DoT, DoH).
//!
//! A forwarded answer that the full path encoded and sent is kept as its
//! wire bytes, keyed by the lower-cased query name, type and EDNS shape. A
//! repeated query is then answered by copying those bytes and patching the
//! ID, flags, question (case as sent), EDNS payload size and the TTL of
//! every record (decremented by the time spent in the cache). An entry is
//! served only until its smallest TTL runs out, and only under the list
//! snapshot it was inspected against: after a reload, an entry's first hit
//! inspects it again (the name, every CNAME target and address) against
//! the new list, and serves it only if that list lets it through too. (The
//! chaos run found that dropping every entry on a reload sent the whole
//! working set back to the upstream every few seconds, and answered
//! SERVFAIL for cached names whenever the upstream was down across a
//! reload.)
//!
//! Only complete answers are kept (never one with TC), so an entry is
//! correct for both transport classes: a stream client (no size limit) may
//! get any entry, a UDP client only one within its size limit; a larger
//! one goes through the full path, which truncates it as before. An answer
//! truncated for a small UDP client is therefore never served to a stream
//! client as if complete.
//!
//! The cache is sharded by key hash, each shard a short-held mutex over a
//! bounded set; the policy check before it stays lock-free. An entry is one
//! allocation (key, response, TTL offsets) plus 72 bytes in the table. A
//! shard drops its expired and stale entries when full and after as many
//! inserts as it holds entries, and shrinks a table a burst left mostly
//! empty, so memory follows the live answers, not the peak.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use ahash::RandomState;
use hickory_proto::op::Message;
use parapet_blocklist::{Blocklist, Verdict};

use crate::config::UpstreamConfig;
use crate::event::Outcome;
use crate::policy;
use crate::wire::{Layout, MAX_NAME, WireQuery, patch_reply};

const SHARDS: usize = 16;
/// A shard is swept after as many inserts as it holds entries (amortised
/// O(1) per insert), but not more often than every this many.
const MIN_SWEEP: usize = 64;
/// Longest key: a 255-byte name, the type and one flags byte.
const MAX_KEY: usize = MAX_NAME + 3;
/// Largest answer kept, bytes. Larger answers (rare: long TXT or DNSSEC
/// chains asked over TCP, DoT or DoH) are forwarded each time, so the
/// cache's memory stays within about `cache_size` × 4 KiB even when a
/// client asks for large answers on purpose.
const MAX_KEPT: usize = 4096;

/// Cache key: lower-cased wire name, query type, EDNS shape.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    bytes: [u8; MAX_KEY],
    len: usize,
}

impl Key {
    /// The key of a query.
    pub fn of(query: &WireQuery<'_>) -> Option<Key> {
        let mut bytes = [0u8; MAX_KEY];
        let mut len = 0;
        for label in query.labels() {
            // Room for the root label after it (see `WireQuery::parse`).
            if len + 1 + label.len() > MAX_NAME - 1 {
                return None;
            }
            bytes[len] = label.len() as u8;
            for (dst, src) in bytes[len + 1..].iter_mut().zip(label) {
                *dst = src.to_ascii_lowercase();
            }
            len += 1 + label.len();
        }
        bytes[len] = 0;
        len += 1;
        bytes[len..len + 2].copy_from_slice(&u16::from(query.qtype).to_be_bytes());
        len += 2;
        bytes[len] = match query.edns() {
            None => 0,
            Some((_, false)) => 1,
            Some((_, true)) => 2,
        };
        len += 1;
        Some(Key { bytes, len })
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// One cached answer: a single allocation holding the key, the response
/// and the TTL offsets, plus a few fixed fields (72 bytes in the map).
struct Entry {
    /// Key bytes, then the response as first sent (ID and case of that
    /// query), then the offset of the TTL field of every record except OPT
    /// (big-endian `u16`s).
    data: Box<[u8]>,
    key_len: u16,
    response_len: u16,
    /// Offset of the OPT record's class (payload size) field; 0 for none.
    opt_at: u16,
    /// How long the answer may be kept, s.
    keep: u32,
    /// When it was stored, ms after the cache's epoch.
    inserted_ms: u64,
    /// The list snapshot the answer was inspected against.
    list: Weak<Blocklist>,
    /// The look-alike check the name passed (the low 32 bits of
    /// [`crate::lookalike::Lookalikes::generation`]: a reload a second
    /// for a century to wrap).
    checked: u32,
    outcome: Outcome,
}

impl Entry {
    fn key(&self) -> &[u8] {
        &self.data[..usize::from(self.key_len)]
    }

    fn response(&self) -> &[u8] {
        let start = usize::from(self.key_len);
        &self.data[start..start + usize::from(self.response_len)]
    }

    fn ttl_offsets(&self) -> impl Iterator<Item = usize> + '_ {
        let start = usize::from(self.key_len) + usize::from(self.response_len);
        self.data[start..]
            .chunks_exact(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn expires_ms(&self) -> u64 {
        self.inserted_ms + u64::from(self.keep) * 1000
    }

    /// Still worth keeping at `now_ms`: not expired, its list still loaded.
    fn is_live(&self, now_ms: u64) -> bool {
        now_ms < self.expires_ms() && self.list.strong_count() > 0
    }

    /// Whether this answer, inspected against an earlier list, passes
    /// `list` too: a forwarded answer whose name no rule of `list` covers
    /// and whose CNAME targets and addresses `list` does not block. Any
    /// other outcome, or a name with an exception, takes the full path.
    fn passes(&self, list: &Blocklist) -> bool {
        if !matches!(
            self.outcome,
            Outcome::Forwarded { .. } | Outcome::Cached { .. }
        ) {
            return false;
        }
        let Ok(msg) = Message::from_vec(self.response()) else {
            return false;
        };
        let Some(query) = msg.queries.first() else {
            return false;
        };
        matches!(policy::check_name(list, &query.name), Verdict::None)
            && policy::inspect_answers(list, &msg.answers).is_none()
    }
}

// The map is a set of entries looked up by their key bytes.
impl std::hash::Hash for Entry {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Entry {}

impl std::borrow::Borrow<[u8]> for Entry {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

/// One shard: entries by key, and how many were stored since expired and
/// stale ones were last swept out.
struct Shard {
    entries: HashSet<Entry, RandomState>,
    inserts: usize,
}

impl Shard {
    /// Drop expired and stale entries, and give back table memory a burst
    /// left behind (a table more than four times what it holds).
    fn sweep(&mut self, now_ms: u64) {
        self.entries.retain(|e| e.is_live(now_ms));
        self.inserts = 0;
        let len = self.entries.len();
        if self.entries.capacity() > 4 * len.max(MIN_SWEEP) {
            self.entries.shrink_to(2 * len);
        }
    }
}

/// The encoded-answer cache. Cheap to share (`Arc`).
pub struct AnswerCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
    /// Entry times are kept as ms after this.
    epoch: Instant,
    /// `[upstream] cache_max_ttl` and `cache_negative_max_ttl`, s.
    max_ttl: u32,
    max_negative_ttl: u32,
}

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache")
            .field("capacity", &(self.per_shard * SHARDS))
            .finish_non_exhaustive()
    }
}

impl AnswerCache {
    /// A cache of at most about `[upstream] cache_size` answers, kept no
    /// longer than the upstream cache would; `None` when that is 0 (off).
    pub fn new(config: &UpstreamConfig) -> Option<Arc<Self>> {
        let capacity = config.cache_size;
        if capacity == 0 {
            return None;
        }
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Some(Arc::new(AnswerCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        entries: HashSet::with_hasher(RandomState::new()),
                        inserts: 0,
                    })
                })
                .collect(),
            per_shard,
            hasher: RandomState::new(),
            epoch: Instant::now(),
            max_ttl: config.cache_max_ttl,
            max_negative_ttl: config.cache_negative_max_ttl,
        }))
    }

    fn shard(&self, key: &[u8]) -> &Mutex<Shard> {
        let h = self.hasher.hash_one(key) as usize;
        &self.shards[h % SHARDS]
    }

    /// [`AnswerCache::answer_checked`] under look-alike check 0 (tests).
    #[cfg(test)]
    pub fn answer(
        &self,
        key: &Key,
        query: &WireQuery<'_>,
        list: &Arc<Blocklist>,
        max_size: usize,
        out: &mut Vec<u8>,
    ) -> Option<Outcome> {
        self.answer_checked(key, query, list, 0, max_size, out)
    }

    /// Answer `query` from the cache into `out` if a fresh entry made
    /// against `list`, whose name passed look-alike check `checked`, exists
    /// and fits in `max_size`; returns the outcome recorded with it.
    pub fn answer_checked(
        &self,
        key: &Key,
        query: &WireQuery<'_>,
        list: &Arc<Blocklist>,
        checked: u64,
        max_size: usize,
        out: &mut Vec<u8>,
    ) -> Option<Outcome> {
        let now_ms = self.now_ms();
        let mut map = self.shard(key.as_bytes()).lock().ok()?;
        let e = map.entries.get(key.as_bytes())?;
        if now_ms >= e.expires_ms() || e.response().len() > max_size || e.checked != checked as u32
        {
            return None;
        }
        if Weak::as_ptr(&e.list) != Arc::as_ptr(list) {
            // A reload since: inspect again, then keep it under `list`.
            if !e.passes(list) {
                return None;
            }
            let mut e = map.entries.take(key.as_bytes())?;
            e.list = Arc::downgrade(list);
            map.entries.insert(e);
        }
        let e = map.entries.get(key.as_bytes())?;
        let response = e.response();
        out.clear();
        out.extend_from_slice(response);
        let age = u32::try_from((now_ms - e.inserted_ms) / 1000).unwrap_or(u32::MAX);
        let opt_at = e.opt_at;
        let outcome = e.outcome;
        patch_reply(out, query, e.ttl_offsets(), age, opt_at);
        drop(map);
        Some(outcome)
    }

    /// [`AnswerCache::insert_checked`] under look-alike check 0 (tests).
    #[cfg(test)]
    pub fn insert(&self, key: &Key, response: &[u8], list: &Arc<Blocklist>, outcome: Outcome) {
        self.insert_checked(key, response, list, 0, outcome);
    }

    /// Keep `response` (as sent to the query with `key`, whose name passed
    /// look-alike check `checked`) for repeats, if it is a complete,
    /// cacheable answer with a positive smallest TTL and at most
    /// [`MAX_KEPT`] bytes.
    pub fn insert_checked(
        &self,
        key: &Key,
        response: &[u8],
        list: &Arc<Blocklist>,
        checked: u64,
        outcome: Outcome,
    ) {
        if response.len() > MAX_KEPT {
            return;
        }
        let Some(layout) = Layout::of(response) else {
            return;
        };
        let cap = if layout.negative {
            self.max_negative_ttl
        } else {
            self.max_ttl
        };
        let keep = layout.min_ttl.min(cap);
        if keep == 0 {
            return;
        }
        let key = key.as_bytes();
        let mut data = Vec::with_capacity(key.len() + response.len() + 2 * layout.ttl_at.len());
        data.extend_from_slice(key);
        data.extend_from_slice(response);
        for at in &layout.ttl_at {
            data.extend_from_slice(&at.to_be_bytes());
        }
        let now_ms = self.now_ms();
        let entry = Entry {
            data: data.into_boxed_slice(),
            // Keys are at most 258 bytes, responses at most 64 KiB (Layout).
            key_len: key.len() as u16,
            response_len: response.len() as u16,
            opt_at: layout.opt_at.unwrap_or(0),
            keep,
            inserted_ms: now_ms,
            list: Arc::downgrade(list),
            checked: checked as u32,
            outcome,
        };
        let Ok(mut shard) = self.shard(key).lock() else {
            return;
        };
        let full = shard.entries.len() >= self.per_shard && !shard.entries.contains(key);
        if full || shard.inserts >= shard.entries.len().max(MIN_SWEEP) {
            shard.sweep(now_ms);
        }
        if shard.entries.len() >= self.per_shard && !shard.entries.contains(key) {
            // Still full of live entries: drop an arbitrary one.
            let first = shard
                .entries
                .iter()
                .next()
                .map(|e| Box::<[u8]>::from(e.key()));
            if let Some(k) = first {
                shard.entries.remove(&*k);
            }
        }
        shard.inserts += 1;
        shard.entries.replace(entry);
    }

    /// Milliseconds since the cache's epoch.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests;
