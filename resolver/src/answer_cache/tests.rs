//! The encoded-answer cache: keys, patching, expiry bounds, staleness.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_blocklist::{Blocklist, CompileOptions, Compiler, SourceSpec};

use super::{AnswerCache, Key};
use crate::config;
use crate::event::Outcome;
use crate::wire::WireQuery;

const FORWARDED: Outcome = Outcome::Forwarded {
    rcode: ResponseCode::NoError,
};

fn list() -> Arc<Blocklist> {
    list_of("evil.example\n")
}

fn list_of(text: &str) -> Arc<Blocklist> {
    let mut compiler = Compiler::new(CompileOptions::default());
    compiler
        .add_reader(&SourceSpec::new("l.txt"), text.as_bytes())
        .expect("list parses");
    Arc::new(Blocklist::from_bytes(compiler.to_bytes().expect("compiles")).expect("loads"))
}

fn cache(extra: &str) -> Arc<AnswerCache> {
    let text = format!("[upstream]\nservers = [\"127.0.0.1:9\"]\n{extra}\n");
    let config = config::from_toml_str(&text, Path::new(".")).expect("config is valid");
    let mut cache = AnswerCache::new(&config.upstream).expect("cache on");
    // An epoch an hour back, so that tests can age entries (`age_entry`).
    Arc::get_mut(&mut cache).expect("not shared yet").epoch = Instant::now()
        .checked_sub(Duration::from_secs(3600))
        .expect("the clock is past an hour");
    cache
}

fn query(id: u16, name: &str, qtype: RecordType, payload: Option<u16>) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    if let Some(p) = payload {
        let mut e = Edns::new();
        e.set_max_payload(p);
        m.set_edns(e);
    }
    m.to_vec().expect("encodes")
}

/// A response to `q` with one A record per TTL in `ttls`.
fn response(q: &[u8], ttls: &[u32], truncated: bool) -> Vec<u8> {
    let req = Message::from_vec(q).expect("query decodes");
    let mut m = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.truncation = truncated;
    m.add_query(req.queries[0].clone());
    for (i, ttl) in ttls.iter().enumerate() {
        m.add_answer(Record::from_rdata(
            req.queries[0].name().clone(),
            *ttl,
            RData::A(A(Ipv4Addr::new(192, 0, 2, i as u8))),
        ));
    }
    if let Some(e) = req.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(e.max_payload());
        m.set_edns(edns);
    }
    m.to_vec().expect("encodes")
}

fn key(q: &[u8]) -> Key {
    Key::of(&WireQuery::parse(q).expect("simple query")).expect("key")
}

fn hit(cache: &AnswerCache, q: &[u8], list: &Arc<Blocklist>) -> Option<Message> {
    let wq = WireQuery::parse(q).expect("simple query");
    hit_within(cache, q, list, wq.max_response_size())
}

/// [`hit`] for a stream client: any size.
fn hit_within(cache: &AnswerCache, q: &[u8], list: &Arc<Blocklist>, max: usize) -> Option<Message> {
    let wq = WireQuery::parse(q).expect("simple query");
    let mut out = Vec::new();
    cache.answer(&key(q), &wq, list, max, &mut out)?;
    Some(Message::from_vec(&out).expect("cached answer decodes"))
}

#[test]
fn repeat_gets_its_own_id_case_and_payload() {
    let (c, l) = (cache(""), list());
    let first = query(1, "www.example.", RecordType::A, Some(1232));
    c.insert(
        &key(&first),
        &response(&first, &[300, 200], false),
        &l,
        FORWARDED,
    );
    let again = query(0xbeef, "WwW.ExAmple.", RecordType::A, Some(4096));
    let msg = hit(&c, &again, &l).expect("served from the cache");
    assert_eq!(msg.metadata.id, 0xbeef);
    assert_eq!(msg.metadata.message_type, MessageType::Response);
    assert_eq!(msg.queries[0].name().to_ascii(), "WwW.ExAmple.");
    assert_eq!(msg.answers.len(), 2);
    assert!(msg.answers[0].ttl <= 300 && msg.answers[1].ttl <= 200);
    // The offer of 4096, capped at the largest UDP answer parapet sends.
    assert_eq!(msg.edns.as_ref().map(|e| e.max_payload()), Some(1232));
}

#[test]
fn types_and_edns_shapes_do_not_collide() {
    let (c, l) = (cache(""), list());
    let a = query(1, "www.example.", RecordType::A, Some(1232));
    c.insert(&key(&a), &response(&a, &[300], false), &l, FORWARDED);
    assert!(
        hit(
            &c,
            &query(2, "www.example.", RecordType::AAAA, Some(1232)),
            &l
        )
        .is_none()
    );
    assert!(hit(&c, &query(2, "www.example.", RecordType::A, None), &l).is_none());
    assert!(hit(&c, &query(2, "ww.example.", RecordType::A, Some(1232)), &l).is_none());
    assert!(hit(&c, &query(2, "www.example.", RecordType::A, Some(512)), &l).is_some());
}

