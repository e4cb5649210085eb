//! parapet's own upstream client (#14) against hostile scripted upstreams
//! on loopback: answers matched by ID and question, lost packets retried,
//! a dead upstream avoided, TC answered over TCP, concurrent identical
//! queries coalesced, 0x20, DO and CD relayed, RRSIG records relayed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{Result, ensure};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_e2e::client::{QueryOptions, Transport, addresses, rcode};
use parapet_e2e::{Blackhole, Parapet};
use parapet_test_support::scripted::{self, Behaviour, ScriptedServer};

/// parapet forwarding to `servers` with a `timeout_ms` deadline and any
/// further `[upstream]` lines.
async fn parapet(servers: &[SocketAddr], timeout_ms: u64, extra: &str) -> Result<Parapet> {
    let list = servers
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    Parapet::builder(servers[0])
        .section(
            "upstream",
            &format!("servers = [{list}]\ntimeout_ms = {timeout_ms}\n{extra}"),
        )
        .start()
        .await
}

/// `n` names `host<i>.example.` with an A record 192.0.2.i each.
fn hosts(n: u8) -> Vec<Record> {
    (0..n)
        .map(|i| scripted::a(&format!("host{i}.example."), [192, 0, 2, i]))
        .collect()
}

#[tokio::test]
async fn answers_with_a_wrong_id_or_name_are_ignored_and_the_right_one_is_used() -> Result<()> {
    let up = ScriptedServer::start(hosts(4)).await;
    up.set_behaviour(Behaviour::default().wrong_id_first().wrong_name_first());
    let p = parapet(&[up.addr()], 2000, "").await?;
    for i in 0..4 {
        let msg = p.query(&format!("host{i}.example."), RecordType::A).await?;
        assert_eq!(rcode(&msg), ResponseCode::NoError);
        assert_eq!(addresses(&msg), vec![format!("192.0.2.{i}")]);
    }
    assert_eq!(up.udp_queries(), 4, "each answered by its first query");
    Ok(())
}

#[tokio::test]
async fn an_upstream_that_drops_every_other_packet_still_answers_every_query() -> Result<()> {
    let up = ScriptedServer::start(hosts(10)).await;
    up.set_behaviour(Behaviour::default().drop_every_nth_udp(2));
    let p = parapet(&[up.addr()], 3000, "").await?;
    for i in 0..10 {
        let msg = p.query(&format!("host{i}.example."), RecordType::A).await?;
        assert_eq!(
            addresses(&msg),
            vec![format!("192.0.2.{i}")],
            "host{i}: {msg:?}"
        );
    }
    assert!(up.udp_dropped() >= 5, "{} dropped", up.udp_dropped());
    Ok(())
}

#[tokio::test]
async fn with_one_upstream_down_the_other_serves() -> Result<()> {
    let down = Blackhole::start().await;
    let up = ScriptedServer::start(hosts(10)).await;
    // The dead one first in the list: it is tried, held down, then avoided.
    let p = parapet(&[down.addr(), up.addr()], 3000, "").await?;
    for i in 0..10 {
        let msg = p.query(&format!("host{i}.example."), RecordType::A).await?;
        assert_eq!(addresses(&msg), vec![format!("192.0.2.{i}")], "host{i}");
    }
    assert_eq!(
        up.queries(),
        10,
        "every name reached the live upstream once"
    );
    Ok(())
}

#[tokio::test]
async fn a_truncated_udp_answer_is_asked_again_over_tcp() -> Result<()> {
    let mut records = hosts(1);
    records.push(scripted::txt("big.example.", "the whole answer"));
    let up = ScriptedServer::start(records).await;
    up.set_behaviour(Behaviour::default().truncate_udp("big.example."));
    let p = parapet(&[up.addr()], 2000, "").await?;
    let msg = p.query("big.example.", RecordType::TXT).await?;
    assert_eq!(rcode(&msg), ResponseCode::NoError);
    assert!(!msg.metadata.truncation);
    assert_eq!(msg.answers.len(), 1, "{msg:?}");
    assert_eq!(up.udp_queries(), 1);
    assert_eq!(up.tcp_queries(), 1, "the TC retry went over TCP");
    Ok(())
}

#[tokio::test]
async fn concurrent_identical_queries_share_one_upstream_query() -> Result<()> {
    let up = ScriptedServer::start(hosts(1)).await;
    // Slow enough that all of them arrive while the first is in flight.
    up.set_behaviour(
        Behaviour::default().slow("host0.example.", std::time::Duration::from_millis(500)),
    );
    // One attempt: a retry of the slow query would be a second one.
    let p = Arc::new(parapet(&[up.addr()], 3000, "attempts = 1").await?);
    let queries = (0..20).map(|_| {
        let p = Arc::clone(&p);
        tokio::spawn(async move { p.query("host0.example.", RecordType::A).await })
    });
    for q in queries.collect::<Vec<_>>() {
        let msg = q.await??;
        assert_eq!(addresses(&msg), vec!["192.0.2.0"]);
    }
    assert_eq!(up.queries_for("host0.example.", RecordType::A), 1);
    Ok(())
}

