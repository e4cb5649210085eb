//! The exact-match index stored beside the FST: an open-addressed hash table
//! over the FST's keys, so a lookup probes one cache line per label suffix
//! instead of walking FST nodes that are rarely in cache.
//!
//! Each key's 64-bit hash ([`crate::hash`], seeded per artifact) picks its
//! home bucket: 64 bytes, one cache line, eight slots. A slot is a 56-bit
//! fingerprint of the hash (never zero; zero marks an empty slot) and one
//! byte naming the key's value in a small table of distinct FST values.
//! Keys are placed in their home bucket or, when it is full, the next one
//! with room (wrapping), so a probe stops at the first bucket that holds
//! the fingerprint or has an empty slot.
//!
//! Two different names give the same slot only if their 64-bit hashes (or
//! 56-bit fingerprints and bucket) collide: about 2^-56 per probed slot for
//! random names, and the seed is derived from the digests of the compiled
//! sources, so a name cannot be crafted ahead of a compile to collide with
//! another. Keys whose value is not in the table (more than [`MAX_VALUES`]
//! distinct values) or whose hashes collide with another key's are marked
//! [`Hit::Walk`]: the caller walks the FST instead.

use crate::hash::{K, fold};

/// Bytes per bucket: one cache line.
pub(crate) const BUCKET: usize = 64;
/// Slots per bucket.
const SLOTS: usize = BUCKET / 8;
/// Keys per slot at most `LOAD.0 / LOAD.1`.
const LOAD: (usize, usize) = (4, 5);
/// Distinct values the value table holds; the last byte value means "walk".
pub(crate) const MAX_VALUES: usize = 255;
/// The value byte of a key to look up in the FST.
const WALK: u8 = 0xff;
/// Salt of the fingerprint, apart from the bucket choice.
const FINGERPRINT: u64 = 0x6a09_e667_f3bc_c908;

/// What the index knows of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hit {
    /// The key's FST value.
    Value(u64),
    /// The key is present but its value is not in the table: walk the FST.
    Walk,
}

/// The 56-bit fingerprint of a key hash in a slot's high bits, never zero.
#[inline]
fn fingerprint(h: u64) -> u64 {
    (fold(h ^ FINGERPRINT, K) >> 8).max(1)
}

/// The home bucket of a key hash among `buckets`.
#[inline]
fn home(h: u64, buckets: usize) -> usize {
    ((u128::from(h) * buckets as u128) >> 64) as usize
}

/// Build the two sections, (value table, buckets), for keys given as
/// (hash, FST value), each key once.
pub(crate) fn build(keys: &[(u64, u64)]) -> (Vec<u8>, Vec<u8>) {
    if keys.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let mut values: Vec<u64> = Vec::new();
    let mut ids: std::collections::HashMap<u64, u8> = std::collections::HashMap::new();
    let mut by_hash: Vec<(u64, usize)> = keys.iter().enumerate().map(|(i, k)| (k.0, i)).collect();
    by_hash.sort_unstable();
    let collides = |at: usize| {
        let h = by_hash[at].0;
        (at > 0 && by_hash[at - 1].0 == h) || by_hash.get(at + 1).is_some_and(|n| n.0 == h)
    };
    let buckets = (keys.len() * LOAD.1).div_ceil(LOAD.0 * SLOTS);
    let mut slots = vec![0u64; buckets * SLOTS];
    for (at, &(h, i)) in by_hash.iter().enumerate() {
        let value = keys[i].1;
        let id = if collides(at) {
            WALK
        } else if let Some(&id) = ids.get(&value) {
            id
        } else if values.len() < MAX_VALUES {
            let id = values.len() as u8;
            values.push(value);
            ids.insert(value, id);
            id
        } else {
            WALK
        };
        let slot = (fingerprint(h) << 8) | u64::from(id);
        let mut b = home(h, buckets);
        loop {
            let line = &mut slots[b * SLOTS..(b + 1) * SLOTS];
            if let Some(free) = line.iter_mut().find(|s| **s == 0) {
                *free = slot;
                break;
            }
            b = (b + 1) % buckets;
        }
    }
    let values = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let slots = slots.iter().flat_map(|s| s.to_le_bytes()).collect();
    (values, slots)
}

