//! Rate limiting in the RRL tradition: a flooding client is limited per
//! address on loopback (its neighbours are answered as usual), over the
//! limit its UDP answers are dropped or slipped (TC=1), never REFUSED, and
//! a real client then gets its answer over TCP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, ensure};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_e2e::client::{QueryOptions, addresses, rcode};
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::tools::{dig, require_tool};
use parapet_e2e::{Parapet, Upstream, client, eventually};
use parapet_resolver::{REFUSED_BURST, REFUSED_QPS};
use tokio::sync::watch;

use crate::wire;

const QPS: u32 = 20;
const BURST: u32 = 200;
const FLOOD: usize = 3000;
const CHUNK: usize = 100;
/// Queries of the neighbour after each chunk (all within its own burst;
/// more than a shared bucket refills meanwhile).
const NEIGHBOUR: usize = 3;

/// What came back to the flooding client.
#[derive(Debug, Default)]
struct Tally {
    answered: usize,
    slipped: usize,
    refused: usize,
    other: usize,
}

async fn limited(upstream: SocketAddr, listen: &str) -> Result<Parapet> {
    Parapet::builder(upstream)
        .section("server", &format!("listen = [\"{listen}\"]"))
        .section(
            "access",
            &format!(
                "allow = [\"127.0.0.0/8\", \"::1/128\"]\nrate_limit_qps = {QPS}\n\
                 rate_limit_burst = {BURST}\nrate_limit_slip = 2"
            ),
        )
        .start()
        .await
}

/// Read answers on `socket` until `expected` says how many there are and
/// that many came.
async fn collect(
    socket: Arc<tokio::net::UdpSocket>,
    mut expected: watch::Receiver<Option<usize>>,
) -> Result<Tally> {
    let mut tally = Tally::default();
    loop {
        let got = tally.answered + tally.slipped + tally.refused + tally.other;
        if expected.borrow().is_some_and(|n| got >= n) {
            return Ok(tally);
        }
        tokio::select! {
            bytes = wire::recv(&socket) => {
                let msg = wire::decode(&bytes?)?;
                match (rcode(&msg), msg.metadata.truncation) {
                    (ResponseCode::Refused, _) => tally.refused += 1,
                    (ResponseCode::NoError, true) if msg.answers.is_empty() => tally.slipped += 1,
                    (ResponseCode::NoError, false) if addresses(&msg) == [SINKHOLE_V4] => {
                        tally.answered += 1
                    }
                    _ => tally.other += 1,
                }
            }
            changed = expected.changed() => changed?,
        }
    }
}

/// Flood `server` with [`FLOOD`] blocked-name queries from `flooder`, in
/// chunks; after each chunk (once the server has taken it) `neighbour`
/// must get its normal answers. Returns what the flooder got, the drops
/// the metrics counted and how long the flood took.
async fn flood(
    p: &Parapet,
    server: SocketAddr,
    flooder: &str,
    neighbour: &str,
) -> Result<(Tally, usize, Duration)> {
    let socket = Arc::new(wire::socket(flooder).await?);
    let (tell, expected) = watch::channel(None);
    let reader = tokio::spawn(collect(socket.clone(), expected));
    let packet = wire::query(7, "phishing.example.", RecordType::A, Some(1232))?;
    let from_neighbour = QueryOptions {
        bind: Some(format!("{neighbour}:0").parse()?),
        ..QueryOptions::default()
    };
    let taken =
        |p: &Parapet| wire::udp_queries(p, "blocked") + wire::udp_queries(p, "rate_limited");
    let started = Instant::now();
    let mut sent = 0;
    for _ in 0..FLOOD / CHUNK {
        for _ in 0..CHUNK {
            socket.send_to(&packet, server).await?;
        }
        sent += CHUNK;
        let want = sent as f64;
        eventually(WAIT, || async { taken(p) }, |n| *n >= want).await?;
        for _ in 0..NEIGHBOUR {
            let msg =
                client::query(server, "phishing.example.", RecordType::A, &from_neighbour).await?;
            ensure!(
                addresses(&msg) == [SINKHOLE_V4] && !msg.metadata.truncation,
                "{neighbour} during the flood: {msg:?}"
            );
            sent += 1;
        }
    }
    let elapsed = started.elapsed();
    let drops = wire::ratelimit_actions(p, "drop", "rate") as usize;
    tell.send(Some(FLOOD - drops))?;
    let tally = tokio::time::timeout(WAIT, reader)
        .await
        .map_err(|_| anyhow!("answers to the flood did not all arrive"))???;
    Ok((tally, drops, elapsed))
}

