//! The fast path must answer exactly as the full handler path does.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use hickory_resolver::net::xfer::Protocol;
use parapet_blocklist::{Blocklist, CompileOptions, Compiler, SourceSpec};

use super::WireQuery;
use crate::config;
use crate::handler::Handler;
use crate::transport::{ClientAuth, exchange::exchange};

const CLIENT: &str = "127.0.0.1:40000";

fn list() -> Blocklist {
    let mut compiler = Compiler::new(CompileOptions::default());
    let mut spec = SourceSpec::new("phish-list.txt");
    spec.category = Some("phishing".into());
    compiler
        .add_reader(&spec, "evil.example\n".as_bytes())
        .expect("list parses");
    Blocklist::from_bytes(compiler.to_bytes().expect("compiles")).expect("loads")
}

fn handler(block_section: &str) -> Handler {
    let text = format!(
        "[upstream]\nservers = [\"127.0.0.1:9\"]\n[access]\nallow = [\"127.0.0.0/8\"]\n\
         rate_limit_qps = 0\n[metrics]\nenabled = false\n[block]\n{block_section}\n"
    );
    let config = config::from_toml_str(&text, Path::new(".")).expect("config is valid");
    Handler::new(&config, Arc::new(ArcSwap::from_pointee(list()))).expect("handler builds")
}

fn query(name: &str, qtype: RecordType, edns: Option<(u16, bool)>) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    if let Some((payload, dnssec_ok)) = edns {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        e.set_dnssec_ok(dnssec_ok);
        m.set_edns(e);
    }
    m.to_vec().expect("encodes")
}

async fn full_path(handler: &Handler, packet: &[u8]) -> Message {
    let client: SocketAddr = CLIENT.parse().expect("addr");
    let bytes = exchange(
        handler,
        packet.to_vec(),
        client,
        Protocol::Udp,
        ClientAuth::default(),
    )
    .await
    .expect("full path answers");
    Message::from_vec(&bytes).expect("full path response decodes")
}

fn fast_path(handler: &Handler, packet: &[u8]) -> Option<Message> {
    let mut out = Vec::new();
    let client: SocketAddr = CLIENT.parse().expect("addr");
    if !handler.answer_udp_fast(packet, client, &mut out) {
        return None;
    }
    Some(Message::from_vec(&out).expect("fast path response decodes"))
}

/// Record owners in lower case: the fast path echoes the question's case
/// (a compression pointer to it, as Unbound does, which keeps 0x20 case
/// randomisation working); the full path writes hickory's lower-cased name.
fn lower_owners(mut m: Message) -> Message {
    for r in m.answers.iter_mut().chain(m.authorities.iter_mut()) {
        r.name = r.name.to_lowercase();
    }
    m
}

