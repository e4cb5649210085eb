//! Encoding responses: hickory's message types within a size limit, and
//! the header-only error answers sent when a query cannot be read.

use hickory_proto::op::{
    Edns, Header, HeaderCounts, Message, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_server::zone_handler::MessageResponse;
use tracing::warn;

/// Encode `response` within `max_size` bytes (hickory truncates beyond it
/// and sets TC); if it cannot be encoded at all, a bare SERVFAIL with the
/// same ID.
pub fn encode<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    id: u16,
    max_size: u16,
) -> Vec<u8> {
    let edns = response.edns().cloned();
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max_size);
    match response.destructive_emit(&mut encoder) {
        Ok(info) => {
            // A record that did not fit is rolled back by moving the
            // encoder's offset, not by shortening the buffer: cut its
            // half-written bytes, so a TC answer ends on a record boundary.
            let end = encoder.offset();
            bytes.truncate(end);
            if info.truncation
                && let Some(edns) = &edns
                && let Some(short) = question_and_opt(&bytes, edns, max_size)
            {
                return short;
            }
            bytes
        }
        Err(error) => {
            warn!(%error, "cannot encode a response; sending SERVFAIL");
            let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
            metadata.response_code = ResponseCode::ServFail;
            let header = Header {
                metadata,
                counts: HeaderCounts::default(),
            };
            header.to_bytes().unwrap_or_default()
        }
    }
}

/// A truncated answer to an EDNS query that lost its OPT record (the
/// records filled the size limit, and hickory writes OPT last) rewritten
/// as the question and an OPT only, as RFC 6891 §7 wants an OPT in every
/// answer to an EDNS query. The OPT keeps the payload size and DO bit, not
/// the options (an EDE text may be what did not fit). `None` when the OPT
/// is there, or the rewrite would not fit either.
fn question_and_opt(bytes: &[u8], edns: &Edns, max_size: u16) -> Option<Vec<u8>> {
    let mut message = Message::from_vec(bytes).ok()?;
    if message.edns.is_some() {
        return None;
    }
    message.answers.clear();
    message.authorities.clear();
    message.additionals.clear();
    let mut opt = Edns::new();
    opt.set_max_payload(edns.max_payload())
        .set_dnssec_ok(edns.flags().dnssec_ok);
    message.edns = Some(opt);
    let short = message.to_vec().ok()?;
    (short.len() <= usize::from(max_size)).then_some(short)
}

/// Write into `out` a FORMERR for a query whose header could be read but
/// not the rest; `false` (nothing to send) for a packet shorter than a
/// header or one that is itself a response.
pub fn formerr(packet: &[u8], out: &mut Vec<u8>) -> bool {
    let mut decoder = BinDecoder::new(packet);
    let Ok(header) = Header::read(&mut decoder) else {
        return false;
    };
    if header.metadata.message_type != MessageType::Query {
        return false;
    }
    let mut metadata = Metadata::response_from_request(&header.metadata);
    metadata.response_code = ResponseCode::FormErr;
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    out.clear();
    header.emit(&mut BinEncoder::new(out)).is_ok()
}

/// A header-only answer with `rcode` (SERVFAIL when `rcode` is NoError).
pub fn error_answer(id: u16, rcode: ResponseCode) -> Option<Vec<u8>> {
    let rcode = if rcode == ResponseCode::NoError {
        ResponseCode::ServFail
    } else {
        rcode
    };
    Message::error_msg(id, OpCode::Query, rcode).to_vec().ok()
}

/// FORMERR for bytes that are not a query, if they carry at least an ID.
pub fn formerr_for(query: &[u8]) -> Option<Vec<u8>> {
    let id = u16::from_be_bytes([*query.first()?, *query.get(1)?]);
    error_answer(id, ResponseCode::FormErr)
}