/// The flood's answers against the limit: the burst and at most the rate
/// since, the rest dropped or (every second one) slipped, none refused.
fn check(p: &Parapet, tally: &Tally, drops: usize, elapsed: Duration) {
    assert_eq!(tally.refused, 0, "rate limiting never refuses: {tally:?}");
    assert_eq!(tally.other, 0, "{tally:?}");
    let ceiling = f64::from(BURST) + f64::from(QPS) * elapsed.as_secs_f64() + 1.0;
    assert!(
        tally.answered >= BURST as usize && tally.answered as f64 <= ceiling,
        "{} answered in {elapsed:?}: burst {BURST}, {QPS}/s",
        tally.answered
    );
    let limited = FLOOD - tally.answered;
    assert_eq!(tally.slipped + drops, limited, "{tally:?}, {drops} dropped");
    assert_eq!(tally.slipped, limited.div_ceil(2), "slip = 2: every other");
    assert_eq!(
        wire::ratelimit_actions(p, "slip", "rate") as usize,
        tally.slipped
    );
}

#[tokio::test]
async fn a_flooding_address_is_dropped_and_slipped_its_neighbour_answered() -> Result<()> {
    let up = Upstream::start().await;
    let p = limited(up.addr(), "127.0.0.1:0").await?;
    let (tally, drops, elapsed) = flood(&p, p.addr(), "127.0.0.7", "127.0.0.8").await?;
    check(&p, &tally, drops, elapsed);
    Ok(())
}

#[tokio::test]
async fn ipv4_clients_on_a_dual_stack_socket_are_limited_per_address() -> Result<()> {
    if std::net::UdpSocket::bind("[::]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 on this host");
        return Ok(());
    }
    let up = Upstream::start().await;
    let p = limited(up.addr(), "[::]:0").await?;
    // IPv4 clients reach the [::] socket as ::ffff:127.0.0.x: grouped by
    // /56 they would all share one bucket and the neighbour be limited.
    let server = SocketAddr::from(([127, 0, 0, 1], p.addr().port()));
    let (tally, drops, elapsed) = flood(&p, server, "127.0.0.7", "127.0.0.8").await?;
    check(&p, &tally, drops, elapsed);
    Ok(())
}

#[tokio::test]
async fn over_the_limit_dig_retries_over_tcp_and_gets_the_answer() -> Result<()> {
    if !require_tool(
        "dig",
        "over_the_limit_dig_retries_over_tcp_and_gets_the_answer",
    ) {
        return Ok(());
    }
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section(
            "access",
            "allow = [\"127.0.0.0/8\"]\nrate_limit_qps = 1\nrate_limit_burst = 1\nrate_limit_slip = 1",
        )
        .start()
        .await?;
    let addr = p.addr();
    let socket = wire::socket("127.0.0.1").await?;
    let packet = wire::query(1, "www.example.", RecordType::A, Some(1232))?;
    // Take the one token as 127.0.0.1 (dig's address too); dig's query
    // right after finds the bucket empty unless a whole second passed
    // (1 qps), which the elapsed time tells.
    for _ in 0..5 {
        let msg = wire::decode(&wire::ask(&socket, addr, &packet).await?)?;
        assert_ne!(rcode(&msg), ResponseCode::Refused);
        if msg.metadata.truncation {
            continue; // still empty from the try before
        }
        let took_token = Instant::now();
        let out = tokio::task::spawn_blocking(move || dig(addr, &["www.example", "A"])).await??;
        assert!(out.contains("192.0.2.10"), "answered over TCP: {out}");
        assert!(!out.contains("REFUSED"), "{out}");
        if took_token.elapsed() < Duration::from_secs(1) {
            assert!(out.contains("Truncated, retrying in TCP mode"), "{out}");
            return Ok(());
        }
    }
    Err(anyhow!(
        "dig never ran within a second of emptying the bucket"
    ))
}

