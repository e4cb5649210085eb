//! The answer cache's layout walker and TTL patching, against
//! hickory-proto's decoder. Input: a 4-byte age (s), then a response.
//! On any bytes nothing panics; whenever the walker keeps a response as
//! hickory encodes it (as the cache holds them), its TTL offsets are exactly the TTL fields of hickory's records (every one but
//! OPT), and patching them by the age changes those TTLs and nothing else.
//! The cache's own insert-then-answer round trip must hand the response
//! back unchanged.
#![no_main]

use std::sync::Arc;

use hickory_proto::op::Message;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Record, RecordType};
use libfuzzer_sys::fuzz_target;
use parapet_fuzz::internals::{AnswerCache, Key, WireQuery, age_ttls, ttl_offsets};
use parapet_fuzz::{blocklist, config};
use parapet_resolver::Outcome;

fuzz_target!(|data: &[u8]| {
    let Some((age, response)) = data.split_first_chunk::<4>() else {
        return;
    };
    let age = u32::from_be_bytes(*age);
    // Any bytes: the walker, the patching and the cache never panic.
    if let Some(offsets) = ttl_offsets(response) {
        let mut aged = response.to_vec();
        age_ttls(&mut aged, offsets.into_iter().map(usize::from), age);
    }
    round_trip_through_cache(response);
    // What the cache keeps is parapet's own encoding (hickory's encoder) of
    // an answer: on those, the walker must find exactly the TTLs. (Raw
    // bytes can point a name into a TTL field, which patching then changes;
    // no encoder does that.)
    let Ok(decoded) = Message::from_vec(response) else {
        return;
    };
    let Ok(encoded) = decoded.to_vec() else {
        return;
    };
    check_against_hickory(&encoded, age);
});

/// The walker's TTL offsets in `response` (a hickory encoding) are the TTL
/// fields of hickory's records, and aging them by `age` changes those TTLs
/// and nothing else.
fn check_against_hickory(response: &[u8], age: u32) {
    let Some(offsets) = ttl_offsets(response) else {
        return;
    };
    let mut aged = response.to_vec();
    age_ttls(&mut aged, offsets.iter().map(|&o| usize::from(o)), age);
    // (hickory not reading its own encoding back is hickory's business.)
    let Ok(before) = Message::from_vec(response) else {
        return;
    };
    let after = Message::from_vec(&aged).expect("aged response decodes like the original");
    // The walker skips OPT wherever it is; hickory keeps a final TSIG or
    // SIG(0) record apart from the additionals.
    let records = |m: &Message| -> Vec<Record> {
        let all = m.answers.iter().chain(&m.authorities).chain(&m.additionals);
        all.filter(|r| r.record_type() != RecordType::OPT)
            .cloned()
            .collect()
    };
    let (was, now) = (records(&before), records(&after));
    let signed = usize::from(before.signature.is_some());
    assert_eq!(
        offsets.len(),
        was.len() + signed,
        "one TTL offset per record"
    );
    for (old, new) in was.iter().zip(&now) {
        assert_eq!(new.ttl, old.ttl.saturating_sub(age));
        let mut unaged = new.clone();
        unaged.ttl = old.ttl;
        assert_eq!(&unaged, old, "patching changed more than the TTL");
    }
    assert_eq!(before.queries, after.queries);
    assert_eq!(before.edns, after.edns);
}

/// Insert `response` under a query made of its own question, answer that
/// query from the cache: the same bytes come back (no time has passed).
fn round_trip_through_cache(response: &[u8]) {
    let Some(question_end) = question_end(response) else {
        return;
    };
    let mut query = response[..question_end].to_vec();
    query[2] &= 0x01; // a query: QR=0, OPCODE=0, RD kept
    query[3] &= 0x10; // CD kept
    query[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    let Some(parsed) = WireQuery::parse(&query) else {
        return;
    };
    let Some(key) = Key::of(&parsed) else {
        return;
    };
    let cache = AnswerCache::new(&config().upstream).expect("cache on");
    let list = Arc::clone(blocklist());
    cache.insert_checked(
        &key,
        response,
        &list,
        0,
        Outcome::Forwarded {
            rcode: ResponseCode::NoError,
        },
    );
    let mut out = Vec::new();
    if cache
        .answer_checked(&key, &parsed, &list, 0, usize::MAX, &mut out)
        .is_some()
    {
        assert_eq!(out.len(), response.len());
        // ID and question as asked: here they are the response's own.
        assert_eq!(out[12..question_end], response[12..question_end]);
    }
}

/// End of the (uncompressed) question of a one-question message.
fn question_end(msg: &[u8]) -> Option<usize> {
    let mut pos = 12;
    loop {
        let len = usize::from(*msg.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        pos += len;
    }
    (pos + 4 <= msg.len()).then_some(pos + 4)
}
