//! The encoded-answer cache in front of the forwarder: repeats get their
//! own ID and case and never-growing TTLs, entries expire with the smallest
//! TTL, a reload makes inspected answers stale, types do not collide,
//! truncation is unchanged, UDP and TCP share entries (a truncated UDP
//! answer is never served to TCP as complete).

use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_e2e::client::{QueryOptions, Transport, addresses, rcode};
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::upstream::ZONE_TTL;
use parapet_e2e::{Parapet, Upstream, lists};
use tokio::net::UdpSocket;

/// Send `name`/`rtype` with `id` (EDNS, 1232 bytes) from a raw socket and
/// return the decoded answer.
async fn raw_query(p: &Parapet, id: u16, name: &str, rtype: RecordType) -> anyhow::Result<Message> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name)?, rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    m.set_edns(edns);
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    socket.send_to(&m.to_vec()?, p.addr()).await?;
    let mut buf = vec![0u8; 4096];
    let (len, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf)).await??;
    Ok(Message::from_vec(&buf[..len])?)
}

#[tokio::test]
async fn repeats_are_cached_with_their_own_id_case_and_shrinking_ttl() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let first = raw_query(&p, 1, "www.example.", RecordType::A).await?;
    assert_eq!(addresses(&first), vec!["192.0.2.10"]);
    let sent = up.queries();
    let mut last_ttl = first.answers[0].ttl;
    for (id, name) in [
        (0x1111, "WWW.example."),
        (0xfffe, "www.EXAMPLE."),
        (7, "www.example."),
    ] {
        let msg = raw_query(&p, id, name, RecordType::A).await?;
        assert_eq!(msg.metadata.id, id);
        assert_eq!(msg.queries[0].name().to_ascii(), name, "case as sent");
        assert_eq!(addresses(&msg), vec!["192.0.2.10"]);
        let ttl = msg.answers[0].ttl;
        assert!(
            ttl <= last_ttl && ttl > 0 && ttl <= ZONE_TTL,
            "{ttl} after {last_ttl}"
        );
        last_ttl = ttl;
        assert!(msg.edns.is_some(), "EDNS echoed");
    }
    // The TTL does shrink as the entry ages ("never grows" alone would
    // pass if it stayed put): wait for a repeat whose TTL is below the first.
    let first_ttl = first.answers[0].ttl;
    let aged = parapet_e2e::eventually(
        WAIT,
        || raw_query(&p, 9, "www.example.", RecordType::A),
        |m| m.as_ref().is_ok_and(|m| m.answers[0].ttl < first_ttl),
    )
    .await?;
    assert!(aged?.answers[0].ttl > 0);
    assert_eq!(up.queries(), sent, "repeats do not reach the upstream");
    Ok(())
}

#[tokio::test]
async fn types_do_not_collide() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    for _ in 0..3 {
        let a = p.query("www.example.", RecordType::A).await?;
        assert_eq!(addresses(&a), vec!["192.0.2.10"]);
        let aaaa = p.query("www.example.", RecordType::AAAA).await?;
        assert_eq!(addresses(&aaaa), vec!["2001:db8::10"]);
        let txt = p.query("www.example.", RecordType::TXT).await?;
        assert!(txt.answers.is_empty(), "NODATA stays NODATA");
        assert_eq!(rcode(&txt), ResponseCode::NoError);
        let nx = p.query("nope.example.", RecordType::A).await?;
        assert_eq!(rcode(&nx), ResponseCode::NXDomain);
    }
    Ok(())
}

