//! The blocked-name fast path for UDP: a plain query for a blocked name is
//! answered straight from its wire bytes into a reused buffer, without
//! decoding it into hickory's message types or allocating.
//!
//! Only the simple shape [`WireQuery::parse`] takes is answered here (by
//! the handler's front); anything else, and every name that is not
//! blocked, goes through the handler's core, which gives the same answers;
//! a test checks the two agree byte for byte after decoding.

use std::sync::LazyLock;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_blocklist::{Blocklist, RuleRef};

use crate::answer;
use crate::config::{BlockAction, BlockConfig};
use crate::wire::{HEADER_LEN, WireQuery, write_name, write_rr_head};

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

/// Whether the name is one of parapet's reserved test names
/// ([`crate::reserved`]): answered by the full path whatever the lists say.
pub fn is_reserved(query: &WireQuery<'_>) -> bool {
    crate::reserved::of_labels(query.label_count(), query.labels()).is_some()
}

/// Whether the name is `use-application-dns.net` (any case), Firefox's
/// canary: answered NXDOMAIN by the full path whatever the lists say.
pub fn is_canary(query: &WireQuery<'_>) -> bool {
    let mut labels = query.labels();
    let [first, second] = answer::CANARY_LABELS;
    labels
        .next()
        .is_some_and(|l| l.eq_ignore_ascii_case(first.as_bytes()))
        && labels
            .next()
            .is_some_and(|l| l.eq_ignore_ascii_case(second.as_bytes()))
        && labels.next().is_none()
}

/// Write the answer to blocked `query` into `out`, exactly as
/// [`crate::answer::blocked`] and the handler would; the EDE text is
/// only built when the query carried EDNS.
pub fn write_blocked(
    query: &WireQuery<'_>,
    block: &BlockConfig,
    list: &Blocklist,
    rule: RuleRef,
    out: &mut Vec<u8>,
) {
    out.clear();
    let ttl = block.ttl;
    let rcode = rcode_of(block, query.qtype);
    let v4 = block.sinkhole_ipv4.octets();
    let v6 = block.sinkhole_ipv6.map(|ip| ip.octets());
    let answer: Option<(RecordType, &[u8])> = match (block.action, query.qtype) {
        (BlockAction::Sinkhole, RecordType::A) => Some((RecordType::A, &v4[..])),
        (BlockAction::Sinkhole, RecordType::AAAA) => {
            v6.as_ref().map(|o| (RecordType::AAAA, &o[..]))
        }
        _ => None,
    };
    // REFUSED carries no SOA; other negatives do.
    let soa = answer.is_none() && block.action != BlockAction::Refused;
    query.write_header(
        out,
        rcode,
        true,
        u16::from(answer.is_some()),
        u16::from(soa),
    );
    out.extend_from_slice(&query.packet()[query.question()]);
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
    query.write_opt(out, Some(answer::EDE_BLOCKED), |out| {
        answer::write_ede_text(out, block, list.source_of(rule));
    });
}

/// The response code of the answer to a blocked query of type `qtype`.
pub fn rcode_of(block: &BlockConfig, _qtype: RecordType) -> ResponseCode {
    match block.action {
        BlockAction::Refused => ResponseCode::Refused,
        BlockAction::Nxdomain => ResponseCode::NXDomain,
        BlockAction::Nodata | BlockAction::Sinkhole => ResponseCode::NoError,
    }
}

#[cfg(test)]
mod tests;
