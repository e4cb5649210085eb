//! The blocked-name fast path for UDP: a plain query for a blocked name is
//! answered straight from its wire bytes into a reused buffer, without
//! decoding it into hickory's message types or allocating.
//!
//! Only the common, simple shape is taken: one question of class IN, no
//! answer or authority records, at most one additional record that is an
//! EDNS(0) OPT. Anything else (and every name that is not blocked) returns
//! `None` and goes through the full [`crate::handler`] path, which gives the
//! same answers; a test checks the two agree byte for byte after decoding.

use std::ops::Range;
use std::sync::LazyLock;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_blocklist::{Blocklist, RuleRef, Verdict};

use crate::answer;
use crate::config::{BlockAction, BlockConfig};

/// The synthesised SOA's RDATA up to MINIMUM (which is the block TTL):
/// MNAME, RNAME, SERIAL 1, REFRESH, RETRY, EXPIRE; the same for every answer.
static SOA_HEAD: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut head = Vec::with_capacity(64);
    write_name(&mut head, answer::SOA_MNAME);
    write_name(&mut head, answer::SOA_RNAME);
    let (refresh, retry, expire) = answer::SOA_TIMERS;
    for v in [1u32, refresh as u32, retry as u32, expire as u32] {
        head.extend_from_slice(&v.to_be_bytes());
    }
    head
});

/// Largest UDP answer sent (the DNS Flag Day 2020 size, which fits an
/// IPv6 packet without fragmenting): larger answers go out truncated
/// (TC=1) and the client retries over TCP. Caps reflection, too.
pub const UDP_PAYLOAD_MAX: u16 = 1232;

/// The size limit of a UDP answer to a query that offered `edns_payload`
/// (`None` without EDNS): RFC 1035's 512 bytes without EDNS, else the
/// offer within 512..=[`UDP_PAYLOAD_MAX`]. Also the payload size the
/// answer's OPT record advertises.
pub fn udp_payload(edns_payload: Option<u16>) -> u16 {
    edns_payload.map_or(512, |p| p.clamp(512, UDP_PAYLOAD_MAX))
}

/// Longest name on the wire, root label included (RFC 1035 3.1).
pub const MAX_NAME: usize = 255;
/// Most labels a 255-byte name can have.
const MAX_LABELS: usize = 128;
const HEADER_LEN: usize = 12;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;

/// A query parsed just far enough to answer it: label positions in the
/// packet, no copies.
#[derive(Debug)]
pub struct WireQuery<'a> {
    packet: &'a [u8],
    labels: [(u8, u8); MAX_LABELS],
    label_count: usize,
    /// Bytes of the question section (name, type, class).
    question: Range<usize>,
    /// The query type.
    pub qtype: RecordType,
    /// EDNS of the query: (UDP payload size, DO bit).
    edns: Option<(u16, bool)>,
}

impl<'a> WireQuery<'a> {
    /// Parse `packet` if it has the simple shape the fast path answers.
    pub fn parse(packet: &'a [u8]) -> Option<Self> {
        let header = packet.get(..HEADER_LEN)?;
        let flags = u16::from_be_bytes([header[2], header[3]]);
        // QR = 0 (a query), OPCODE = 0 (QUERY).
        if flags & 0xf800 != 0 {
            return None;
        }
        let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
        let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
        if qd != 1 || an != 0 || ns != 0 || ar > 1 {
            return None;
        }
        let mut labels = [(0u8, 0u8); MAX_LABELS];
        let mut label_count = 0;
        let mut pos = HEADER_LEN;
        loop {
            let len = usize::from(*packet.get(pos)?);
            if len == 0 {
                pos += 1;
                break;
            }
            // No compression pointers in a question; labels are at most 63.
            if len > 63 || label_count == MAX_LABELS || pos + 1 + len > packet.len() {
                return None;
            }
            // Offsets fit in u8 only for the first 255 bytes: a longer name is
            // invalid anyway (at most 255 bytes from offset 12).
            let start = u8::try_from(pos + 1 - HEADER_LEN).ok()?;
            labels[label_count] = (start, len as u8);
            label_count += 1;
            pos += 1 + len;
            // A name is at most 255 bytes with its root label (RFC 1035
            // 3.1): the labels so far may take 254.
            if pos - HEADER_LEN > MAX_NAME - 1 {
                return None;
            }
        }
        let fixed = packet.get(pos..pos + 4)?;
        let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
        if qclass != CLASS_IN || qtype == TYPE_OPT {
            return None;
        }
        let question = HEADER_LEN..pos + 4;
        pos += 4;
        let edns = if ar == 1 {
            // Root owner, type OPT, class = payload, TTL = ext-rcode/version/flags.
            let opt = packet.get(pos..pos + 11)?;
            if opt[0] != 0 || u16::from_be_bytes([opt[1], opt[2]]) != TYPE_OPT || opt[6] != 0 {
                return None;
            }
            let payload = u16::from_be_bytes([opt[3], opt[4]]);
            // Extended RCODE must be 0 in a query; version 0 only.
            if opt[5] != 0 {
                return None;
            }
            let dnssec_ok = opt[7] & 0x80 != 0;
            let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
            if pos + 11 + rdlen != packet.len() {
                return None;
            }
            Some((payload, dnssec_ok))
        } else {
            if pos != packet.len() {
                return None;
            }
            None
        };
        Some(WireQuery {
            packet,
            labels,
            label_count,
            question,
            qtype: RecordType::from(qtype),
            edns,
        })
    }