#[tokio::test]
async fn entry_expires_with_the_smallest_ttl() -> anyhow::Result<()> {
    let name = Name::from_str("short.example.")?;
    let up = Upstream::with_records(vec![
        Record::from_rdata(name.clone(), 1, RData::A(A(Ipv4Addr::new(192, 0, 2, 1)))),
        Record::from_rdata(name, 300, RData::A(A(Ipv4Addr::new(192, 0, 2, 2)))),
    ])
    .await;
    let p = Parapet::start(up.addr()).await?;
    p.query("short.example.", RecordType::A).await?;
    let first = up.queries();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let msg = p.query("short.example.", RecordType::A).await?;
        assert_eq!(msg.answers.len(), 2);
        assert!(
            msg.answers.iter().all(|r| r.ttl <= 300),
            "{:?}",
            msg.answers
        );
        if up.queries() > first {
            break; // expired and fetched again
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a 1 s answer was still served from the cache after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn reload_that_blocks_a_cname_target_or_address_invalidates_answers() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    for _ in 0..2 {
        let alias = p.query("alias.example.", RecordType::A).await?;
        assert_eq!(addresses(&alias), vec!["192.0.2.10"]);
        let mail = p.query("mail.example.", RecordType::A).await?;
        assert_eq!(addresses(&mail), vec!["192.0.2.25"]);
    }
    let before = p.reload().status();
    p.replace_file("phishing.txt", format!("{}www.example\n", lists::PHISHING))?;
    p.replace_file("ips.txt", format!("{}192.0.2.25\n", lists::IPS))?;
    p.wait_reload(WAIT, |s| s.generation > before.generation)
        .await?;
    // Both files may land in one reload or two: wait for the address too.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mail = p.query("mail.example.", RecordType::A).await?;
        if addresses(&mail) == vec![SINKHOLE_V4] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{mail:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alias = p.query("alias.example.", RecordType::A).await?;
    assert_eq!(
        addresses(&alias),
        vec![SINKHOLE_V4],
        "CNAME target now blocked"
    );
    Ok(())
}

#[tokio::test]
async fn truncation_is_unchanged_after_a_cached_large_answer() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let edns = p.query("big.example.", RecordType::TXT).await?;
    assert_eq!(edns.answers.len(), 10);
    let again = p.query("big.example.", RecordType::TXT).await?;
    assert_eq!(again.answers.len(), 10);
    assert!(!again.metadata.truncation);
    let no_edns = QueryOptions::without_edns();
    for _ in 0..2 {
        let udp = p
            .query_with("big.example.", RecordType::TXT, &no_edns)
            .await?;
        assert!(udp.metadata.truncation, "a 512-byte client must see TC");
        assert!(udp.edns.is_none());
    }
    let tcp = p.query_tcp("big.example.", RecordType::TXT).await?;
    assert_eq!(tcp.answers.len(), 10);
    Ok(())
}

#[tokio::test]
async fn answers_the_answer_cache_does_not_keep_are_still_cached() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let no_edns = QueryOptions::without_edns();
    // Truncated for a 512-byte client, and blocked on inspection (CNAME
    // into a blocked name): the answer cache keeps the whole answer (for
    // the TCP retry) and no blocked one; the repeats are answered alike.
    // (Since #14 there is no second cache behind the answer cache: these
    // repeats ask the upstream again.)
    let big = p
        .query_with("big.example.", RecordType::TXT, &no_edns)
        .await?;
    assert!(big.metadata.truncation);
    let cloaked = p.query("cloaked.example.", RecordType::A).await?;
    assert_eq!(addresses(&cloaked), vec![SINKHOLE_V4]);
    let sent = up.queries();
    for _ in 0..3 {
        let big = p
            .query_with("big.example.", RecordType::TXT, &no_edns)
            .await?;
        assert!(big.metadata.truncation);
        let cloaked = p.query("cloaked.example.", RecordType::A).await?;
        assert_eq!(addresses(&cloaked), vec![SINKHOLE_V4]);
    }
    assert!(up.queries() > sent, "no cache behind the answer cache");
    // A name first asked over UDP is answered over TCP too (from the
    // answer cache both share).
    let www = p.query("www.example.", RecordType::A).await?;
    let tcp = p.query_tcp("www.example.", RecordType::A).await?;
    assert_eq!(addresses(&tcp), addresses(&www));
    Ok(())
}