#[test]
fn truncated_zero_ttl_and_other_lists_are_not_served() {
    let (c, l) = (cache(""), list());
    let q = query(1, "tc.example.", RecordType::A, None);
    c.insert(&key(&q), &response(&q, &[300], true), &l, FORWARDED);
    assert!(hit(&c, &q, &l).is_none(), "truncated answers are not kept");
    let q = query(1, "zero.example.", RecordType::A, None);
    c.insert(&key(&q), &response(&q, &[300, 0], false), &l, FORWARDED);
    assert!(hit(&c, &q, &l).is_none(), "TTL 0 means do not cache");
    let q = query(1, "www.example.", RecordType::A, None);
    c.insert(&key(&q), &response(&q, &[300], false), &l, FORWARDED);
    assert!(hit(&c, &q, &l).is_some());
}

// See: issue 15 (the chaos run). A reload made every entry stale, so every
// list update sent the whole working set back to the upstream, and cached
// names got SERVFAIL whenever the upstream was down across a reload.
#[test]
fn issue_15_reload_keeps_cached_answers_the_new_list_lets_through() {
    let (c, l) = (cache(""), list());
    let q = query(1, "www.example.", RecordType::A, None);
    c.insert(&key(&q), &response(&q, &[300], false), &l, FORWARDED);
    let reloaded = list_of("evil.example\nother.example\n");
    assert!(
        hit(&c, &q, &reloaded).is_some(),
        "inspected again, still clean"
    );
    drop(l);
    assert!(
        hit(&c, &q, &reloaded).is_some(),
        "now kept under the new list, the old one gone"
    );
    let answers = hit(&c, &q, &reloaded).expect("served").answers;
    assert_eq!(answers.len(), 1);
}

#[test]
fn issue_15_reload_drops_cached_answers_the_new_list_blocks() {
    let (c, l) = (cache(""), list());
    let q = query(1, "www.shop.example.", RecordType::A, None);
    c.insert(&key(&q), &response(&q, &[300], false), &l, FORWARDED);
    // The name, a parent of it, or the address in the answer: each blocks.
    for text in ["www.shop.example\n", "shop.example\n", "192.0.2.0\n"] {
        let reloaded = list_of(text);
        assert!(
            hit(&c, &q, &reloaded).is_none(),
            "an answer the new list blocks ({text:?}) is not served"
        );
    }
    assert!(
        hit(&c, &q, &l).is_some(),
        "the old list still lets it through"
    );
    // An outcome other than a plain forward is never carried over.
    let q = query(2, "paypa1.example.", RecordType::A, None);
    let logged = Outcome::Lookalike {
        blocked: false,
        rcode: ResponseCode::NoError,
    };
    c.insert(&key(&q), &response(&q, &[300], false), &l, logged);
    assert!(hit(&c, &q, &l).is_some());
    assert!(hit(&c, &q, &list_of("other.example\n")).is_none());
}

#[test]
fn too_big_for_the_client_goes_to_the_full_path() {
    let (c, l) = (cache(""), list());
    let big = query(1, "big.example.", RecordType::A, Some(4096));
    let ttls = vec![300; 40]; // 40 × 16 bytes > 512
    c.insert(&key(&big), &response(&big, &ttls, false), &l, FORWARDED);
    assert!(hit(&c, &big, &l).is_some());
    assert!(hit(&c, &query(2, "big.example.", RecordType::A, Some(512)), &l).is_none());
}

#[test]
fn max_ttl_bounds_the_stay_and_cache_size_bounds_the_entries() {
    let c = cache("cache_max_ttl = 0\ncache_size = 32");
    let l = list();
    let q = query(1, "www.example.", RecordType::A, None);
    c.insert(&key(&q), &response(&q, &[300], false), &l, FORWARDED);
    assert!(hit(&c, &q, &l).is_none(), "cache_max_ttl = 0 keeps nothing");

    let c = cache("cache_size = 32");
    for i in 0..1000 {
        let q = query(1, &format!("n{i}.example."), RecordType::A, None);
        c.insert(&key(&q), &response(&q, &[300], false), &l, FORWARDED);
    }
    let (held, _) = c.usage();
    // 32 over 16 shards: 2 each.
    assert!(held <= 32, "{held} entries held");
    assert!(held >= 16, "{held} entries held");
}

