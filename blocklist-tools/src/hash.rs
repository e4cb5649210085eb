//! The key hash shared by the compiler and the matcher: labels are fed
//! right to left (the order of the reversed key), eight bytes per step,
//! lowercased on the way, so a query's suffix hashes come out one label at a
//! time. The chain starts from a per-artifact seed (see [`start`]).

/// Mixed into the artifact's seed to start a chain.
const SEED: u64 = 0xcbf2_9ce4_8422_2325;
/// Multiplier of the word step (an odd constant with mixed bits).
pub(crate) const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hash of the empty name under an artifact's seed: where every
/// chain of [`step_label`] calls starts.
#[inline]
pub(crate) fn start(seed: u64) -> u64 {
    fold(seed ^ SEED, K)
}

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
pub(crate) fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Extend the key hash by one label (any case; hashed lowercase), eight
/// bytes per step; the last step's multiplier also depends on the label's
/// length, so a label of up to seven bytes costs one multiplication.
/// Labels are fed right to left, as in the reversed key.
#[inline]
pub(crate) fn step_label(h: u64, label: &[u8]) -> u64 {
    step_label_seen(h, label, &mut 0)
}

/// [`step_label`], also or-ing every word of the label into `seen` (so
/// `seen & HIGH_BITS` tells whether a non-ASCII byte went by).
#[inline]
pub(crate) fn step_label_seen(mut h: u64, label: &[u8], seen: &mut u64) -> u64 {
    let mut chunks = label.chunks_exact(8);
    for c in chunks.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        *seen |= w;
        h = fold(h ^ lower8(w), K);
    }
    let tail = tail_word(chunks.remainder());
    *seen |= tail;
    let by_length = K ^ ((label.len() as u64) << 40);
    fold(h ^ lower8(tail), by_length)
}

/// The high bit of every byte of a word: set in `seen` for non-ASCII input.
pub(crate) const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

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

/// Hash of a whole reversed key (`com.example.www`) under an artifact's
/// seed: its labels in order.
pub(crate) fn hash_key(seed: u64, key: &[u8]) -> u64 {
    key.split(|b| *b == b'.').fold(start(seed), step_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_hash_equals_whole_key_hash_in_any_case() {
        let h = step_label(step_label(start(7), b"COM"), b"Example");
        assert_eq!(h, hash_key(7, b"com.example"));
        assert_ne!(h, hash_key(8, b"com.example"), "the seed counts");
        let long = b"a-very-long-label-of-more-than-eight-bytes_0123456789";
        let upper = long.to_ascii_uppercase();
        assert_eq!(step_label(start(0), &upper), hash_key(0, long));
        assert_ne!(hash_key(0, b"com.example"), hash_key(0, b"com.exampl"));
        assert_ne!(hash_key(0, b"ab"), hash_key(0, b"ab\0"));
        // Every tail length 0-7 and every byte position counts.
        let base = b"abcdefghijklmno";
        for len in 0..base.len() {
            for i in 0..len {
                let mut other = base[..len].to_vec();
                other[i] = b'z';
                assert_ne!(
                    hash_key(0, &base[..len]),
                    hash_key(0, &other),
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
