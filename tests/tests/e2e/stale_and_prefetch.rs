//! Serve-stale (RFC 8767) and prefetch, against a real upstream that the
//! test starts, stops and counts.

use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_e2e::client::{addresses, ede, rcode};
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::{Parapet, Upstream, eventually, lists};
use parapet_resolver::{Observer, Outcome, QueryEvent};

/// An A record for `name` with `ttl`.
fn a(name: &str, ttl: u32, last: u8) -> Record {
    let name = Name::from_str(name).expect("name");
    Record::from_rdata(name, ttl, RData::A(A(Ipv4Addr::new(192, 0, 2, last))))
}

/// Whether `msg` is a stale answer: EDE 3 and TTL 30.
fn is_stale(msg: &Message) -> bool {
    ede(msg).is_some_and(|(code, _)| code == 3) && msg.answers.iter().all(|r| r.ttl == 30)
}

#[tokio::test]
async fn every_upstream_down_serves_stale_answers_the_list_still_allows() -> anyhow::Result<()> {
    let up = Upstream::with_records(vec![
        a("stale.example.", 1, 1),
        a("soon-blocked.example.", 1, 2),
        a("soon-bad-ip.example.", 1, 3),
    ])
    .await;
    let p = Parapet::builder(up.addr())
        .section(
            "upstream",
            &format!(
                "servers = [\"{}\"]\ntimeout_ms = 300\nattempts = 1\nserve_stale_secs = 4",
                up.addr()
            ),
        )
        .start()
        .await?;
    for name in [
        "stale.example.",
        "soon-blocked.example.",
        "soon-bad-ip.example.",
    ] {
        let msg = p.query(name, RecordType::A).await?;
        assert_eq!(rcode(&msg), ResponseCode::NoError, "{name}");
        assert!(!is_stale(&msg));
    }
    // Every upstream down; the answers' TTL (1 s) runs out.
    drop(up);
    let stale = eventually(
        WAIT,
        || p.query("stale.example.", RecordType::A),
        |m| m.as_ref().is_ok_and(is_stale),
    )
    .await??;
    assert_eq!(rcode(&stale), ResponseCode::NoError);
    assert_eq!(addresses(&stale), vec!["192.0.2.1"]);
    let counted = eventually(
        WAIT,
        || p.metric("parapet_queries_total{protocol=\"udp\",outcome=\"stale\"}"),
        |n| n.as_ref().is_ok_and(|n| *n >= 1.0),
    )
    .await?;
    assert!(counted? >= 1.0);

    // A reload blocks one name and the address of another.
    let before = p.reload().status();
    p.replace_file(
        "phishing.txt",
        format!("{}soon-blocked.example\n", lists::PHISHING),
    )?;
    p.replace_file("ips.txt", format!("{}192.0.2.3\n", lists::IPS))?;
    p.wait_reload(WAIT, |s| s.generation > before.generation)
        .await?;
    let blocked = eventually(
        WAIT,
        || p.query("soon-blocked.example.", RecordType::A),
        |m| m.as_ref().is_ok_and(|m| addresses(m) == vec![SINKHOLE_V4]),
    )
    .await??;
    assert!(!is_stale(&blocked), "blocked, not stale");
    let bad_ip = eventually(
        WAIT,
        || p.query("soon-bad-ip.example.", RecordType::A),
        |m| m.as_ref().is_ok_and(|m| rcode(m) == ResponseCode::ServFail),
    )
    .await??;
    assert!(
        bad_ip.answers.is_empty(),
        "inspected again: not served stale"
    );
    // Still within the window the clean name is served stale...
    let again = p.query("stale.example.", RecordType::A).await?;
    assert!(is_stale(&again) || rcode(&again) == ResponseCode::ServFail);
    // ...and past it (1 s TTL + 4 s) SERVFAIL.
    let past = eventually(
        WAIT,
        || p.query("stale.example.", RecordType::A),
        |m| m.as_ref().is_ok_and(|m| rcode(m) == ResponseCode::ServFail),
    )
    .await??;
    assert!(past.answers.is_empty());
    Ok(())
}

/// Counts the outcomes of client queries.
#[derive(Default)]
struct Outcomes(Mutex<Vec<Outcome>>);

impl Observer for Outcomes {
    fn observe(&self, e: &QueryEvent<'_>) {
        if let Ok(mut v) = self.0.lock() {
            v.push(e.outcome);
        }
    }
}

#[tokio::test]
async fn a_popular_short_lived_answer_is_refreshed_before_it_expires() -> anyhow::Result<()> {
    // TTL 4: a refresh is due in its last 0.4 s, wide enough for a busy CI.
    let up = Upstream::with_records(vec![a("popular.example.", 4, 7)]).await;
    let outcomes = Arc::new(Outcomes::default());
    let p = Parapet::builder(up.addr())
        .observer(outcomes.clone())
        .start()
        .await?;
    // Asked every 20 ms for two TTLs and a quarter.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(9_000);
    while tokio::time::Instant::now() < deadline {
        let msg = p.query("popular.example.", RecordType::A).await?;
        assert_eq!(addresses(&msg), vec!["192.0.2.7"]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let outcomes = outcomes.0.lock().map(|v| v.clone()).unwrap_or_default();
    let forwarded = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Forwarded { .. }))
        .count();
    let cached = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Cached { .. }))
        .count();
    // The client's first query was the only miss; the upstream saw the
    // refreshes (one per TTL) as well.
    assert_eq!(forwarded, 1, "client misses; {cached} hits");
    assert_eq!(forwarded + cached, outcomes.len(), "{outcomes:?}");
    assert!(up.queries() >= 3, "{} upstream queries", up.queries());
    assert!(p.metric("parapet_prefetches_total").await? >= 2.0);
    assert!(p.metric("parapet_answer_cache_entries").await? >= 1.0);
    assert!(p.metric("parapet_answer_cache_bytes").await? >= 100.0);
    Ok(())
}
