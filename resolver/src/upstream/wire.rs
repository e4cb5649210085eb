//! The few bytes of a DNS message the upstream client reads without
//! decoding it: the question section, the TC bit and the response code.

/// Length of the DNS header.
const HEADER: usize = 12;

/// The question section of a message with one question (name, type,
/// class), as bytes; `None` when there is none or it is cut short. The
/// name must not be compressed (it never is in a question).
pub fn question(message: &[u8]) -> Option<&[u8]> {
    if message.len() < HEADER || u16::from_be_bytes([message[4], message[5]]) != 1 {
        return None;
    }
    let mut at = HEADER;
    loop {
        let len = usize::from(*message.get(at)?);
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        at += 1 + len;
    }
    message.get(HEADER..at + 1 + 4)
}

/// `packet` is a response whose one question is `question`: byte for byte
/// with `exact_case`, ignoring ASCII case otherwise.
pub fn answers(packet: &[u8], question: &[u8], exact_case: bool) -> bool {
    let Some(asked) = self::question(packet) else {
        return false;
    };
    let is_response = packet[2] & 0x80 != 0;
    is_response
        && if exact_case {
            asked == question
        } else {
            asked.eq_ignore_ascii_case(question)
        }
}

/// The TC bit of a message.
pub fn truncated(message: &[u8]) -> bool {
    message.get(2).is_some_and(|b| b & 0x02 != 0)
}

/// The header's response code (the low four bits; EDNS extensions aside).
pub fn rcode(message: &[u8]) -> u8 {
    message.get(3).map_or(0, |b| b & 0x0f)
}

/// Randomise the case of every letter of the question name in `query`
/// (DNS 0x20): each letter upper or lower case by one random bit.
pub fn randomize_case(query: &mut [u8]) {
    let mut at = HEADER;
    let mut bits = 0u64;
    let mut left = 0;
    while let Some(&len) = query.get(at) {
        if len == 0 || len > 63 {
            break;
        }
        let end = (at + 1 + usize::from(len)).min(query.len());
        for b in &mut query[at + 1..end] {
            if !b.is_ascii_alphabetic() {
                continue;
            }
            if left == 0 {
                bits = rand::random();
                left = 64;
            }
            *b = if bits & 1 == 1 {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            };
            bits >>= 1;
            left -= 1;
        }
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `www.Example.` A IN with ID 0x1234.
    fn query() -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x03www\x07Example\x00\x00\x01\x00\x01");
        q
    }

    #[test]
    fn question_is_the_name_type_and_class() {
        let q = query();
        assert_eq!(
            question(&q),
            Some(&b"\x03www\x07Example\x00\x00\x01\x00\x01"[..])
        );
        assert_eq!(question(&q[..20]), None, "cut short");
        let mut none = q.clone();
        none[5] = 0;
        assert_eq!(question(&none), None, "no question");
    }

    #[test]
    fn an_answer_matches_its_question_with_or_without_case() {
        let q = query();
        let mut a = q.clone();
        a[2] |= 0x80;
        let asked = question(&q).expect("question");
        assert!(answers(&a, asked, true));
        assert!(!answers(&q, asked, true), "a query is no answer");
        let mut lower = a.clone();
        lower.make_ascii_lowercase();
        lower[..12].copy_from_slice(&a[..12]);
        assert!(answers(&lower, asked, false));
        assert!(!answers(&lower, asked, true), "0x20: the case must echo");
        let mut other = a.clone();
        other[13] = b'x';
        assert!(!answers(&other, asked, false), "another name");
        let mut qtype = a.clone();
        let n = qtype.len();
        qtype[n - 3] = 28;
        assert!(!answers(&qtype, asked, false), "another type");
    }

    #[test]
    fn randomized_case_keeps_the_name_and_mixes_its_case() {
        let mut q = vec![0u8; 12];
        q[5] = 1;
        q.push(40);
        q.extend_from_slice(&[b'a'; 40]);
        q.extend_from_slice(b"\x00\x00\x01\x00\x01");
        let before = q.clone();
        randomize_case(&mut q);
        assert!(q.eq_ignore_ascii_case(&before));
        let upper = q.iter().filter(|b| b.is_ascii_uppercase()).count();
        // 40 random bits all alike: 2^-39.
        assert!(upper > 0 && upper < 40, "{upper} of 40 upper case");
    }

    #[test]
    fn flags_and_rcode_are_read_from_the_header() {
        let mut m = query();
        assert!(!truncated(&m));
        m[2] |= 0x02;
        m[3] = 0x83;
        assert!(truncated(&m));
        assert_eq!(rcode(&m), 3);
    }
}
