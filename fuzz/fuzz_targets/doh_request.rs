//! DoH request decoding: the path (endpoint and token), the GET `dns`
//! parameter (base64url) and the decoded message as the DoH endpoint reads
//! it (hickory's request decoder, the FORMERR fallback, the max-age of an
//! answer). Input: path, a NUL byte, the query string, a NUL byte, a body.
#![no_main]

use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;
use parapet_fuzz::internals::{dns_param, formerr_for, min_ttl, token_in_path};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let (Some(path), Some(query), body) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let (Ok(path), Ok(query)) = (std::str::from_utf8(path), std::str::from_utf8(query)) else {
        return;
    };
    if let Some(Some(token)) = token_in_path(path) {
        assert!(!token.is_empty() && !token.contains('/'));
        assert_eq!(path, format!("/dns-query/{token}"));
    }
    if let Ok(message) = dns_param(Some(query)) {
        assert!(!message.is_empty());
        decode(&message);
    }
    decode(body.unwrap_or_default());
});

fn decode(message: &[u8]) {
    if let Ok(decoded) = Message::from_vec(message) {
        let _ = min_ttl(message);
        // What the DoH endpoint answers to a message it cannot use.
        let answer = formerr_for(message).expect("a decoded message has an ID");
        let formerr = Message::from_vec(&answer).expect("FORMERR decodes");
        assert_eq!(formerr.metadata.id, decoded.metadata.id);
    } else if let Some(answer) = formerr_for(message) {
        Message::from_vec(&answer).expect("FORMERR decodes");
    }
}
