//! One shard of the answer cache under S3-FIFO eviction (Yang et al.,
//! SOSP 2023): new answers enter a small FIFO; those hit while there move
//! to the main FIFO, the rest leave and leave a ghost (their key's hash);
//! a key that comes back while its ghost is remembered goes straight to
//! main. Main is a CLOCK: an entry hit since it last came round gets
//! another round. A scan of one-off names therefore only ever churns the
//! small queue, and the popular names in main stay.
//!
//! A hit only bumps a 2-bit counter in the entry (under the shard's lock,
//! which a hit holds anyway); the queues move on insert only. Answers past
//! their serve-stale window leave through the queue heads: every insert
//! drops such entries from both heads ([`DRAIN`] at most), and eviction
//! drops them before any live one it meets.

use std::collections::{HashMap, HashSet, VecDeque};

use ahash::RandomState;

use super::entry::{Entry, GHOST_COST};

/// Dead entries dropped from each queue head per insert, at most.
const DRAIN: usize = 4;
/// Highest value of an entry's hit counter.
const MAX_FREQ: u8 = 3;

/// A queue slot: the key's hash and the entry's stamp. A slot whose entry
/// is gone or was replaced by a newer insertion (another stamp) is skipped.
type Slot = (u64, u32);

/// What a shard may hold.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    /// Bytes of entries and ghosts ([`Entry::charge`], [`GHOST_COST`]).
    pub(super) bytes: usize,
    /// Entries (`[upstream] cache_size` when set).
    pub(super) entries: usize,
    /// How long past its expiry an entry is still worth keeping, ms
    /// (`[upstream] serve_stale_secs`).
    pub(super) stale_ms: u64,
}

/// One shard: entries by the hash of their key, the two queues, the ghosts.
#[derive(Default)]
pub(super) struct Shard {
    map: HashMap<u64, Entry, RandomState>,
    small: VecDeque<Slot>,
    main: VecDeque<Slot>,
    ghost: VecDeque<u64>,
    ghosts: HashSet<u64, RandomState>,
    /// Charge of every entry, and of those in the small queue.
    entry_bytes: usize,
    small_bytes: usize,
    next_stamp: u32,
}

impl Shard {
    /// Entries held.
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes charged for what the shard holds.
    pub(super) fn bytes(&self) -> usize {
        self.entry_bytes + self.ghost.len() * GHOST_COST
    }

    /// The entry for `key` (whose hash is `hash`).
    pub(super) fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        self.map.get_mut(&hash).filter(|e| e.key() == key)
    }

    /// Count a hit on `entry`; returns whether it had been hit before.
    pub(super) fn bump(entry: &mut Entry) -> bool {
        let before = entry.freq;
        entry.freq = (before + 1).min(MAX_FREQ);
        before > 0
    }

    /// Store `entry` under `hash`: in place of the entry for the same key
    /// (keeping its place and hit count), else as a new entry; then drop
    /// dead entries at the queue heads and evict down to `bounds`.
    pub(super) fn insert(&mut self, hash: u64, mut entry: Entry, now_ms: u64, bounds: &Bounds) {
        match self.map.get_mut(&hash) {
            Some(old) if old.key() == entry.key() => {
                entry.stamp = old.stamp;
                entry.freq = old.freq;
                entry.in_main = old.in_main;
                let (was, now) = (old.charge(), entry.charge());
                *old = entry;
                self.entry_bytes = self.entry_bytes - was + now;
                if !self.map[&hash].in_main {
                    self.small_bytes = self.small_bytes - was + now;
                }
            }
            // Another key with the same 64-bit hash: it makes room.
            Some(_) => {
                self.remove(hash);
                self.add(hash, entry);
            }
            None => self.add(hash, entry),
        }
        self.drain(now_ms, bounds.stale_ms);
        while self.map.len() > bounds.entries || self.bytes() > bounds.bytes {
            if self.ghost.len() > self.map.len() || !self.evict(now_ms, bounds) {
                self.forget_ghost();
            }
            if self.map.is_empty() && self.ghost.is_empty() {
                break;
            }
        }
        let len = self.map.len();
        if self.map.capacity() > 4 * len.max(64) {
            self.map.shrink_to(2 * len);
        }
        while self.ghost.len() > len {
            self.forget_ghost();
        }
    }

    /// A new entry: to main if its ghost is remembered, else to small.
    fn add(&mut self, hash: u64, mut entry: Entry) {
        self.next_stamp = self.next_stamp.wrapping_add(1);
        entry.stamp = self.next_stamp;
        entry.freq = 0;
        entry.in_main = self.ghosts.remove(&hash);
        let charge = entry.charge();
        self.entry_bytes += charge;
        if entry.in_main {
            self.main.push_back((hash, entry.stamp));
        } else {
            self.small_bytes += charge;
            self.small.push_back((hash, entry.stamp));
        }
        self.map.insert(hash, entry);
    }

    /// Drop the entry under `hash` (its queue slot is skipped later).
    fn remove(&mut self, hash: u64) -> Option<Entry> {
        let e = self.map.remove(&hash)?;
        self.entry_bytes -= e.charge();
        if !e.in_main {
            self.small_bytes -= e.charge();
        }
        Some(e)
    }

    /// The entry a queue slot stands for, if still the same insertion.
    fn live_slot(&self, (hash, stamp): Slot) -> Option<&Entry> {
        self.map.get(&hash).filter(|e| e.stamp == stamp)
    }

    fn forget_ghost(&mut self) {
        if let Some(h) = self.ghost.pop_front() {
            self.ghosts.remove(&h);
        }
    }

    /// Drop skipped slots and entries past their stale window from the
    /// heads of both queues, [`DRAIN`] each at most.
    fn drain(&mut self, now_ms: u64, stale_ms: u64) {
        for main in [false, true] {
            for _ in 0..DRAIN {
                let queue = if main { &self.main } else { &self.small };
                let Some(&slot) = queue.front() else { break };
                match self.live_slot(slot) {
                    Some(e) if now_ms < e.expires_ms() + stale_ms => break,
                    Some(_) => {
                        self.remove(slot.0);
                    }
                    None => {}
                }
                if main {
                    self.main.pop_front();
                } else {
                    self.small.pop_front();
                }
            }
        }
    }

    /// Evict one entry; `false` when there is none.
    fn evict(&mut self, now_ms: u64, bounds: &Bounds) -> bool {
        loop {
            // Small gives way while it holds a tenth of the shard or more.
            let from_small = !self.small.is_empty()
                && (self.small_bytes * 10 >= self.entry_bytes || self.main.is_empty());
            let queue = if from_small {
                &mut self.small
            } else {
                &mut self.main
            };
            let Some(slot) = queue.pop_front() else {
                return false;
            };
            let Some(e) = self.map.get_mut(&slot.0).filter(|e| e.stamp == slot.1) else {
                continue;
            };
            let alive = now_ms < e.expires_ms() + bounds.stale_ms;
            if alive && e.freq > 0 {
                if from_small {
                    // Hit while on probation: promoted with a fresh count.
                    e.freq = 0;
                    e.in_main = true;
                    self.small_bytes -= e.charge();
                } else {
                    e.freq -= 1;
                }
                self.main.push_back(slot);
                continue;
            }
            self.remove(slot.0);
            if from_small && alive {
                self.ghost.push_back(slot.0);
                self.ghosts.insert(slot.0);
            }
            return true;
        }
    }

    /// Test access: every entry.
    #[cfg(test)]
    pub(super) fn entries_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.map.values_mut()
    }

    /// Test access: the table's capacity.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.map.capacity()
    }
}
