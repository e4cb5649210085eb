//! Every bad value in the config is refused with an issue that names its
//! key: one case per key, each a valid config with one section changed.

use parapet_resolver::config::ConfigError;
// Values, then the files they name (preflight): what check-config runs.
use parapet_resolver::preflight as config;

/// The sections of a valid config; each case replaces one of them.
const BASE: &[(&str, &str)] = &[
    ("server", "listen = [\"127.0.0.1:0\"]"),
    ("upstream", "servers = [\"127.0.0.1:5300\"]"),
    ("blocklist", "sources = [\"list.txt\"]"),
    ("block", ""),
    ("access", ""),
    ("metrics", "listen = \"127.0.0.1:0\""),
    ("query_log", ""),
    ("warning_page", ""),
];

/// (key the issue must name, section, its replacement body).
const CASES: &[(&str, &str, &str)] = &[
    ("server.listen", "server", "listen = []"),
    ("server.listen[0]", "server", "listen = [\"localhost\"]"),
    (
        "server.tcp_timeout_ms",
        "server",
        "listen = [\"127.0.0.1:0\"]\ntcp_timeout_ms = 0",
    ),
    (
        "server.tls_cert",
        "server",
        "listen = [\"127.0.0.1:0\"]\ntls_listen = [\"127.0.0.1:0\"]\ntls_key = \"list.txt\"",
    ),
    ("upstream.servers", "upstream", "servers = []"),
    ("upstream.servers[0]", "upstream", "servers = [\"ftp://x\"]"),
    (
        "upstream.trusted[0]",
        "upstream",
        "servers = [\"127.0.0.1:5300\"]\ntrusted = [\"127.0.0.1:5301\"]",
    ),
    (
        "upstream.timeout_ms",
        "upstream",
        "servers = [\"127.0.0.1:5300\"]\ntimeout_ms = 0",
    ),
    (
        "upstream.attempts",
        "upstream",
        "servers = [\"127.0.0.1:5300\"]\nattempts = 0",
    ),
    (
        "upstream.cache_min_ttl",
        "upstream",
        "servers = [\"127.0.0.1:5300\"]\ncache_min_ttl = 600\ncache_max_ttl = 60",
    ),
    (
        "upstream.ca_file",
        "upstream",
        "servers = [\"127.0.0.1:5300\"]\nca_file = \"missing.pem\"",
    ),
    (
        "blocklist",
        "blocklist",
        "path = \"list.txt\"\nsources = [\"list.txt\"]",
    ),
    ("blocklist.path", "blocklist", "path = \"/\""),
    ("block.action", "block", "action = \"explode\""),
    ("block.sinkhole_ipv4", "block", "sinkhole_ipv4 = \"::1\""),
    (
        "block.sinkhole_ipv6",
        "block",
        "sinkhole_ipv6 = \"192.0.2.1\"",
    ),
    ("block.contact[0]", "block", "contact = [\"ftp://x\"]"),
    ("access.allow[0]", "access", "allow = [\"not-a-network\"]"),
    (
        "access.rate_limit_ipv4_prefix",
        "access",
        "rate_limit_ipv4_prefix = 33",
    ),
    (
        "access.rate_limit_ipv6_prefix",
        "access",
        "rate_limit_ipv6_prefix = 129",
    ),
    (
        "access.rate_limit_burst",
        "access",
        "rate_limit_qps = 10\nrate_limit_burst = 0",
    ),
    ("access.tokens_file", "access", "tokens_file = \"missing\""),
    ("metrics.listen", "metrics", "listen = \"9153\""),
    (
        "server.max_connections",
        "server",
        "listen = [\"127.0.0.1:0\"]\nmax_connections = 0",
    ),
    (
        "server.max_connections_per_client",
        "server",
        "listen = [\"127.0.0.1:0\"]\nmax_connections = 4\nmax_connections_per_client = 5",
    ),
    (
        "block.private_answers",
        "block",
        "private_answers = \"sometimes\"",
    ),
    (
        "block.private_answers_allow[0]",
        "block",
        "private_answers_allow = [\"not a name!\"]",
    ),
    ("query_log.mode", "query_log", "mode = \"some\""),
    (
        "query_log.client_addresses",
        "query_log",
        "client_addresses = \"exact\"",
    ),
    ("query_log.hash_key", "query_log", "hash_key = \"short\""),
    ("query_log.queue", "query_log", "queue = 0"),
    (
        "warning_page.max_connections",
        "warning_page",
        "max_connections = 0",
    ),
    (
        "feeds[0].format",
        "[feeds]",
        "name = \"f\"\npath = \"list.txt\"\nformat = \"spreadsheet\"",
    ),
    (
        "feeds[0]",
        "[feeds]",
        "name = \"f\"\npath = \"list.txt\"\nurl = \"https://example.org/l\"",
    ),
];

/// The config text with section `replace` given `body` (`[feeds]` is a
/// table-of-arrays, appended).
fn config_text(replace: &str, body: &str) -> String {
    let mut text = String::new();
    for (header, base) in BASE {
        let body = if *header == replace { body } else { base };
        text.push_str(&format!("[{header}]\n{body}\n"));
    }
    if replace.starts_with('[') {
        text.push_str(&format!("[{replace}]\n{body}\n"));
    }
    text
}

#[test]
fn the_base_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list.txt"), "phishing.example\n").unwrap();
    config::from_toml_str(&config_text("", ""), dir.path()).expect("base config is valid");
}

#[test]
fn each_bad_value_is_one_issue_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list.txt"), "phishing.example\n").unwrap();
    let mut failures = Vec::new();
    for (key, section, body) in CASES {
        let text = config_text(section, body);
        let keys: Vec<String> = match config::from_toml_str(&text, dir.path()) {
            Err(ConfigError::Invalid { issues, .. }) => {
                for issue in &issues {
                    assert!(!issue.message.is_empty(), "{key}: empty message");
                    // The rendered issue names the key too.
                    assert!(issue.to_string().contains(&issue.key), "{issue}");
                }
                issues.into_iter().map(|i| i.key).collect()
            }
            Err(other) => vec![format!("not a validation error: {other}")],
            Ok(_) => vec!["accepted".into()],
        };
        if keys != [key.to_string()] {
            failures.push(format!("{key}: got {keys:?} for\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn unknown_keys_and_wrong_types_are_parse_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list.txt"), "phishing.example\n").unwrap();
    for (key, section, body) in [
        ("colour", "block", "colour = \"red\""),
        (
            "attempts",
            "upstream",
            "servers = [\"127.0.0.1:5300\"]\nattempts = \"two\"",
        ),
    ] {
        match config::from_toml_str(&config_text(section, body), dir.path()) {
            Err(ConfigError::Parse { message, .. }) => {
                assert!(message.contains(key), "{key}: {message}")
            }
            other => panic!("{key}: expected a parse error, got {other:?}"),
        }
    }
}
