//! Protocol conformance (RFC 8906 "a resolver always responds", RFC 6891
//! EDNS) where the side-by-side run with Unbound found parapet worse
//! (`benches/conformance/run.sh`, RELIABILITY.md): other opcodes get
//! NOTIMP, not FORMERR; a truncated UDP answer ends on a record boundary
//! and keeps the OPT record of an EDNS query.

use anyhow::Result;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use parapet_e2e::{Parapet, Upstream};

use crate::wire;

/// IQUERY (obsolete), STATUS, unassigned 3, NOTIFY, UPDATE, unassigned 15.
const OTHER_OPCODES: [u8; 6] = [1, 2, 3, 4, 5, 15];

/// `query` with its OPCODE field set to `opcode`.
fn with_opcode(mut query: Vec<u8>, opcode: u8) -> Vec<u8> {
    query[2] = (query[2] & 0x87) | (opcode << 3);
    query
}

#[tokio::test]
async fn other_opcodes_get_notimp_not_formerr() -> Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let socket = wire::socket("127.0.0.1").await?;
    for edns in [None, Some(1232)] {
        for opcode in OTHER_OPCODES {
            let query = wire::query(0x5150, "www.example.", RecordType::A, edns)?;
            let bytes = wire::ask(&socket, p.addr(), &with_opcode(query, opcode)).await?;
            let answer = wire::decode(&bytes)?;
            assert_eq!(
                answer.metadata.response_code,
                ResponseCode::NotImp,
                "opcode {opcode}, EDNS {edns:?}"
            );
            assert_eq!(answer.metadata.id, 0x5150);
            assert_eq!(u8::from(answer.metadata.op_code), opcode, "opcode echoed");
            assert!(answer.answers.is_empty());
        }
    }
    // QUERY itself is still answered.
    let answer = p.query("www.example.", RecordType::A).await?;
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(!answer.answers.is_empty());
    Ok(())
}

/// Decode `bytes` as one message and say how many bytes follow its last
/// record (0 for a well-formed message).
fn bytes_after_last_record(bytes: &[u8]) -> Result<(Message, usize)> {
    let mut decoder = BinDecoder::new(bytes);
    let message = Message::read(&mut decoder)?;
    Ok((message, decoder.len()))
}

#[tokio::test]
async fn truncated_udp_answer_ends_on_a_record_boundary() -> Result<()> {
    // big.example: ten TXT records, ~900 bytes; over 512 without EDNS.
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let socket = wire::socket("127.0.0.1").await?;
    // Twice: the second answer may come another way (cache, fast path).
    for round in 0..2 {
        for (edns, limit) in [(None, 512), (Some(512), 512)] {
            let query = wire::query(7, "big.example.", RecordType::TXT, edns)?;
            let bytes = wire::ask(&socket, p.addr(), &query).await?;
            let (answer, trailing) = bytes_after_last_record(&bytes)?;
            assert!(answer.metadata.truncation, "TC set, EDNS {edns:?}");
            assert!(bytes.len() <= limit, "{} bytes", bytes.len());
            assert_eq!(
                trailing, 0,
                "round {round}, EDNS {edns:?}: {trailing} bytes of a half-written record after the last whole one"
            );
            assert_eq!(answer.edns.is_some(), edns.is_some());
        }
    }
    // Every offer between 512 and 600 bytes: at some the records leave no
    // room for the OPT record, which must still be there (RFC 6891 §7).
    for payload in 512..=600u16 {
        let query = wire::query(8, "big.example.", RecordType::TXT, Some(payload))?;
        let bytes = wire::ask(&socket, p.addr(), &query).await?;
        let (answer, trailing) = bytes_after_last_record(&bytes)?;
        assert!(answer.metadata.truncation, "TC set, payload {payload}");
        assert!(bytes.len() <= usize::from(payload), "{} bytes", bytes.len());
        assert_eq!(
            trailing, 0,
            "payload {payload}: {trailing} bytes after the last record"
        );
        assert!(
            answer.edns.is_some(),
            "payload {payload}: the OPT record was dropped"
        );
    }
    // The TCP retry gets everything.
    let whole = p.query_tcp("big.example.", RecordType::TXT).await?;
    assert_eq!(whole.answers.len(), 10);
    assert!(!whole.metadata.truncation);
    Ok(())
}

// Found by fuzzing (fuzz target wire_query): a query whose name is 256
// bytes long (255 bytes of labels, then the root) panicked the UDP receive
// loop while it made the answer-cache key, and that listener answered
// nothing more.
#[tokio::test]
async fn a_256_byte_name_gets_formerr_and_the_listener_keeps_answering() -> Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let socket = wire::socket("127.0.0.1").await?;
    let mut packet = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for size in [63usize, 63, 63, 62] {
        packet.push(size as u8);
        packet.extend(std::iter::repeat_n(b'x', size));
    }
    packet.extend_from_slice(&[0, 0, 1, 0, 1]);
    for _ in 0..2 {
        let answer = wire::decode(&wire::ask(&socket, p.addr(), &packet).await?)?;
        assert_eq!(answer.metadata.response_code, ResponseCode::FormErr);
        assert_eq!(answer.metadata.id, 0xbeef);
        // The same socket (so the same listener) is still answered.
        let query = wire::query(9, "www.example.", RecordType::A, None)?;
        let answer = wire::decode(&wire::ask(&socket, p.addr(), &query).await?)?;
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    }
    Ok(())
}
