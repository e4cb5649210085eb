//! The request-handler path in-process: wire query in, wire answer out,
//! through access control, rate limit, policy, forwarding (cache) and
//! answer inspection — everything but the socket.
//!
//! * `handler/refused`: baseline — decode, ACL refuses, encode. The floor
//!   for any query through the core.
//! * `handler/blocked`: a blocked name (A) through the core, sinkhole +
//!   EDE 15.
//! * `handler/forwarded`: a forwarded name through
//!   `Handler::core_from_bytes` with `Protocol::Udp`: the handler's core
//!   (decode, access, policy, look-alike check, forward, inspection,
//!   encode), not the front (blocked names and the encoded-answer cache
//!   answered from bytes). Since #14 the core keeps no cache (the answer
//!   cache in the front is the cache), so every iteration is an upstream
//!   exchange over loopback; before, hickory-resolver's cache answered it
//!   (`forwarded_cached` in older results).
//! * `handler/forwarded_miss`: the same with a new name every iteration
//!   (NXDOMAIN from the upstream): an upstream exchange whatever the
//!   forwarder caches, so the same measure before and after #14.
//! * `handler/udp_cached`: the same query as a UDP datagram answered by the
//!   front, as in the receive loop, from the encoded-answer cache (warmed with one query to the
//!   real UDP listener): copy, patch ID/TTLs, observers; no send.
//!
//! The upstream is a real authoritative hickory server on loopback
//! (`parapet_e2e::Upstream`). Each iteration is one `block_on` of the
//! handler future on a Tokio runtime, which the numbers include.
//!
//!     cargo bench -p parapet-benches --bench handler

use std::net::SocketAddr;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};
use parapet_e2e::Upstream;
use parapet_resolver::access::Context;
use parapet_resolver::event::Protocol;
use parapet_resolver::{Handler, ServerBuilder};
use tokio_util::sync::CancellationToken;

fn wire(name: &str, rtype: RecordType) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 0x5053;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    m.set_edns(edns);
    m.to_vec().expect("encode")
}

fn setup(
    rt: &tokio::runtime::Runtime,
) -> (
    Upstream,
    Handler,
    SocketAddr,
    tempfile::TempDir,
    CancellationToken,
) {
    rt.block_on(async {
        let upstream = Upstream::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, body) in parapet_e2e::lists::default_files() {
            std::fs::write(dir.path().join(name), body).expect("write list");
        }
        let toml = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"{}\"]\n\
             [blocklist]\n{}\n[block]\nsinkhole_ipv4 = \"192.0.2.53\"\n\
             [access]\nallow = [\"127.0.0.0/8\"]\nrate_limit_qps = 0\n\
             [metrics]\nlisten = \"127.0.0.1:0\"\n[warning_page]\nlisten = [\"127.0.0.1:0\"]\n",
            upstream.addr(),
            parapet_e2e::lists::SOURCES_SECTION
        );
        let config = parapet_resolver::config::from_toml_str(&toml, dir.path()).expect("config");
        let shutdown = CancellationToken::new();
        let server = ServerBuilder::new(config)
            .start(shutdown.clone())
            .await
            .expect("start");
        let handler = server.handler().clone();
        let udp = server.udp_addrs()[0];
        // The server task keeps running after its handle is dropped, until
        // `shutdown` is cancelled.
        drop(server);
        (upstream, handler, udp, dir, shutdown)
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (_upstream, handler, udp, _dir, _shutdown) = setup(&rt);
    let client: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let outsider: SocketAddr = "192.0.2.1:40000".parse().expect("addr");
    let blocked = wire("phishing.example.", RecordType::A);
    let forwarded = wire("www.example.", RecordType::A);

    let run = |q: &[u8], src: SocketAddr| {
        let context = Context::new(src, Protocol::Udp);
        rt.block_on(handler.core_from_bytes(q.to_vec(), &context))
            .expect("answer")
    };
    // Check the answers are what the bench claims.
    let a = Message::from_vec(&run(&forwarded, client)).expect("decode");
    assert_eq!(a.answers.len(), 1, "forwarded answer: {a:?}");
    let b = Message::from_vec(&run(&blocked, client)).expect("decode");
    assert_eq!(b.answers.len(), 1, "blocked answer: {b:?}");

    // Warm the answer cache through the real UDP listener.
    rt.block_on(async {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        socket.send_to(&forwarded, udp).await.expect("send");
        let mut buf = [0u8; 1500];
        tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
            .await
            .expect("UDP answer in time")
            .expect("recv");
    });
    let mut out = Vec::with_capacity(512);
    assert!(
        handler.answer_udp_fast(&forwarded, client, &mut out),
        "answer cache warmed"
    );
    let cached = Message::from_vec(&out).expect("decode");
    assert_eq!(cached.answers.len(), 1, "cached answer: {cached:?}");

    let mut g = c.benchmark_group("handler");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("refused", |bch| bch.iter(|| run(&forwarded, outsider)));
    g.bench_function("blocked", |bch| bch.iter(|| run(&blocked, client)));
    g.bench_function("forwarded", |bch| bch.iter(|| run(&forwarded, client)));
    let mut n = 0u64;
    g.bench_function("forwarded_miss", |bch| {
        bch.iter(|| {
            n += 1;
            run(&wire(&format!("miss{n}.example."), RecordType::A), client)
        })
    });
    g.bench_function("udp_cached", |bch| {
        bch.iter(|| handler.answer_udp_fast(&forwarded, client, &mut out))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
