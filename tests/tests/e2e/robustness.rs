//! Hostile input: garbage datagrams leave the server answering.

use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use parapet_e2e::client::{addresses, send_raw};
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::{Parapet, Upstream};
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// 1,000 hostile datagrams: random bytes, truncated headers, compression
/// loops, absurd counts, responses, oversized labels.
fn hostile_datagrams() -> Vec<Vec<u8>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0070_6172_6170_6574);
    let header = |id: u16, flags: u16, qd: u16, an: u16| {
        let mut h = Vec::new();
        for v in [id, flags, qd, an, 0, 0] {
            h.extend_from_slice(&v.to_be_bytes());
        }
        h
    };
    let mut out = Vec::new();
    for i in 0..1000u32 {
        let id = i as u16;
        let d = match i % 8 {
            0 => (0..rng.random_range(0..600))
                .map(|_| rng.random())
                .collect(),
            1 => header(id, 0x0100, 1, 0)[..(i as usize % 12)].to_vec(),
            2 => {
                // Name is a pointer to itself: a compression loop.
                let mut d = header(id, 0x0100, 1, 0);
                d.extend_from_slice(&[0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01]);
                d
            }
            3 => {
                // Two pointers pointing at each other.
                let mut d = header(id, 0x0100, 1, 0);
                d.extend_from_slice(&[0xc0, 0x0e, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01]);
                d
            }
            4 => header(id, 0x0100, 0xffff, 0xffff),
            5 => {
                // A response (QR set) must not be answered (reflection).
                let mut d = header(id, 0x8180, 1, 0);
                d.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
                d
            }
            6 => {
                // Label length running past the end.
                let mut d = header(id, 0x0100, 1, 0);
                d.extend_from_slice(&[63, b'a', b'b']);
                d
            }
            _ => {
                // Valid header, random tail.
                let mut d = header(id, 0x0100, rng.random_range(0..4), rng.random_range(0..4));
                d.extend((0..rng.random_range(0..200)).map(|_| rng.random::<u8>()));
                d
            }
        };
        out.push(d);
    }
    out
}

#[tokio::test]
async fn thousand_garbage_datagrams_leave_the_server_answering() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    for d in hostile_datagrams() {
        send_raw(p.addr(), &d).await?;
    }
    // Still answering, both from the list and from upstream.
    let msg = tokio::time::timeout(
        Duration::from_secs(10),
        p.query("phishing.example.", RecordType::A),
    )
    .await??;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    let msg = p.query("www.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec!["192.0.2.10"]);
    let msg = p.query_tcp("www.example.", RecordType::AAAA).await?;
    assert_eq!(addresses(&msg), vec!["2001:db8::10"]);
    Ok(())
}

/// Write one length-prefixed message on `s`.
async fn write_frame(s: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await
}

/// One length-prefixed answer from `s`, within [`WAIT`].
async fn read_frame(s: &mut TcpStream) -> anyhow::Result<Message> {
    let frame = tokio::time::timeout(WAIT, async {
        let len = s.read_u16().await?;
        let mut buf = vec![0; usize::from(len)];
        s.read_exact(&mut buf).await?;
        std::io::Result::Ok(buf)
    })
    .await??;
    Ok(Message::from_vec(&frame)?)
}

/// A plain A query for `name` with `id`.
fn a_query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

/// Garbage framed over TCP, each on its own connection: every reply the
/// server sends for it is a FORMERR (or none, for responses and short
/// junk), and the connection then either closes or answers a real query;
/// a connection opened before the garbage keeps working, and so do new ones.
#[tokio::test]
async fn garbage_over_tcp_gets_formerr_and_harms_no_connection() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    // A well-behaved connection, open before the garbage arrives.
    let mut bystander = TcpStream::connect(p.addr()).await?;
    write_frame(&mut bystander, &a_query(1, "phishing.example.")).await?;
    assert_eq!(addresses(&read_frame(&mut bystander).await?), [SINKHOLE_V4]);
    let (mut formerr, mut closed, mut served) = (0, 0, 0);
    for d in hostile_datagrams().into_iter().take(50) {
        let mut s = TcpStream::connect(p.addr()).await?;
        write_frame(&mut s, &d).await?;
        // Then a real query on the same connection: read until its answer
        // (or the end of the connection); whatever comes first is FORMERR.
        if write_frame(&mut s, &a_query(0x5151, "www.example."))
            .await
            .is_err()
        {
            closed += 1;
            continue;
        }
        loop {
            let Ok(m) = read_frame(&mut s).await else {
                closed += 1;
                break;
            };
            if m.queries
                .first()
                .is_some_and(|q| q.name().to_ascii() == "www.example.")
            {
                assert_eq!(addresses(&m), ["192.0.2.10"], "{d:02x?}");
                served += 1;
                break;
            }
            assert_eq!(
                m.metadata.response_code,
                ResponseCode::FormErr,
                "{d:02x?}: {m:?}"
            );
            assert!(m.answers.is_empty(), "{d:02x?}: {m:?}");
            formerr += 1;
        }
    }
    assert_eq!(closed + served, 50);
    assert!(formerr > 0, "no garbage got a FORMERR");
    // The bystander's connection survived all of it, as do new ones.
    write_frame(&mut bystander, &a_query(2, "www.example.")).await?;
    let again = read_frame(&mut bystander).await?;
    assert_eq!(
        (again.metadata.id, addresses(&again)),
        (2, vec!["192.0.2.10".to_string()])
    );
    let msg = p.query_tcp("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    Ok(())
}
