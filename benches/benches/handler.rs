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
//! * `handler_mix/lookalikes_{on,off}`: a realistic mix of 100 queries
//!   per iteration through the whole path (`DnsService::answer`: front,
//!   then core) with the default `[lookalikes]` check on and off, same
//!   run: 88 benign names drawn Zipf-skewed from the top 1,000 of the
//!   Umbrella list (answered from the caches after warm-up), 4 blocked,
//!   4 look-alikes (blocked with the check on; forwarded and cached with
//!   it off) and 4 benign names never seen before (forwarded to the
//!   upstream every time).
//!
//! The upstream is a real authoritative hickory server on loopback
//! (`parapet_e2e::Upstream`). Each iteration is one `block_on` of the
//! handler future on a Tokio runtime, which the numbers include.
//!
//!     cargo bench -p parapet-benches --bench handler

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_benches::{UMBRELLA, query_mix, read_lines};
use parapet_e2e::Upstream;
use parapet_resolver::Context;
use parapet_resolver::event::Protocol;
use parapet_resolver::handler::DnsService;
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

/// A running parapet in-process and what keeps it running.
type Setup = (
    Upstream,
    Handler,
    SocketAddr,
    tempfile::TempDir,
    CancellationToken,
);

/// Parapet over a real upstream serving `records`, with `extra` config.
fn setup(rt: &tokio::runtime::Runtime, records: Vec<Record>, extra: &str) -> Setup {
    rt.block_on(async {
        let upstream = Upstream::with_records(records).await;
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, body) in parapet_e2e::lists::default_files() {
            std::fs::write(dir.path().join(name), body).expect("write list");
        }
        let toml = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"{}\"]\n\
             [blocklist]\n{}\n[block]\nsinkhole_ipv4 = \"192.0.2.53\"\n\
             [access]\nallow = [\"127.0.0.0/8\"]\nrate_limit_qps = 0\n\
             [metrics]\nlisten = \"127.0.0.1:0\"\n[warning_page]\nlisten = [\"127.0.0.1:0\"]\n{extra}",
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
    let (_upstream, handler, udp, _dir, _shutdown) =
        setup(&rt, parapet_e2e::upstream::test_zone(), "");
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

/// The realistic mix with `[lookalikes]` on and off (see the module docs).
fn mix(c: &mut Criterion) {
    let Ok(benign) = read_lines(&parapet_blocklist::data_dir().join(UMBRELLA)) else {
        eprintln!("SKIPPED: real data not found (handler_mix)");
        return;
    };
    let top: Vec<String> = benign.into_iter().take(1_000).collect();
    let mut records = parapet_e2e::upstream::test_zone();
    for name in &top {
        let name = Name::from_ascii(format!("{name}.")).expect("umbrella name");
        let a = RData::A(A(Ipv4Addr::new(192, 0, 2, 1)));
        records.push(Record::from_rdata(name, 300, a));
    }
    let blocked = ["phishing.example".to_string(), "malware.test".to_string()];
    let lookalikes = [
        "gmai1.com",
        "g00gle-login.com",
        "micros0ft.net",
        "outlook.com.evil.example",
    ];
    let mut names = query_mix(&top, &blocked, 96, 0.96, 0x5eed);
    for (i, l) in lookalikes.iter().enumerate() {
        names[i * 24 + 12] = l.to_string();
    }
    let queries: Vec<Vec<u8>> = names
        .iter()
        .map(|n| wire(&format!("{n}."), RecordType::A))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let context = Context::new("127.0.0.1:40000".parse().expect("addr"), Protocol::Udp);
    let fresh = AtomicU64::new(0);
    let mut g = c.benchmark_group("handler_mix");
    g.throughput(Throughput::Elements(100));
    g.measurement_time(Duration::from_secs(5));
    for (id, extra) in [
        ("lookalikes_on", ""),
        ("lookalikes_off", "[lookalikes]\naction = \"off\"\n"),
    ] {
        let (_upstream, handler, _udp, _dir, shutdown) = setup(&rt, records.clone(), extra);
        let run = |q: &[u8]| {
            rt.block_on(handler.answer(q.to_vec(), context.clone()))
                .expect("answer")
        };
        // Warm the caches; check the look-alikes get what the case claims.
        for q in &queries {
            run(q);
        }
        let a = Message::from_vec(&run(&queries[12])).expect("decode");
        let sinkholed = a.answers.iter().any(|r| r.data.to_string() == "192.0.2.53");
        assert_eq!(
            sinkholed,
            extra.is_empty(),
            "{id}: gmai1.com answered {a:?}"
        );
        g.bench_function(id, |bch| {
            bch.iter(|| {
                for q in &queries {
                    run(q);
                }
                for _ in 0..4 {
                    let n = fresh.fetch_add(1, Ordering::Relaxed);
                    run(&wire(&format!("n{n}.fresh.example."), RecordType::A));
                }
            })
        });
        shutdown.cancel();
    }
    g.finish();
}

criterion_group!(benches, bench, mix);
criterion_main!(benches);
