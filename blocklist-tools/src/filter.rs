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

/// Start value of the incremental key hash.
pub(crate) const SEED: u64 = 0xcbf2_9ce4_8422_2325;
/// Multiplier of the word step (an odd constant with mixed bits).
const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// ASCII-lowercase eight bytes at once; other bytes are left as they are.
#[inline]
fn lower8(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let x = w & (0x7f * ONES);
    let ge_a = x.wrapping_add(0x3f * ONES); // high bit set where x >= 'A'
    let gt_z = x.wrapping_add(0x25 * ONES); // high bit set where x > 'Z'
    let upper = ge_a & !gt_z & !w & (0x80 * ONES);
    w | (upper >> 2)
}

/// Folded multiply: the high and low halves of the 128-bit product, xored.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Extend the key hash by one label (any case; hashed lowercase), eight
/// bytes per step. Labels are fed right to left, as in the reversed key.
#[inline]
pub(crate) fn step_label(mut h: u64, label: &[u8]) -> u64 {
    let mut chunks = label.chunks_exact(8);
    for c in chunks.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = fold(h ^ lower8(u64::from_le_bytes(w)), K);
    }
    h = fold(h ^ lower8(tail_word(chunks.remainder())), K);
    fold(h ^ label.len() as u64, K.rotate_left(29))
}

/// The last 0-7 bytes of a label as one word, read with at most two loads
/// (no byte-wise copy through the stack, which stalls store forwarding).
/// Together with the label length it determines every byte.
#[inline]
fn tail_word(t: &[u8]) -> u64 {
    let n = t.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let hi = u32::from_le_bytes([t[n - 4], t[n - 3], t[n - 2], t[n - 1]]);
        u64::from(lo) | (u64::from(hi) << 32)
    } else if n > 0 {
        u64::from(t[0]) | (u64::from(t[n / 2]) << 8) | (u64::from(t[n - 1]) << 16)
    } else {
        0
    }
}

/// Hash of a whole reversed key (`example.evil.www`): its labels in order.
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    key.split(|b| *b == b'.').fold(SEED, step_label)
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
    // No early exit: every bit is read, so the loads of several probes
    // issued back to back overlap instead of waiting on a branch.
    let mut all = 1u64;
    for i in 0..PROBES {
        let b = bit(bits, i);
        let at = (b / 64) * 8;
        let mut w = [0u8; 8];
        w.copy_from_slice(&line[at..at + 8]);
        all &= u64::from_le_bytes(w) >> (b % 64);
    }
    all & 1 != 0
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
    fn incremental_hash_equals_whole_key_hash_in_any_case() {
        let h = step_label(step_label(SEED, b"COM"), b"Example");
        assert_eq!(h, hash_key(b"com.example"));
        let long = b"a-very-long-label-of-more-than-eight-bytes_0123456789";
        let upper = long.to_ascii_uppercase();
        assert_eq!(step_label(SEED, &upper), hash_key(long));
        assert_ne!(hash_key(b"com.example"), hash_key(b"com.exampl"));
        assert_ne!(hash_key(b"ab"), hash_key(b"ab\0"));
        // Every tail length 0-7 and every byte position counts.
        let base = b"abcdefghijklmno";
        for len in 0..base.len() {
            for i in 0..len {
                let mut other = base[..len].to_vec();
                other[i] = b'z';
                assert_ne!(
                    hash_key(&base[..len]),
                    hash_key(&other),
                    "len {len} pos {i}"
                );
            }
        }
    }

    #[test]
    fn lowercasing_touches_only_ascii_capitals() {
        for b in 0..=255u8 {
            let w = u64::from_le_bytes([b; 8]);
            let want = u64::from_le_bytes([b.to_ascii_lowercase(); 8]);
            assert_eq!(lower8(w), want, "byte {b:#x}");
        }
    }
}
