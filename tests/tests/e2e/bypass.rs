//! No silent bypass, no way in: Firefox's canary `use-application-dns.net`
//! answers NXDOMAIN whatever the lists and the upstream say, and with
//! `[block] private_answers = "block"` a public name cannot resolve to a
//! private address (DNS rebinding) unless it is exempt.

use std::net::Ipv4Addr;
use std::str::FromStr;

use anyhow::Result;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_e2e::client::{QueryOptions, addresses, ede, has_soa, rcode};
use parapet_e2e::parapet::{SINKHOLE_V4, SINKHOLE_V6};
use parapet_e2e::upstream::test_zone;
use parapet_e2e::{Parapet, Upstream, lists};

fn a(name: &str, ip: [u8; 4]) -> Record {
    let name = Name::from_str(name).expect("name");
    Record::from_rdata(name, 300, RData::A(A(Ipv4Addr::from(ip))))
}

/// The test zone plus names that resolve to private addresses, and the
/// canary (which a real upstream answers).
async fn upstream() -> Upstream {
    let mut zone = test_zone();
    zone.extend([
        a("use-application-dns.net.", [192, 0, 2, 44]),
        a("rebind.example.", [192, 168, 1, 1]),
        a("loop.example.", [127, 0, 0, 1]),
        a("meta.example.", [169, 254, 169, 254]),
        a("zero.example.", [0, 0, 0, 0]),
        a("nas.home.arpa.", [192, 168, 1, 20]),
        a("router.lan.", [192, 168, 1, 1]),
        a("printer.office.example.", [10, 0, 0, 9]),
    ]);
    let ula: std::net::Ipv6Addr = "fd00::1".parse().expect("ip");
    zone.push(Record::from_rdata(
        Name::from_str("rebind6.example.").expect("name"),
        300,
        RData::AAAA(AAAA(ula)),
    ));
    Upstream::with_records(zone).await
}

#[tokio::test]
async fn firefox_canary_is_nxdomain_whatever_the_lists_say() -> Result<()> {
    let up = upstream().await;
    // A list that blocks the canary must not turn it into a sinkhole answer.
    let phishing = format!("{}0.0.0.0 use-application-dns.net\n", lists::PHISHING);
    let p = Parapet::builder(up.addr())
        .file("phishing.txt", phishing)
        .start()
        .await?;
    for name in ["use-application-dns.net.", "Use-Application-DNS.NET."] {
        for rtype in [RecordType::A, RecordType::AAAA, RecordType::TXT] {
            for msg in [
                p.query(name, rtype).await?,
                p.query_tcp(name, rtype).await?,
                p.query_with(name, rtype, &QueryOptions::without_edns())
                    .await?,
            ] {
                assert_eq!(rcode(&msg), ResponseCode::NXDomain, "{name} {rtype}");
                assert!(has_soa(&msg), "{name} {rtype}: SOA for caching");
                assert!(msg.answers.is_empty());
            }
        }
    }
    assert_eq!(up.queries(), 0, "the canary is never forwarded");
    // Names under it are ordinary names (Firefox checks the exact name):
    // here the list's domain rule blocks them.
    let msg = p.query("x.use-application-dns.net.", RecordType::A).await?;
    assert_eq!(addresses(&msg), [SINKHOLE_V4]);
    Ok(())
}

#[tokio::test]
async fn private_answers_are_blocked_on_request_except_exempt_names() -> Result<()> {
    let up = upstream().await;
    let p = Parapet::builder(up.addr())
        .section(
            "block",
            &format!(
                "sinkhole_ipv4 = \"{SINKHOLE_V4}\"\nsinkhole_ipv6 = \"{SINKHOLE_V6}\"\n\
                 private_answers = \"block\"\n\
                 private_answers_allow = [\"home.arpa\", \"lan\", \"office.example.\"]"
            ),
        )
        .start()
        .await?;
    for name in [
        "rebind.example.",
        "loop.example.",
        "meta.example.",
        "zero.example.",
    ] {
        let msg = p.query(name, RecordType::A).await?;
        assert_eq!(addresses(&msg), [SINKHOLE_V4], "{name}");
        let (code, text) = ede(&msg).expect("EDE");
        assert_eq!(code, 15, "{name}");
        assert!(text.contains("rebinding"), "{name}: {text}");
    }
    let msg = p.query("rebind6.example.", RecordType::AAAA).await?;
    assert_eq!(addresses(&msg), [SINKHOLE_V6]);
    for (name, ip) in [
        ("nas.home.arpa.", "192.168.1.20"),
        ("router.lan.", "192.168.1.1"),
        ("printer.office.example.", "10.0.0.9"),
        ("www.example.", "192.0.2.10"),
    ] {
        let msg = p.query(name, RecordType::A).await?;
        assert_eq!(addresses(&msg), [ip], "{name} exempt or public");
    }
    let metrics = p.server().metrics().encode();
    assert!(
        metrics.contains("parapet_blocks_by_trigger_total{trigger=\"rebinding\"} 5"),
        "{metrics}"
    );
    Ok(())
}

#[tokio::test]
async fn private_answers_are_allowed_by_default() -> Result<()> {
    let up = upstream().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query("rebind.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), ["192.168.1.1"]);
    let msg = p.query("loop.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), ["127.0.0.1"]);
    Ok(())
}
