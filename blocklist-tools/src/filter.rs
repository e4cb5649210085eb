//! A blocked Bloom filter over the domain index's keys, stored in the
//! artifact. Most queries name nothing on the list; for them, hashing the
//! query's label suffixes and probing one cache line each answers "no rule"
//! without walking the FST. A "maybe" falls through to the exact FST walk,
//! so the filter never changes a verdict.

/// Bits per key: about 1% false positives per probe with [`PROBES`] bits.
const BITS_PER_KEY: usize = 10;
/// Bits set per key, all in one 512-bit block (one cache line).
const PROBES: u32 = 7;
/// Bytes per block.
pub(crate) const BLOCK: usize = 64;

/// Start value of the incremental key hash (FNV-1a offset basis).
pub(crate) const SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// Extend the key hash by one (lowercase) byte of the reversed key.
#[inline]
pub(crate) fn step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// Hash of a whole reversed key.
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    key.iter().fold(SEED, |h, b| step(h, *b))
}

/// Final mix (murmur3 fmix64) so every output bit depends on every input bit.
#[inline]
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Block index and the bit positions within it.
#[inline]
fn locate(h: u64, blocks: usize) -> (usize, u64) {
    let h = mix(h);
    let block = ((u128::from(h) * blocks as u128) >> 64) as usize;
    (block, h)
}

#[inline]
fn bit(bits: u64, i: u32) -> usize {
    ((bits.rotate_left(23) >> (i * 9)) & 511) as usize
}

/// Build the filter section for `hashes` (key hashes from [`hash_key`]).
pub(crate) fn build(hashes: &[u64]) -> Vec<u8> {
    if hashes.is_empty() {
        return Vec::new();
    }
    let blocks = (hashes.len() * BITS_PER_KEY).div_ceil(BLOCK * 8);
    let mut words = vec![0u64; blocks * BLOCK / 8];
    for &h in hashes {
        let (block, bits) = locate(h, blocks);
        for i in 0..PROBES {
            let b = bit(bits, i);
            words[block * 8 + b / 64] |= 1 << (b % 64);
        }
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
    let (block, bits) = locate(h, blocks);
    let line = &section[block * BLOCK..(block + 1) * BLOCK];
    (0..PROBES).all(|i| {
        let b = bit(bits, i);
        let at = (b / 64) * 8;
        let mut w = [0u8; 8];
        w.copy_from_slice(&line[at..at + 8]);
        u64::from_le_bytes(w) & (1 << (b % 64)) != 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let keys: Vec<String> = (0..20_000).map(|i| format!("com.example{i}")).collect();
        let hashes: Vec<u64> = keys.iter().map(|k| hash_key(k.as_bytes())).collect();
        let f = build(&hashes);
        assert!(hashes.iter().all(|h| may_contain(&f, *h)));
        let fp = (0..20_000)
            .filter(|i| may_contain(&f, hash_key(format!("org.other{i}").as_bytes())))
            .count();
        assert!(fp < 600, "{fp} false positives in 20000");
        assert!(may_contain(&[], 42));
    }

    #[test]
    fn incremental_hash_equals_whole_key_hash() {
        let h = b"com.example".iter().fold(SEED, |h, b| step(h, *b));
        assert_eq!(h, hash_key(b"com.example"));
    }
}