    /// The labels of the query name, left to right, as sent.
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &'a [u8]> + '_ {
        let packet = self.packet;
        self.labels[..self.label_count].iter().map(move |&(s, l)| {
            let start = HEADER_LEN + usize::from(s);
            &packet[start..start + usize::from(l)]
        })
    }

    /// The whole query packet.
    pub fn packet(&self) -> &'a [u8] {
        self.packet
    }

    /// Byte range of the question section (name, type, class).
    pub fn question(&self) -> Range<usize> {
        self.question.clone()
    }

    /// EDNS of the query: (UDP payload size, DO bit); `None` without EDNS.
    pub fn edns(&self) -> Option<(u16, bool)> {
        self.edns
    }

    /// UDP response size limit (see [`udp_payload`]).
    pub fn max_response_size(&self) -> usize {
        usize::from(udp_payload(self.edns.map(|(p, _)| p)))
    }

    /// Whether the name is `use-application-dns.net` (any case), Firefox's
    /// canary: answered NXDOMAIN by the full path whatever the lists say.
    pub fn is_canary(&self) -> bool {
        let mut labels = self.labels();
        let [first, second] = answer::CANARY_LABELS;
        self.label_count == 2
            && labels
                .next()
                .is_some_and(|l| l.eq_ignore_ascii_case(first.as_bytes()))
            && labels
                .next()
                .is_some_and(|l| l.eq_ignore_ascii_case(second.as_bytes()))
    }

    /// Check the name against `list`.
    pub fn check(&self, list: &Blocklist) -> Verdict {
        list.check_labels(self.labels())
    }

    /// Write a header-and-question response with `rcode` and no records
    /// (REFUSED for a rate-limited client) into `out`.
    pub fn write_empty(&self, rcode: ResponseCode, recursion_available: bool, out: &mut Vec<u8>) {
        out.clear();
        self.write_header(out, rcode, recursion_available, 0, 0);
        out.extend_from_slice(&self.packet[self.question.clone()]);
        self.write_opt(out, None, |_| {});
    }

    /// Write an empty NOERROR answer with TC=1 into `out`: a rate-limited
    /// query's "slip", which sends a real client over to TCP.
    pub fn write_truncated(&self, out: &mut Vec<u8>) {
        self.write_empty(ResponseCode::NoError, true, out);
        out[2] |= 0x02; // TC
    }

    /// Write the answer to this blocked query into `out`, exactly as
    /// [`crate::answer::blocked`] and the handler would; the EDE text is
    /// only built when the query carried EDNS.
    pub fn write_blocked(
        &self,
        block: &BlockConfig,
        list: &Blocklist,
        rule: RuleRef,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        let ttl = block.ttl;
        let rcode = rcode_of(block, self.qtype);
        let v4 = block.sinkhole_ipv4.octets();
        let v6 = block.sinkhole_ipv6.map(|ip| ip.octets());
        let answer: Option<(RecordType, &[u8])> = match (block.action, self.qtype) {
            (BlockAction::Sinkhole, RecordType::A) => Some((RecordType::A, &v4[..])),
            (BlockAction::Sinkhole, RecordType::AAAA) => {
                v6.as_ref().map(|o| (RecordType::AAAA, &o[..]))
            }
            _ => None,
        };
        // REFUSED carries no SOA; other negatives do.
        let soa = answer.is_none() && block.action != BlockAction::Refused;
        self.write_header(
            out,
            rcode,
            true,
            u16::from(answer.is_some()),
            u16::from(soa),
        );
        out.extend_from_slice(&self.packet[self.question.clone()]);
        let owner = [0xc0, HEADER_LEN as u8]; // pointer to the question name
        if let Some((rtype, data)) = answer {
            write_rr_head(out, &owner, u16::from(rtype), ttl);
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        if soa {
            write_rr_head(out, &owner, u16::from(RecordType::SOA), ttl);
            let head: &[u8] = &SOA_HEAD;
            out.extend_from_slice(&((head.len() + 4) as u16).to_be_bytes());
            out.extend_from_slice(head);
            out.extend_from_slice(&ttl.to_be_bytes()); // MINIMUM
        }
        self.write_opt(out, Some(answer::EDE_BLOCKED), |out| {
            answer::write_ede_text(out, block, list.source_of(rule));
        });
    }

    /// The OPT record of the response when the query had EDNS: the query's
    /// payload size (at least 512), its DO bit, and an Extended DNS Error
    /// with INFO-CODE `ede` whose EXTRA-TEXT `text` appends (nothing is
    /// written, and `text` not called, without EDNS).
    fn write_opt(&self, out: &mut Vec<u8>, ede: Option<u16>, text: impl FnOnce(&mut Vec<u8>)) {
        let Some((payload, dnssec_ok)) = self.edns else {
            return;
        };
        out.push(0); // root owner
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&udp_payload(Some(payload)).to_be_bytes());
        out.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0]);
        let Some(code) = ede else {
            out.extend_from_slice(&[0, 0]);
            return;
        };
        // RDLENGTH, OPTION-CODE, OPTION-LENGTH, INFO-CODE, then the text;
        // the two lengths are filled in once the text is written.
        let rdlen_at = out.len();
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&answer::EDE_OPTION_CODE.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&code.to_be_bytes());
        text(out);
        let option_len = (out.len() - rdlen_at - 6) as u16;
        out[rdlen_at..rdlen_at + 2].copy_from_slice(&(option_len + 4).to_be_bytes());
        out[rdlen_at + 4..rdlen_at + 6].copy_from_slice(&option_len.to_be_bytes());
    }

    fn write_header(
        &self,
        out: &mut Vec<u8>,
        rcode: ResponseCode,
        recursion_available: bool,
        answers: u16,
        authorities: u16,
    ) {
        let p = self.packet;
        out.extend_from_slice(&p[0..2]); // ID
        // QR=1, OPCODE=0, AA=0, TC=0, RD as asked; RA, Z=0, AD=0, CD as asked.
        out.push(0x80 | (p[2] & 0x01));
        out.push(
            if recursion_available { 0x80 } else { 0 }
                | (p[3] & 0x10)
                | (u16::from(rcode) as u8 & 0x0f),
        );
        for c in [1, answers, authorities, u16::from(self.edns.is_some())] {
            out.extend_from_slice(&c.to_be_bytes());
        }
    }
}

/// The response code of the answer to a blocked query of type `qtype`.
pub fn rcode_of(block: &BlockConfig, _qtype: RecordType) -> ResponseCode {
    match block.action {
        BlockAction::Refused => ResponseCode::Refused,
        BlockAction::Nxdomain => ResponseCode::NXDomain,
        BlockAction::Nodata | BlockAction::Sinkhole => ResponseCode::NoError,
    }
}

fn write_rr_head(out: &mut Vec<u8>, owner: &[u8], rtype: u16, ttl: u32) {
    out.extend_from_slice(owner);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
}

/// Write a dotted ASCII name (trailing dot optional) uncompressed.
fn write_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

#[cfg(test)]
mod tests;
