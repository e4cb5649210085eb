//! Answers to blocked names: sinkhole, NODATA, actions, EDE 15.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_e2e::client::{self, QueryOptions, addresses, ede, has_soa, rcode};
use parapet_e2e::parapet::{BLOCK_TTL, SINKHOLE_V4, SINKHOLE_V6};
use parapet_e2e::{Parapet, Upstream};

#[tokio::test]
async fn blocked_a_gets_sinkhole_with_configured_ttl() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(rcode(&msg), ResponseCode::NoError);
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    assert!(msg.answers.iter().all(|r| r.ttl == BLOCK_TTL));
    assert!(msg.metadata.recursion_available);
    assert_eq!(up.queries(), 0, "a blocked name is never forwarded");
    Ok(())
}

#[tokio::test]
async fn blocked_aaaa_gets_ipv6_sinkhole() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query("phishing.example.", RecordType::AAAA).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V6]);
    Ok(())
}

#[tokio::test]
async fn blocked_txt_is_nodata_with_soa() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query("phishing.example.", RecordType::TXT).await?;
    assert_eq!(rcode(&msg), ResponseCode::NoError);
    assert!(msg.answers.is_empty(), "{:?}", msg.answers);
    assert!(has_soa(&msg));
    assert!(msg.authorities.iter().all(|r| r.ttl == BLOCK_TTL));
    Ok(())
}

#[tokio::test]
async fn ede_15_names_category_and_source() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query("phishing.example.", RecordType::A).await?;
    let (code, text) = ede(&msg).expect("EDE present");
    assert_eq!(code, 15);
    assert!(
        text.contains("phishing") && text.contains("phishing.txt"),
        "{text}"
    );
    let msg = p.query("malware.test.", RecordType::A).await?;
    let (_, text) = ede(&msg).expect("EDE present");
    assert!(text.contains("malware"), "{text}");
    Ok(())
}

#[tokio::test]
async fn no_edns_in_query_means_no_opt_in_answer() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let opts = QueryOptions::without_edns();
    let msg = p
        .query_with("phishing.example.", RecordType::A, &opts)
        .await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    assert!(msg.edns.is_none());
    Ok(())
}

#[tokio::test]
async fn structured_error_carries_contact_and_organisation() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section(
            "block",
            "contact = [\"mailto:it@party.example\"]\norganisation = \"Party IT\"\njustification = \"Known phishing.\"",
        )
        .start()
        .await?;
    let msg = p.query("phishing.example.", RecordType::A).await?;
    let (code, text) = ede(&msg).expect("EDE present");
    assert_eq!(code, 15);
    let v: serde_json::Value = serde_json::from_str(&text)?;
    assert_eq!(v["c"][0], "mailto:it@party.example");
    assert_eq!(v["o"], "Party IT");
    let j = v["j"].as_str().unwrap_or_default();
    assert!(
        j.starts_with("Known phishing.") && j.contains("phishing.txt"),
        "{j}"
    );
    Ok(())
}

#[tokio::test]
async fn subdomain_is_blocked_lookalike_is_not() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    for name in [
        "www.phishing.example.",
        "login.www.phishing.example.",
        "PhIsHiNg.ExAmPlE.",
    ] {
        let msg = p.query(name, RecordType::A).await?;
        assert_eq!(addresses(&msg), vec![SINKHOLE_V4], "{name}");
    }
    let msg = p.query("notphishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec!["192.0.2.68"]);
    Ok(())
}

#[tokio::test]
async fn allow_rule_wins_over_covering_block() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query("safe.phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec!["192.0.2.69"]);
    assert!(ede(&msg).is_none());
    Ok(())
}

#[tokio::test]
async fn nxdomain_action_answers_every_type_with_nxdomain_and_soa() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section("block", "action = \"nxdomain\"\nttl = 30")
        .start()
        .await?;
    for t in [RecordType::A, RecordType::AAAA, RecordType::MX] {
        let msg = p.query("phishing.example.", t).await?;
        assert_eq!(rcode(&msg), ResponseCode::NXDomain, "{t}");
        assert!(has_soa(&msg), "{t}");
        assert!(msg.authorities.iter().all(|r| r.ttl == 30));
        assert_eq!(ede(&msg).map(|e| e.0), Some(15));
    }
    Ok(())
}

#[tokio::test]
async fn refused_and_nodata_actions() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section("block", "action = \"refused\"")
        .start()
        .await?;
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(rcode(&msg), ResponseCode::Refused);
    drop(p);
    let p = Parapet::builder(up.addr())
        .section("block", "action = \"nodata\"")
        .start()
        .await?;
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(rcode(&msg), ResponseCode::NoError);
    assert!(msg.answers.is_empty() && has_soa(&msg));
    Ok(())
}

#[tokio::test]
async fn blocked_over_tcp_too() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query_tcp("malware.test.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    assert_eq!(client::ede(&msg).map(|e| e.0), Some(15));
    Ok(())
}
