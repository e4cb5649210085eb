//! A cache of encoded answers in front of the forwarder, shared by every
//! transport (UDP, TCP, DoT, DoH).
//!
//! A forwarded answer that the full path encoded and sent is kept as its
//! wire bytes, keyed by the lower-cased query name, type, EDNS shape, DO
//! and CD bits. A repeated query is then answered by copying those bytes
//! and patching the ID, flags, question (case as sent), EDNS payload size
//! and the TTL of every record (decremented by the time spent in the
//! cache). An entry is served only until its smallest TTL runs out, and
//! only under the list snapshot it was inspected against: after a reload,
//! an entry's first hit inspects it again (the name, every CNAME target and
//! address) against the new list, and serves it only if that list lets it
//! through too. (The chaos run found that dropping every entry on a reload
//! sent the whole working set back to the upstream every few seconds, and
//! answered SERVFAIL for cached names whenever the upstream was down across
//! a reload.)
//!
//! Only complete answers are kept (never one with TC), so an entry is
//! correct for both transport classes: a stream client (no size limit) may
//! get any entry, a UDP client only one within its size limit; a larger
//! one goes through the full path, which truncates it as before. An answer
//! truncated for a small UDP client is therefore never served to a stream
//! client as if complete.
//!
//! The cache is sharded by key hash, each shard a short-held mutex over a
//! table and S3-FIFO queues ([`s3fifo`]): a scan of one-off names (a pass
//! of new sites, a random-subdomain flood) does not push the popular names
//! out. Each shard is bounded by the bytes its entries cost (allocation
//! plus table and queue slots: `[upstream] cache_memory_mb`) and, when
//! `[upstream] cache_size` is set, by a number of entries.
//!
//! An expired entry stays (until evicted) for `[upstream] serve_stale_secs`:
//! when every upstream fails, the core serves it ([`AnswerCache::stale`],
//! RFC 8767). A hit on an entry hit before, with less than a tenth of its
//! TTL left, asks for one background refresh ([`Hit::prefetch`]).

mod entry;
mod s3fifo;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use ahash::RandomState;
use parapet_blocklist::Blocklist;

use crate::config::UpstreamConfig;
use crate::event::Outcome;
use crate::wire::{Layout, MAX_NAME, WireQuery, patch_reply};
use entry::Entry;
use s3fifo::{Bounds, Shard};

const SHARDS: usize = 16;
/// Longest key: a 255-byte name, the type and one flags byte.
const MAX_KEY: usize = MAX_NAME + 3;
/// Largest answer kept, bytes. Larger answers (rare: long TXT or DNSSEC
/// chains asked over TCP, DoT or DoH) are forwarded each time.
const MAX_KEPT: usize = 4096;
/// A hit with less than 1/`PREFETCH_AT` of the TTL left asks for a refresh.
const PREFETCH_AT: u64 = 10;

/// Cache key: lower-cased wire name, query type, and a flags byte: the
/// EDNS shape (none, without DO, with DO) and the CD bit, so that answers
/// to DNSSEC-aware and plain, checking and non-checking queries never mix.
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
        let edns = match query.edns() {
            None => 0,
            Some((_, false)) => 1,
            Some((_, true)) => 2,
        };
        bytes[len] = edns | (u8::from(query.checking_disabled()) << 2);
        len += 1;
        Some(Key { bytes, len })
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A cache hit: how the answer was first made, and whether the caller
/// should refresh it in the background now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The outcome recorded with the answer.
    pub outcome: Outcome,
    /// A popular answer close to expiry: refresh it (asked once per answer).
    pub prefetch: bool,
}

/// The encoded-answer cache. Cheap to share (`Arc`).
pub struct AnswerCache {
    shards: Box<[Mutex<Shard>]>,
    bounds: Bounds,
    hasher: RandomState,
    /// Entry times are kept as ms after this.
    epoch: Instant,
    /// `[upstream] cache_max_ttl` and `cache_negative_max_ttl`, s.
    max_ttl: u32,
    max_negative_ttl: u32,
    /// `[upstream] prefetch`.
    prefetch: bool,
}

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache")
            .field("bytes", &(self.bounds.bytes * SHARDS))
            .finish_non_exhaustive()
    }
}

