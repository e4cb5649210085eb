//! S3-FIFO eviction, the memory bound, DO/CD keys, serve-stale and
//! prefetch, on the cache alone.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

use super::{FORWARDED, age_entry, cache, hit, key, list, list_of, query, response, with_entry};
use crate::answer_cache::AnswerCache;
use crate::wire::WireQuery;

/// Insert an answer (TTL 300) for each of `names`.
fn insert_all(
    c: &AnswerCache,
    names: impl Iterator<Item = String>,
    l: &std::sync::Arc<parapet_blocklist::Blocklist>,
) {
    for n in names {
        let q = query(1, &n, RecordType::A, None);
        c.insert(&key(&q), &response(&q, &[300], false), l, FORWARDED);
    }
}

#[test]
fn a_one_off_scan_of_ten_times_the_capacity_keeps_the_hot_set() {
    // 1 MiB: about 3,000 answers of this size.
    let (c, l) = (cache("cache_memory_mb = 1"), list());
    let hot: Vec<String> = (0..1000).map(|i| format!("hot{i}.example.")).collect();
    insert_all(&c, hot.iter().cloned(), &l);
    for n in &hot {
        let q = query(1, n, RecordType::A, None);
        assert!(hit(&c, &q, &l).is_some(), "{n} cached");
    }
    let (entries, _) = c.usage();
    assert_eq!(entries, 1000, "all hot names fit");
    // A pass of one-off names, ten times what the cache holds.
    let per_entry = c.usage().1 / entries;
    let capacity = (1 << 20) / per_entry;
    insert_all(
        &c,
        (0..10 * capacity).map(|i| format!("once{i}.scan.example.")),
        &l,
    );
    let kept = hot
        .iter()
        .filter(|n| hit(&c, &query(1, n, RecordType::A, None), &l).is_some())
        .count();
    assert!(kept >= 990, "{kept} of 1000 hot names kept after the scan");
    // The cache was full of one-off names all along: the bound held.
    let (entries, bytes) = c.usage();
    assert!(bytes <= 1 << 20, "{bytes} bytes");
    assert!(
        entries > capacity / 2,
        "{entries} entries, about {capacity} fit"
    );
}

#[test]
fn the_memory_bound_holds_for_answers_of_any_size() {
    let (c, l) = (cache("cache_memory_mb = 1"), list());
    for i in 0..20_000u32 {
        let q = query(1, &format!("n{i}.example."), RecordType::A, Some(4096));
        let ttls = vec![300; 1 + (i as usize % 60)];
        c.insert(&key(&q), &response(&q, &ttls, false), &l, FORWARDED);
        if i % 1000 == 0 {
            let (_, bytes) = c.usage();
            assert!(bytes <= 1 << 20, "{bytes} bytes after {i} inserts");
        }
    }
    let (entries, bytes) = c.usage();
    assert!(
        bytes <= 1 << 20 && bytes > (1 << 20) * 3 / 4,
        "{bytes} bytes"
    );
    assert!(entries > 500, "{entries} entries");
}

#[test]
fn expired_entries_leave_through_the_fifos_and_the_table_shrinks() {
    let (c, l) = (cache("serve_stale_secs = 0"), list());
    let burst = || (0..16_000).map(|i| format!("burst{i}.example."));
    insert_all(&c, burst(), &l);
    let capacity = || {
        c.shards
            .iter()
            .map(|s| s.lock().expect("lock").capacity())
            .sum::<usize>()
    };
    assert_eq!(c.usage().0, 16_000);
    assert!(capacity() >= 16_000);
    // The burst expires.
    for s in c.shards.iter() {
        for e in s.lock().expect("lock").entries_mut() {
            e.inserted_ms -= 301_000;
        }
    }
    // Ordinary traffic on fewer names, never filling the cache.
    for _ in 0..20 {
        insert_all(&c, (0..1024).map(|i| format!("steady{i}.example.")), &l);
    }
    assert_eq!(c.usage().0, 1024, "only the live entries are left");
    assert!(
        capacity() <= 16_000 / 2,
        "table capacity {} kept",
        capacity()
    );
}

