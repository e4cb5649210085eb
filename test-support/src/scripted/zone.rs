//! Answers from a small record set, and record helpers for tests.

use std::net::Ipv4Addr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// TTL of the records made by [`a`], [`cname`] and [`txt`].
pub const TTL: u32 = 300;
/// TTL and minimum of the SOA a negative answer carries when the record set
/// has none of its own.
pub const NEGATIVE_TTL: u32 = 60;
/// Longest CNAME chain followed within the record set.
const MAX_CHAIN: usize = 8;

/// `name` parsed as a fully qualified name, its case kept; panics on a bad
/// test name.
fn fqdn(name: &str) -> Name {
    let mut parsed =
        Name::from_ascii(name).unwrap_or_else(|e| panic!("bad test name {name:?}: {e}"));
    parsed.set_fqdn(true);
    parsed
}

/// An A record (TTL [`TTL`]); the owner keeps the case given.
pub fn a(name: &str, ip: [u8; 4]) -> Record {
    Record::from_rdata(fqdn(name), TTL, RData::A(A(Ipv4Addr::from(ip))))
}

/// A CNAME record `name → target` (TTL [`TTL`]).
pub fn cname(name: &str, target: &str) -> Record {
    Record::from_rdata(fqdn(name), TTL, RData::CNAME(CNAME(fqdn(target))))
}

/// A TXT record with one string (TTL [`TTL`]).
pub fn txt(name: &str, text: &str) -> Record {
    Record::from_rdata(fqdn(name), TTL, RData::TXT(TXT::new(vec![text.into()])))
}

/// The SOA record of the zone `origin` (TTL and minimum [`NEGATIVE_TTL`]):
/// put one in the record set to have negative answers below `origin` carry
/// it.
pub fn soa(origin: &str) -> Record {
    let under = |label: &str| fqdn(&format!("{label}.{}", origin.trim_end_matches('.')));
    let soa = SOA::new(
        under("ns"),
        under("hostmaster"),
        1,
        3600,
        600,
        86_400,
        NEGATIVE_TTL,
    );
    Record::from_rdata(fqdn(origin), NEGATIVE_TTL, RData::SOA(soa))
}

/// An empty answer to `query` with the header a server sends back: QR,
/// AA, RA, the query's opcode, RD and CD, and — when the query had EDNS —
/// an OPT record with payload 1232 and the query's DO bit.
pub fn reply_to(query: &Message) -> Message {
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    let meta = &mut reply.metadata;
    meta.op_code = query.metadata.op_code;
    meta.authoritative = true;
    meta.recursion_available = true;
    meta.recursion_desired = query.metadata.recursion_desired;
    meta.checking_disabled = query.metadata.checking_disabled;
    reply.queries = query.queries.clone();
    if let Some(edns) = &query.edns {
        let mut opt = Edns::new();
        opt.set_max_payload(1232);
        opt.set_dnssec_ok(edns.flags().dnssec_ok);
        reply.set_edns(opt);
    }
    reply
}

/// The answer an authoritative server holding `records` gives to `query`:
/// the records of the question's name and type; a CNAME at the name is
/// given and followed within the set (at most 8 links, a loop stops the
/// walk); where the walk ends at a name with no record of the type, the
/// answer is NODATA, and at a name absent from the set NXDOMAIN, both with
/// an SOA in the authority section (the set's own SOA enclosing the name,
/// or a made-up one at the root). Owner names keep the case they have in
/// `records`.
pub fn answer_from_records(records: &[Record], query: &Message) -> Message {
    let mut reply = reply_to(query);
    let Some(question) = query.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    let qtype = question.query_type;
    let mut current = question.name.clone();
    let mut visited: Vec<Name> = Vec::new();
    loop {
        let at_name: Vec<&Record> = records.iter().filter(|r| r.name == current).collect();
        let matching: Vec<Record> = at_name
            .iter()
            .filter(|r| r.record_type() == qtype || qtype == RecordType::ANY)
            .map(|r| (*r).clone())
            .collect();
        if !matching.is_empty() {
            reply.add_answers(matching);
            return reply;
        }
        let alias = at_name.iter().find_map(|r| match &r.data {
            RData::CNAME(target) => Some(((*r).clone(), target.0.clone())),
            _ => None,
        });
        match alias {
            Some((record, target)) if visited.len() < MAX_CHAIN && !visited.contains(&current) => {
                reply.add_answer(record);
                visited.push(current);
                current = target;
            }
            // A loop or an over-long chain: what was collected, as is.
            Some(_) => return reply,
            None => {
                if at_name.is_empty() && !records.iter().any(|r| current.zone_of(&r.name)) {
                    reply.metadata.response_code = ResponseCode::NXDomain;
                }
                reply.add_authority(soa_for(records, &current));
                return reply;
            }
        }
    }
}

/// The SOA of the closest enclosing zone in `records`, or one at the root.
fn soa_for(records: &[Record], name: &Name) -> Record {
    records
        .iter()
        .filter(|r| r.record_type() == RecordType::SOA && r.name.zone_of(name))
        .max_by_key(|r| r.name.num_labels())
        .cloned()
        .unwrap_or_else(|| soa("."))
}
