//! No amplification: UDP answers are capped at 1232 bytes (or the
//! client's smaller offer, 512 without EDNS) with TC=1 above, the whole
//! answer going over TCP; `ANY` gets one synthesised HINFO (RFC 8482).

use std::str::FromStr;

use anyhow::Result;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_e2e::client::{addresses, ede, rcode};
use parapet_e2e::parapet::SINKHOLE_V4;
use parapet_e2e::upstream::test_zone;
use parapet_e2e::{Parapet, Upstream};

use crate::wire;

/// TXT records of `huge.example`: about 4 KB in all.
const HUGE_RECORDS: usize = 16;

async fn upstream_with_huge_txt() -> Upstream {
    let mut zone = test_zone();
    let name = Name::from_str("huge.example.").expect("name");
    for i in 0..HUGE_RECORDS {
        let text = format!("{i:02} {}", "y".repeat(240));
        zone.push(Record::from_rdata(
            name.clone(),
            300,
            RData::TXT(TXT::new(vec![text])),
        ));
    }
    Upstream::with_records(zone).await
}

/// Ask over UDP from loopback; the answer's bytes.
async fn udp(p: &Parapet, name: &str, rtype: RecordType, payload: Option<u16>) -> Result<Vec<u8>> {
    let socket = wire::socket("127.0.0.1").await?;
    wire::ask(&socket, p.addr(), &wire::query(1, name, rtype, payload)?).await
}

#[tokio::test]
async fn large_answers_are_truncated_at_1232_bytes_and_whole_over_tcp() -> Result<()> {
    let up = upstream_with_huge_txt().await;
    let p = Parapet::start(up.addr()).await?;
    // Twice: the second may come from the answer cache.
    for round in 0..2 {
        for (payload, cap) in [(Some(4096), 1232), (Some(65535), 1232), (None, 512)] {
            let bytes = udp(&p, "huge.example.", RecordType::TXT, payload).await?;
            let msg = wire::decode(&bytes)?;
            assert!(bytes.len() <= cap, "{} bytes to {payload:?}", bytes.len());
            assert!(msg.metadata.truncation, "TC set, round {round} {payload:?}");
            if let Some(edns) = &msg.edns {
                assert!(
                    edns.max_payload() <= 1232,
                    "advertised {}",
                    edns.max_payload()
                );
            }
        }
        let whole = p.query_tcp("huge.example.", RecordType::TXT).await?;
        assert_eq!(whole.answers.len(), HUGE_RECORDS, "complete over TCP");
        assert!(!whole.metadata.truncation);
    }
    // An answer within the cap is not truncated.
    let bytes = udp(&p, "big.example.", RecordType::TXT, Some(4096)).await?;
    let msg = wire::decode(&bytes)?;
    assert!(!msg.metadata.truncation && msg.answers.len() == 10);
    Ok(())
}

#[tokio::test]
async fn blocked_answers_too_are_capped() -> Result<()> {
    let up = Upstream::start().await;
    // A long EDE text makes the blocked answer longer than 1232 bytes.
    let p = Parapet::builder(up.addr())
        .section(
            "block",
            &format!(
                "sinkhole_ipv4 = \"{SINKHOLE_V4}\"\njustification = \"{}\"",
                "z".repeat(1300)
            ),
        )
        .start()
        .await?;
    let bytes = udp(&p, "phishing.example.", RecordType::A, Some(4096)).await?;
    assert!(bytes.len() <= 1232, "{} bytes", bytes.len());
    assert!(wire::decode(&bytes)?.metadata.truncation);
    let whole = p.query_tcp("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&whole), [SINKHOLE_V4]);
    assert!(ede(&whole).is_some_and(|(_, text)| text.len() > 1300));
    Ok(())
}

#[tokio::test]
async fn any_gets_one_hinfo_and_is_not_forwarded() -> Result<()> {
    let up = upstream_with_huge_txt().await;
    let p = Parapet::start(up.addr()).await?;
    for name in ["huge.example.", "www.example.", "example."] {
        let query = wire::query(1, name, RecordType::ANY, Some(4096))?;
        let socket = wire::socket("127.0.0.1").await?;
        let bytes = wire::ask(&socket, p.addr(), &query).await?;
        assert!(
            bytes.len() < 2 * query.len() + 40,
            "{name}: {} bytes in, {} out",
            query.len(),
            bytes.len()
        );
        for msg in [
            wire::decode(&bytes)?,
            p.query_tcp(name, RecordType::ANY).await?,
        ] {
            assert_eq!(rcode(&msg), ResponseCode::NoError);
            assert!(!msg.metadata.truncation);
            assert_eq!(msg.answers.len(), 1, "{name}: {:?}", msg.answers);
            match &msg.answers[0].data {
                RData::HINFO(h) => {
                    assert_eq!(&*h.cpu, b"RFC8482");
                    assert!(h.os.is_empty());
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
    assert_eq!(up.queries(), 0, "ANY is never forwarded");
    // A blocked name gets its block answer, not HINFO.
    let msg = wire::decode(&udp(&p, "phishing.example.", RecordType::ANY, Some(1232)).await?)?;
    assert!(msg.answers.is_empty(), "{:?}", msg.answers);
    assert_eq!(ede(&msg).map(|(code, _)| code), Some(15));
    Ok(())
}
