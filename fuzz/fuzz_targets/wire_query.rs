//! The UDP question parser and the blocked-name fast path, differential
//! against hickory-proto: whenever both accept a packet they agree on the
//! name, type, class and EDNS; every answer the fast path writes decodes,
//! carries the query's ID and question, and the verdict on the wire labels
//! equals the verdict on hickory's name.
#![no_main]

use hickory_proto::op::{Message, ResponseCode};
use libfuzzer_sys::fuzz_target;
use parapet_fuzz::internals::{Key, WireQuery};
use parapet_fuzz::{Decoded, blocklist, config, hickory_question};

fuzz_target!(|packet: &[u8]| {
    let Some(query) = WireQuery::parse(packet) else {
        return;
    };
    let _ = Key::of(&query);
    let list = blocklist();
    let verdict = query.check(list);
    let Some(theirs) = hickory_question(packet) else {
        return;
    };
    let ours = Decoded {
        labels: query.labels().map(<[u8]>::to_vec).collect(),
        qtype: u16::from(query.qtype),
        qclass: 1,
        edns: query
            .edns()
            .map(|(payload, dnssec_ok)| (payload.max(512), dnssec_ok)),
    };
    assert_eq!(
        ours, theirs,
        "parapet and hickory read the question differently"
    );

    let name: Vec<&[u8]> = theirs.labels.iter().map(Vec::as_slice).collect();
    assert_eq!(verdict, list.check_labels(name.into_iter()));

    let mut out = Vec::new();
    query.write_empty(ResponseCode::Refused, false, &mut out);
    check_answer(packet, &out, query.max_response_size());
    query.write_truncated(&mut out);
    check_answer(packet, &out, query.max_response_size());
    if let Some(rule) = verdict.rule().filter(|_| verdict.is_block()) {
        query.write_blocked(&config().block, list, rule, &mut out);
        check_answer(packet, &out, query.max_response_size());
    }
});

/// `answer` decodes, answers `packet` (ID, question) and fits `limit`.
fn check_answer(packet: &[u8], answer: &[u8], limit: usize) {
    assert!(answer.len() <= limit, "answer over the size limit");
    let decoded = Message::from_vec(answer).expect("fast-path answer decodes");
    let asked = Message::from_vec(packet).expect("query decodes");
    assert_eq!(decoded.metadata.id, asked.metadata.id);
    assert_eq!(decoded.queries, asked.queries);
    assert_eq!(decoded.edns.is_some(), asked.edns.is_some());
}
