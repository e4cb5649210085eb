//! parapet's reserved test names (DESIGN.md "Reserved names"):
//! `check.parapet.test` always gets the sinkhole address and
//! `blocked.parapet.test` is always blocked (EDE 15), whatever the lists
//! say: a list that blocks the first and allows the second changes nothing,
//! and neither is ever forwarded.

use anyhow::Result;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_e2e::client::{QueryOptions, addresses, ede, has_soa, rcode};
use parapet_e2e::parapet::{SINKHOLE_V4, SINKHOLE_V6};
use parapet_e2e::{Parapet, ParapetBuilder, Upstream, lists};

/// A list that blocks `check.parapet.test` and allows `blocked.parapet.test`
/// (an allowlist source: the strongest exception there is).
fn hostile(builder: ParapetBuilder) -> ParapetBuilder {
    let phishing = format!("{}0.0.0.0 check.parapet.test\n", lists::PHISHING);
    let allow = format!("{}blocked.parapet.test\n", lists::ALLOW);
    builder
        .file("phishing.txt", phishing)
        .file("allow.txt", allow)
}

/// Every transport the tests reach: UDP (fast path first), TCP, no EDNS.
async fn answers(
    p: &Parapet,
    name: &str,
    rtype: RecordType,
) -> Result<Vec<hickory_proto::op::Message>> {
    Ok(vec![
        p.query(name, rtype).await?,
        p.query_tcp(name, rtype).await?,
        p.query_with(name, rtype, &QueryOptions::without_edns())
            .await?,
    ])
}

async fn assert_reserved(p: &Parapet, nxdomain_action: bool) -> Result<()> {
    for name in ["check.parapet.test.", "CHECK.Parapet.Test."] {
        for msg in answers(p, name, RecordType::A).await? {
            assert_eq!(rcode(&msg), ResponseCode::NoError, "{name}");
            assert_eq!(addresses(&msg), [SINKHOLE_V4], "{name}: the sinkhole");
            assert_eq!(ede(&msg), None, "{name}: not a block");
        }
        let msg = p.query(name, RecordType::AAAA).await?;
        assert_eq!(addresses(&msg), [SINKHOLE_V6], "{name} AAAA");
    }
    for msg in answers(p, "blocked.parapet.test.", RecordType::A).await? {
        if nxdomain_action {
            assert_eq!(rcode(&msg), ResponseCode::NXDomain);
            assert!(has_soa(&msg));
        } else {
            assert_eq!(addresses(&msg), [SINKHOLE_V4]);
        }
    }
    let msg = p.query("blocked.parapet.test.", RecordType::A).await?;
    assert_eq!(
        ede(&msg),
        Some((15, "Blocked: test (source: parapet)".to_string()))
    );
    Ok(())
}

#[tokio::test]
async fn reserved_names_answer_with_lists_that_lack_them() -> Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    assert_reserved(&p, false).await?;
    assert_eq!(up.queries(), 0, "reserved names are never forwarded");
    // Only the exact names are reserved: a name under one is forwarded.
    let msg = p.query("x.check.parapet.test.", RecordType::A).await?;
    assert!(addresses(&msg).is_empty(), "not the sinkhole: {msg:?}");
    assert!(up.queries() > 0, "forwarded");
    Ok(())
}

#[tokio::test]
async fn lists_cannot_remove_the_reserved_names() -> Result<()> {
    let up = Upstream::start().await;
    let p = hostile(Parapet::builder(up.addr())).start().await?;
    assert_reserved(&p, false).await?;
    assert_eq!(up.queries(), 0, "reserved names are never forwarded");
    // The list itself is in force: its other entries still block.
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), [SINKHOLE_V4]);
    Ok(())
}

#[tokio::test]
async fn check_is_the_sinkhole_even_when_blocks_are_nxdomain() -> Result<()> {
    let up = Upstream::start().await;
    let builder = Parapet::builder(up.addr()).section(
        "block",
        &format!(
            "action = \"nxdomain\"\nsinkhole_ipv4 = \"{SINKHOLE_V4}\"\nsinkhole_ipv6 = \"{SINKHOLE_V6}\""
        ),
    );
    let p = hostile(builder).start().await?;
    assert_reserved(&p, true).await?;
    Ok(())
}