/// A query for `name` with EDNS, the DO bit as `dnssec_ok` and CD as `cd`.
fn dnssec_query(name: &str, dnssec_ok: bool, cd: bool) -> Vec<u8> {
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = cd;
    m.add_query(Query::query(
        Name::from_ascii(name).expect("name"),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(dnssec_ok);
    m.set_edns(e);
    m.to_vec().expect("encodes")
}

#[test]
fn do_and_cd_answers_never_mix() {
    let (c, l) = (cache(""), list());
    let shapes = [(false, false), (true, false), (false, true), (true, true)];
    let keys: Vec<_> = shapes
        .iter()
        .map(|&(d, cd)| key(&dnssec_query("www.example.", d, cd)))
        .collect();
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a.as_bytes(), b.as_bytes());
        }
    }
    let q = dnssec_query("www.example.", true, false);
    assert!(WireQuery::parse(&q).is_some_and(|w| !w.checking_disabled()));
    c.insert(&key(&q), &response(&q, &[300], false), &l, FORWARDED);
    assert!(hit(&c, &q, &l).is_some());
    for &(d, cd) in &shapes[..] {
        let other = dnssec_query("www.example.", d, cd);
        assert_eq!(hit(&c, &other, &l).is_some(), d && !cd, "DO {d} CD {cd}");
    }
}

#[test]
fn serve_stale_within_the_window_and_only_what_the_list_lets_through() {
    let (c, l) = (cache("serve_stale_secs = 600"), list());
    let q = query(1, "www.shop.example.", RecordType::A, None);
    let r = response(&q, &[60], false);
    c.insert(&key(&q), &r, &l, FORWARDED);
    age_entry(&c, &q, 61_000);
    assert!(hit(&c, &q, &l).is_none(), "expired: not a hit");
    assert_eq!(c.stale(&key(&q), &l, 0).as_deref(), Some(&r[..]));
    assert!(
        c.stale(&key(&q), &l, 1).is_none(),
        "another look-alike check"
    );
    assert!(
        c.stale(&key(&q), &list_of("shop.example\n"), 0).is_none(),
        "blocked by the new list"
    );
    assert!(c.stale(&key(&q), &list_of("other.example\n"), 0).is_some());
    age_entry(&c, &q, 600_000);
    assert!(c.stale(&key(&q), &l, 0).is_none(), "past the window");

    let c = cache("serve_stale_secs = 0");
    c.insert(&key(&q), &r, &l, FORWARDED);
    age_entry(&c, &q, 61_000);
    assert!(c.stale(&key(&q), &l, 0).is_none(), "serve-stale off");
}

/// The prefetch flag of a hit on `q`; `None` for a miss.
fn prefetch_of(c: &AnswerCache, q: &[u8]) -> Option<bool> {
    let l = list();
    let wq = WireQuery::parse(q).expect("simple query");
    let mut out = Vec::new();
    // Entries are kept under `list()` snapshots: look up under the same.
    with_entry(c, q, |e| e.list = std::sync::Arc::downgrade(&l));
    c.answer(&key(q), &wq, &l, 1232, &mut out)
        .map(|h| h.prefetch)
}

#[test]
fn a_popular_answer_close_to_expiry_asks_for_one_refresh() {
    let (c, l) = (cache(""), list());
    let q = query(1, "www.example.", RecordType::A, None);
    c.insert(&key(&q), &response(&q, &[100], false), &l, FORWARDED);
    age_entry(&c, &q, 95_000);
    assert_eq!(
        prefetch_of(&c, &q),
        Some(false),
        "first hit: not popular yet"
    );
    assert_eq!(
        prefetch_of(&c, &q),
        Some(true),
        "hit before, 5 s of 100 left"
    );
    assert_eq!(prefetch_of(&c, &q), Some(false), "one refresh per answer");
    // The refresh replaces it: fresh, and may ask again near its end.
    c.insert(&key(&q), &response(&q, &[100], false), &l, FORWARDED);
    assert_eq!(prefetch_of(&c, &q), Some(false), "fresh");
    age_entry(&c, &q, 91_000);
    assert_eq!(prefetch_of(&c, &q), Some(true));

    let c = cache("prefetch = false");
    c.insert(&key(&q), &response(&q, &[100], false), &l, FORWARDED);
    age_entry(&c, &q, 95_000);
    assert_eq!(prefetch_of(&c, &q), Some(false));
    assert_eq!(prefetch_of(&c, &q), Some(false), "prefetch off");
}
