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
/// Names this long or longer go on to the full check (the buffers stay
/// small: they are zeroed for every name).
const MAX_NAME: usize = 128;
/// Names with this many words or more go on to the full check.
const MAX_WORDS: usize = 48;
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
    /// [`mask_bit`] of every byte's light skeleton byte; 0 for a separator.
    bit: [u32; 256],
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
    /// Every name goes on to the full check (a key has too many spellings).
    open: bool,
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
        let bit = light.map(|l| if l == 0 { 0 } else { mask_bit(l) });
        Prefilter {
            fold,
            light,
            bit,
            spellings: Vec::new(),
            heads: HashMap::default(),
            filter: Box::new([0; 1024]),
            head_lens: 0,
            prefixes: HashMap::default(),
            edits: vec![Vec::new(); MAX_EDIT_LEN + 2],
            open: false,
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

/// Whether `x` has at most two bits set (without a popcount instruction,
/// which the baseline x86-64 target lacks).
fn at_most_two_bits(x: u32) -> bool {
    let y = x & x.wrapping_sub(1);
    y & y.wrapping_sub(1) == 0
}

/// Up to 7 symbols and their count in one word (symbols are never 0).
fn pack(symbols: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let len = symbols.len().min(7);
    bytes[..len].copy_from_slice(&symbols[..len]);
    packed_head(u64::from_le_bytes(bytes), len)
}

/// The first `len` (at most 7) of eight symbols loaded little-endian,
/// with their count: what [`pack`] makes of them.
fn packed_head(loaded: u64, len: usize) -> u64 {
    let low = loaded & ((1u64 << (8 * len)) - 1);
    low | (len as u64) << 56
}

fn filter_index(packed: u64) -> usize {
    (packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
}

/// Most spellings kept for one key (a key with more `m` and `w` than that
/// allows opens the first test to every name).
const MAX_SPELLINGS: usize = 256;

/// Every spelling of `key` before collapsing: `m` as `m`, `rn`, `nn` and
/// `w` as `w`, `vv`; `None` past [`MAX_SPELLINGS`].
fn spellings(key: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = vec![Vec::new()];
    for &c in key {
        let ways: &[&[u8]] = match c {
            b'm' => &[b"m", b"rn", b"nn"],
            b'w' => &[b"w", b"vv"],
            _ => &[std::slice::from_ref(&c)],
        };
        if out.len() * ways.len() > MAX_SPELLINGS {
            return None;
        }
        out = out
            .iter()
            .flat_map(|head| {
                ways.iter().map(move |w| {
                    let mut v = head.clone();
                    v.extend_from_slice(w);
                    v
                })
            })
            .collect();
    }
    Some(out)
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
        let Some(spellings) = spellings(key) else {
            self.open = true;
            return;
        };
        for spelling in spellings {
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
        self.edits[len.min(MAX_EDIT_LEN + 1)].iter().any(|e| {
            at_most_two_bits(e.mask ^ mask)
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

    /// Whether `name` (labels joined by dots, any case) may be a
    /// look-alike: `false` means the full check would find nothing.
    pub(super) fn may_match(&self, name: &[u8]) -> bool {
        if self.open || name.len() >= MAX_NAME {
            return true;
        }
        // Folded symbols (padded for 8-byte head loads), the separators
        // after each, and where words begin (`starts[words]` = the end).
        let mut symbols = [0u8; MAX_NAME + 8];
        let mut after = [0u8; MAX_NAME];
        let mut starts = [0u8; MAX_WORDS + 1];
        let (mut n, mut words) = (0usize, 1usize);
        // Where the label in progress begins (in `name`, in `symbols`),
        // its letters and the whole name's.
        let (mut label_byte, mut label_symbol) = (0usize, 0usize);
        let (mut label_mask, mut whole_mask) = (0u32, 0u32);
        let mut hyphens = false;
        for (i, &b) in name.iter().enumerate() {
            let folded = self.fold[usize::from(b)];
            if folded != 0 {
                symbols[n] = folded;
                n += 1;
                label_mask |= self.bit[usize::from(b)];
                continue;
            }
            if n > 0 && after[n - 1] == 0 {
                // The first separator after a word ends it.
                if words == MAX_WORDS {
                    return true;
                }
                starts[words] = n as u8;
                words += 1;
            }
            if n > 0 {
                after[n - 1] |= if b == b'.' { DOT } else { HYPHEN };
            }
            if b != b'.' {
                hyphens = true;
                // An `xn--` label is decoded by the full check: always checked.
                if n >= 2 && usize::from(starts[words - 2]) == n - 2 && symbols[n - 2..n] == *b"xn"
                {
                    return true;
                }
                continue;
            }
            if self.edit_label_may(&name[label_byte..i], n - label_symbol, label_mask) {
                return true;
            }
            (label_byte, label_symbol) = (i + 1, n);
            whole_mask |= label_mask;
            label_mask = 0;
        }
        if n == 0 {
            return false;
        }
        after[n - 1] |= DOT;
        starts[words] = n as u8;
        if self.edit_label_may(name, n, whole_mask | label_mask) {
            return true;
        }
        let starts = &starts[..=words];
        (0..words).any(|w| {
            let (s, end) = (usize::from(starts[w]), usize::from(starts[w + 1]));
            s < label_symbol
                && s < end
                && self.word_may(&symbols, &after[..n], n, s, hyphens.then_some(end))
        })
    }

    /// The one-edit test of a label (or the whole name) of `len` light
    /// skeleton bytes with letters `mask`.
    fn edit_label_may(&self, label: &[u8], len: usize, mask: u32) -> bool {
        if len < 2 || self.edits[len.min(MAX_EDIT_LEN + 1)].is_empty() {
            return false;
        }
        let light = |b: u8| self.light[usize::from(b)];
        let first = match label {
            [a, b, ..] if light(*a) != 0 && light(*b) != 0 => (light(*a), light(*b)),
            _ => {
                let mut skeleton = label.iter().map(|&b| light(b)).filter(|&l| l != 0);
                (skeleton.next().unwrap_or(0), skeleton.next().unwrap_or(0))
            }
        };
        self.edit_may(len, mask, first)
    }

    /// Whether the symbols from word start `s` may spell a key; `end`, the
    /// word's end when the name has hyphens (a short word before one may
    /// begin a key split by lure words).
    fn word_may(
        &self,
        padded: &[u8; MAX_NAME + 8],
        after: &[u8],
        n: usize,
        s: usize,
        end: Option<usize>,
    ) -> bool {
        let mut lens = self.head_lens;
        let loaded = u64::from_le_bytes(padded[s..s + 8].try_into().unwrap_or_default());
        while lens != 0 {
            let len = lens.trailing_zeros() as usize;
            lens &= lens - 1;
            if s + len > n {
                break;
            }
            let packed = packed_head(loaded, len);
            if self.has_bit(packed)
                && let Some(indices) = self.heads.get(&packed)
                && indices
                    .iter()
                    .any(|&i| spells(&self.spellings[i as usize], &padded[s..n], &after[s..]))
            {
                return true;
            }
        }
        match end {
            Some(end) if end - s < HEAD && after[end - 1] & HYPHEN != 0 => {
                let packed = packed_head(loaded, end - s);
                self.has_bit(packed) && self.prefixes.contains_key(&packed)
            }
            _ => false,
        }
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
