//! Bursts over UDP: many queries sent back to back from several sockets
//! reach the server together (so its receive loop takes them in batches);
//! every one is answered once and correctly, whether blocked, answered from
//! the answer cache or forwarded, and hostile datagrams inside a batch
//! (responses, short packets, undecodable queries) do not disturb the
//! others.

use std::collections::HashMap;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use parapet_e2e::client::{addresses, ede, rcode};
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::{Parapet, Upstream};
use tokio::net::UdpSocket;

/// Client sockets, and rounds of datagrams each sends in one burst.
const SOCKETS: usize = 4;
const ROUNDS: u16 = 4;

/// What a datagram of the burst is and what must come back.
#[derive(Debug, Clone)]
enum Expect {
    /// Blocked name: the sinkhole address (with the EDE when EDNS was sent).
    Blocked { name: String, edns: bool },
    /// Cached before the burst: the zone's address, question case as sent.
    Cached { name: String },
    /// Forwarded, not in the zone: NXDOMAIN from upstream.
    Forwarded { name: String },
    /// Undecodable query: FORMERR with its ID.
    FormErr,
    /// A response or a packet shorter than a header: no answer at all.
    Nothing,
}

fn query(id: u16, name: &str, edns: bool) -> anyhow::Result<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name)?, RecordType::A));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    Ok(m.to_vec()?)
}

/// The burst of client `c`: IDs are the index in the burst.
fn burst(c: usize) -> anyhow::Result<Vec<(Vec<u8>, Expect)>> {
    let mut out = Vec::new();
    for round in 0..ROUNDS {
        let id = |k: u16| round * 8 + k;
        let blocked = if round % 2 == 0 {
            "phishing.example."
        } else {
            "WWW.Phishing.EXAMPLE."
        };
        let edns = round % 2 == 1;
        out.push((
            query(id(0), blocked, edns)?,
            Expect::Blocked {
                name: blocked.into(),
                edns,
            },
        ));
        let cached = if round % 2 == 0 {
            "www.example."
        } else {
            "wWw.ExAmple."
        };
        out.push((
            query(id(1), cached, false)?,
            Expect::Cached {
                name: cached.into(),
            },
        ));
        let missing = format!("nope-{c}-{round}.example.");
        out.push((
            query(id(2), &missing, edns)?,
            Expect::Forwarded { name: missing },
        ));
        // A response to a query nobody sent (reflection bait).
        let mut response = query(id(3), "www.example.", false)?;
        response[2] |= 0x80;
        out.push((response, Expect::Nothing));
        // Shorter than a header.
        out.push((vec![0x12, 0x34, 0x01], Expect::Nothing));
        // A header, then a label running past the end.
        let mut bad = query(id(5), "www.example.", false)?;
        bad.truncate(12);
        bad.extend_from_slice(&[63, b'a', b'b']);
        out.push((bad, Expect::FormErr));
        out.push((
            query(id(6), "malware.test.", false)?,
            Expect::Blocked {
                name: "malware.test.".into(),
                edns: false,
            },
        ));
        // Empty datagram.
        out.push((Vec::new(), Expect::Nothing));
    }
    Ok(out)
}

fn check(expect: &Expect, msg: &Message) {
    let id = msg.metadata.id;
    assert_eq!(msg.metadata.message_type, MessageType::Response);
    let question = |name: &str| {
        assert_eq!(msg.queries.len(), 1, "{id}: one question");
        assert_eq!(msg.queries[0].name().to_ascii(), name, "{id}: case as sent");
    };
    match expect {
        Expect::Blocked { name, edns } => {
            question(name);
            assert_eq!(rcode(msg), ResponseCode::NoError, "{id}");
            assert_eq!(addresses(msg), vec![SINKHOLE_V4], "{id}");
            assert_eq!(ede(msg).is_some(), *edns, "{id}: EDE only with EDNS");
        }
        Expect::Cached { name } => {
            question(name);
            assert_eq!(addresses(msg), vec!["192.0.2.10"], "{id}");
        }
        Expect::Forwarded { name } => {
            question(name);
            assert_eq!(rcode(msg), ResponseCode::NXDomain, "{id}");
        }
        Expect::FormErr => assert_eq!(rcode(msg), ResponseCode::FormErr, "{id}"),
        Expect::Nothing => panic!("{id}: answered a datagram that must get no answer"),
    }
}

#[tokio::test]
async fn bursts_from_several_sockets_are_all_answered_and_hostile_datagrams_ignored()
-> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    // Warm the answer cache.
    assert_eq!(
        addresses(&p.query("www.example.", RecordType::A).await?),
        vec!["192.0.2.10"]
    );
    let mut clients = Vec::new();
    let mut bursts = Vec::new();
    for c in 0..SOCKETS {
        clients.push(UdpSocket::bind("127.0.0.1:0").await?);
        bursts.push(burst(c)?);
    }
    // Back to back, interleaved between the sockets, nothing read meanwhile.
    for i in 0..bursts[0].len() {
        for (client, burst) in clients.iter().zip(&bursts) {
            client.send_to(&burst[i].0, p.addr()).await?;
        }
    }
    // A last blocked query from each socket: answered in the receive loop,
    // so once it is back, any answer to the datagrams sent before it that
    // are answered in the loop has arrived too.
    const SENTINEL: u16 = 0xbeef;
    for client in &clients {
        client
            .send_to(&query(SENTINEL, "phishing.example.", false)?, p.addr())
            .await?;
    }
    let mut buf = vec![0u8; 4096];
    for (c, (client, burst)) in clients.iter().zip(&bursts).enumerate() {
        let mut expected: HashMap<u16, Expect> = burst
            .iter()
            .enumerate()
            .filter(|(_, (_, e))| !matches!(e, Expect::Nothing))
            .map(|(i, (_, e))| (i as u16, e.clone()))
            .collect();
        let mut sentinel = false;
        while !expected.is_empty() || !sentinel {
            let (len, _) = tokio::time::timeout(WAIT, client.recv_from(&mut buf))
                .await
                .map_err(|_| {
                    anyhow::anyhow!("client {c}: no answer in time; still waiting for {expected:?}")
                })??;
            let msg = Message::from_vec(&buf[..len])?;
            let id = msg.metadata.id;
            if id == SENTINEL {
                assert!(!sentinel, "client {c}: sentinel answered twice");
                assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
                sentinel = true;
                continue;
            }
            let expect = match expected.remove(&id) {
                Some(e) => e,
                None => burst
                    .get(usize::from(id))
                    .map_or(Expect::Nothing, |(_, e)| e.clone()),
            };
            check(&expect, &msg);
        }
        // Nothing more: no answer to a response, a short packet, or twice.
        let mut extra = [0u8; 512];
        match client.try_recv_from(&mut extra) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("client {c}: unexpected extra datagram: {other:?}"),
        }
    }
    // Every forwarded name went upstream.
    assert!(up.queries() >= (SOCKETS * usize::from(ROUNDS)) as u64);
    Ok(())
}