#[tokio::test]
async fn streams_are_not_limited() -> Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section(
            "access",
            "allow = [\"127.0.0.0/8\"]\nrate_limit_qps = 1\nrate_limit_burst = 2",
        )
        .start()
        .await?;
    for _ in 0..10 {
        let msg = p.query_tcp("phishing.example.", RecordType::A).await?;
        assert_eq!(addresses(&msg), [SINKHOLE_V4]);
        let msg = p.query_tcp("www.example.", RecordType::A).await?;
        assert_eq!(addresses(&msg), ["192.0.2.10"]);
    }
    Ok(())
}

#[tokio::test]
async fn refusals_to_outsiders_are_limited_dropped_and_without_text() -> Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section("access", "allow = [\"127.0.0.1/32\"]\nrate_limit_qps = 0")
        .start()
        .await?;
    let socket = wire::socket("127.0.0.9").await?;
    let packet = wire::query(3, "www.example.", RecordType::A, Some(1232))?;
    let started = Instant::now();
    let first = wire::ask(&socket, p.addr(), &packet).await?;
    assert!(
        first.len() <= packet.len() + 6,
        "no amplification: {} bytes",
        first.len()
    );
    let msg = wire::decode(&first)?;
    assert_eq!(rcode(&msg), ResponseCode::Refused);
    assert_eq!(
        client::ede(&msg),
        Some((18, String::new())),
        "EDE 18, no text"
    );
    // Many more: some refused (the small burst), the rest dropped.
    let n: usize = 200;
    for _ in 0..n {
        socket.send_to(&packet, p.addr()).await?;
    }
    let drops = eventually(
        WAIT,
        || async {
            (
                wire::ratelimit_actions(&p, "drop", "refused"),
                wire::udp_queries(&p, "refused"),
            )
        },
        |(_, refused)| *refused >= (n + 1) as f64,
    )
    .await?
    .0 as usize;
    let mut answers = 0;
    while answers < n - drops {
        let msg = wire::decode(&wire::recv(&socket).await?)?;
        assert_eq!(rcode(&msg), ResponseCode::Refused);
        answers += 1;
    }
    let elapsed = started.elapsed();
    assert!(drops > 0, "refusals beyond the burst are dropped");
    // The burst and the rate since, less the first one.
    let ceiling = f64::from(REFUSED_BURST) + f64::from(REFUSED_QPS) * elapsed.as_secs_f64();
    assert!(
        answers as f64 <= ceiling,
        "{answers} of {n} refusals answered in {elapsed:?}"
    );
    assert_eq!(up.queries(), 0);
    Ok(())
}

#[tokio::test]
async fn forwarded_queries_without_a_cache_are_limited_the_same_way() -> Result<()> {
    // No answer cache: every query takes the full (hickory) path.
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section(
            "upstream",
            &format!("servers = [\"{}\"]\ntimeout_ms = 1000\ncache_size = 0", up.addr()),
        )
        .section(
            "access",
            "allow = [\"127.0.0.0/8\"]\nrate_limit_qps = 1\nrate_limit_burst = 2\nrate_limit_slip = 1",
        )
        .start()
        .await?;
    let socket = wire::socket("127.0.0.1").await?;
    let started = Instant::now();
    let (mut answered, mut slipped) = (0u32, 0u32);
    for id in 0..8 {
        let packet = wire::query(id, "www.example.", RecordType::A, Some(1232))?;
        let msg = wire::decode(&wire::ask(&socket, p.addr(), &packet).await?)?;
        assert_eq!(msg.metadata.id, id);
        assert_eq!(rcode(&msg), ResponseCode::NoError, "never REFUSED");
        if msg.metadata.truncation {
            assert!(msg.answers.is_empty() && msg.queries.len() == 1);
            slipped += 1;
        } else {
            assert_eq!(addresses(&msg), ["192.0.2.10"]);
            answered += 1;
        }
    }
    let ceiling = 2.0 + started.elapsed().as_secs_f64();
    assert!(
        answered >= 2 && f64::from(answered) <= ceiling,
        "{answered} answered, {slipped} slipped"
    );
    assert_eq!(
        wire::ratelimit_actions(&p, "slip", "rate"),
        f64::from(slipped)
    );
    Ok(())
}
