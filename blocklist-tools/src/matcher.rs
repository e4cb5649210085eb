//! The loaded artifact and the lookups: one pass over the reversed labels
//! probing the hash index with each suffix (the FST walk where the index
//! says so), binary search over IP ranges.

use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use fst::raw::Fst;

use crate::artifact::{self, Layout, V4_RECORD, V6_RECORD, u32_le, u128_at};
use crate::index::{self, Hit, Index};
use crate::rule::PRESENT;
use crate::walk::{Cursor, OneNext};
use crate::{filter, hash};

use crate::error::{ArtifactError, Error};

/// Labels held on the stack for the index pass; longer names walk the FST.
const STACK_LABELS: usize = 16;

/// The artifact's bytes, owned by the process: read from a file or handed
/// over in memory, never mapped, so a file changed or truncated under a
/// running server cannot touch the list in service. The bytes start at an
/// offset of their buffer that keeps the index's buckets on cache lines.
#[derive(Debug)]
struct Bytes {
    buf: Vec<u8>,
    start: usize,
}

impl Bytes {
    fn heap(bytes: Vec<u8>) -> Bytes {
        let align = index::BUCKET;
        if bytes.as_ptr().align_offset(align) == 0 {
            return Bytes {
                buf: bytes,
                start: 0,
            };
        }
        let mut buf = aligned_buffer(bytes.len());
        let start = buf.len();
        buf.extend_from_slice(&bytes);
        Bytes { buf, start }
    }

    /// Read a whole file into an aligned buffer (one copy, from the page
    /// cache). A file that grows or shrinks while it is read is read as it
    /// was; the checksum then refuses a torn copy.
    fn read(file: &mut std::fs::File) -> std::io::Result<Bytes> {
        use std::io::Read;
        let hint = file.metadata().map_or(0, |m| m.len()) as usize;
        let mut buf = aligned_buffer(hint);
        let start = buf.len();
        file.read_to_end(&mut buf)?;
        Ok(Bytes { buf, start })
    }
}