#[test]
fn answers_over_the_size_bound_are_not_kept() {
    let (c, l) = (cache(""), list());
    let q = query(1, "txt.example.", RecordType::A, Some(65535));
    // 16-27 bytes per A record (name compressed or not): 100 fit in 4 KiB,
    // 300 do not.
    let small = response(&q, &[300; 100], false);
    let large = response(&q, &[300; 300], false);
    assert!(small.len() <= super::MAX_KEPT && large.len() > super::MAX_KEPT);
    let any_size = usize::from(u16::MAX);
    c.insert(&key(&q), &large, &l, FORWARDED);
    assert!(
        hit_within(&c, &q, &l, any_size).is_none(),
        "{} bytes kept",
        large.len()
    );
    c.insert(&key(&q), &small, &l, FORWARDED);
    assert!(hit_within(&c, &q, &l, any_size).is_some());
    assert!(
        hit(&c, &q, &l).is_none(),
        "over 1232 bytes: not for a UDP client"
    );
}

#[test]
fn hostile_responses_are_not_kept() {
    let (c, l) = (cache(""), list());
    let q = query(1, "www.example.", RecordType::A, None);
    let good = response(&q, &[300], false);
    for cut in 0..good.len() {
        c.insert(&key(&q), &good[..cut], &l, FORWARDED);
        assert!(hit(&c, &q, &l).is_none(), "cut at {cut} was kept");
    }
}

/// Run `f` on the entry for `q`.
fn with_entry<T>(c: &AnswerCache, q: &[u8], f: impl FnOnce(&mut super::Entry) -> T) -> T {
    let k = key(q);
    let (hash, shard) = c.shard(k.as_bytes());
    let mut shard = shard.lock().expect("shard lock");
    f(shard.get_mut(hash, k.as_bytes()).expect("entry present"))
}

/// Move the entry for `q` `ms` milliseconds into the past.
fn age_entry(c: &AnswerCache, q: &[u8], ms: u64) {
    with_entry(c, q, |e| e.inserted_ms = e.inserted_ms.saturating_sub(ms));
}

#[test]
fn ttls_count_down_by_whole_seconds_and_expire_at_the_smallest() {
    let (c, l) = (cache(""), list());
    let q = query(1, "www.example.", RecordType::A, Some(1232));
    c.insert(&key(&q), &response(&q, &[300, 200], false), &l, FORWARDED);
    let ttls = |m: Message| m.answers.iter().map(|r| r.ttl).collect::<Vec<_>>();
    // Inserted just now: the TTLs as sent.
    assert_eq!(ttls(hit(&c, &q, &l).expect("fresh")), vec![300, 200]);
    age_entry(&c, &q, 2_500);
    assert_eq!(ttls(hit(&c, &q, &l).expect("2.5 s old")), vec![298, 198]);
    age_entry(&c, &q, 197_000);
    assert_eq!(ttls(hit(&c, &q, &l).expect("199.5 s old")), vec![101, 1]);
    age_entry(&c, &q, 500);
    assert!(hit(&c, &q, &l).is_none(), "gone after the smallest TTL");
}

#[test]
fn entry_is_one_allocation_of_key_response_and_ttl_offsets() {
    let (c, l) = (cache(""), list());
    let q = query(1, "www.example.", RecordType::A, Some(1232));
    let r = response(&q, &[300, 200, 100], false);
    c.insert(&key(&q), &r, &l, FORWARDED);
    let k = key(&q);
    with_entry(&c, &q, |e| {
        assert_eq!(e.key(), k.as_bytes());
        assert_eq!(e.response(), &r[..]);
        // Three answer records; the OPT record's TTL field is not patched.
        assert_eq!(e.ttl_offsets().count(), 3);
        assert_eq!(e.data.len(), k.as_bytes().len() + r.len() + 3 * 2);
        assert!(e.opt_at > 0, "OPT record found");
    });
    // The fixed part stays small: it is paid per slot of the hash table.
    assert!(
        std::mem::size_of::<super::Entry>() <= 80,
        "{} bytes",
        std::mem::size_of::<super::Entry>()
    );
}

// Found by fuzzing (fuzz targets wire_query and answer_layout): the key of a
// query whose name took 255 bytes before its root label indexed past the
// key buffer (a panic in the UDP receive loop). Such names are not legal;
// the longest legal one gets a key.
#[test]
fn key_of_the_longest_name_fits() {
    let labels = [
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61),
    ];
    let q = query(
        1,
        &format!("{}.", labels.join(".")),
        RecordType::A,
        Some(1232),
    );
    let parsed = WireQuery::parse(&q).expect("a 255-byte name parses");
    assert!(Key::of(&parsed).is_some());
}

mod s3fifo;