#[tokio::test]
async fn fast_answers_equal_full_path_answers() {
    let blocks = [
        "action = \"sinkhole\"\nsinkhole_ipv4 = \"127.0.0.1\"\nsinkhole_ipv6 = \"::1\"\nttl = 60",
        "action = \"sinkhole\"\nsinkhole_ipv4 = \"192.0.2.7\"\nttl = 300",
        "action = \"nxdomain\"",
        "action = \"nodata\"",
        "action = \"refused\"",
        "contact = [\"mailto:help@example.org\"]\norganisation = \"Example\"",
    ];
    let mut compared = 0;
    for block in blocks {
        let handler = handler(block);
        for name in ["evil.example.", "WWW.Evil.EXAMPLE.", "a.b.c.evil.example."] {
            for qtype in [
                RecordType::A,
                RecordType::AAAA,
                RecordType::MX,
                RecordType::HTTPS,
            ] {
                for edns in [
                    None,
                    Some((1232, false)),
                    Some((4096, true)),
                    Some((100, false)),
                ] {
                    let packet = query(name, qtype, edns);
                    let fast = fast_path(&handler, &packet)
                        .unwrap_or_else(|| panic!("fast path skipped {name} {qtype} {edns:?}"));
                    let full = full_path(&handler, &packet).await;
                    // Record equality ignores TTLs: compare the re-encoded
                    // messages, which carry them.
                    assert_eq!(fast, full, "{block} / {name} {qtype} {edns:?}");
                    assert_eq!(
                        lower_owners(fast).to_vec().expect("encodes"),
                        lower_owners(full).to_vec().expect("encodes"),
                        "{block} / {name} {qtype} {edns:?}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 6 * 3 * 4 * 4);
}

#[test]
fn names_not_blocked_take_the_full_path() {
    let handler = handler("action = \"nxdomain\"");
    for name in ["example.", "notevil.example.", "evil.example.com.", "."] {
        assert!(
            fast_path(&handler, &query(name, RecordType::A, None)).is_none(),
            "{name}"
        );
    }
}

#[test]
fn unusual_queries_take_the_full_path() {
    let handler = handler("action = \"nxdomain\"");
    let good = query("evil.example.", RecordType::A, None);
    assert!(fast_path(&handler, &good).is_some());
    let mut response = good.clone();
    response[2] |= 0x80; // QR: a response
    let mut notify = good.clone();
    notify[2] |= 4 << 3; // OPCODE 4
    let mut two_questions = good.clone();
    two_questions[5] = 2;
    let mut trailing = good.clone();
    trailing.push(0);
    let mut chaos = good.clone();
    let class_at = chaos.len() - 1;
    chaos[class_at] = 3; // class CH
    for (what, packet) in [
        ("response", response),
        ("opcode", notify),
        ("qdcount", two_questions),
        ("trailing byte", trailing),
        ("class", chaos),
    ] {
        assert!(fast_path(&handler, &packet).is_none(), "{what}");
    }
    let mut edns_v1 = query("evil.example.", RecordType::A, Some((1232, false)));
    let version_at = edns_v1.len() - 5; // OPT TTL: ext-rcode, version, flags
    edns_v1[version_at] = 1;
    assert!(fast_path(&handler, &edns_v1).is_none(), "EDNS version 1");
}

#[test]
fn every_truncation_and_corruption_is_refused_without_panic() {
    let packet = query("www.evil.example.", RecordType::A, Some((1232, true)));
    for len in 0..packet.len() {
        assert!(
            WireQuery::parse(&packet[..len]).is_none(),
            "prefix of {len} bytes"
        );
    }
    for i in 0..packet.len() {
        for v in [0u8, 1, 63, 64, 0xc0, 0xff] {
            let mut p = packet.clone();
            p[i] = v;
            let _ = WireQuery::parse(&p); // must not panic
        }
    }
}

#[test]
fn clients_outside_access_list_take_the_full_path() {
    let handler = handler("action = \"nxdomain\"");
    let mut out = Vec::new();
    let outsider: SocketAddr = "192.0.2.1:5000".parse().expect("addr");
    let packet = query("evil.example.", RecordType::A, None);
    assert!(!handler.answer_udp_fast(&packet, outsider, &mut out));
}

#[test]
fn answers_too_long_for_the_client_take_the_full_path() {
    // A long EDE text makes the blocked answer longer than 512 bytes.
    let justification = "x".repeat(600);
    let handler = handler(&format!("justification = \"{justification}\""));
    let small = query("evil.example.", RecordType::A, Some((512, false)));
    assert!(fast_path(&handler, &small).is_none(), "over 512 bytes");
    let large = query("evil.example.", RecordType::A, Some((4096, false)));
    let answer = fast_path(&handler, &large).expect("fits in 4096 bytes");
    let edns = answer.edns.expect("OPT echoed");
    let (_, text) = crate::answer::read_ede(&edns).expect("EDE");
    assert!(text.contains(&justification), "whole text");
}

#[test]
fn udp_payload_is_512_without_edns_and_capped_at_1232() {
    assert_eq!(super::udp_payload(None), 512);
    assert_eq!(super::udp_payload(Some(100)), 512);
    assert_eq!(super::udp_payload(Some(1000)), 1000);
    assert_eq!(super::udp_payload(Some(4096)), 1232);
    assert_eq!(super::udp_payload(Some(u16::MAX)), 1232);
}

#[test]
fn truncated_slip_is_an_empty_noerror_answer_with_tc() {
    for edns in [None, Some((4096, true))] {
        let packet = query("www.Example.", RecordType::A, edns);
        let q = WireQuery::parse(&packet).expect("simple query");
        let mut out = Vec::new();
        q.write_truncated(&mut out);
        let m = Message::from_vec(&out).expect("decodes");
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.message_type, MessageType::Response);
        assert!(m.metadata.truncation && m.metadata.recursion_desired);
        assert_eq!(
            m.metadata.response_code,
            hickory_proto::op::ResponseCode::NoError
        );
        assert!(m.answers.is_empty() && m.authorities.is_empty());
        assert_eq!(m.queries[0].name().to_ascii(), "www.Example.");
        assert_eq!(m.edns.map(|e| e.max_payload()), edns.map(|_| 1232));
    }
}

#[test]
fn canary_is_the_exact_name_in_any_case() {
    for (name, canary) in [
        ("use-application-dns.net.", true),
        ("USE-Application-DNS.Net.", true),
        ("x.use-application-dns.net.", false),
        ("use-application-dns.net.example.", false),
        ("use-application-dns.org.", false),
    ] {
        let packet = query(name, RecordType::A, None);
        let q = WireQuery::parse(&packet).expect("simple query");
        assert_eq!(q.is_canary(), canary, "{name}");
        let n = Name::from_ascii(name).expect("name");
        assert_eq!(crate::answer::is_canary(&n), canary, "{name}");
    }
}

/// A query whose name has labels of `sizes` bytes ('a's), no EDNS.
fn query_with_labels(sizes: &[usize]) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for &n in sizes {
        q.push(n as u8);
        q.extend(std::iter::repeat_n(b'a', n));
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

// Found by fuzzing (fuzz target wire_query): labels of 255 bytes before the
// root label, 256 in all, were taken, and the answer-cache key of such a
// query indexed past its buffer: one datagram panicked the UDP listener.
#[test]
fn name_of_256_bytes_is_not_taken() {
    // 4 × (1 + 63) - 1 = 255 bytes of labels (63, 63, 63, 62), then the root.
    let too_long = query_with_labels(&[63, 63, 63, 62]);
    assert!(WireQuery::parse(&too_long).is_none());
    // 254 bytes of labels and the root: the longest legal name.
    let longest = query_with_labels(&[63, 63, 63, 61]);
    let parsed = WireQuery::parse(&longest).expect("a 255-byte name is legal");
    assert_eq!(parsed.labels().map(<[u8]>::len).sum::<usize>(), 250);
    assert!(crate::answer_cache::Key::of(&parsed).is_some());
}
