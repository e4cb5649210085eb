//! Synthesised answers: sinkhole / NXDOMAIN / NODATA / REFUSED for blocked
//! names, SOA on negatives, Extended DNS Error 15 (Blocked, RFC 8914).
//!
//! The EDE EXTRA-TEXT is either a short plain text (`Blocked: phishing
//! (source: urlhaus)`) or, when `[block]` has `contact`, `justification` or
//! `organisation`, the JSON object of draft-ietf-dnsop-structured-dns-error
//! (`{"c":["mailto:…"],"j":"…","o":"…"}`), so a client can show why and
//! whom to ask.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::fmt;
use std::io::Write as _;

use hickory_proto::op::{Edns, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::{A, AAAA, HINFO, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_blocklist::SourceInfo;

use crate::config::{BlockAction, BlockConfig};

pub use crate::wire::EDE_OPTION_CODE;
/// INFO-CODE 15: Blocked.
pub const EDE_BLOCKED: u16 = 15;
/// INFO-CODE 18: Prohibited (REFUSED by access control).
pub const EDE_PROHIBITED: u16 = 18;
/// INFO-CODE 22: No Reachable Authority (no upstream answered in time).
pub const EDE_NO_REACHABLE_AUTHORITY: u16 = 22;
/// INFO-CODE 23: Network Error (an upstream could not be reached: refused
/// connection, ICMP unreachable, broken stream).
pub const EDE_NETWORK_ERROR: u16 = 23;
/// The labels of `use-application-dns.net`, Firefox's canary name: while it
/// resolves, Firefox may switch to its own DNS over HTTPS and bypass
/// parapet; NXDOMAIN keeps it on the system resolver.
pub const CANARY_LABELS: [&str; 2] = ["use-application-dns", "net"];
/// Firefox's canary name, lower case and without the trailing dot, as
/// [`crate::warning::host::HostName`] holds a host.
pub const CANARY_NAME: &str = "use-application-dns.net";
/// SOA refresh/retry/expire of the synthesised SOA (RFC 1912 values).
pub(crate) const SOA_TIMERS: (i32, i32, i32) = (1800, 900, 604_800);
/// MNAME of the synthesised SOA.
pub(crate) const SOA_MNAME: &str = "parapet.invalid.";
/// RNAME of the synthesised SOA.
pub(crate) const SOA_RNAME: &str = "hostmaster.parapet.invalid.";

/// A synthesised response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synthesised {
    /// Response code.
    pub rcode: ResponseCode,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section (SOA on negatives).
    pub authorities: Vec<Record>,
}

/// The answer to a blocked `qname`/`qtype` under `config`.
///
/// A gets `sinkhole_ipv4`, AAAA gets `sinkhole_ipv6` (NODATA when unset),
/// other types NODATA; `nxdomain` gives NXDOMAIN for every type, `nodata`
/// NODATA, `refused` REFUSED. Negative answers carry an SOA; every record has
/// the configured TTL.
pub fn blocked(config: &BlockConfig, qname: &Name, qtype: RecordType) -> Synthesised {
    let ttl = config.ttl;
    let record = |data: RData| Record::from_rdata(qname.clone(), ttl, data);
    let (rcode, answer) = match config.action {
        BlockAction::Refused => {
            return Synthesised {
                rcode: ResponseCode::Refused,
                answers: Vec::new(),
                authorities: Vec::new(),
            };
        }
        BlockAction::Nxdomain => (ResponseCode::NXDomain, None),
        BlockAction::Nodata => (ResponseCode::NoError, None),
        BlockAction::Sinkhole => match qtype {
            RecordType::A => (
                ResponseCode::NoError,
                Some(record(RData::A(A(config.sinkhole_ipv4)))),
            ),
            RecordType::AAAA => (
                ResponseCode::NoError,
                config.sinkhole_ipv6.map(|ip| record(RData::AAAA(AAAA(ip)))),
            ),
            _ => (ResponseCode::NoError, None),
        },
    };
    match answer {
        Some(a) => Synthesised {
            rcode,
            answers: vec![a],
            authorities: Vec::new(),
        },
        None => Synthesised {
            rcode,
            answers: Vec::new(),
            authorities: vec![soa(qname, ttl)],
        },
    }
}

/// Whether `qname` is `use-application-dns.net` (any case).
pub fn is_canary(qname: &Name) -> bool {
    qname.num_labels() == 2
        && qname
            .iter()
            .zip(CANARY_LABELS)
            .all(|(l, c)| l.eq_ignore_ascii_case(c.as_bytes()))
}

/// The answer to Firefox's canary name: NXDOMAIN with an SOA, every type.
pub fn canary(qname: &Name, ttl: u32) -> Synthesised {
    Synthesised {
        rcode: ResponseCode::NXDomain,
        answers: Vec::new(),
        authorities: vec![soa(qname, ttl)],
    }
}

/// The minimal answer to an `ANY` query (RFC 8482 §4.2): one synthesised
/// HINFO record, CPU "RFC8482" and OS "", instead of every record set.
pub fn minimal_any(qname: &Name, ttl: u32) -> Synthesised {
    let hinfo = RData::HINFO(HINFO::new("RFC8482".into(), String::new()));
    Synthesised {
        rcode: ResponseCode::NoError,
        answers: vec![Record::from_rdata(qname.clone(), ttl, hinfo)],
        authorities: Vec::new(),
    }
}

/// The SOA put in the authority section of a synthesised negative answer.
/// Owner is the blocked name; `minimum` and the record TTL are `ttl`, so
/// clients cache the negative answer exactly as long as a positive one.
pub fn soa(qname: &Name, ttl: u32) -> Record {
    let mname = Name::from_ascii(SOA_MNAME).unwrap_or_else(|_| Name::root());
    let rname = Name::from_ascii(SOA_RNAME).unwrap_or_else(|_| Name::root());
    let (refresh, retry, expire) = SOA_TIMERS;
    Record::from_rdata(
        qname.clone(),
        ttl,
        RData::SOA(SOA::new(mname, rname, 1, refresh, retry, expire, ttl)),
    )
}

/// The plain EXTRA-TEXT: `Blocked: <category> (source: <name>)`.
struct Why<'a>(SourceInfo<'a>);