#[tokio::test]
async fn with_randomize_case_the_upstream_sees_mixed_case_and_the_client_its_own() -> Result<()> {
    let name = "abcdefghijklmnopqrstuvwxyz.example.";
    let up = ScriptedServer::start(vec![scripted::a(name, [192, 0, 2, 26])]).await;
    let p = parapet(&[up.addr()], 2000, "randomize_case = true").await?;
    let msg = p.query(name, RecordType::A).await?;
    assert_eq!(addresses(&msg), vec!["192.0.2.26"]);
    let seen = up.last_query().expect("a query").name.to_ascii();
    ensure!(
        seen.eq_ignore_ascii_case(name) && seen != name,
        "the upstream saw {seen} (31 letters all lower case: 2^-31)"
    );
    assert_eq!(msg.queries[0].name().to_ascii(), name);
    assert_eq!(
        msg.answers[0].name.to_ascii(),
        name,
        "the client's case back"
    );
    Ok(())
}

#[tokio::test]
async fn without_randomize_case_the_name_goes_up_as_asked() -> Result<()> {
    let up = ScriptedServer::start(hosts(1)).await;
    let p = parapet(&[up.addr()], 2000, "").await?;
    p.query("Host0.Example.", RecordType::A).await?;
    let seen = up.last_query().expect("a query").name.to_ascii();
    assert_eq!(seen.to_ascii_lowercase(), "host0.example.");
    Ok(())
}

#[tokio::test]
async fn do_and_cd_are_relayed_to_the_upstream() -> Result<()> {
    let up = ScriptedServer::start(hosts(2)).await;
    let p = parapet(&[up.addr()], 2000, "").await?;
    for (i, (dnssec_ok, checking_disabled)) in
        [(true, true), (false, false)].into_iter().enumerate()
    {
        let opts = QueryOptions {
            dnssec_ok,
            checking_disabled,
            ..QueryOptions::default()
        };
        let msg = p
            .query_with(&format!("host{i}.example."), RecordType::A, &opts)
            .await?;
        assert_eq!(
            msg.metadata.checking_disabled, checking_disabled,
            "CD echoed"
        );
        let seen = up.last_query().expect("a query");
        assert_eq!(seen.dnssec_ok, dnssec_ok, "DO upstream");
        assert_eq!(seen.checking_disabled, checking_disabled, "CD upstream");
        assert!(seen.recursion_desired && seen.edns);
    }
    Ok(())
}

/// An RRSIG over `name`'s A record, as wire data (opaque to the server).
fn rrsig(name: &Name) -> Record {
    let mut data = vec![0, 1, 13, 2, 0, 0, 1, 44];
    data.extend_from_slice(&[0x70, 0, 0, 0, 0x60, 0, 0, 0, 0x12, 0x34]);
    data.extend_from_slice(b"\x07example\x00");
    data.extend_from_slice(&[0xab; 64]);
    Record::from_rdata(
        name.clone(),
        300,
        RData::Unknown {
            code: RecordType::RRSIG,
            rdata: NULL::with(data),
        },
    )
}

#[tokio::test]
async fn rrsig_records_reach_a_do_client() -> Result<()> {
    let responder: scripted::Responder = Arc::new(|query: &Message| {
        let mut reply = scripted::reply_to(query);
        let name = query.queries[0].name().clone();
        reply.add_answer(scripted::a(&name.to_ascii(), [192, 0, 2, 77]));
        if query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok) {
            reply.add_answer(rrsig(&name));
        }
        reply
    });
    let up = ScriptedServer::start_with(responder, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
    let p = parapet(&[up.addr()], 2000, "").await?;
    for transport in [Transport::Udp, Transport::Tcp] {
        let opts = QueryOptions {
            dnssec_ok: true,
            transport,
            ..QueryOptions::default()
        };
        let msg = p
            .query_with("signed.example.", RecordType::A, &opts)
            .await?;
        let types: Vec<RecordType> = msg.answers.iter().map(Record::record_type).collect();
        assert_eq!(types, [RecordType::A, RecordType::RRSIG], "{transport:?}");
    }
    let plain = p.query("unsigned.example.", RecordType::A).await?;
    assert_eq!(plain.answers.len(), 1, "no DO, no RRSIG");
    Ok(())
}
