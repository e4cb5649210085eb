use std::path::Path;

use super::*;

const MIN: &str = "[upstream]\nservers = [\"127.0.0.1:5300\"]\n";

fn ok(text: &str) -> Config {
    from_toml_str(text, Path::new(".")).expect("valid config")
}

fn issues(text: &str) -> Vec<String> {
    match from_toml_str(text, Path::new(".")) {
        Err(ConfigError::Invalid { issues, .. }) => issues.iter().map(|i| i.to_string()).collect(),
        other => panic!("expected validation issues, got {other:?}"),
    }
}

#[test]
fn defaults_are_safe() {
    let c = ok(MIN);
    assert_eq!(
        c.server.listen,
        vec!["127.0.0.1:5353".parse().expect("addr")]
    );
    assert_eq!(c.block.action, BlockAction::Sinkhole);
    assert_eq!(c.block.ttl, DEFAULT_BLOCK_TTL);
    assert!(
        crate::access::AccessList::new(c.access.allow.clone())
            .is_allowed("192.168.1.9".parse().expect("ip"))
    );
    assert!(
        !crate::access::AccessList::new(c.access.allow).is_allowed("8.8.8.8".parse().expect("ip"))
    );
    assert!(!c.query_log.enabled);
    assert_eq!(c.metrics.listen, "127.0.0.1:9153".parse().expect("addr"));
}

#[test]
fn rate_limit_and_private_answer_defaults() {
    let c = ok(MIN);
    assert_eq!(c.access.rate_limit_qps, DEFAULT_RATE_LIMIT_QPS);
    assert_eq!(c.access.rate_limit_burst, DEFAULT_RATE_LIMIT_BURST);
    assert_eq!(c.access.rate_limit_slip, 2);
    assert_eq!(c.block.private_answers, PrivateAnswers::Allow);
    assert_eq!(
        c.block.private_answers_allow,
        ["home.arpa", "local", "lan", "internal"]
    );
    let c = ok(&format!(
        "{MIN}[access]\nrate_limit_slip = 0\n[block]\nprivate_answers = \"block\"\n\
         private_answers_allow = [\"Fritz.Box.\", \"nas.example\"]\n"
    ));
    assert_eq!(c.access.rate_limit_slip, 0);
    assert_eq!(c.block.private_answers, PrivateAnswers::Block);
    assert_eq!(c.block.private_answers_allow, ["fritz.box", "nas.example"]);
}

#[test]
fn bad_private_answer_keys_are_named() {
    let found = issues(&format!(
        "{MIN}[block]\nprivate_answers = \"deny\"\nprivate_answers_allow = [\"ok.example\", \"bad name\", \"\"]\n"
    ));
    let want = [
        "block.private_answers: \"deny\" is not one of allow, block",
        "block.private_answers_allow[1]: \"bad name\" is not a domain name",
        "block.private_answers_allow[2]: \"\" is not a domain name",
    ];
    for w in want {
        assert!(
            found.iter().any(|f| f.contains(w)),
            "missing {w:?} in {found:?}"
        );
    }
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn unknown_key_is_named() {
    let err = from_toml_str(
        &format!("{MIN}[block]\nsinkhole = \"1.2.3.4\"\n"),
        Path::new("."),
    )
    .expect_err("unknown key");
    let text = err.to_string();
    assert!(text.contains("sinkhole"), "{text}");
    assert!(text.contains("unknown field"), "{text}");
}

#[test]
fn all_issues_reported_with_key_paths() {
    // Values and the files they name (preflight), all at once.
    let found = match crate::preflight::from_toml_str(
        "[server]\nlisten = [\"nonsense\"]\n[upstream]\nservers = [\"tls://1.1.1.1\"]\n\
         [block]\nsinkhole_ipv4 = \"1.2.3\"\naction = \"drop\"\n[access]\nallow = [\"10.0.0.0/33\"]\n\
         [blocklist]\npath = \"/\"\n",
        Path::new("."),
    ) {
        Err(ConfigError::Invalid { issues, .. }) => {
            issues.iter().map(|i| i.to_string()).collect::<Vec<_>>()
        }
        other => panic!("expected issues, got {other:?}"),
    };
    let want = [
        "server.listen[0]",
        "upstream.servers[0]",
        "block.sinkhole_ipv4: \"1.2.3\" is not an IPv4 address",
        "block.action",
        "access.allow[0]",
        "blocklist.path",
    ];
    for w in want {
        assert!(
            found.iter().any(|f| f.contains(w)),
            "missing {w:?} in {found:#?}"
        );
    }
}

#[test]
fn upstream_forms() {
    use validate::parse_upstream;
    let p = parse_upstream("192.0.2.1").expect("plain");
    assert_eq!(p.addr, "192.0.2.1:53".parse().expect("addr"));
    let t = parse_upstream("tls://1.1.1.1#cloudflare-dns.com").expect("tls");
    assert_eq!(t.addr.port(), 853);
    assert_eq!(t.to_string(), "tls://1.1.1.1:853#cloudflare-dns.com");
    let h =
        parse_upstream("https://[2606:4700::1111]/dns-query#cloudflare-dns.com").expect("https");
    assert_eq!(h.addr.port(), 443);
    assert!(parse_upstream("https://1.1.1.1/dns-query").is_err());
    assert!(parse_upstream("dns.google").is_err());
    assert!(parse_upstream("quic://1.1.1.1#x").is_err());
}

#[test]
fn sources_resolve_relative_to_base_and_need_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "evil.example\n").expect("write");
    let c = from_toml_str(
        &format!(
            "{MIN}[blocklist]\nsources = [\"hosts:a.txt\", {{ path = \"a.txt\", category = \"phishing\", allow = true }}]\n"
        ),
        dir.path(),
    )
    .expect("valid");
    let ListSource::Sources(specs) = &c.blocklist.source else {
        panic!("sources expected")
    };
    assert_eq!(specs[0].path, dir.path().join("a.txt"));
    assert_eq!(specs[0].format, Some(parapet_blocklist::Format::Hosts));
    assert_eq!(specs[1].category.as_deref(), Some("phishing"));
    assert!(specs[1].allow);
    // A missing file is preflight's finding, not validation's.
    let bad = crate::preflight::from_toml_str(
        &format!("{MIN}[blocklist]\nsources = [\"missing.txt\"]\n"),
        dir.path(),
    )
    .expect_err("missing file");
    assert!(bad.to_string().contains("blocklist.sources[0]"), "{bad}");
}

