//! The question parser: a query read just far enough to answer it, with
//! no copies and no allocation.
//!
//! Only the common, simple shape is taken: one question of class IN, no
//! answer or authority records, at most one additional record that is an
//! EDNS(0) OPT. Anything else parses to `None` and is left to hickory's
//! decoder (the handler's core).

use std::ops::Range;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_blocklist::{Blocklist, Verdict};

use super::consts::{CLASS_IN, EDE_OPTION_CODE, HEADER_LEN, MAX_NAME, TYPE_OPT, udp_payload};

/// Most labels a 255-byte name can have.
const MAX_LABELS: usize = 128;

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

    /// How many labels the query name has (the root not counted).
    pub fn label_count(&self) -> usize {
        self.label_count
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

    /// Whether the query set CD (checking disabled, RFC 4035 §3.2.2).
    pub fn checking_disabled(&self) -> bool {
        self.packet[3] & 0x10 != 0
    }

    /// EDNS of the query: (UDP payload size, DO bit); `None` without EDNS.
    pub fn edns(&self) -> Option<(u16, bool)> {
        self.edns
    }

    /// UDP response size limit (see [`udp_payload`]).
    pub fn max_response_size(&self) -> usize {
        usize::from(udp_payload(self.edns.map(|(p, _)| p)))
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

    /// The OPT record of the response when the query had EDNS: the query's
    /// payload size (at least 512), its DO bit, and an Extended DNS Error
    /// with INFO-CODE `ede` whose EXTRA-TEXT `text` appends (nothing is
    /// written, and `text` not called, without EDNS).
    pub fn write_opt(&self, out: &mut Vec<u8>, ede: Option<u16>, text: impl FnOnce(&mut Vec<u8>)) {
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
        out.extend_from_slice(&EDE_OPTION_CODE.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&code.to_be_bytes());
        text(out);
        let option_len = (out.len() - rdlen_at - 6) as u16;
        out[rdlen_at..rdlen_at + 2].copy_from_slice(&(option_len + 4).to_be_bytes());
        out[rdlen_at + 4..rdlen_at + 6].copy_from_slice(&option_len.to_be_bytes());
    }

    /// Write the response header: ID, RD and CD as asked, one question,
    /// `answers` and `authorities` records, and an OPT record when the
    /// query had EDNS.
    pub fn write_header(
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

/// Write a record's owner, type, class IN and TTL (RDLENGTH and RDATA
/// follow).
pub fn write_rr_head(out: &mut Vec<u8>, owner: &[u8], rtype: u16, ttl: u32) {
    out.extend_from_slice(owner);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
}

/// Write a dotted ASCII name (trailing dot optional) uncompressed.
pub fn write_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}
