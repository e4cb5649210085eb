//! The layout of an encoded response (where its TTLs and OPT record are)
//! and the patches that turn a stored answer into the answer to a repeat.

use super::consts::{HEADER_LEN, TYPE_OPT, udp_payload};
use super::query::WireQuery;

/// Where the TTLs are in an encoded response.
pub struct Layout {
    /// Offset of the TTL field of every record except OPT.
    pub ttl_at: Vec<u16>,
    /// Offset of the OPT record's class (payload size) field.
    pub opt_at: Option<u16>,
    /// The smallest TTL.
    pub min_ttl: u32,
    /// NXDOMAIN or no answer records (RFC 2308 negative answer).
    pub negative: bool,
}

impl Layout {
    /// Walk a response: one question, then records. `None` for anything
    /// not worth caching (truncated, not NOERROR/NXDOMAIN, malformed, > 64 KiB).
    pub fn of(msg: &[u8]) -> Option<Layout> {
        if msg.len() > usize::from(u16::MAX) {
            return None;
        }
        let header = msg.get(..HEADER_LEN)?;
        // A response, not truncated, RCODE NOERROR or NXDOMAIN.
        if header[2] & 0x80 == 0 || header[2] & 0x02 != 0 || !matches!(header[3] & 0x0f, 0 | 3) {
            return None;
        }
        let count = |i: usize| usize::from(u16::from_be_bytes([header[i], header[i + 1]]));
        if count(4) != 1 {
            return None;
        }
        let records = count(6) + count(8) + count(10);
        let mut pos = skip_name(msg, HEADER_LEN)? + 4;
        let mut layout = Layout {
            ttl_at: Vec::with_capacity(records),
            opt_at: None,
            min_ttl: u32::MAX,
            negative: header[3] & 0x0f == 3 || count(6) == 0,
        };
        for _ in 0..records {
            pos = skip_name(msg, pos)?;
            let fixed = msg.get(pos..pos + 10)?;
            let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
            let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
            if rtype == TYPE_OPT {
                layout.opt_at = Some(u16::try_from(pos + 2).ok()?);
            } else {
                let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
                layout.min_ttl = layout.min_ttl.min(ttl);
                layout.ttl_at.push(u16::try_from(pos + 4).ok()?);
            }
            pos += 10 + rdlen;
        }
        if pos != msg.len() {
            return None;
        }
        if layout.ttl_at.is_empty() {
            // Nothing says how long it may be kept.
            return None;
        }
        Some(layout)
    }
}

/// The position after the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => {
                msg.get(pos + 1)?;
                return Some(pos + 2);
            }
            l if l & 0xc0 == 0 => pos += 1 + usize::from(l),
            _ => return None,
        }
    }
}

/// Turn `out`, a copy of a stored response, into the answer to `query`:
/// every TTL at `ttl_at` (offsets from [`Layout::ttl_at`]) less `age`
/// seconds; ID, RD and CD as asked; the question's case as sent; the OPT
/// record at `opt_at` (0: none) advertising the query's payload size.
pub fn patch_reply(
    out: &mut [u8],
    query: &WireQuery<'_>,
    ttl_at: impl Iterator<Item = usize>,
    age: u32,
    opt_at: u16,
) {
    age_ttls(out, ttl_at, age);
    let packet = query.packet();
    // ID as asked; RD and CD as asked; question case as sent.
    out[0..2].copy_from_slice(&packet[0..2]);
    out[2] = (out[2] & !0x01) | (packet[2] & 0x01);
    out[3] = (out[3] & !0x10) | (packet[3] & 0x10);
    let q = query.question();
    out[q.clone()].copy_from_slice(&packet[q]);
    if let (at @ 1.., Some((payload, _))) = (opt_at, query.edns()) {
        let at = usize::from(at);
        out[at..at + 2].copy_from_slice(&udp_payload(Some(payload)).to_be_bytes());
    }
}

/// Subtract `age` seconds (stopping at 0) from the TTL at each offset of
/// `response` (offsets from [`Layout::ttl_at`]).
pub fn age_ttls(response: &mut [u8], ttl_at: impl Iterator<Item = usize>, age: u32) {
    for at in ttl_at {
        let field = &mut response[at..at + 4];
        let ttl = u32::from_be_bytes([field[0], field[1], field[2], field[3]]);
        field.copy_from_slice(&ttl.saturating_sub(age).to_be_bytes());
    }
}
