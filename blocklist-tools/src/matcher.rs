//! The loaded artifact and the lookups: one walk over the reversed labels
//! through the raw FST nodes, binary search over IP ranges.

use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use fst::raw::Fst;

use crate::artifact::{self, Layout, V4_RECORD, V6_RECORD, u32_le, u128_at};
use crate::filter;
use crate::rule::PRESENT;
use crate::walk::{Cursor, OneNext};

use crate::{ArtifactError, Error};

/// Labels held on the stack for the filter pass; longer names skip the filter.
const STACK_LABELS: usize = 16;

/// The artifact's bytes: mapped from a file or held in memory.
#[derive(Debug)]
enum Bytes {
    Mapped(memmap2::Mmap),
    Heap(Vec<u8>),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Heap(v) => v,
        }
    }
}

/// A section of the shared bytes (the FST owns one of these).
#[derive(Debug, Clone)]
struct Section {
    bytes: Arc<Bytes>,
    range: Range<usize>,
}

impl AsRef<[u8]> for Section {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        &(*self.bytes).as_ref()[self.range.clone()]
    }
}

/// A verified artifact ready for lookups.
pub(crate) struct Loaded {
    bytes: Arc<Bytes>,
    fst: Fst<Section>,
    one_next: OneNext,
    pub(crate) layout: Layout,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("bytes", &(*self.bytes).as_ref().len())
            .field("counts", &self.layout.counts)
            .finish()
    }
}

/// Bit set in a RuleRef position for IPv6 ranges.
pub(crate) const V6_FLAG: u32 = 1 << 31;

impl Loaded {
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        let file = std::fs::File::open(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        // SAFETY: the artifact is published by atomic rename and never written
        // in place, so the mapped bytes do not change under us; every byte is
        // verified (checksum, bounds) before any lookup reads it.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) };
        let map = map.map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::new(Bytes::Mapped(map)).map_err(|kind| Error::Artifact {
            path: path.to_path_buf(),
            kind,
        })
    }