impl AnswerCache {
    /// A cache of at most `[upstream] cache_memory_mb` (and `cache_size`
    /// entries when set), kept no longer than the TTL bounds say; `None`
    /// when `cache_size` is 0 (off).
    pub fn new(config: &UpstreamConfig) -> Option<Arc<Self>> {
        if config.cache_size == Some(0) || config.cache_memory_mb == 0 {
            return None;
        }
        let per_shard = |total: u64| {
            usize::try_from(total.div_ceil(SHARDS as u64))
                .unwrap_or(usize::MAX)
                .max(1)
        };
        let bounds = Bounds {
            bytes: per_shard(config.cache_memory_mb.saturating_mul(1 << 20)),
            entries: config.cache_size.map_or(usize::MAX, per_shard),
            stale_ms: u64::from(config.serve_stale_secs) * 1000,
        };
        Some(Arc::new(AnswerCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            bounds,
            hasher: RandomState::new(),
            epoch: Instant::now(),
            max_ttl: config.cache_max_ttl,
            max_negative_ttl: config.cache_negative_max_ttl,
            prefetch: config.prefetch,
        }))
    }

    /// The key's hash and its shard.
    fn shard(&self, key: &[u8]) -> (u64, &Mutex<Shard>) {
        let h = self.hasher.hash_one(key);
        (h, &self.shards[(h as usize) % SHARDS])
    }

    /// Entries held and bytes charged, over all shards (for the gauges).
    pub fn usage(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(n, b), s| match s.lock() {
            Ok(s) => (n + s.len(), b + s.bytes()),
            Err(_) => (n, b),
        })
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
    ) -> Option<Hit> {
        self.answer_checked(key, query, list, 0, max_size, out)
    }

    /// Answer `query` from the cache into `out` if a fresh entry made
    /// against `list`, whose name passed look-alike check `checked`, exists
    /// and fits in `max_size`.
    pub fn answer_checked(
        &self,
        key: &Key,
        query: &WireQuery<'_>,
        list: &Arc<Blocklist>,
        checked: u64,
        max_size: usize,
        out: &mut Vec<u8>,
    ) -> Option<Hit> {
        let now_ms = self.now_ms();
        let (hash, shard) = self.shard(key.as_bytes());
        let mut shard = shard.lock().ok()?;
        let e = shard.get_mut(hash, key.as_bytes())?;
        if now_ms >= e.expires_ms() || e.response().len() > max_size || e.checked != checked as u32
        {
            return None;
        }
        if !std::ptr::eq(e.list.as_ptr(), Arc::as_ptr(list)) {
            // A reload since: inspect again, then keep it under `list`.
            if !e.passes(list) {
                return None;
            }
            e.list = Arc::downgrade(list);
        }
        out.clear();
        out.extend_from_slice(e.response());
        let age = u32::try_from((now_ms - e.inserted_ms) / 1000).unwrap_or(u32::MAX);
        patch_reply(out, query, e.ttl_offsets(), age, e.opt_at);
        let hit_before = Shard::bump(e);
        let left_ms = e.expires_ms() - now_ms;
        let prefetch = self.prefetch
            && hit_before
            && !e.prefetching
            && left_ms * PREFETCH_AT < u64::from(e.keep) * 1000;
        e.prefetching |= prefetch;
        Some(Hit {
            outcome: e.outcome,
            prefetch,
        })
    }

    /// The answer kept for `key` if it expired no longer than
    /// `[upstream] serve_stale_secs` ago (or is still fresh), its name
    /// passed look-alike check `checked`, and `list` lets it through
    /// (inspected again if made against another list): the response bytes
    /// as first sent, for the caller to serve as stale (RFC 8767).
    pub fn stale(&self, key: &Key, list: &Arc<Blocklist>, checked: u64) -> Option<Vec<u8>> {
        let now_ms = self.now_ms();
        let (hash, shard) = self.shard(key.as_bytes());
        let mut shard = shard.lock().ok()?;
        let e = shard.get_mut(hash, key.as_bytes())?;
        if now_ms >= e.expires_ms() + self.bounds.stale_ms || e.checked != checked as u32 {
            return None;
        }
        if !std::ptr::eq(e.list.as_ptr(), Arc::as_ptr(list)) {
            if !e.passes(list) {
                return None;
            }
            e.list = Arc::downgrade(list);
        }
        Some(e.response().to_vec())
    }

    /// [`AnswerCache::insert_checked`] under look-alike check 0 (tests).
    #[cfg(test)]
    pub fn insert(&self, key: &Key, response: &[u8], list: &Arc<Blocklist>, outcome: Outcome) {
        self.insert_checked(key, response, list, 0, outcome);
    }

    /// Keep `response` (as sent to the query with `key`, whose name passed
    /// look-alike check `checked`) for repeats, if it is a complete,
    /// cacheable answer with a positive smallest TTL and at most
    /// [`MAX_KEPT`] bytes. An answer kept for the same key is replaced
    /// (keeping its place in the queues and its hit count).
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
            // Keys are at most 258 bytes, responses at most 4 KiB.
            key_len: key.len() as u16,
            response_len: response.len() as u16,
            opt_at: layout.opt_at.unwrap_or(0),
            keep,
            inserted_ms: now_ms,
            list: Arc::downgrade(list),
            checked: checked as u32,
            outcome,
            stamp: 0,
            freq: 0,
            in_main: false,
            prefetching: false,
        };
        let (hash, shard) = self.shard(key);
        if let Ok(mut shard) = shard.lock() {
            shard.insert(hash, entry, now_ms, &self.bounds);
        }
    }

    /// Milliseconds since the cache's epoch.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests;
