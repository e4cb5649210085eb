//! Queries pipelined on one plain TCP connection are answered concurrently
//! (RFC 7766 §6.2.1.1): a query that is slow at the upstream holds back no
//! later query on the same connection.
// See: issue 14 (item 7)

use std::time::Duration;

use anyhow::{Result, anyhow, ensure};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use parapet_e2e::Parapet;
use parapet_e2e::client::addresses;
use parapet_test_support::scripted::{self, Behaviour, ScriptedServer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::transport::{framed, read_framed};

/// How long the upstream holds back a slow name: well under the upstream
/// timeout below, long enough that a fast answer queued behind a slow one
/// could not arrive first.
const SLOW: Duration = Duration::from_millis(800);

/// The ten names, in the order they are asked, and whether the upstream is
/// slow to answer them: three slow names, each followed by fast ones. Name
/// `i` has the address 192.0.2.`i + 1`.
const QUERIES: [(&str, bool); 10] = [
    ("slow1.example.", true),
    ("fast1.example.", false),
    ("fast2.example.", false),
    ("slow2.example.", true),
    ("fast3.example.", false),
    ("fast4.example.", false),
    ("fast5.example.", false),
    ("slow3.example.", true),
    ("fast6.example.", false),
    ("fast7.example.", false),
];

/// The address the upstream gives name `i`.
fn address(i: usize) -> String {
    format!("192.0.2.{}", i + 1)
}

/// The A query for name `i` as a TCP frame, with message ID `i`.
fn frame(i: usize) -> Result<Vec<u8>> {
    let mut m = Message::new(u16::try_from(i)?, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(QUERIES[i].0)?, RecordType::A));
    framed(&m.to_vec()?)
}

#[tokio::test]
async fn fast_answers_on_one_tcp_connection_do_not_wait_for_slow_ones() -> Result<()> {
    let records = (0..QUERIES.len())
        .map(|i| {
            let last = u8::try_from(i + 1).expect("ten names");
            scripted::a(QUERIES[i].0, [192, 0, 2, last])
        })
        .collect();
    let upstream = ScriptedServer::start(records).await;
    let slow = QUERIES.iter().filter(|q| q.1);
    upstream.set_behaviour(slow.fold(Behaviour::default(), |b, q| b.slow(q.0, SLOW)));
    let p = Parapet::builder(upstream.addr())
        .section(
            "upstream",
            &format!("servers = [\"{}\"]\ntimeout_ms = 5000", upstream.addr()),
        )
        .start()
        .await?;
    let mut s = TcpStream::connect(p.server().tcp_addrs()[0]).await?;
    // All ten in one write: pipelined, each slow name ahead of fast ones.
    let mut all = Vec::new();
    for i in 0..QUERIES.len() {
        all.extend(frame(i)?);
    }
    s.write_all(&all).await?;

    let mut order = Vec::new();
    for _ in 0..QUERIES.len() {
        let m = read_framed(&mut s).await?;
        let i = usize::from(m.metadata.id);
        let (qname, _) = QUERIES.get(i).ok_or_else(|| anyhow!("unknown id {i}"))?;
        ensure!(
            m.metadata.response_code == ResponseCode::NoError && addresses(&m) == [address(i)],
            "{qname}: {:?} {:?}",
            m.metadata.response_code,
            addresses(&m)
        );
        order.push(i);
    }
    // Every fast answer came before every slow one.
    let slow_at: Vec<bool> = order.iter().map(|&i| QUERIES[i].1).collect();
    assert_eq!(
        slow_at,
        [[false; 7].as_slice(), &[true; 3]].concat(),
        "answers arrived in the order {order:?} (ids; slow: 0, 3, 7)"
    );
    // The slow names were answered by the slow upstream (how many times it
    // was asked is the upstream client's business, not this test's).
    for (qname, _) in QUERIES.iter().filter(|q| q.1) {
        assert!(upstream.queries_for(qname, RecordType::A) >= 1, "{qname}");
    }
    Ok(())
}