    pub(crate) fn from_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        Self::new(Bytes::Heap(bytes)).map_err(|kind| Error::Artifact {
            path: Default::default(),
            kind,
        })
    }

    fn new(bytes: Bytes) -> Result<Self, ArtifactError> {
        let layout = artifact::verify(bytes.as_ref())?;
        let bytes = Arc::new(bytes);
        let fst = Fst::new(Section {
            bytes: bytes.clone(),
            range: layout.fst.clone(),
        })
        .map_err(|_| ArtifactError::Corrupt("domain index"))?;
        Ok(Loaded {
            bytes,
            fst,
            one_next: OneNext::get(),
            layout,
        })
    }

    /// Size of the artifact in bytes.
    pub(crate) fn len(&self) -> usize {
        (*self.bytes).as_ref().len()
    }

    /// Look a name up: (decision, depth) of the deciding rule. `labels` run
    /// left to right. The filter pass rules most names out; the rest walk the FST.
    #[inline]
    pub(crate) fn lookup_labels<'a, I>(&self, labels: I) -> Option<(u32, u32)>
    where
        I: DoubleEndedIterator<Item = &'a [u8]>,
    {
        let mut rest = labels.rev().filter(|l| !l.is_empty());
        let mut stack: [&[u8]; STACK_LABELS] = [&[]; STACK_LABELS];
        let mut n = 0;
        for label in rest.by_ref().take(2) {
            stack[n] = label;
            n += 1;
        }
        if n == 2 && self.no_parent(stack[0], stack[1]) {
            return None;
        }
        for label in rest.by_ref() {
            if n == STACK_LABELS {
                // Too many labels for the stack: walk without the filter.
                let all = stack.iter().copied().chain(Some(label)).chain(rest);
                return self.walk(all, u32::MAX);
            }
            stack[n] = label;
            n += 1;
        }
        self.lookup_reversed(&stack[..n])
    }

    /// Look a name up given as text (any case, one trailing dot allowed):
    /// the labels are found right to left straight into the stack.
    #[inline]
    pub(crate) fn lookup_text(&self, name: &[u8]) -> Option<(u32, u32)> {
        if self.no_parent_text(name) {
            return None;
        }
        let mut stack: [&[u8]; STACK_LABELS] = [&[]; STACK_LABELS];
        let mut n = 0;
        let mut end = name.len();
        for i in (0..=name.len()).rev() {
            if i == 0 || name[i - 1] == b'.' {
                if i < end {
                    if n == STACK_LABELS {
                        return self.lookup_labels(name.split(|b| *b == b'.'));
                    }
                    stack[n] = &name[i..end];
                    n += 1;
                }
                end = i.saturating_sub(1);
            }
        }
        self.lookup_reversed(&stack[..n])
    }

    /// True when the filter shows that no key covers the text name, from its
    /// last two labels alone; see [`Loaded::no_parent`].
    #[inline]
    fn no_parent_text(&self, name: &[u8]) -> bool {
        let Some(tld) = last_label(name, name.len()) else {
            return false;
        };
        let Some(second) = last_label(name, tld.start) else {
            return false;
        };
        self.no_parent(&name[tld], &name[second])
    }

    /// True when the filter shows that no key covers a name ending in these
    /// two labels (see `filter`): the common case, decided before the rest
    /// of the name is read. False when unsure, and always when some key has
    /// a single label.
    #[inline]
    fn no_parent(&self, tld: &[u8], second: &[u8]) -> bool {
        let section = &(*self.bytes).as_ref()[self.layout.filter.clone()];
        if section.is_empty() || self.layout.counts.label_mask & (1 << 1) != 0 {
            return false;
        }
        let h = filter::step_label(filter::step_label(filter::SEED, tld), second);
        !filter::may_contain(section, filter::parent(h))
    }

    /// Filter pass, then the FST walk, over labels given right to left.
    #[inline]
    fn lookup_reversed(&self, labels: &[&[u8]]) -> Option<(u32, u32)> {
        let limit = self.deepest_candidate(labels);
        if limit == 0 {
            return None;
        }
        self.walk(labels.iter().copied(), limit)
    }

    /// Probe the filter with every label suffix (labels right to left):
    /// the number of labels of the longest suffix that may be a key, 0 when
    /// none can be. Each suffix's hash extends the previous one by a label
    /// (eight bytes per step). Only depths some key has are tested, without
    /// a data-dependent branch between the tests, so their loads overlap.
    /// (Callers first rule most names out with [`Loaded::no_parent`].)
    #[inline]
    fn deepest_candidate(&self, labels: &[&[u8]]) -> u32 {
        let section = &(*self.bytes).as_ref()[self.layout.filter.clone()];
        if section.is_empty() {
            return u32::MAX;
        }
        let mask = self.layout.counts.label_mask;
        let mut deepest = 0;
        let mut h = filter::SEED;
        for (i, label) in labels.iter().enumerate() {
            h = filter::step_label(h, label);
            let depth = i as u32 + 1;
            let tested = mask & (1 << depth.min(31)) != 0;
            if tested & filter::may_contain(section, h) {
                deepest = depth;
            }
        }
        deepest
    }

    /// Walk the labels (right to left) through the FST nodes, lowercasing as
    /// it goes, at most `limit` labels deep; the deepest final node whose rule
    /// covers the name decides.
    #[inline]
    fn walk<'a>(&self, labels: impl Iterator<Item = &'a [u8]>, limit: u32) -> Option<(u32, u32)> {
        let mut at = Cursor::root(&self.fst, &self.one_next);
        let mut depth = 0u32;
        let mut best = None;
        let mut labels = labels.peekable();
        'walk: while let Some(label) = labels.next() {
            if depth >= limit {
                break; // the filter ruled out every deeper suffix
            }
            if depth > 0 && !at.step(b'.') {
                break;
            }
            for &b in label {
                let b = b.to_ascii_lowercase();
                // No rule holds a dot inside a label.
                if b == b'.' || !at.step(b) {
                    break 'walk;
                }
            }
            depth += 1;
            if let Some(v) = at.final_value() {
                let half = if labels.peek().is_none() {
                    (v >> 32) as u32
                } else {
                    v as u32
                };
                if half & PRESENT != 0 {
                    best = Some((half, depth));
                }
            }
        }
        best
    }

    /// Find the range holding `ip`: (decision, position).
    #[inline]
    pub(crate) fn lookup_ip(&self, ip: IpAddr) -> Option<(u32, u32)> {
        let bytes = (*self.bytes).as_ref();
        match ip {
            IpAddr::V4(a) => {
                let sec = &bytes[self.layout.v4.clone()];
                let x = u32::from(a);
                let i = search(sec.len() / V4_RECORD, |i| u32_le(sec, i * V4_RECORD) <= x)?;
                (u32_le(sec, i * V4_RECORD + 4) >= x)
                    .then(|| (u32_le(sec, i * V4_RECORD + 8), i as u32))
            }
            IpAddr::V6(a) => {
                if let Some(v4) = a.to_ipv4_mapped() {
                    return self.lookup_ip(IpAddr::V4(v4));
                }
                let sec = &bytes[self.layout.v6.clone()];
                let x = u128::from(a);
                let i = search(sec.len() / V6_RECORD, |i| u128_at(sec, i * V6_RECORD) <= x)?;
                (u128_at(sec, i * V6_RECORD + 16) >= x)
                    .then(|| (u32_le(sec, i * V6_RECORD + 32), i as u32 | V6_FLAG))
            }
        }
    }

    /// Start address of the range at a RuleRef position.
    pub(crate) fn range_start(&self, pos: u32) -> Option<IpAddr> {
        let bytes = (*self.bytes).as_ref();
        let i = (pos & !V6_FLAG) as usize;
        if pos & V6_FLAG != 0 {
            let sec = &bytes[self.layout.v6.clone()];
            (i < sec.len() / V6_RECORD).then(|| IpAddr::V6(u128_at(sec, i * V6_RECORD).into()))
        } else {
            let sec = &bytes[self.layout.v4.clone()];
            (i < sec.len() / V4_RECORD).then(|| IpAddr::V4(u32_le(sec, i * V4_RECORD).into()))
        }
    }
}

/// The last non-empty label of `name[..end]`, skipping dots.
#[inline]
fn last_label(name: &[u8], end: usize) -> Option<Range<usize>> {
    let end = name[..end].iter().rposition(|b| *b != b'.')? + 1;
    let start = name[..end]
        .iter()
        .rposition(|b| *b == b'.')
        .map_or(0, |i| i + 1);
    Some(start..end)
}

/// Index of the last of `n` sorted items for which `le` holds.
#[inline]
fn search(n: usize, le: impl Fn(usize) -> bool) -> Option<usize> {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if le(mid) { lo = mid + 1 } else { hi = mid }
    }
    lo.checked_sub(1)
}
