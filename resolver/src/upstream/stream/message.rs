//! The few bytes of a DNS message an upstream transport looks at: the ID
//! (rewritten on the wire, restored on the answer) and the question (an
//! answer must repeat the query's).

/// Length of the DNS header.
pub(crate) const HEADER_LEN: usize = 12;

/// The message ID.
pub(crate) fn id(msg: &[u8]) -> u16 {
    u16::from_be_bytes([msg[0], msg[1]])
}

/// Overwrite the message ID.
pub(crate) fn set_id(msg: &mut [u8], id: u16) {
    msg[..2].copy_from_slice(&id.to_be_bytes());
}

/// The question section of a query (names, types, classes), checked to be
/// well formed: what its answer must repeat.
///
/// # Errors
/// A query shorter than a header, or whose questions run past its end or
/// use compression.
pub(crate) fn question(query: &[u8]) -> Result<&[u8], String> {
    if query.len() < HEADER_LEN {
        return Err(format!("a query of {} bytes has no header", query.len()));
    }
    if query.len() > usize::from(u16::MAX) {
        return Err(format!("a query of {} bytes is too long", query.len()));
    }
    let end = question_end(query).ok_or("the query's question is malformed")?;
    Ok(&query[HEADER_LEN..end])
}

/// Where the question section of `msg` ends, if it is whole and its names
/// are uncompressed.
fn question_end(msg: &[u8]) -> Option<usize> {
    let count = u16::from_be_bytes([*msg.get(4)?, *msg.get(5)?]);
    let mut pos = HEADER_LEN;
    for _ in 0..count {
        loop {
            let len = usize::from(*msg.get(pos)?);
            pos += 1;
            match len {
                0 => break,
                1..=63 => pos += len,
                _ => return None,
            }
        }
        pos += 4;
    }
    (pos <= msg.len()).then_some(pos)
}

/// Whether `answer` is a response that repeats `question` (as returned by
/// [`question`] for the query): names compared without case, types and
/// classes exactly. An error answer (RCODE ≠ 0) without a question is
/// taken too: servers often send FORMERR, NOTIMP or REFUSED bare.
pub(crate) fn answers(question: &[u8], answer: &[u8]) -> bool {
    let Some(header) = answer.get(..HEADER_LEN) else {
        return false;
    };
    if header[2] & 0x80 == 0 {
        return false;
    }
    let count = u16::from_be_bytes([header[4], header[5]]);
    if count == 0 {
        return header[3] & 0x0f != 0;
    }
    let Some(end) = question_end(answer) else {
        return false;
    };
    let theirs = &answer[HEADER_LEN..end];
    if theirs.len() != question.len() || question.len() < 4 {
        return false;
    }
    let split = question.len() - 4;
    theirs[..split].eq_ignore_ascii_case(&question[..split]) && theirs[split..] == question[split..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{Name, RecordType};

    fn query(name: &str, rtype: RecordType) -> Vec<u8> {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        m.to_vec().unwrap()
    }

    fn response(q: &[u8]) -> Vec<u8> {
        let mut r = q.to_vec();
        r[2] |= 0x80;
        r
    }

    #[test]
    fn an_answer_must_repeat_the_question_in_any_case() {
        let q = query("www.example.org.", RecordType::A);
        let question = question(&q).unwrap();
        assert!(answers(question, &response(&q)));
        assert!(answers(
            question,
            &response(&query("WwW.Example.ORG.", RecordType::A))
        ));
        assert!(!answers(question, &q), "a query is no answer");
        assert!(!answers(
            question,
            &response(&query("www.example.com.", RecordType::A))
        ));
        assert!(!answers(
            question,
            &response(&query("www.example.org.", RecordType::AAAA))
        ));
        assert!(!answers(question, &response(&q)[..20]), "cut short");
    }

    #[test]
    fn a_bare_error_answer_is_taken_a_bare_success_is_not() {
        let q = query("example.org.", RecordType::A);
        let mut bare = Message::new(7, MessageType::Response, OpCode::Query);
        bare.metadata.response_code = ResponseCode::Refused;
        let question = question(&q).unwrap();
        assert!(answers(question, &bare.to_vec().unwrap()));
        bare.metadata.response_code = ResponseCode::NoError;
        assert!(!answers(question, &bare.to_vec().unwrap()));
    }

    #[test]
    fn malformed_queries_are_refused_before_sending() {
        assert!(question(&[0; 5]).is_err());
        let mut q = query("example.org.", RecordType::A);
        q.truncate(q.len() - 2);
        assert!(question(&q).is_err());
        assert!(question(&vec![0; 70_000]).is_err());
        let mut ids = query("example.org.", RecordType::A);
        set_id(&mut ids, 0xbeef);
        assert_eq!(id(&ids), 0xbeef);
    }
}
