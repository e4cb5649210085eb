//! The stream upstream client (`parapet_resolver::upstream::stream`)
//! against an in-process DNS-over-TCP server on loopback that answers
//! every query with a fixed A record, in order, as it reads them.
//!
//! * `upstream_tcp/connection_per_query`: baseline — a new TCP connection
//!   for each query (connect, write, read, close), what a client without
//!   persistent connections pays.
//! * `upstream_tcp/pipelined_sequential`: one query at a time over the
//!   client's persistent connection: its round-trip cost.
//! * `upstream_tcp/pipelined_64`: 64 queries in flight at once, pipelined
//!   on one connection: its throughput (elements = queries).
//!
//! The server runs on the same two-thread Tokio runtime as the client, so
//! the numbers include both ends.
//!
//!     cargo bench -p parapet-benches --bench upstream

use std::net::SocketAddr;
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType, rdata::A};
use parapet_resolver::upstream::stream::StreamUpstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

/// Queries in flight at once in the pipelined throughput case.
const IN_FLIGHT: u64 = 64;

fn query() -> Vec<u8> {
    let mut m = Message::new(0x5053, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    let name = Name::from_ascii("www.example.org.").expect("name");
    m.add_query(Query::query(name, RecordType::A));
    m.to_vec().expect("encode")
}

/// The answer to `q`: its ID and question, one A record.
fn answer(q: &[u8]) -> Vec<u8> {
    let q = Message::from_vec(q).expect("query");
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.queries = q.queries.clone();
    let name = q.queries[0].name().clone();
    m.add_answer(Record::from_rdata(name, 60, RData::A(A::new(192, 0, 2, 1))));
    m.to_vec().expect("encode")
}

/// Serve each connection: read frames, answer each in order, flush when
/// no more input is buffered. `accepted` counts the connections.
async fn serve(listener: TcpListener, accepted: Arc<AtomicUsize>) {
    while let Ok((tcp, _)) = listener.accept().await {
        accepted.fetch_add(1, Ordering::Relaxed);
        tcp.set_nodelay(true).expect("nodelay");
        tokio::spawn(async move {
            let (r, w) = tcp.into_split();
            let (mut r, mut w) = (BufReader::new(r), BufWriter::new(w));
            while let Ok(len) = r.read_u16().await {
                let mut q = vec![0; usize::from(len)];
                if r.read_exact(&mut q).await.is_err() {
                    break;
                }
                let a = answer(&q);
                let mut frame = (a.len() as u16).to_be_bytes().to_vec();
                frame.extend_from_slice(&a);
                if w.write_all(&frame).await.is_err() {
                    break;
                }
                if r.buffer().is_empty() && w.flush().await.is_err() {
                    break;
                }
            }
        });
    }
}

async fn one_connection_per_query(addr: SocketAddr, q: &[u8]) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let mut frame = (q.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(q);
    tcp.write_all(&frame).await.expect("write");
    let len = tcp.read_u16().await.expect("length");
    let mut a = vec![0; usize::from(len)];
    tcp.read_exact(&mut a).await.expect("answer");
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let accepted = Arc::new(AtomicUsize::new(0));
    let addr = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(serve(listener, accepted.clone()));
        addr
    });
    let q = query();
    let up = Arc::new(StreamUpstream::tcp(addr));
    let mut g = c.benchmark_group("upstream_tcp");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("connection_per_query", |b| {
        b.iter(|| rt.block_on(one_connection_per_query(addr, &q)));
    });
    let before = accepted.load(Ordering::Relaxed);
    g.bench_function("pipelined_sequential", |b| {
        b.iter(|| rt.block_on(up.exchange(&q)).expect("answer"));
    });
    g.bench_function("pipelined_64", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            rt.block_on(async {
                let tasks: Vec<_> = (0..IN_FLIGHT)
                    .map(|i| {
                        let (up, q) = (up.clone(), q.clone());
                        let n = iters / IN_FLIGHT + u64::from(i < iters % IN_FLIGHT);
                        tokio::spawn(async move {
                            for _ in 0..n {
                                up.exchange(&q).await.expect("answer");
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("task");
                }
            });
            start.elapsed()
        });
    });
    g.finish();
    // One, or a few more when criterion's analysis between cases outlasted
    // the client's idle timeout (10 s) and the connection was reopened.
    eprintln!(
        "upstream_tcp: the pipelined cases' queries went over {} connection(s)",
        accepted.load(Ordering::Relaxed) - before
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
