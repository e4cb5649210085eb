//! The cheap first test of every name: one pass over its bytes that rules
//! out, without folding a label or probing the skeleton tables, the names
//! that cannot match any detection class. What it lets through goes on to
//! the trusted-domain probe and the full check; it never rejects a name the
//! full check would catch (the `prefilter_never_rejects_a_hit` test holds
//! it to that over the benign list and generated typosquats).
//!
//! Two necessary conditions, one per family of classes:
//!
//! - **Same skeleton** (skeleton, flattened, lure, subdomain classes): the
//!   folded piece begins at a word start (after `.` or `-`, or the name's
//!   start), not in the last label, and spells a whole key. The pass folds
//!   every byte through a table (separators dropped, `rn`/`nn`/`vv` left
//!   uncollapsed), probes each word start's first [`HEAD`] symbols in a
//!   64 Kbit filter of the keys' spellings (every way to spell `m` and `w`),
//!   and only on a filter hit compares the spellings, which must end at a
//!   label boundary or break at a hyphen (where a lure word may follow).
//!   A word shorter than a head followed by a hyphen passes when it begins
//!   a spelling (`gov-login-uk`); so does `xn--`.
//! - **One edit** (on the registrable label, or the whole name): its
//!   length is within one of a protected label's, the two differ by at
//!   most two letters as sets (a 32-bit mask each), and for a label
//!   shorter than [`super::MIN_FIRST_EDIT_LEN`] the first letter is kept
//!   (or the first two swapped).

use std::collections::HashMap;

use ahash::RandomState;

use super::fold::Folded;

/// Symbols of a word start probed in the head filter.
const HEAD: usize = 5;
/// Longest name handled (a DNS name is at most 255 bytes).
const MAX_NAME: usize = 256;
/// Longest label length with one-edit entries.
const MAX_EDIT_LEN: usize = 64;
/// `after` flag: a hyphen (or `_`) follows the symbol.
const HYPHEN: u8 = 1;
/// `after` flag: a dot, or the end of the name, follows the symbol.
const DOT: u8 = 2;

/// A protected label as the one-edit test sees it.
#[derive(Debug, Clone, Copy)]
struct EditEntry {
    /// Letters present ([`Prefilter::mask_bit`]).
    mask: u32,
    /// First two bytes when the first letter must be kept, else `None`.
    first: Option<(u8, u8)>,
}

/// The precomputed first test (see the module docs).
#[derive(Debug)]
pub(super) struct Prefilter {
    /// Full skeleton byte of every byte; 0 for a separator.
    fold: [u8; 256],
    /// Light skeleton byte of every byte; 0 for a separator.
    light: [u8; 256],
    /// Every spelling of every key (`m` also as `rn`, `nn`; `w` as `vv`).
    spellings: Vec<Box<[u8]>>,
    /// Packed head ([`pack`]) → indices into `spellings`.
    heads: HashMap<u64, Vec<u32>, RandomState>,
    /// A bit per hashed head and per hashed word prefix.
    filter: Box<[u64; 1024]>,
    /// Head lengths in use (bit `n` for length `n`): keys shorter than
    /// [`HEAD`] have shorter heads.
    head_lens: u8,
    /// Packed proper prefixes of the heads (short words before a hyphen).
    prefixes: HashMap<u64, (), RandomState>,
    /// One-edit entries by label length: a protected label of length `n`
    /// is listed under `n - 1`, `n` and `n + 1`.
    edits: Vec<Vec<EditEntry>>,
}

impl Default for Prefilter {
    fn default() -> Self {
        let mut fold = [0u8; 256];
        let mut light = [0u8; 256];
        for b in 0..=255u8 {
            let mut full = Folded::default();
            full.push_text(&[b]);
            fold[usize::from(b)] = full.as_bytes().first().copied().unwrap_or(0);
            let mut skeleton = Folded::light();
            skeleton.push_text(&[b]);
            light[usize::from(b)] = skeleton.as_bytes().first().copied().unwrap_or(0);
        }
        Prefilter {
            fold,
            light,
            spellings: Vec::new(),
            heads: HashMap::default(),
            filter: Box::new([0; 1024]),
            head_lens: 0,
            prefixes: HashMap::default(),
            edits: vec![Vec::new(); MAX_EDIT_LEN + 2],
        }
    }
}

