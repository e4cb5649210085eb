//! Forwarding: upstream data relayed as received, over UDP and TCP; the
//! cache; an upstream that is down.

use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use parapet_e2e::client::{QueryOptions, addresses, has_soa, rcode};
use parapet_e2e::parapet::SINKHOLE_V4;
use parapet_e2e::upstream::ZONE_TTL;
use parapet_e2e::{Blackhole, Parapet, Upstream};

#[tokio::test]
async fn normal_names_answered_with_upstream_data_over_udp_and_tcp() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    for tcp in [false, true] {
        let q = |name: &'static str, t| {
            let p = &p;
            async move {
                if tcp {
                    p.query_tcp(name, t).await
                } else {
                    p.query(name, t).await
                }
            }
        };
        let a = q("www.example.", RecordType::A).await?;
        assert_eq!(rcode(&a), ResponseCode::NoError);
        assert_eq!(addresses(&a), vec!["192.0.2.10"], "tcp={tcp}");
        assert!(a.answers.iter().all(|r| r.ttl > 0 && r.ttl <= ZONE_TTL));
        assert!(a.metadata.recursion_available);
        let aaaa = q("www.example.", RecordType::AAAA).await?;
        assert_eq!(addresses(&aaaa), vec!["2001:db8::10"]);
        let txt = q("txt.example.", RecordType::TXT).await?;
        assert!(
            txt.answers.iter().any(
                |r| matches!(&r.data, RData::TXT(t) if t.to_string().contains("hello parapet"))
            ),
            "{:?}",
            txt.answers
        );
        let mx = q("example.", RecordType::MX).await?;
        assert!(
            mx.answers.iter().any(
                |r| matches!(&r.data, RData::MX(m) if m.exchange.to_ascii() == "mail.example.")
            ),
            "{:?}",
            mx.answers
        );
        let alias = q("alias.example.", RecordType::A).await?;
        assert!(
            alias
                .answers
                .iter()
                .any(|r| r.record_type() == RecordType::CNAME)
        );
        assert_eq!(addresses(&alias), vec!["192.0.2.10"]);
    }
    Ok(())
}

#[tokio::test]
async fn nxdomain_and_nodata_pass_through_with_soa() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let nx = p.query("does-not-exist.example.", RecordType::A).await?;
    assert_eq!(rcode(&nx), ResponseCode::NXDomain);
    assert!(has_soa(&nx), "{:?}", nx.authorities);
    let nodata = p.query("www.example.", RecordType::TXT).await?;
    assert_eq!(rcode(&nodata), ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
    assert!(has_soa(&nodata), "{:?}", nodata.authorities);
    Ok(())
}

#[tokio::test]
async fn repeated_query_is_served_from_cache() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    p.query("www.example.", RecordType::A).await?;
    let after_first = up.queries();
    assert!(after_first >= 1);
    for _ in 0..5 {
        let msg = p.query("www.example.", RecordType::A).await?;
        assert_eq!(addresses(&msg), vec!["192.0.2.10"]);
    }
    assert_eq!(
        up.queries(),
        after_first,
        "cache hits do not reach the upstream"
    );
    Ok(())
}

#[tokio::test]
async fn upstream_down_gives_servfail_in_time_and_blocked_names_still_answered()
-> anyhow::Result<()> {
    let down = Blackhole::start().await;
    let p = Parapet::builder(down.addr())
        .section(
            "upstream",
            &format!("servers = [\"{}\"]\ntimeout_ms = 500", down.addr()),
        )
        .start()
        .await?;
    // "In time": a SERVFAIL reaches the client before its own timeout
    // (`CLIENT_TIMEOUT`, the generous outer deadline), and not before the
    // 500 ms budget is spent (a lower bound cannot race a loaded machine).
    let started = Instant::now();
    let msg = p.query("www.example.", RecordType::A).await?;
    let took = started.elapsed();
    assert_eq!(rcode(&msg), ResponseCode::ServFail);
    assert!(
        took >= Duration::from_millis(500),
        "SERVFAIL after {took:?}: the 500 ms upstream budget was not waited for"
    );
    // Blocked names never wait for the upstream: answered while it is down.
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    Ok(())
}

#[tokio::test]
async fn large_answer_is_truncated_over_plain_udp_and_whole_over_tcp() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let no_edns = QueryOptions::without_edns();
    let udp = p
        .query_with("big.example.", RecordType::TXT, &no_edns)
        .await?;
    assert!(udp.metadata.truncation, "a 512-byte client must see TC");
    assert!(udp.answers.len() < 10);
    let edns = p.query("big.example.", RecordType::TXT).await?;
    assert!(!edns.metadata.truncation);
    assert_eq!(edns.answers.len(), 10);
    let tcp = p.query_tcp("big.example.", RecordType::TXT).await?;
    assert_eq!(tcp.answers.len(), 10);
    Ok(())
}

#[tokio::test]
async fn zone_transfer_is_refused() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query_tcp("example.", RecordType::AXFR).await?;
    assert_eq!(rcode(&msg), ResponseCode::Refused);
    assert_eq!(up.queries(), 0);
    Ok(())
}
