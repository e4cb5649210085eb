//! Upstreams that misbehave (#14 Tests), each a scripted server
//! (`parapet_test_support::scripted`) counting what reaches it: identical
//! concurrent queries coalesced into one, forged answers (wrong ID, wrong
//! question) ignored, lost packets retried, a dead upstream passed over,
//! truncated answers fetched over TCP.

use std::time::Duration;

use anyhow::{Result, ensure};
use futures_util::future::join_all;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_e2e::client::{addresses, rcode};
use parapet_e2e::{Blackhole, Parapet};
use parapet_test_support::scripted::{self, Behaviour, ScriptedServer};

/// `n1.example.` … `n8.example.` with A 192.0.2.1 … 192.0.2.8.
async fn upstream() -> ScriptedServer {
    let records = (1..=8u8)
        .map(|i| scripted::a(&format!("n{i}.example."), [192, 0, 2, i]))
        .collect();
    ScriptedServer::start(records).await
}

/// Ask parapet for `n1` … `n{count}` one after another; each must get its
/// own address.
async fn ask_each(p: &Parapet, count: u8) -> Result<()> {
    for i in 1..=count {
        let name = format!("n{i}.example.");
        let msg = p.query(&name, RecordType::A).await?;
        ensure!(
            rcode(&msg) == ResponseCode::NoError && addresses(&msg) == [format!("192.0.2.{i}")],
            "{name}: {:?} {:?}",
            rcode(&msg),
            addresses(&msg)
        );
    }
    Ok(())
}

#[tokio::test]
async fn concurrent_identical_queries_reach_the_upstream_once() -> Result<()> {
    let up = upstream().await;
    // Slow enough that all 20 arrive while the first is out, well within
    // parapet's budget (split over its attempts).
    let slow = Duration::from_millis(400);
    up.set_behaviour(
        Behaviour::default()
            .slow("n1.example.", slow)
            .slow("n2.example.", slow),
    );
    let p = Parapet::builder(up.addr())
        .section(
            "upstream",
            &format!("servers = [\"{}\"]\ntimeout_ms = 4000", up.addr()),
        )
        .start()
        .await?;
    // What one client query costs at this upstream (1, or more should the
    // client retransmit to a slow upstream): the budget of 20 coalesced.
    let alone = p.query("n2.example.", RecordType::A).await?;
    ensure!(addresses(&alone) == ["192.0.2.2"], "{:?}", rcode(&alone));
    let single = up.queries_for("n2.example.", RecordType::A);
    let answers = join_all((0..20).map(|_| p.query("n1.example.", RecordType::A))).await;
    for msg in answers {
        let msg = msg?;
        ensure!(
            addresses(&msg) == ["192.0.2.1"],
            "{:?} {:?}",
            rcode(&msg),
            parapet_e2e::client::ede(&msg)
        );
    }
    let coalesced = up.queries_for("n1.example.", RecordType::A);
    ensure!(
        coalesced <= single,
        "20 concurrent queries for one name: {coalesced} upstream queries (one query alone: {single})"
    );
    Ok(())
}

#[tokio::test]
async fn forged_answers_with_a_wrong_id_or_question_are_ignored() -> Result<()> {
    let up = upstream().await;
    up.set_behaviour(Behaviour::default().wrong_id_first().wrong_name_first());
    let p = Parapet::start(up.addr()).await?;
    ask_each(&p, 4).await
}

#[tokio::test]
async fn an_upstream_dropping_every_other_packet_still_answers_every_query() -> Result<()> {
    let up = upstream().await;
    up.set_behaviour(Behaviour::default().drop_every_nth_udp(2));
    let p = Parapet::start(up.addr()).await?;
    ask_each(&p, 4).await?;
    ensure!(
        up.udp_dropped() >= 2,
        "the upstream dropped {}",
        up.udp_dropped()
    );
    Ok(())
}

#[tokio::test]
async fn a_dead_upstream_is_passed_over_for_a_live_one() -> Result<()> {
    let dead = Blackhole::start().await;
    let live = upstream().await;
    let p = Parapet::builder(live.addr())
        .section(
            "upstream",
            &format!(
                "servers = [\"{}\", \"{}\"]\ntimeout_ms = 1000",
                dead.addr(),
                live.addr()
            ),
        )
        .start()
        .await?;
    ask_each(&p, 4).await?;
    ensure!(
        live.queries() >= 4,
        "the live upstream saw {}",
        live.queries()
    );
    Ok(())
}

#[tokio::test]
async fn a_truncated_udp_answer_is_fetched_again_over_tcp() -> Result<()> {
    let up = upstream().await;
    up.set_behaviour(Behaviour::default().truncate_udp("n1.example."));
    let p = Parapet::start(up.addr()).await?;
    ask_each(&p, 1).await?;
    ensure!(
        up.tcp_queries() >= 1,
        "no TCP query after TC=1 (udp {}, tcp {})",
        up.udp_queries(),
        up.tcp_queries()
    );
    Ok(())
}
