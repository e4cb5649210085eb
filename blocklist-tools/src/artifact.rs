//! The `.pbl` artifact layout, writer and verifier.
//!
//! ```text
//! 0   magic  "PARAPBL\0"
//! 8   version u32 LE
//! 12  label-count mask u32: bit d set when some domain key has d labels (bit 31: 31 or more)
//! 16  total length u64 (the whole file, checksum included)
//! 24  built_at u64, domain_rules u64, ip_rules u64, allow_rules u64
//! 56  hash seed u64 (derived from the sources' digests; see `index`)
//! 64  section table: (offset u64, length u64) × [sources, strings, fst, ipv4, ipv6, filter, values, index]
//! 192 sections (the index starts on a 64-byte boundary; zero padding before it)
//! end crc32 (IEEE, crc32fast) u32 LE over every byte before it
//! ```
//! A source record is 32-byte SHA-256, rules u64, name (off u32, len u32),
//! category (off u32, len u32; len `u32::MAX` = none) into the string table,
//! flags u32 (bit 0: the source allows across sources), reserved u32.
//! Domain values are two packed decisions (see `rule`), for the name and for
//! names below it, already resolved against the rules above the key (see
//! `scoped`); a name rule's prefix bits say how many labels above the key
//! the deciding rule's name is. Format 6: scoped exceptions, source flags.
//! IPv4 ranges are (start u32, end u32, decision u32); IPv6 ranges
//! (start u128, end u128, decision u32); all little endian, sorted, disjoint.
//! The filter is a register-blocked Bloom filter over the keys and their parents
//! (see `filter`), a whole number of 8-byte words, possibly none.
//! The value table holds up to 255 distinct FST values (u64); the index is
//! a hash table of 64-byte buckets over the FST keys (see `index`).

use crate::error::ArtifactError;

pub(crate) const MAGIC: &[u8; 8] = b"PARAPBL\0";
pub(crate) const VERSION: u32 = 6;
pub(crate) const HEADER_LEN: usize = 192;
const SECTIONS: usize = 8;
const TABLE: usize = 64;
pub(crate) const SOURCE_RECORD: usize = 32 + 8 + 16 + 8;
/// Source flag: the source allows across sources (an allowlist).
const FLAG_ALLOW: u32 = 1;
pub(crate) const V4_RECORD: usize = 12;
pub(crate) const V6_RECORD: usize = 36;
const NO_CATEGORY: u32 = u32::MAX;

/// One source as stored in the artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceMeta {
    pub(crate) name: String,
    pub(crate) category: Option<String>,
    pub(crate) sha256: [u8; 32],
    pub(crate) rules: u64,
    /// Its rules allow across sources (`allow = true`, `--allow FILE`).
    pub(crate) allow: bool,
}

/// Header counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) built_at: u64,
    pub(crate) domain_rules: u64,
    pub(crate) ip_rules: u64,
    pub(crate) allow_rules: u64,
    /// Bit d set when some domain key has d labels (bit 31: 31 or more).
    pub(crate) label_mask: u32,
    /// Seed of the key hash.
    pub(crate) seed: u64,
}

/// The compiled sections of an artifact, as bytes.
pub(crate) struct Parts<'a> {
    pub(crate) fst: &'a [u8],
    pub(crate) v4: &'a [u8],
    pub(crate) v6: &'a [u8],
    pub(crate) filter: &'a [u8],
    pub(crate) values: &'a [u8],
    pub(crate) index: &'a [u8],
}

