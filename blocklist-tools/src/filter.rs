//! A register-blocked Bloom filter over the domain keys and their
//! *parents*, stored in the artifact. Most queries name nothing on the
//! list; for them the filter answers "no rule" before the larger hash index
//! is touched, and a "maybe" falls through to the index, so the filter
//! never changes a verdict.
//!
//! A key's parent is its last two labels (`example.com` for
//! `www.evil.example.com`), hashed apart from the keys ([`parent`]). A name
//! whose last two labels are no key's parent is covered by no key of two or
//! more labels, so most names are ruled out after hashing two labels and
//! testing one 64-bit word; the rest test each deeper suffix before probing
//! the index with it.
//!
//! Each entry sets [`PROBES`] bits of one word chosen by its hash: a test is
//! one load and one compare. At 10 bits per entry the filter is a fifth of
//! the index's size, so its words stay in cache and within the TLB's reach.

use crate::hash::{K, fold};

/// Bits per entry: about 2% false positives per test with [`PROBES`] bits.
const BITS_PER_KEY: usize = 10;
/// Bits set per entry, all in one 64-bit word.
const PROBES: u32 = 5;
/// Bytes per block (one little-endian u64).
pub(crate) const BLOCK: usize = 8;

/// The entry for a two-label suffix as a parent, from its key hash (the
/// hash after its two labels): apart from the key entry for the same name.
#[inline]
pub(crate) fn parent(h2: u64) -> u64 {
    fold(h2 ^ PARENT, K)
}

/// Salt of the parent entries.
const PARENT: u64 = 0x2545_f491_4f6c_dd1d;

/// Block index (high bits of the hash) and the word of bits the key sets
/// in it (five 6-bit fields of the low bits).
#[inline]
fn locate(h: u64, blocks: usize) -> (usize, u64) {
    let block = ((u128::from(h) * blocks as u128) >> 64) as usize;
    let mut mask = 0u64;
    for i in 0..PROBES {
        mask |= 1 << ((h >> (6 * i)) & 63);
    }
    (block, mask)
}

/// Build the filter section for `hashes` (key hashes from [`hash_key`] and
/// parent entries from [`parent`], each once).
pub(crate) fn build(hashes: &[u64]) -> Vec<u8> {
    if hashes.is_empty() {
        return Vec::new();
    }
    let blocks = (hashes.len() * BITS_PER_KEY).div_ceil(BLOCK * 8);
    let mut words = vec![0u64; blocks];
    for &h in hashes {
        let (block, mask) = locate(h, blocks);
        words[block] |= mask;
    }
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// True unless the key with hash `h` is certainly absent. An empty section
/// (no filter) always says maybe.
#[inline]
pub(crate) fn may_contain(section: &[u8], h: u64) -> bool {
    let blocks = section.len() / BLOCK;
    if blocks == 0 {
        return true;
    }
    let (block, mask) = locate(h, blocks);
    let mut w = [0u8; BLOCK];
    w.copy_from_slice(&section[block * BLOCK..(block + 1) * BLOCK]);
    u64::from_le_bytes(w) & mask == mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_key;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let keys: Vec<String> = (0..20_000).map(|i| format!("com.example{i}")).collect();
        let hashes: Vec<u64> = keys
            .iter()
            .map(|k| parent(hash_key(3, k.as_bytes())))
            .collect();
        let f = build(&hashes);
        assert!(hashes.iter().all(|h| may_contain(&f, *h)));
        let fp = (0..20_000)
            .filter(|i| may_contain(&f, parent(hash_key(3, format!("org.other{i}").as_bytes()))))
            .count();
        assert!(fp < 600, "{fp} false positives in 20000");
        assert!(may_contain(&[], 42));
    }
}
