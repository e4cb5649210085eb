//! Upstream failures are visible: SERVFAIL with Extended DNS Error 22 (No
//! Reachable Authority) or 23 (Network Error) within the configured
//! timeout, and blocked names are still answered with every upstream down.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Result;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_e2e::client::{addresses, ede, rcode};
use parapet_e2e::parapet::SINKHOLE_V4;
use parapet_e2e::upstream::bind_pair;
use parapet_e2e::{Blackhole, Parapet};

/// The configured upstream timeout.
const TIMEOUT: Duration = Duration::from_millis(400);

async fn forwarding_to(upstream: SocketAddr) -> Result<Parapet> {
    Parapet::builder(upstream)
        .section(
            "upstream",
            &format!(
                "servers = [\"{upstream}\"]\ntimeout_ms = {}",
                TIMEOUT.as_millis()
            ),
        )
        .start()
        .await
}

/// Ask for `www.example` over UDP and TCP: SERVFAIL with one of `codes`,
/// answered within the timeout (and scheduling slack of one more); then a
/// blocked name, answered at once.
async fn check_failure(p: &Parapet, codes: &[u16]) -> Result<()> {
    for tcp in [false, true] {
        let started = Instant::now();
        let msg = if tcp {
            p.query_tcp("www.example.", RecordType::A).await?
        } else {
            p.query("www.example.", RecordType::A).await?
        };
        let took = started.elapsed();
        assert_eq!(rcode(&msg), ResponseCode::ServFail, "tcp {tcp}");
        let (code, text) = ede(&msg).expect("an Extended DNS Error");
        assert!(
            codes.contains(&code),
            "EDE {code} {text:?}, expected {codes:?}"
        );
        assert!(
            took < TIMEOUT * 2,
            "SERVFAIL after {took:?}, timeout {TIMEOUT:?}"
        );
        let started = Instant::now();
        let msg = p.query("phishing.example.", RecordType::A).await?;
        assert_eq!(
            addresses(&msg),
            [SINKHOLE_V4],
            "blocked with the upstream down"
        );
        assert!(
            started.elapsed() < TIMEOUT,
            "without waiting for the upstream"
        );
    }
    Ok(())
}

#[tokio::test]
async fn silent_upstream_gives_servfail_with_ede_22_in_time() -> Result<()> {
    let hole = Blackhole::start().await;
    let p = forwarding_to(hole.addr()).await?;
    check_failure(&p, &[22]).await
}

#[tokio::test]
async fn unreachable_upstream_gives_servfail_with_ede_22_or_23() -> Result<()> {
    // A port nothing listens on: refused connections, ICMP unreachable.
    let (udp, tcp) = bind_pair().await;
    let closed = udp.local_addr()?;
    drop((udp, tcp));
    let p = forwarding_to(closed).await?;
    check_failure(&p, &[22, 23]).await
}