/// The index sections of a loaded artifact (lengths checked by
/// [`crate::artifact::verify`]: whole buckets, whole values).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Index<'a> {
    pub(crate) values: &'a [u8],
    pub(crate) buckets: &'a [u8],
}

impl Index<'_> {
    /// Look a key hash up: `None` when no key has it.
    #[inline]
    pub(crate) fn get(&self, h: u64) -> Option<Hit> {
        let buckets = self.buckets.len() / BUCKET;
        if buckets == 0 {
            return None;
        }
        let fp = fingerprint(h);
        let mut b = home(h, buckets);
        // Every bucket at most once, even in a hostile artifact with no room.
        for _ in 0..buckets {
            let line = &self.buckets[b * BUCKET..(b + 1) * BUCKET];
            let mut room = false;
            let mut found = None;
            for s in line.chunks_exact(8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(s);
                let slot = u64::from_le_bytes(w);
                room |= slot == 0;
                if slot >> 8 == fp {
                    found = Some(slot as u8);
                }
            }
            if let Some(id) = found {
                return Some(self.value(id));
            }
            if room {
                return None;
            }
            b = if b + 1 == buckets { 0 } else { b + 1 };
        }
        None
    }

    /// Start loading the home bucket of a key hash into cache, without
    /// waiting for it: a lookup that may follow finds the line on its way.
    #[inline]
    pub(crate) fn prefetch(&self, h: u64) {
        let buckets = self.buckets.len() / BUCKET;
        if buckets == 0 {
            return;
        }
        let line = self.buckets[home(h, buckets) * BUCKET..].as_ptr();
        // SAFETY: SSE is part of x86-64; a prefetch reads nothing into the
        // program and never faults (and `line` is inside the section).
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(line.cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = line;
    }

    /// The value a slot's byte names; anything not in the table walks.
    #[inline]
    fn value(&self, id: u8) -> Hit {
        let at = usize::from(id) * 8;
        match self.values.get(at..at + 8) {
            Some(v) if id != WALK => {
                let mut w = [0u8; 8];
                w.copy_from_slice(v);
                Hit::Value(u64::from_le_bytes(w))
            }
            _ => Hit::Walk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_key;

    fn index(keys: &[(u64, u64)]) -> (Vec<u8>, Vec<u8>) {
        build(keys)
    }

    #[test]
    fn finds_every_key_and_no_other() {
        let keys: Vec<(u64, u64)> = (0..50_000u64)
            .map(|i| (hash_key(1, format!("com.example{i}").as_bytes()), i % 7))
            .collect();
        let (values, buckets) = index(&keys);
        assert_eq!(values.len(), 7 * 8);
        assert_eq!(buckets.len() % BUCKET, 0);
        let idx = Index {
            values: &values,
            buckets: &buckets,
        };
        for (h, v) in &keys {
            assert_eq!(idx.get(*h), Some(Hit::Value(*v)));
        }
        let strays = (0..50_000u64)
            .filter(|i| {
                idx.get(hash_key(1, format!("org.other{i}").as_bytes()))
                    .is_some()
            })
            .count();
        assert_eq!(strays, 0);
    }

    #[test]
    fn too_many_values_and_equal_hashes_walk_the_fst() {
        let mut keys: Vec<(u64, u64)> = (0..400u64).map(|i| (i * 0x9e37_79b9, i)).collect();
        keys.push((5 * 0x9e37_79b9, 999)); // same hash as key 5
        let (values, buckets) = index(&keys);
        let idx = Index {
            values: &values,
            buckets: &buckets,
        };
        assert_eq!(values.len(), MAX_VALUES * 8);
        assert_eq!(idx.get(5 * 0x9e37_79b9), Some(Hit::Walk));
        let walks = keys
            .iter()
            .filter(|k| idx.get(k.0) == Some(Hit::Walk))
            .count();
        // Keys 5 and its twin, and every key past the table's room.
        assert_eq!(walks, 2 + (399 - MAX_VALUES));
    }

    #[test]
    fn full_or_empty_tables_answer_without_looping() {
        let idx = Index {
            values: &[],
            buckets: &[],
        };
        assert_eq!(idx.get(42), None);
        // A hostile table with every slot taken and no match.
        let full = vec![0xffu8; BUCKET * 3];
        let idx = Index {
            values: &[],
            buckets: &full,
        };
        assert_eq!(idx.get(42), None);
    }
}