impl fmt::Display for Why<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.category {
            Some(c) => write!(f, "Blocked: {c} (source: {})", self.0.name),
            None => write!(f, "Blocked (source: {})", self.0.name),
        }
    }
}

/// Whether the EXTRA-TEXT is the plain text (no structured fields set).
fn is_plain(config: &BlockConfig) -> bool {
    config.contact.is_empty() && config.justification.is_none() && config.organisation.is_none()
}

/// Append [`ede_text`] to `out`; without building a `String` for the
/// plain text (the UDP fast path).
pub fn write_ede_text(out: &mut Vec<u8>, config: &BlockConfig, source: SourceInfo<'_>) {
    if is_plain(config) {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{}", Why(source));
    } else {
        out.extend_from_slice(ede_text(config, source).as_bytes());
    }
}

/// The EXTRA-TEXT for a block by a rule from `source`.
pub fn ede_text(config: &BlockConfig, source: SourceInfo<'_>) -> String {
    let why = Why(source).to_string();
    if is_plain(config) {
        return why;
    }
    let justification = match &config.justification {
        Some(j) => format!("{j} {why}"),
        None => why,
    };
    let mut obj = serde_json::Map::new();
    if !config.contact.is_empty() {
        obj.insert("c".into(), config.contact.clone().into());
    }
    obj.insert("j".into(), justification.into());
    if let Some(o) = &config.organisation {
        obj.insert("o".into(), o.clone().into());
    }
    serde_json::Value::Object(obj).to_string()
}

/// An Extended DNS Error option (RFC 8914): INFO-CODE then UTF-8 text.
pub fn ede_option(info_code: u16, text: &str) -> EdnsOption {
    let mut data = Vec::with_capacity(2 + text.len());
    data.extend_from_slice(&info_code.to_be_bytes());
    data.extend_from_slice(text.as_bytes());
    EdnsOption::Unknown(EDE_OPTION_CODE, data)
}