/// The mask bit of a light skeleton byte: letters their own bit, digits
/// and everything else sharing the top six (a shared bit only lets more
/// names through).
fn mask_bit(b: u8) -> u32 {
    match b {
        b'a'..=b'z' => 1 << (b - b'a'),
        b'0'..=b'9' => 1 << (26 + (b - b'0') % 5),
        _ => 1 << 31,
    }
}

/// Up to 7 symbols and their count in one word (symbols are never 0).
fn pack(symbols: &[u8]) -> u64 {
    let mut packed = symbols.len() as u64;
    for &s in symbols.iter().take(7) {
        packed = packed << 8 | u64::from(s);
    }
    packed
}

fn filter_index(packed: u64) -> usize {
    (packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
}

/// Every spelling of `key` before collapsing: `m` as `m`, `rn`, `nn` and
/// `w` as `w`, `vv`.
fn spellings(key: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    for &c in key {
        let ways: &[&[u8]] = match c {
            b'm' => &[b"m", b"rn", b"nn"],
            b'w' => &[b"w", b"vv"],
            _ => &[std::slice::from_ref(&c)],
        };
        // Bounded: keys past a few dozen spellings keep their first ones
        // and the rest are caught by their prefix at a hyphen only.
        out = out
            .iter()
            .flat_map(|head| {
                ways.iter().map(move |w| {
                    let mut v = head.clone();
                    v.extend_from_slice(w);
                    v
                })
            })
            .take(256)
            .collect();
    }
    out
}

impl Prefilter {
    fn set_bit(&mut self, packed: u64) {
        let i = filter_index(packed);
        self.filter[i / 64] |= 1 << (i % 64);
    }

    fn has_bit(&self, packed: u64) -> bool {
        let i = filter_index(packed);
        self.filter[i / 64] & (1 << (i % 64)) != 0
    }

    /// Add a skeleton key (collapsed, as [`Folded`] makes it).
    pub(super) fn add_key(&mut self, key: &[u8]) {
        for spelling in spellings(key) {
            let head_len = spelling.len().min(HEAD);
            self.head_lens |= 1 << head_len;
            let head = pack(&spelling[..head_len]);
            self.set_bit(head);
            for len in 1..head_len {
                let prefix = pack(&spelling[..len]);
                self.set_bit(prefix);
                self.prefixes.insert(prefix, ());
            }
            let index = self.spellings.len() as u32;
            self.heads.entry(head).or_default().push(index);
            self.spellings.push(spelling.into());
        }
    }

    /// Add a protected label's light skeleton for the one-edit test.
    pub(super) fn add_edit_label(&mut self, label: &[u8], first_kept: bool) {
        let entry = EditEntry {
            mask: label.iter().fold(0, |m, &b| m | mask_bit(b)),
            first: match label {
                [a, b, ..] if first_kept => Some((*a, *b)),
                _ => None,
            },
        };
        let n = label.len();
        for len in n.saturating_sub(1)..=n + 1 {
            self.edits[len.min(MAX_EDIT_LEN + 1)].push(entry);
        }
    }

    /// Whether a light skeleton of `len` bytes with letters `mask`,
    /// beginning `first`, may be one edit from a protected label.
    fn edit_may(&self, len: usize, mask: u32, first: (u8, u8)) -> bool {
        self.edits[len.min(MAX_EDIT_LEN + 1)]
            .iter().any(|e| {
            (e.mask ^ mask).count_ones() <= 2
                && e.first
                    .is_none_or(|(a, b)| first.0 == a || (first.0 == b && first.1 == a))
        })
    }

    /// Whether the one-edit test lets a light skeleton through.
    pub(super) fn edit_may_skeleton(&self, skeleton: &[u8]) -> bool {
        let mask = skeleton.iter().fold(0, |m, &b| m | mask_bit(b));
        let first = match skeleton {
            [a, b, ..] => (*a, *b),
            _ => return false,
        };
        self.edit_may(skeleton.len(), mask, first)
    }

    /// Whether `name` (lower-case ASCII, labels joined by dots) may be a
    /// look-alike: `false` means the full check would find nothing.
    pub(super) fn may_match(&self, name: &[u8]) -> bool {
        if name.len() > MAX_NAME {
            return true;
        }
        let mut symbols = [0u8; MAX_NAME + 8];
        let mut after = [0u8; MAX_NAME];
        let mut starts = [0u8; MAX_NAME];
        let (mut n, mut words) = (0usize, 0usize);
        let mut new_word = true;
        // The label in progress and the whole name: light length, letter
        // mask, first two bytes.
        let mut label = (0usize, 0u32, (0u8, 0u8));
        let mut whole = (0usize, 0u32, (0u8, 0u8));
        let mut last_label_start = 0;
        for &b in name {
            let folded = self.fold[usize::from(b)];
            if folded == 0 {
                if n > 0 {
                    after[n - 1] |= if b == b'.' { DOT } else { HYPHEN };
                }
                // An `xn--` label is decoded by the full check: always checked.
                if b == b'-'
                    && !new_word
                    && n >= 2
                    && usize::from(starts[words - 1]) == n - 2
                    && symbols[n - 2..n] == *b"xn"
                {
                    return true;
                }
                if b == b'.' {
                    if label.0 >= 2 && self.edit_may(label.0, label.1, label.2) {
                        return true;
                    }
                    label = (0, 0, (0, 0));
                    last_label_start = n;
                }
                new_word = true;
                continue;
            }
            if new_word {
                starts[words] = n as u8;
                words += 1;
                new_word = false;
            }
            symbols[n] = folded;
            n += 1;
            let light = self.light[usize::from(b)];
            let bit = mask_bit(light);
            for part in [&mut label, &mut whole] {
                match part.0 {
                    0 => part.2.0 = light,
                    1 => part.2.1 = light,
                    _ => {}
                }
                part.0 += 1;
                part.1 |= bit;
            }
        }
        if n == 0 {
            return false;
        }
        after[n - 1] |= DOT;
        if whole.0 >= 2 && self.edit_may(whole.0, whole.1, whole.2) {
            return true;
        }
        starts[..words]
            .iter()
            .map(|&s| usize::from(s))
            .take_while(|&s| s < last_label_start)
            .any(|s| self.word_may(&symbols[..n], &after[..n], s))
    }

    /// Whether the symbols from word start `s` may spell a key.
    fn word_may(&self, symbols: &[u8], after: &[u8], s: usize) -> bool {
        let rest = &symbols[s..];
        let mut lens = self.head_lens;
        while lens != 0 {
            let len = lens.trailing_zeros() as usize;
            lens &= lens - 1;
            let Some(head) = rest.get(..len) else {
                break;
            };
            let packed = pack(head);
            if self.has_bit(packed)
                && let Some(indices) = self.heads.get(&packed)
                && indices
                    .iter()
                    .any(|&i| spells(&self.spellings[i as usize], rest, &after[s..]))
            {
                return true;
            }
        }
        // A short word before a hyphen that begins a spelling.
        let word_len = after[s..].iter().position(|&a| a != 0).map_or(0, |e| e + 1);
        if word_len < HEAD && after[s + word_len - 1] & HYPHEN != 0 {
            let packed = pack(&rest[..word_len]);
            return self.has_bit(packed) && self.prefixes.contains_key(&packed);
        }
        false
    }
}

/// Whether `rest` (with its separator flags `after`) begins with
/// `spelling` ending at a label boundary, or follows it to a hyphen.
fn spells(spelling: &[u8], rest: &[u8], after: &[u8]) -> bool {
    for (i, &c) in spelling.iter().enumerate() {
        if rest.get(i) != Some(&c) {
            return false;
        }
        if i + 1 == spelling.len() {
            return after[i] != 0;
        }
        if after[i] & HYPHEN != 0 {
            return true;
        }
    }
    false
}