/// The records of a section apart from TTL: (name, type, rdata) as text.
fn records_without_ttl(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
        .collect()
}

/// `later` is `first` apart from ID and TTLs that did not grow.
fn assert_same_answer(first: &Message, later: &Message) {
    assert_eq!(rcode(later), rcode(first));
    assert_eq!(
        records_without_ttl(&later.answers),
        records_without_ttl(&first.answers)
    );
    assert_eq!(
        records_without_ttl(&later.authorities),
        records_without_ttl(&first.authorities)
    );
    for (l, f) in later.answers.iter().zip(&first.answers) {
        assert!(l.ttl <= f.ttl, "TTL grew: {} after {}", l.ttl, f.ttl);
    }
    assert_eq!(later.metadata.truncation, first.metadata.truncation);
    assert_eq!(
        later.metadata.recursion_available,
        first.metadata.recursion_available
    );
    assert_eq!(later.edns.is_some(), first.edns.is_some());
}

#[tokio::test]
async fn udp_and_tcp_share_answers_without_a_second_upstream_query() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    // Asked over UDP first, then over TCP.
    let udp = p.query("www.example.", RecordType::A).await?;
    assert_eq!(addresses(&udp), vec!["192.0.2.10"]);
    let nx_udp = p.query("nope.example.", RecordType::A).await?;
    assert_eq!(rcode(&nx_udp), ResponseCode::NXDomain);
    let sent = up.queries();
    let tcp = p.query_tcp("www.example.", RecordType::A).await?;
    assert_same_answer(&udp, &tcp);
    let nx_tcp = p.query_tcp("nope.example.", RecordType::A).await?;
    assert_same_answer(&nx_udp, &nx_tcp);
    assert_eq!(up.queries(), sent, "TCP repeats of UDP answers stay local");
    // Asked over TCP first, then over UDP.
    let tcp = p.query_tcp("mail.example.", RecordType::A).await?;
    assert_eq!(addresses(&tcp), vec!["192.0.2.25"]);
    let sent = up.queries();
    let udp = p.query("mail.example.", RecordType::A).await?;
    assert_same_answer(&tcp, &udp);
    let again = p.query_tcp("mail.example.", RecordType::A).await?;
    assert_same_answer(&tcp, &again);
    assert_eq!(
        up.queries(),
        sent,
        "UDP and TCP repeats of a TCP answer stay local"
    );
    Ok(())
}

#[tokio::test]
async fn truncated_udp_answer_is_not_served_to_tcp_as_complete() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let no_edns = QueryOptions::without_edns();
    let tcp_no_edns = QueryOptions {
        transport: Transport::Tcp,
        ..no_edns.clone()
    };
    let udp = p
        .query_with("big.example.", RecordType::TXT, &no_edns)
        .await?;
    assert!(udp.metadata.truncation, "a 512-byte client must see TC");
    assert!(udp.answers.len() < 10);
    let sent = up.queries();
    // The TC retry over TCP gets the whole answer, which the answer cache
    // kept when it truncated it for UDP (no second upstream query).
    let tcp = p
        .query_with("big.example.", RecordType::TXT, &tcp_no_edns)
        .await?;
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 10);
    assert!(tcp.edns.is_none());
    // Now the complete answer is in the answer cache, for TCP...
    let again = p
        .query_with("big.example.", RecordType::TXT, &tcp_no_edns)
        .await?;
    assert_same_answer(&tcp, &again);
    assert_eq!(up.queries(), sent, "no second upstream query");
    // ...but a 512-byte UDP client still gets it truncated.
    for _ in 0..2 {
        let udp = p
            .query_with("big.example.", RecordType::TXT, &no_edns)
            .await?;
        assert!(udp.metadata.truncation, "a 512-byte client must see TC");
        assert!(udp.answers.len() < 10);
    }
    Ok(())
}
