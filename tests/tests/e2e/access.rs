//! Access control and rate limiting.

use std::time::Instant;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_e2e::client::{QueryOptions, Transport, addresses, rcode};
use parapet_e2e::parapet::SINKHOLE_V4;
use parapet_e2e::{Parapet, Upstream};

use crate::wire;

fn from(ip: &str, transport: Transport) -> QueryOptions {
    QueryOptions {
        bind: Some(format!("{ip}:0").parse().expect("addr")),
        transport,
        ..QueryOptions::default()
    }
}

#[tokio::test]
async fn client_outside_allow_gets_refused_without_recursion() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section("access", "allow = [\"127.0.0.1/32\"]\nrate_limit_qps = 0")
        .start()
        .await?;
    for transport in [Transport::Udp, Transport::Tcp] {
        let outsider = from("127.0.0.2", transport);
        for name in ["www.example.", "phishing.example."] {
            let msg = p.query_with(name, RecordType::A, &outsider).await?;
            assert_eq!(rcode(&msg), ResponseCode::Refused, "{name} {transport:?}");
            assert!(msg.answers.is_empty());
            assert!(!msg.metadata.recursion_available);
        }
    }
    assert_eq!(up.queries(), 0, "refused clients cause no upstream traffic");
    for transport in [Transport::Udp, Transport::Tcp] {
        let insider = from("127.0.0.1", transport);
        let msg = p
            .query_with("www.example.", RecordType::A, &insider)
            .await?;
        assert_eq!(addresses(&msg), vec!["192.0.2.10"]);
    }
    Ok(())
}

#[tokio::test]
async fn default_access_serves_loopback() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .without_section("access")
        .start()
        .await?;
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    Ok(())
}

#[tokio::test]
async fn rate_limit_slips_a_flooding_client_never_refuses_and_spares_others() -> anyhow::Result<()>
{
    let up = Upstream::start().await;
    // 1 query per second sustained, burst of 5, per loopback address;
    // every limited answer slips (TC=1), so each query gets a reply.
    let p = Parapet::builder(up.addr())
        .section(
            "access",
            "allow = [\"127.0.0.0/8\"]\nrate_limit_qps = 1\nrate_limit_burst = 5\nrate_limit_slip = 1",
        )
        .start()
        .await?;
    let socket = wire::socket("127.0.0.1").await?;
    let packet = wire::query(9, "phishing.example.", RecordType::A, Some(1232))?;
    let started = Instant::now();
    let (mut answered, mut slipped) = (0, 0);
    for _ in 0..10 {
        let msg = wire::decode(&wire::ask(&socket, p.addr(), &packet).await?)?;
        assert_eq!(rcode(&msg), ResponseCode::NoError, "never REFUSED");
        if msg.metadata.truncation {
            assert!(msg.answers.is_empty());
            slipped += 1;
        } else {
            assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
            answered += 1;
        }
    }
    // The burst, plus at most one a second since the first query.
    let ceiling = 5.0 + started.elapsed().as_secs_f64();
    assert!(
        answered >= 5 && f64::from(answered) <= ceiling,
        "{answered} answered, {slipped} slipped"
    );
    assert_eq!(answered + slipped, 10);
    for other in [
        from("127.0.0.2", Transport::Udp),
        from("127.0.0.1", Transport::Tcp),
    ] {
        let msg = p
            .query_with("phishing.example.", RecordType::A, &other)
            .await?;
        assert_eq!(
            addresses(&msg),
            vec![SINKHOLE_V4],
            "another address, and TCP, are unaffected"
        );
    }
    Ok(())
}