/// Read the Extended DNS Error of a response, if any: (INFO-CODE, text).
pub fn read_ede(edns: &Edns) -> Option<(u16, String)> {
    match edns.option(EdnsCode::Unknown(EDE_OPTION_CODE))? {
        EdnsOption::Unknown(_, data) if data.len() >= 2 => Some((
            u16::from_be_bytes([data[0], data[1]]),
            String::from_utf8_lossy(&data[2..]).into_owned(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;
    use crate::config::from_toml_str;

    fn block(extra: &str) -> BlockConfig {
        let text = format!("[upstream]\nservers=[\"127.0.0.1:53\"]\n[block]\n{extra}\n");
        from_toml_str(&text, std::path::Path::new("."))
            .expect("valid config")
            .block
    }

    fn name() -> Name {
        Name::from_ascii("phishing.example.").expect("name")
    }

    #[test]
    fn sinkhole_a_gets_ipv4_with_ttl() {
        let s = blocked(
            &block("sinkhole_ipv4 = \"192.0.2.1\"\nttl = 42"),
            &name(),
            RecordType::A,
        );
        assert_eq!(s.rcode, ResponseCode::NoError);
        assert_eq!(s.answers.len(), 1);
        assert_eq!(s.answers[0].ttl, 42);
        assert_eq!(
            s.answers[0].data,
            RData::A(A("192.0.2.1".parse().expect("ip")))
        );
        assert!(s.authorities.is_empty());
    }

    #[test]
    fn aaaa_without_sinkhole_is_nodata_with_soa() {
        let s = blocked(&block(""), &name(), RecordType::AAAA);
        assert_eq!(s.rcode, ResponseCode::NoError);
        assert!(s.answers.is_empty());
        assert_eq!(s.authorities[0].record_type(), RecordType::SOA);
        let s = blocked(&block("sinkhole_ipv6 = \"::1\""), &name(), RecordType::AAAA);
        assert_eq!(s.answers[0].data, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)));
    }

    #[test]
    fn other_types_are_nodata_and_nxdomain_action_applies_to_all() {
        let s = blocked(&block(""), &name(), RecordType::TXT);
        assert!(s.answers.is_empty() && s.rcode == ResponseCode::NoError);
        let s = blocked(
            &block("action = \"nxdomain\"\nttl = 7"),
            &name(),
            RecordType::A,
        );
        assert_eq!(s.rcode, ResponseCode::NXDomain);
        assert_eq!(s.authorities[0].ttl, 7);
        let s = blocked(&block("action = \"refused\""), &name(), RecordType::A);
        assert_eq!(s.rcode, ResponseCode::Refused);
    }

    #[test]
    fn ede_text_plain_and_structured() {
        let src = SourceInfo {
            name: "urlhaus",
            category: Some("malware"),
        };
        assert_eq!(
            ede_text(&block(""), src),
            "Blocked: malware (source: urlhaus)"
        );
        let j = ede_text(
            &block("contact = [\"mailto:it@party.example\"]\norganisation = \"Party IT\""),
            src,
        );
        let v: serde_json::Value = serde_json::from_str(&j).expect("json");
        assert_eq!(v["c"][0], "mailto:it@party.example");
        assert_eq!(v["o"], "Party IT");
        assert!(v["j"].as_str().is_some_and(|j| j.contains("malware")));
    }

    #[test]
    fn written_ede_text_is_the_same_text() {
        let configs = [
            block(""),
            block("justification = \"Policy\""),
            block("contact = [\"mailto:it@party.example\"]"),
        ];
        let sources = [
            SourceInfo {
                name: "urlhaus",
                category: Some("malware"),
            },
            SourceInfo {
                name: "mine.txt",
                category: None,
            },
        ];
        for config in &configs {
            for src in sources {
                let mut out = b"prefix".to_vec();
                write_ede_text(&mut out, config, src);
                assert_eq!(out[6..], *ede_text(config, src).as_bytes());
                assert_eq!(&out[..6], b"prefix", "appends");
            }
        }
    }

    #[test]
    fn ede_option_round_trips() {
        let mut edns = Edns::new();
        edns.options_mut().insert(ede_option(EDE_BLOCKED, "x y"));
        assert_eq!(read_ede(&edns), Some((15, "x y".to_string())));
    }
}
