//! A register-blocked Bloom filter over the domain index's keys, stored in
//! the artifact. Most queries name nothing on the list; for them, hashing
//! the query's label suffixes and testing one 64-bit word each answers "no
//! rule" without walking the FST. A "maybe" falls through to the exact FST
//! walk, so the filter never changes a verdict.
//!
//! Besides the keys, the filter holds every key's *parent*: its last two
//! labels (`example.com` for `www.evil.example.com`), hashed apart from the
//! keys ([`parent`]). A name whose last two labels are no key's parent is
//! covered by no key of two or more labels, so most names are ruled out by
//! one test before their other labels are even hashed.
//!
//! Each entry sets [`PROBES`] bits of one word chosen by its hash: a test is
//! one load and one compare (a cache-line-blocked filter with the same bits
//! per key has fewer false positives but reads seven words per test).

/// Bits per key: about 2% false positives per test with [`PROBES`] bits.
const BITS_PER_KEY: usize = 10;
/// Bits set per key, all in one 64-bit word.
const PROBES: u32 = 5;
/// Bytes per block (one little-endian u64).
pub(crate) const BLOCK: usize = 8;

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

/// The entry for a two-label suffix as a parent, from its key hash (the
/// hash after its two labels): apart from the key entry for the same name.
#[inline]
pub(crate) fn parent(h2: u64) -> u64 {
    fold(h2 ^ PARENT, K)
}

/// Salt of the parent entries.
const PARENT: u64 = 0x2545_f491_4f6c_dd1d;

/// Hash of a whole reversed key (`example.evil.www`): its labels in order.
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    key.split(|b| *b == b'.').fold(SEED, step_label)
}

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
