//! Hostile input: garbage datagrams leave the server answering.

use std::time::Duration;

use hickory_proto::rr::RecordType;
use parapet_e2e::client::{addresses, send_raw};
use parapet_e2e::parapet::SINKHOLE_V4;
use parapet_e2e::{Parapet, Upstream};
use rand::{Rng, SeedableRng};

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

#[tokio::test]
async fn garbage_over_tcp_closes_only_that_connection() -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    for d in hostile_datagrams().into_iter().take(50) {
        let mut s = tokio::net::TcpStream::connect(p.addr()).await?;
        let mut framed = (d.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&d);
        let _ = s.write_all(&framed).await;
    }
    let msg = p.query_tcp("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    Ok(())
}
