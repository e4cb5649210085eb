//! Faithful to what the upstream said (#14 item 6): negative answers at
//! the end of a CNAME chain keep the chain and the target zone's SOA, a
//! CNAME loop is SERVFAIL, owner names keep the upstream's case, and the
//! client's DO and CD bits reach the upstream. The upstream is a scripted
//! server (`parapet_test_support::scripted`) holding two zones, `Example.`
//! and `Other.Test.`, with mixed-case owners.

use anyhow::{Result, ensure};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};
use parapet_e2e::Parapet;
use parapet_e2e::client::{QueryOptions, rcode};
use parapet_test_support::scripted::{self, ScriptedServer};

/// Chains that end badly, and one that ends well.
async fn upstream() -> ScriptedServer {
    ScriptedServer::start(vec![
        scripted::soa("Example."),
        scripted::soa("Other.Test."),
        // alias → target, target absent: NXDOMAIN.
        scripted::cname("Chain.Example.", "Hop.Example."),
        scripted::cname("Hop.Example.", "Gone.Other.Test."),
        // alias → target, target has an A but no AAAA: NODATA for AAAA.
        scripted::cname("NoData.Example.", "Host.Other.Test."),
        scripted::a("Host.Other.Test.", [192, 0, 2, 90]),
        // A loop.
        scripted::cname("Loop1.Example.", "Loop2.Example."),
        scripted::cname("Loop2.Example.", "Loop1.Example."),
    ])
    .await
}

/// `(owner as sent, type)` of each answer record.
fn owners(records: &[Record]) -> Vec<(String, RecordType)> {
    records
        .iter()
        .map(|r| (r.name.to_ascii(), r.record_type()))
        .collect()
}

fn soa_owner(msg: &Message) -> Option<String> {
    msg.authorities
        .iter()
        .find(|r| matches!(r.data, RData::SOA(_)))
        .map(|r| r.name.to_ascii())
}

fn show(msg: &Message) -> String {
    format!(
        "{:?} answers={:?} authority={:?}",
        rcode(msg),
        owners(&msg.answers),
        owners(&msg.authorities)
    )
}

#[tokio::test]
async fn nxdomain_after_a_cname_chain_keeps_the_chain_and_the_target_soa() -> Result<()> {
    let up = upstream().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query("chain.example.", RecordType::A).await?;
    ensure!(
        rcode(&msg) == ResponseCode::NXDomain
            && owners(&msg.answers)
                == [
                    ("Chain.Example.".to_string(), RecordType::CNAME),
                    ("Hop.Example.".to_string(), RecordType::CNAME),
                ]
            && soa_owner(&msg).as_deref() == Some("Other.Test."),
        "NXDOMAIN at the end of Chain → Hop → Gone.Other.Test keeps both CNAMEs (owners in the upstream's case) and Other.Test's SOA: {}",
        show(&msg)
    );
    Ok(())
}

#[tokio::test]
async fn nodata_after_a_cname_keeps_the_cname_and_the_target_soa() -> Result<()> {
    let up = upstream().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query("nodata.example.", RecordType::AAAA).await?;
    ensure!(
        rcode(&msg) == ResponseCode::NoError
            && owners(&msg.answers) == [("NoData.Example.".to_string(), RecordType::CNAME)]
            && soa_owner(&msg).as_deref() == Some("Other.Test."),
        "NODATA at the end of NoData → Host.Other.Test keeps the CNAME and Other.Test's SOA: {}",
        show(&msg)
    );
    Ok(())
}

#[tokio::test]
async fn answer_owner_names_keep_the_upstream_case() -> Result<()> {
    let up = upstream().await;
    let p = Parapet::start(up.addr()).await?;
    // The first answer is forwarded, the second comes from the cache.
    for round in ["forwarded", "cached"] {
        let msg = p.query("nodata.example.", RecordType::A).await?;
        ensure!(
            owners(&msg.answers)
                == [
                    ("NoData.Example.".to_string(), RecordType::CNAME),
                    ("Host.Other.Test.".to_string(), RecordType::A),
                ],
            "{round}: answer owners in the upstream's case: {}",
            show(&msg)
        );
    }
    ensure!(
        up.queries_for("nodata.example.", RecordType::A) == 1,
        "the second answer came from the cache"
    );
    Ok(())
}

#[tokio::test]
async fn a_cname_loop_is_servfail() -> Result<()> {
    let up = upstream().await;
    let p = Parapet::start(up.addr()).await?;
    for tcp in [false, true] {
        let msg = if tcp {
            p.query_tcp("loop1.example.", RecordType::A).await?
        } else {
            p.query("loop1.example.", RecordType::A).await?
        };
        ensure!(
            rcode(&msg) == ResponseCode::ServFail,
            "Loop1 → Loop2 → Loop1 (tcp={tcp}): {}",
            show(&msg)
        );
    }
    Ok(())
}

#[tokio::test]
async fn do_and_cd_reach_the_upstream() -> Result<()> {
    let up = upstream().await;
    let p = Parapet::start(up.addr()).await?;
    let opts = QueryOptions {
        dnssec_ok: true,
        checking_disabled: true,
        ..QueryOptions::default()
    };
    let msg = p
        .query_with("host.other.test.", RecordType::A, &opts)
        .await?;
    ensure!(
        rcode(&msg) == ResponseCode::NoError && msg.metadata.checking_disabled,
        "answered, CD echoed: {}",
        show(&msg)
    );
    let seen = up.last_query().expect("the upstream was asked");
    ensure!(
        seen.dnssec_ok && seen.checking_disabled,
        "the client's DO and CD forwarded: {seen:?}"
    );
    Ok(())
}
