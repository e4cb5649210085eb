//! parapet's own upstream client (#14) against scripted upstreams on
//! loopback: 0x20 case randomisation, and RRSIG records relayed without any
//! external tool. (Forged answers, lost packets, a dead upstream, TC over
//! TCP and coalescing are in `hostile_upstreams.rs`; DO and CD upstream in
//! `faithful.rs`; real signed zones in `dnssec.rs`.)

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{Result, ensure};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_e2e::Parapet;
use parapet_e2e::client::{QueryOptions, Transport, addresses, rcode};
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
async fn with_randomize_case_an_answer_that_does_not_echo_the_case_is_ignored() -> Result<()> {
    let name = "abcdefghijklmnopqrstuvwxyz.example.";
    let up = ScriptedServer::start(vec![scripted::a(name, [192, 0, 2, 26])]).await;
    up.set_behaviour(Behaviour::default().lowercase_question());
    let p = parapet(&[up.addr()], 500, "randomize_case = true\nattempts = 1").await?;
    let msg = p.query(name, RecordType::A).await?;
    assert_eq!(
        rcode(&msg),
        ResponseCode::ServFail,
        "the lower-case echo is ignored"
    );
    assert_eq!(up.udp_queries(), 1, "it was sent, and answered");
    let plain = parapet(&[up.addr()], 500, "").await?;
    let msg = plain.query(name, RecordType::A).await?;
    assert_eq!(
        addresses(&msg),
        vec!["192.0.2.26"],
        "without 0x20 the same answer is taken"
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
