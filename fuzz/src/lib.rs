//! What the fuzz targets share: the paths into parapet's internals (all in
//! [`internals`], so that a module moved in the resolver is one edit here),
//! a small compiled blocklist and a config, and hickory-proto's view of a
//! packet to compare parapet's hand-written parsers against.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use hickory_proto::op::Message;
use parapet_blocklist::{Blocklist, CompileOptions, Compiler, Format, SourceSpec};

/// Every resolver item the targets use, by its path today.
pub mod internals {
    pub use parapet_resolver::answer_cache::{AnswerCache, Key, age_ttls, ttl_offsets};
    pub use parapet_resolver::config::{Config, from_toml_str};
    pub use parapet_resolver::fastpath::WireQuery;
    pub use parapet_resolver::transport::doh::{dns_param, token_in_path};
    pub use parapet_resolver::transport::exchange::{formerr_for, min_ttl};
}

use internals::{Config, from_toml_str};

/// Names on the fuzz blocklist (a domain rule each; `allowed.evil.example`
/// is an exception inside the list).
pub const BLOCKED: &str =
    "evil.example\nphish.test\nxn--pypal-4ve.example\n@@||allowed.evil.example^\n";

/// The blocklist the targets check names against, compiled once.
pub fn blocklist() -> &'static Arc<Blocklist> {
    static LIST: LazyLock<Arc<Blocklist>> = LazyLock::new(|| {
        let mut compiler = Compiler::new(CompileOptions::default());
        let spec = SourceSpec {
            format: Some(Format::Adblock),
            ..SourceSpec::new("fuzz-list")
        };
        let text = BLOCKED
            .lines()
            .map(|l| {
                if l.starts_with("@@") {
                    l.to_string()
                } else {
                    format!("||{l}^")
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        compiler
            .add_reader(&spec, text.as_bytes())
            .expect("fuzz list parses");
        let bytes = compiler.to_bytes().expect("fuzz list compiles");
        Arc::new(Blocklist::from_bytes(bytes).expect("fuzz list loads"))
    });
    &LIST
}

/// A valid config (sinkhole answers, the answer cache on).
pub fn config() -> &'static Config {
    static CONFIG: LazyLock<Config> = LazyLock::new(|| {
        let text = "[upstream]\nservers = [\"127.0.0.1\"]\ncache_size = 64\n\n\
                    [block]\naction = \"sinkhole\"\nsinkhole_ipv6 = \"::1\"\n";
        from_toml_str(text, Path::new("/nonexistent")).expect("fuzz config is valid")
    });
    &CONFIG
}

/// The question and EDNS of a message as hickory-proto decodes it.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Query name labels, as sent (case kept).
    pub labels: Vec<Vec<u8>>,
    /// Query type.
    pub qtype: u16,
    /// Query class.
    pub qclass: u16,
    /// EDNS: (UDP payload size, at least 512 as RFC 6891 says, DO bit).
    pub edns: Option<(u16, bool)>,
}

/// hickory-proto's reading of a one-question message; `None` when it
/// refuses the bytes or the message has no single question.
pub fn hickory_question(packet: &[u8]) -> Option<Decoded> {
    let message = Message::from_vec(packet).ok()?;
    let [query] = message.queries.as_slice() else {
        return None;
    };
    Some(Decoded {
        labels: query.name().iter().map(<[u8]>::to_vec).collect(),
        qtype: u16::from(query.query_type()),
        qclass: u16::from(query.query_class()),
        edns: message
            .edns
            .as_ref()
            .map(|e| (e.max_payload().max(512), e.flags().dnssec_ok)),
    })
}