/// An empty buffer with room for `len` bytes after a zero padding that puts
/// the next byte on a bucket (cache line) boundary.
fn aligned_buffer(len: usize) -> Vec<u8> {
    let align = index::BUCKET;
    let mut buf: Vec<u8> = Vec::with_capacity(len + align);
    let start = buf.as_ptr().align_offset(align).min(align);
    buf.resize(start, 0);
    buf
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.buf[self.start..]
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
    /// The key hash of the empty name under this artifact's seed.
    start: u64,
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
    /// Read and verify a `.pbl` file. The bytes are copied into memory the
    /// process owns: the file may be replaced, rewritten or truncated
    /// afterwards without effect on the loaded list.
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        let io = |e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let bytes = Bytes::read(&mut file).map_err(io)?;
        Self::new(bytes).map_err(|kind| Error::Artifact {
            path: path.to_path_buf(),
            kind,
        })
    }

    pub(crate) fn from_bytes(bytes: Vec<u8>) -> Result<Self, Error> {
        Self::new(Bytes::heap(bytes)).map_err(|kind| Error::Artifact {
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
            start: hash::start(layout.counts.seed),
            layout,
        })
    }

    /// Size of the artifact in bytes.
    pub(crate) fn len(&self) -> usize {
        (*self.bytes).as_ref().len()
    }

    /// Look a name up: (decision, depth) of the deciding rule. `labels` run
    /// left to right.
    #[inline]
    pub(crate) fn lookup_labels<'a, I>(&self, labels: I) -> Option<(u32, u32)>
    where
        I: DoubleEndedIterator<Item = &'a [u8]>,
    {
        // Gathered on the stack so that the walk can replay them.
        let mut rest = labels.rev().filter(|l| !l.is_empty());
        let mut stack: [&[u8]; STACK_LABELS] = [&[]; STACK_LABELS];
        let mut n = 0;
        for label in rest.by_ref() {
            if n == STACK_LABELS {
                // Too many labels for the stack: walk the FST.
                let all = stack.iter().copied().chain(Some(label)).chain(rest);
                return self.walk(all);
            }
            stack[n] = label;
            n += 1;
        }
        self.lookup_reversed(stack[..n].iter().copied()).0
    }

    /// Look a name up given as text (any case, one trailing dot allowed),
    /// reading its labels right to left. `None` when a label it had to read
    /// is not ASCII: such a name must first be converted to A-labels. (A
    /// name ruled out by its last two labels, both ASCII, is answered
    /// whatever its other labels hold: its A-label form ends in the same
    /// two labels.)
    #[inline]
    pub(crate) fn lookup_text(&self, name: &[u8]) -> Option<Option<(u32, u32)>> {
        let labels = name.rsplit(|b| *b == b'.').filter(|l| !l.is_empty());
        let (found, seen) = self.lookup_reversed(labels);
        (seen & hash::HIGH_BITS == 0).then_some(found)
    }

    /// The index sections.
    #[inline]
    fn index(&self) -> Index<'_> {
        let bytes = (*self.bytes).as_ref();
        Index {
            values: &bytes[self.layout.values.clone()],
            buckets: &bytes[self.layout.index.clone()],
        }
    }

    /// One pass over the labels, right to left. Each suffix's hash extends
    /// the previous one by a label. After two labels the filter's parent
    /// test rules most names out (see `filter`); otherwise each suffix at a
    /// depth some key has is tested in the filter and, on a maybe, looked up
    /// in the index. The deepest present rule that applies decides (the rule
    /// for the name itself at the last label, for names below it before). A
    /// key whose value the index does not hold sends the name to the FST
    /// walk, which replays `labels`. Also returns every word of the labels
    /// read, or-ed together (see [`hash::step_label_seen`]).
    #[inline]
    fn lookup_reversed<'a, I>(&self, labels: I) -> (Option<(u32, u32)>, u64)
    where
        I: Iterator<Item = &'a [u8]> + Clone,
    {
        let index = self.index();
        let filter = &(*self.bytes).as_ref()[self.layout.filter.clone()];
        let mask = self.layout.counts.label_mask;
        let mut h = self.start;
        let mut seen = 0u64;
        let mut best = None;
        // The last hit: its rule for names below it applies once another
        // label follows, its rule for the name itself if none does.
        let mut pending: Option<(u64, u32)> = None;
        let mut depth = 0u32;
        for label in labels.clone() {
            if let Some((v, d)) = pending.take()
                && (v as u32) & PRESENT != 0
            {
                best = Some((v as u32, d));
            }
            h = hash::step_label_seen(h, label, &mut seen);
            depth += 1;
            // No parent test when some key has one label: it has no parent.
            if depth == 2 && mask & (1 << 1) == 0 && !filter::may_contain(filter, filter::parent(h))
            {
                return (None, seen);
            }
            if mask & (1 << depth.min(31)) == 0 {
                continue;
            }
            // Past the parent test, listed names are common: load the
            // index line while the filter is read.
            index.prefetch(h);
            if !filter::may_contain(filter, h) {
                continue;
            }
            match index.get(h) {
                None => {}
                Some(Hit::Value(v)) => pending = Some((v, depth)),
                Some(Hit::Walk) => {
                    let seen = labels.clone().fold(0, |s, l| s | (!l.is_ascii() as u64));
                    return (self.walk(labels), seen * hash::HIGH_BITS);
                }
            }
        }
        if let Some((v, d)) = pending
            && ((v >> 32) as u32) & PRESENT != 0
        {
            best = Some(((v >> 32) as u32, d));
        }
        (best, seen)
    }

    /// [`Loaded::walk_fst`], where a panic inside the `fst` crate finds no
    /// rule. `fst` reads nodes at the addresses the file holds and panics on
    /// one out of bounds; the artifact's checksum catches every accident, so
    /// only a crafted file (found by fuzzing: a corrupt FST behind a valid
    /// checksum) gets here, and it must not take a listener down. The walk
    /// is the rare path (see [`Loaded::lookup_reversed`]).
    fn walk<'a>(&self, labels: impl Iterator<Item = &'a [u8]>) -> Option<(u32, u32)> {
        let walk = std::panic::AssertUnwindSafe(|| self.walk_fst(labels));
        std::panic::catch_unwind(walk).unwrap_or(None)
    }

    /// Walk the labels (right to left) through the FST nodes, lowercasing as
    /// it goes; the deepest final node whose rule covers the name decides.
    #[inline]
    fn walk_fst<'a>(&self, labels: impl Iterator<Item = &'a [u8]>) -> Option<(u32, u32)> {
        let mut at = Cursor::root(&self.fst, &self.one_next);
        let mut depth = 0u32;
        let mut best = None;
        let mut labels = labels.peekable();
        'walk: while let Some(label) = labels.next() {
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