/// Assemble an artifact from its parts.
pub(crate) fn write(counts: Counts, sources: &[SourceMeta], parts: Parts<'_>) -> Vec<u8> {
    let Parts {
        fst,
        v4,
        v6,
        filter,
        values,
        index,
    } = parts;
    let mut strings = Vec::new();
    let mut records = Vec::with_capacity(sources.len() * SOURCE_RECORD);
    let push_str = |s: &str, strings: &mut Vec<u8>| {
        let off = strings.len() as u32;
        strings.extend_from_slice(s.as_bytes());
        (off, s.len() as u32)
    };
    for s in sources {
        records.extend_from_slice(&s.sha256);
        records.extend_from_slice(&s.rules.to_le_bytes());
        let (off, len) = push_str(&s.name, &mut strings);
        records.extend_from_slice(&off.to_le_bytes());
        records.extend_from_slice(&len.to_le_bytes());
        let (off, len) = match &s.category {
            Some(c) => push_str(c, &mut strings),
            None => (0, NO_CATEGORY),
        };
        records.extend_from_slice(&off.to_le_bytes());
        records.extend_from_slice(&len.to_le_bytes());
        let flags = if s.allow { FLAG_ALLOW } else { 0 };
        records.extend_from_slice(&flags.to_le_bytes());
        records.extend_from_slice(&0u32.to_le_bytes());
    }
    let sections: [&[u8]; SECTIONS] = [&records, &strings, fst, v4, v6, filter, values, index];
    let before_index: usize = HEADER_LEN
        + sections[..SECTIONS - 1]
            .iter()
            .map(|s| s.len())
            .sum::<usize>();
    let padding = before_index.next_multiple_of(crate::index::BUCKET) - before_index;
    let total = before_index + padding + index.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&counts.label_mask.to_le_bytes());
    out.extend_from_slice(&(total as u64).to_le_bytes());
    for v in [
        counts.built_at,
        counts.domain_rules,
        counts.ip_rules,
        counts.allow_rules,
        counts.seed,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut off = HEADER_LEN as u64;
    for (i, s) in sections.iter().enumerate() {
        if i == SECTIONS - 1 {
            off += padding as u64;
        }
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        off += s.len() as u64;
    }
    debug_assert_eq!(out.len(), HEADER_LEN);
    for (i, s) in sections.iter().enumerate() {
        if i == SECTIONS - 1 {
            out.resize(out.len() + padding, 0);
        }
        out.extend_from_slice(s);
    }
    debug_assert_eq!(out.len() + 4, total);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A verified artifact's layout: byte ranges of its sections.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) counts: Counts,
    pub(crate) sources: Vec<SourceMeta>,
    pub(crate) fst: std::ops::Range<usize>,
    pub(crate) v4: std::ops::Range<usize>,
    pub(crate) v6: std::ops::Range<usize>,
    pub(crate) filter: std::ops::Range<usize>,
    pub(crate) values: std::ops::Range<usize>,
    pub(crate) index: std::ops::Range<usize>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

pub(crate) fn u128_at(b: &[u8], at: usize) -> u128 {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    u128::from_le_bytes(a)
}

pub(crate) fn u32_le(b: &[u8], at: usize) -> u32 {
    u32_at(b, at)
}

/// Check magic, version, length and checksum, then the sections' bounds and
/// shape. Never panics on any input.
pub(crate) fn verify(b: &[u8]) -> Result<Layout, ArtifactError> {
    let counts = check_header(b)?;
    let body = &b[..b.len() - 4];
    let mut ranges = Vec::with_capacity(SECTIONS);
    for i in 0..SECTIONS {
        let off = u64_at(b, TABLE + 16 * i);
        let len = u64_at(b, TABLE + 8 + 16 * i);
        let end = off
            .checked_add(len)
            .ok_or(ArtifactError::Corrupt("section table"))?;
        if off < HEADER_LEN as u64 || end > body.len() as u64 {
            return Err(ArtifactError::Corrupt("section table"));
        }
        ranges.push(off as usize..end as usize);
    }
    let sources = read_sources(&b[ranges[0].clone()], &b[ranges[1].clone()])?;
    let (v4, v6) = (ranges[3].clone(), ranges[4].clone());
    check_ranges(
        &b[v4.clone()],
        V4_RECORD,
        |r, i| {
            let at = i * V4_RECORD;
            (
                u128::from(u32_at(r, at)),
                u128::from(u32_at(r, at + 4)),
                u32_at(r, at + 8),
            )
        },
        sources.len(),
    )?;
    check_ranges(
        &b[v6.clone()],
        V6_RECORD,
        |r, i| {
            let at = i * V6_RECORD;
            (u128_at(r, at), u128_at(r, at + 16), u32_at(r, at + 32))
        },
        sources.len(),
    )?;
    let filter = ranges[5].clone();
    if !filter.len().is_multiple_of(crate::filter::BLOCK) {
        return Err(ArtifactError::Corrupt("filter"));
    }
    let (values, index) = (ranges[6].clone(), ranges[7].clone());
    let slots = (index.len() / crate::index::BUCKET) as u64 * 8;
    if !values.len().is_multiple_of(8)
        || values.len() / 8 > crate::index::MAX_VALUES
        || !index.len().is_multiple_of(crate::index::BUCKET)
        || !index.start.is_multiple_of(crate::index::BUCKET)
        || slots < counts.domain_rules
    {
        return Err(ArtifactError::Corrupt("domain hash index"));
    }
    Ok(Layout {
        counts,
        sources,
        fst: ranges[2].clone(),
        v4,
        v6,
        filter,
        values,
        index,
    })
}

/// Magic, version, length and checksum; the counts the header holds.
fn check_header(b: &[u8]) -> Result<Counts, ArtifactError> {
    let got = b.len() as u64;
    let n = b.len().min(MAGIC.len());
    if b[..n] != MAGIC[..n] {
        return Err(ArtifactError::BadMagic);
    }
    if b.len() < HEADER_LEN + 4 {
        return Err(ArtifactError::Truncated {
            got,
            need: (HEADER_LEN + 4) as u64,
        });
    }
    let version = u32_at(b, 8);
    if version != VERSION {
        return Err(ArtifactError::Version {
            expected: VERSION,
            got: version,
        });
    }
    let total = u64_at(b, 16);
    if total > got {
        return Err(ArtifactError::Truncated { got, need: total });
    }
    if total < got {
        return Err(ArtifactError::Corrupt(
            "length (trailing bytes after the checksum)",
        ));
    }
    let body = &b[..b.len() - 4];
    let expected = u32_at(b, b.len() - 4);
    let computed = crc32fast::hash(body);
    if expected != computed {
        return Err(ArtifactError::Checksum {
            expected,
            got: computed,
        });
    }
    Ok(Counts {
        built_at: u64_at(b, 24),
        domain_rules: u64_at(b, 32),
        ip_rules: u64_at(b, 40),
        allow_rules: u64_at(b, 48),
        label_mask: u32_at(b, 12),
        seed: u64_at(b, 56),
    })
}

fn read_sources(records: &[u8], strings: &[u8]) -> Result<Vec<SourceMeta>, ArtifactError> {
    const BAD: ArtifactError = ArtifactError::Corrupt("source table");
    if !records.len().is_multiple_of(SOURCE_RECORD) {
        return Err(BAD);
    }
    let text = |off: u32, len: u32| -> Result<String, ArtifactError> {
        let (off, len) = (off as usize, len as usize);
        let bytes = strings
            .get(off..off.checked_add(len).ok_or(BAD)?)
            .ok_or(BAD)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| BAD)
    };
    records
        .chunks_exact(SOURCE_RECORD)
        .map(|r| {
            let mut sha256 = [0u8; 32];
            sha256.copy_from_slice(&r[..32]);
            let category = match u32_at(r, 52) {
                NO_CATEGORY => None,
                len => Some(text(u32_at(r, 48), len)?),
            };
            Ok(SourceMeta {
                sha256,
                rules: u64_at(r, 32),
                name: text(u32_at(r, 40), u32_at(r, 44))?,
                category,
                allow: u32_at(r, 56) & FLAG_ALLOW != 0,
            })
        })
        .collect()
}

fn check_ranges(
    section: &[u8],
    record: usize,
    get: impl Fn(&[u8], usize) -> (u128, u128, u32),
    sources: usize,
) -> Result<(), ArtifactError> {
    const BAD: ArtifactError = ArtifactError::Corrupt("IP ranges");
    if !section.len().is_multiple_of(record) {
        return Err(BAD);
    }
    let mut prev_end: Option<u128> = None;
    for i in 0..section.len() / record {
        let (start, end, d) = get(section, i);
        if start > end || prev_end.is_some_and(|p| p >= start) || crate::rule::source(d) >= sources
        {
            return Err(BAD);
        }
        prev_end = Some(end);
    }
    Ok(())
}