#[test]
fn tls_listen_needs_cert_and_key() {
    let found = issues(&format!(
        "{MIN}[server]\ntls_listen = [\"127.0.0.1:853\"]\n"
    ));
    assert!(
        found.iter().any(|f| f.starts_with("server.tls_cert")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|f| f.starts_with("server.tls_key")),
        "{found:?}"
    );
}

#[test]
fn effective_config_renders_as_toml() {
    let c = ok(MIN);
    let t = c.to_toml();
    assert!(t.contains("listen"), "{t}");
    assert!(t.contains("127.0.0.0/8"), "{t}");
}

/// `check-config` prints the effective config: read back, it is the same
/// config (a key that is unset, like `cache_size`, stays unset rather
/// than turning into a bound), for a minimal config and the bundled
/// development config.
#[test]
fn effective_config_reads_back_as_the_same_config() {
    let dev =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/dev.toml"))
            .expect("config/dev.toml");
    for text in [MIN.to_string(), dev] {
        let base = Path::new("/nonexistent/parapet");
        let first = from_toml_str(&text, base).expect("validates");
        let rendered = first.to_toml();
        let again = from_toml_str(&rendered, base)
            .unwrap_or_else(|e| panic!("rendered config does not validate: {e}\n{rendered}"));
        assert_eq!(again.to_toml(), rendered);
        assert_eq!(again.upstream.cache_size, first.upstream.cache_size);
    }
}

#[test]
fn feeds_get_the_updater_checks() {
    let found = issues(&format!(
        "{MIN}[[feeds]]\nname = \"cleartext\"\nurl = \"http://lists.example/l.txt\"\n\
         [[feeds]]\nname = \"both\"\nurl = \"https://x/l\"\npath = \"l.txt\"\n"
    ));
    for w in [
        "feeds[0].url: (feed cleartext) \"http://lists.example/l.txt\" is plain http://",
        "feeds[1]: (feed both) set either url or path",
    ] {
        assert!(
            found.iter().any(|f| f.contains(w)),
            "missing {w:?} in {found:#?}"
        );
    }
    ok(&format!(
        "{MIN}[[feeds]]\nname = \"pinned\"\nurl = \"http://lists.example/l.txt\"\nsha256 = \"{}\"\n",
        "ab".repeat(32)
    ));
}

#[test]
fn connection_caps_default_and_bad_values_are_named() {
    let c = ok(MIN);
    assert_eq!(
        (
            c.server.max_connections,
            c.server.max_connections_per_client
        ),
        (1024, 64)
    );
    let c = ok(&format!(
        "[server]\nmax_connections = 10\nmax_connections_per_client = 2\n{MIN}"
    ));
    let limits = crate::transport::Settings::from_config(&c).limits;
    let table = limits.connections;
    let slots: Vec<_> = (0..3)
        .filter_map(|_| table.admit("192.0.2.1".parse().expect("ip"), true))
        .collect();
    assert_eq!((slots.len(), table.len()), (3, 2), "2 per client");
    assert!(
        !limits
            .allow
            .expect("allow-list")
            .is_allowed("8.8.8.8".parse().expect("ip"))
    );
    let found = issues(&format!(
        "[server]\nmax_connections = 0\n{MIN}[warning_page]\nmax_connections_per_client = 0\n"
    ));
    assert!(
        found
            .iter()
            .any(|i| i.starts_with("server.max_connections: must be above 0")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|i| i.starts_with("warning_page.max_connections_per_client")),
        "{found:?}"
    );
    let found = issues(&format!(
        "[server]\nmax_connections = 4\nmax_connections_per_client = 5\n{MIN}"
    ));
    assert!(
        found[0].starts_with("server.max_connections_per_client: 5 is above"),
        "{found:?}"
    );
}

#[test]
fn answer_cache_keys_default_and_bad_values_are_named() {
    let u = ok(MIN).upstream;
    assert_eq!(u.cache_memory_mb, 64);
    assert_eq!(
        u.cache_size, None,
        "no entry bound unless cache_size is set"
    );
    assert_eq!(u.serve_stale_secs, 86_400);
    assert!(u.prefetch);
    let u = ok(&format!(
        "{MIN}cache_size = 1000\ncache_memory_mb = 16\nserve_stale_secs = 0\nprefetch = false\n"
    ))
    .upstream;
    assert_eq!(
        (
            u.cache_size,
            u.cache_memory_mb,
            u.serve_stale_secs,
            u.prefetch
        ),
        (Some(1000), 16, 0, false)
    );
    let found = issues(&format!("{MIN}cache_memory_mb = 0\n"));
    assert!(
        found.iter().any(|i| i.contains("upstream.cache_memory_mb")),
        "{found:?}"
    );
    let wrong_type = from_toml_str(&format!("{MIN}prefetch = \"yes\"\n"), Path::new("."));
    assert!(
        matches!(&wrong_type, Err(ConfigError::Parse { message, .. }) if message.contains("boolean")),
        "{wrong_type:?}"
    );
}
