//! Queries pipelined on one plain TCP connection are answered concurrently
//! (RFC 7766 §6.2.1.1): a query that is slow at the upstream holds back no
//! later query on the same connection.
// See: issue 14 (item 7)

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Result, anyhow, ensure};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_e2e::upstream::{ZONE_TTL, test_zone};
use parapet_e2e::{Parapet, Upstream};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::transport::{framed, read_framed};

/// How long the upstream holds back a slow name: well under the upstream
/// timeout below, long enough that a fast answer queued behind a slow one
/// could not arrive first.
const SLOW: Duration = Duration::from_millis(800);

/// The ten queries, in the order they are sent: three slow names, each
/// followed by fast ones (names of the test zone, forwarded as well).
const QUERIES: [(&str, RecordType, bool); 10] = [
    ("slow1.example.", RecordType::A, true),
    ("www.example.", RecordType::A, false),
    ("www.example.", RecordType::AAAA, false),
    ("slow2.example.", RecordType::A, true),
    ("alias.example.", RecordType::A, false),
    ("txt.example.", RecordType::TXT, false),
    ("example.", RecordType::MX, false),
    ("slow3.example.", RecordType::A, true),
    ("mail.example.", RecordType::A, false),
    ("newthreat.example.", RecordType::A, false),
];

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap_or_else(|e| panic!("bad name {s}: {e}"))
}

/// Query `i` of [`QUERIES`] as a TCP frame, with message ID `i`.
fn frame(i: usize) -> Result<Vec<u8>> {
    let (qname, rtype, _) = QUERIES[i];
    let mut m = Message::new(u16::try_from(i)?, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname), rtype));
    framed(&m.to_vec()?)
}

#[tokio::test]
async fn fast_answers_on_one_tcp_connection_do_not_wait_for_slow_ones() -> Result<()> {
    let mut zone = test_zone();
    let mut slow = Vec::new();
    for (qname, _, _) in QUERIES.iter().filter(|q| q.2) {
        slow.push(name(qname));
        zone.push(Record::from_rdata(
            name(qname),
            ZONE_TTL,
            RData::A(A::new(192, 0, 2, 200)),
        ));
    }
    let upstream = Upstream::with_slow(zone, &slow, SLOW).await;
    let p = Parapet::builder(upstream.addr())
        .section(
            "upstream",
            &format!("servers = [\"{}\"]\ntimeout_ms = 5000", upstream.addr()),
        )
        .start()
        .await?;
    let mut s = TcpStream::connect(p.server().tcp_addrs()[0]).await?;
    // All ten in one write: pipelined, the slow ones first in their runs.
    let mut all = Vec::new();
    for i in 0..QUERIES.len() {
        all.extend(frame(i)?);
    }
    s.write_all(&all).await?;

    let mut order = Vec::new();
    for _ in 0..QUERIES.len() {
        let m = read_framed(&mut s).await?;
        let i = usize::from(m.metadata.id);
        let (qname, rtype, _) = *QUERIES.get(i).ok_or_else(|| anyhow!("unknown id {i}"))?;
        let q = m.queries.first().ok_or_else(|| anyhow!("no question"))?;
        ensure!(
            q.name() == &name(qname) && q.query_type() == rtype,
            "answer {i} is for {} {}",
            q.name(),
            q.query_type()
        );
        ensure!(
            m.metadata.response_code == ResponseCode::NoError && !m.answers.is_empty(),
            "{qname} {rtype}: {:?} with {} answers",
            m.metadata.response_code,
            m.answers.len()
        );
        order.push(i);
    }
    // Every fast answer came before every slow one.
    let slow_flags: Vec<bool> = order.iter().map(|&i| QUERIES[i].2).collect();
    let first_slow = slow_flags.iter().position(|&s| s).unwrap_or(order.len());
    assert!(
        slow_flags[first_slow..].iter().all(|&s| s) && first_slow == 7,
        "answers arrived in the order {order:?} (ids; slow: 0, 3, 7)"
    );
    // The slow names did reach the upstream (they were not answered early
    // from anywhere else).
    assert!(
        upstream.queries() >= 10,
        "{} upstream queries",
        upstream.queries()
    );
    Ok(())
}
