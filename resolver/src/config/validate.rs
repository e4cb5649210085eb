//! [`RawConfig`] → [`Config`]: typed values, resolved paths, every problem
//! reported with its key path.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use parapet_blocklist::{Format, SourceSpec};

use super::raw::{RawConfig, RawSource};
use super::*;

mod private_answers;

use private_answers::{private_answers, private_answers_allow};

/// Collects issues while converting.
struct Issues(Vec<ConfigIssue>);

impl Issues {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            key: key.into(),
            message: message.into(),
        });
    }
}

/// Check and convert a raw config; `base_dir` resolves relative paths.
pub fn validate(raw: RawConfig, base_dir: &Path) -> Result<Config, Vec<ConfigIssue>> {
    let mut is = Issues(Vec::new());
    let resolve = |p: &Path| -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base_dir.join(p)
        }
    };

    // [server]
    let issues_before_listen = is.0.len();
    let listen = socket_addrs(
        &mut is,
        "server.listen",
        raw.server
            .listen
            .unwrap_or_else(|| vec![DEFAULT_LISTEN.to_string()]),
    );
    // Bad entries are reported on their own; "none" only for an empty list.
    if listen.is_empty() && is.0.len() == issues_before_listen {
        is.push("server.listen", "at least one address is needed");
    }
    let tls_listen = socket_addrs(
        &mut is,
        "server.tls_listen",
        raw.server.tls_listen.unwrap_or_default(),
    );
    let https_listen = socket_addrs(
        &mut is,
        "server.https_listen",
        raw.server.https_listen.unwrap_or_default(),
    );
    let tls_cert = raw.server.tls_cert.map(|p| resolve(&p));
    let tls_key = raw.server.tls_key.map(|p| resolve(&p));
    let encrypted = !tls_listen.is_empty() || !https_listen.is_empty();
    for (key, path) in [("server.tls_cert", &tls_cert), ("server.tls_key", &tls_key)] {
        match path {
            Some(p) => check_file(&mut is, key, p),
            None if encrypted => is.push(key, "required when tls_listen or https_listen is set"),
            None => {}
        }
    }
    // A certificate that will not load (not PEM, key of another
    // certificate) is a start-up error: report it here already.
    if let (Some(c), Some(k)) = (&tls_cert, &tls_key)
        && c.is_file()
        && k.is_file()
    {
        use crate::transport::certs::{CertError, load_certified_key};
        match load_certified_key(c, k) {
            Ok(_) => {}
            Err(CertError::Cert { path, reason }) => {
                is.push("server.tls_cert", format!("{}: {reason}", path.display()))
            }
            Err(CertError::Key { path, reason }) => {
                is.push("server.tls_key", format!("{}: {reason}", path.display()))
            }
            Err(CertError::Mismatch { path, reason }) => is.push(
                "server.tls_key",
                format!("{} does not fit server.tls_cert: {reason}", path.display()),
            ),
        }
    }
    let server = ServerConfig {
        listen,
        tls_listen,
        https_listen,
        tls_cert,
        tls_key,
        tcp_timeout_ms: positive(
            &mut is,
            "server.tcp_timeout_ms",
            raw.server.tcp_timeout_ms,
            DEFAULT_TCP_TIMEOUT_MS,
        ),
        freebind: raw.server.freebind.unwrap_or(false),
        max_connections: count(
            &mut is,
            "server.max_connections",
            raw.server.max_connections,
            crate::conntable::DEFAULT_MAX_CONNECTIONS,
        ),
        max_connections_per_client: count(
            &mut is,
            "server.max_connections_per_client",
            raw.server.max_connections_per_client,
            crate::conntable::DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
        ),
    };
    if server.max_connections_per_client > server.max_connections {
        is.push(
            "server.max_connections_per_client",
            format!(
                "{} is above server.max_connections ({})",
                server.max_connections_per_client, server.max_connections
            ),
        );
    }

    // [upstream]
    let mut servers = Vec::new();
    let raw_servers = raw.upstream.servers.unwrap_or_default();
    if raw_servers.is_empty() {
        is.push(
            "upstream.servers",
            "at least one upstream resolver is needed",
        );
    }
    for (i, s) in raw_servers.iter().enumerate() {
        match parse_upstream(s) {
            Ok(u) => servers.push(u),
            Err(e) => is.push(format!("upstream.servers[{i}]"), format!("{s:?}: {e}")),
        }
    }
    let cache_max_ttl = raw.upstream.cache_max_ttl.unwrap_or(DEFAULT_CACHE_MAX_TTL);
    if let Some(min) = raw.upstream.cache_min_ttl
        && min > cache_max_ttl
    {
        is.push(
            "upstream.cache_min_ttl",
            format!("{min} is above upstream.cache_max_ttl ({cache_max_ttl})"),
        );
    }
    let attempts = raw.upstream.attempts.unwrap_or(DEFAULT_UPSTREAM_ATTEMPTS);
    if attempts == 0 {
        is.push("upstream.attempts", "must be at least 1");
    }
    let upstream = UpstreamConfig {
        servers,
        timeout_ms: positive(
            &mut is,
            "upstream.timeout_ms",
            raw.upstream.timeout_ms,
            DEFAULT_UPSTREAM_TIMEOUT_MS,
        ),
        attempts,
        cache_size: raw.upstream.cache_size.unwrap_or(DEFAULT_CACHE_SIZE),
        cache_min_ttl: raw.upstream.cache_min_ttl,
        cache_max_ttl,
        cache_negative_max_ttl: raw
            .upstream
            .cache_negative_max_ttl
            .unwrap_or(DEFAULT_CACHE_NEGATIVE_MAX_TTL),
        ca_file: raw.upstream.ca_file.map(|p| resolve(&p)),
    };
    if let Some(ca) = &upstream.ca_file {
        let before = is.0.len();
        check_file(&mut is, "upstream.ca_file", ca);
        // A file that cannot be read is one issue, not also "no roots".
        if is.0.len() == before
            && let Err(e) = crate::forward::load_roots(ca)
        {
            is.push("upstream.ca_file", e);
        }
    }

    // [blocklist]
    let source = match (raw.blocklist.path, raw.blocklist.sources) {
        (Some(_), Some(_)) => {
            is.push("blocklist", "set either `path` or `sources`, not both");
            ListSource::Empty
        }
        (Some(p), None) => {
            let p = resolve(&p);
            // Not there yet is fine: the first feed update publishes it
            // (parapet serves DNS without protection until then).
            if !crate::reload::is_missing(&p) {
                check_file(&mut is, "blocklist.path", &p);
            }
            ListSource::Artifact(p)
        }
        (None, Some(sources)) => {
            let mut specs = Vec::new();
            for (i, s) in sources.into_iter().enumerate() {
                let key = format!("blocklist.sources[{i}]");
                if let Some(spec) = source_spec(&mut is, &key, s, &resolve) {
                    check_file(&mut is, &key, &spec.path);
                    specs.push(spec);
                }
            }
            ListSource::Sources(specs)
        }
        (None, None) => ListSource::Empty,
    };
    let blocklist = BlocklistConfig {
        source,
        force_public_suffix: raw.blocklist.force_public_suffix.unwrap_or(false),
        watch: raw.blocklist.watch.unwrap_or(true),
    };

    // [block]
    let action = match raw.block.action.as_deref() {
        None | Some("sinkhole") => BlockAction::Sinkhole,
        Some("nxdomain") => BlockAction::Nxdomain,
        Some("nodata") => BlockAction::Nodata,
        Some("refused") => BlockAction::Refused,
        Some(other) => {
            is.push(
                "block.action",
                format!("{other:?} is not one of sinkhole, nxdomain, nodata, refused"),
            );
            BlockAction::Sinkhole
        }
    };
    let sinkhole_ipv4 = match raw.block.sinkhole_ipv4 {
        None => DEFAULT_SINKHOLE_IPV4,
        Some(s) => s.parse::<Ipv4Addr>().unwrap_or_else(|_| {
            is.push(
                "block.sinkhole_ipv4",
                format!("{s:?} is not an IPv4 address"),
            );
            DEFAULT_SINKHOLE_IPV4
        }),
    };
    let sinkhole_ipv6 = match raw.block.sinkhole_ipv6 {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => match s.parse::<Ipv6Addr>() {
            Ok(a) => Some(a),
            Err(_) => {
                is.push(
                    "block.sinkhole_ipv6",
                    format!("{s:?} is not an IPv6 address"),
                );
                None
            }
        },
    };
    let contact = raw.block.contact.unwrap_or_default();
    for (i, c) in contact.iter().enumerate() {
        if !["mailto:", "tel:", "sips:", "https:"]
            .iter()
            .any(|scheme| c.starts_with(scheme))
        {
            is.push(
                format!("block.contact[{i}]"),
                format!("{c:?} is not a mailto:, tel:, sips: or https: URI"),
            );
        }
    }
    let block = BlockConfig {
        action,
        sinkhole_ipv4,
        sinkhole_ipv6,
        ttl: raw.block.ttl.unwrap_or(DEFAULT_BLOCK_TTL),
        contact,
        justification: raw.block.justification,
        organisation: raw.block.organisation,
        private_answers: private_answers(&mut is, raw.block.private_answers.as_deref()),
        private_answers_allow: private_answers_allow(&mut is, raw.block.private_answers_allow),
    };

    // [access]
    let allow_raw = raw
        .access
        .allow
        .unwrap_or_else(|| DEFAULT_ACCESS_ALLOW.iter().map(|s| s.to_string()).collect());
    let mut allow = Vec::new();
    for (i, s) in allow_raw.iter().enumerate() {
        match parse_net(s) {
            Some(n) => allow.push(n),
            None => is.push(
                format!("access.allow[{i}]"),
                format!("{s:?} is not an IP address or CIDR network"),
            ),
        }
    }
    let v4p = raw
        .access
        .rate_limit_ipv4_prefix
        .unwrap_or(DEFAULT_RATE_LIMIT_IPV4_PREFIX);
    if v4p > 32 {
        is.push(
            "access.rate_limit_ipv4_prefix",
            format!("{v4p} is above 32"),
        );
    }
    let v6p = raw
        .access
        .rate_limit_ipv6_prefix
        .unwrap_or(DEFAULT_RATE_LIMIT_IPV6_PREFIX);
    if v6p > 128 {
        is.push(
            "access.rate_limit_ipv6_prefix",
            format!("{v6p} is above 128"),
        );
    }
    let qps = raw.access.rate_limit_qps.unwrap_or(DEFAULT_RATE_LIMIT_QPS);
    let burst = raw
        .access
        .rate_limit_burst
        .unwrap_or(DEFAULT_RATE_LIMIT_BURST.max(qps));
    if qps > 0 && burst == 0 {
        is.push(
            "access.rate_limit_burst",
            "must be at least 1 when rate limiting is on",
        );
    }
    let tokens = raw.access.tokens.unwrap_or_default();
    let tokens_file = raw.access.tokens_file.map(|p| resolve(&p));
    if !tokens.is_empty() || tokens_file.is_some() {
        use crate::transport::tokens::{ENTRY_HELP, TokenError, Tokens};
        match Tokens::new(&tokens, tokens_file.as_deref()) {
            Ok(_) => {}
            Err(TokenError::Entry { place, entry }) => {
                is.push(place, format!("{entry:?} {ENTRY_HELP}"))
            }
            Err(TokenError::Read { path, source }) => is.push(
                "access.tokens_file",
                format!("{}: {source}", path.display()),
            ),
        }
    }
    let access = AccessConfig {
        allow,
        tokens,
        tokens_file,
        rate_limit_qps: qps,
        rate_limit_burst: burst,
        rate_limit_slip: raw
            .access
            .rate_limit_slip
            .unwrap_or(DEFAULT_RATE_LIMIT_SLIP),
        rate_limit_ipv4_prefix: v4p.min(32),
        rate_limit_ipv6_prefix: v6p.min(128),
    };

    // [metrics]
    let metrics_listen = raw
        .metrics
        .listen
        .unwrap_or_else(|| DEFAULT_METRICS_LISTEN.to_string());
    let metrics = MetricsConfig {
        enabled: raw.metrics.enabled.unwrap_or(true),
        listen: metrics_listen.parse().unwrap_or_else(|_| {
            is.push(
                "metrics.listen",
                format!("{metrics_listen:?} is not an address:port"),
            );
            SocketAddr::from(([127, 0, 0, 1], 9153))
        }),
    };

    // [query_log]
    let query_log = validate_query_log(raw.query_log, &resolve, &mut is);

    // [lookalikes]
    let (lookalikes, issues) = raw.lookalikes.validate();
    for (key, message) in issues {
        is.push(key, message);
    }

    // [[feeds]]
    // The updater's own checks (url or path, format, plain http without a
    // pin or key, ...), so that check-config reports them too.
    for (i, f) in raw.feeds.iter().enumerate() {
        if let Err(e) = f.validate() {
            // "field: why" names the key `feeds[i].field`.
            match e.split_once(": ") {
                Some((field, why))
                    if field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
                {
                    is.push(
                        format!("feeds[{i}].{field}"),
                        format!("(feed {}) {why}", f.name),
                    )
                }
                _ => is.push(format!("feeds[{i}]"), format!("(feed {}) {e}", f.name)),
            }
        }
    }
    let feeds = raw
        .feeds
        .into_iter()
        .map(|mut f| {
            f.path = f.path.map(|p| resolve(&p));
            f
        })
        .collect();

    // [warning_page]
    for (key, message) in raw.warning_page.issues() {
        is.push(key, message);
    }

    // No two listeners on one address and port.
    let listeners = super::overlap::listeners_of(&server, &block, &raw.warning_page, &metrics);
    for (key, message) in super::overlap::find(&listeners) {
        is.push(key, message);
    }

    if !is.0.is_empty() {
        return Err(is.0);
    }
    Ok(Config {
        server,
        upstream,
        blocklist,
        block,
        access,
        warning_page: raw.warning_page,
        metrics,
        query_log,
        lookalikes,
        feeds,
        base_dir: base_dir.to_path_buf(),
        source_file: None,
    })
}

fn positive(is: &mut Issues, key: &str, v: Option<u64>, default: u64) -> u64 {
    match v {
        Some(0) => {
            is.push(key, "must be above 0");
            default
        }
        Some(v) => v,
        None => default,
    }
}

/// A count above 0 that fits in `usize` (`default` when unset).
fn count(is: &mut Issues, key: &str, v: Option<u64>, default: usize) -> usize {
    let v = positive(is, key, v, default as u64);
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn socket_addrs(is: &mut Issues, key: &str, raw: Vec<String>) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        match s.parse::<SocketAddr>() {
            Ok(SocketAddr::V6(a)) if a.ip().to_ipv4_mapped().is_some() => is.push(
                format!("{key}[{i}]"),
                format!("{s:?}: write IPv4 addresses as IPv4 (IPv6 listeners are IPv6-only)"),
            ),
            Ok(a) => out.push(a),
            Err(_) => is.push(
                format!("{key}[{i}]"),
                format!("{s:?} is not an address:port (e.g. \"127.0.0.1:53\", \"[::1]:53\")"),
            ),
        }
    }
    out
}

fn check_file(is: &mut Issues, key: &str, path: &Path) {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {
            if let Err(e) = std::fs::File::open(path) {
                is.push(key, format!("{} cannot be read: {e}", path.display()));
            }
        }
        Ok(_) => is.push(key, format!("{} is not a file", path.display())),
        Err(e) => is.push(key, format!("{}: {e}", path.display())),
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

fn source_spec(
    is: &mut Issues,
    key: &str,
    raw: RawSource,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> Option<SourceSpec> {
    match raw {
        RawSource::Short(s) => {
            let (format, path) = match s.split_once(':') {
                Some((f, p)) if f.parse::<Format>().is_ok() => (f.parse::<Format>().ok(), p),
                _ => (None, s.as_str()),
            };
            let mut spec = SourceSpec::new(resolve(Path::new(path)));
            spec.format = format;
            Some(spec)
        }
        RawSource::Table(t) => {
            let mut spec = SourceSpec::new(resolve(&t.path));
            if let Some(f) = t.format {
                match f.parse::<Format>() {
                    Ok(f) => spec.format = Some(f),
                    Err(e) => {
                        is.push(format!("{key}.format"), e);
                        return None;
                    }
                }
            }
            if let Some(n) = t.name {
                spec.name = n;
            }
            spec.category = t.category;
            spec.exact = t.exact;
            spec.allow = t.allow;
            Some(spec)
        }
    }
}

/// Parse an upstream: `ip`, `ip:port`, `[v6]:port`, `tls://ip[:port]#name`,
/// `https://ip[:port][/path]#name`.
pub fn parse_upstream(s: &str) -> Result<UpstreamServer, String> {
    fn addr(s: &str, default_port: u16) -> Result<SocketAddr, String> {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(a);
        }
        let bare = s.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>()
            .map(|ip| SocketAddr::new(ip, default_port))
            .map_err(|_| format!("{s:?} is not an IP address with optional port (names cannot be resolved before the resolver runs)"))
    }
    if let Some(rest) = s.strip_prefix("tls://") {
        let (host, name) = rest
            .split_once('#')
            .ok_or("DNS over TLS needs the server's TLS name after '#', e.g. tls://1.1.1.1#cloudflare-dns.com")?;
        if name.is_empty() {
            return Err("empty TLS name after '#'".into());
        }
        Ok(UpstreamServer {
            addr: addr(host, 853)?,
            protocol: UpstreamProtocol::Tls {
                server_name: name.to_string(),
            },
        })
    } else if let Some(rest) = s.strip_prefix("https://") {
        let (hostpath, name) = rest
            .split_once('#')
            .ok_or("DNS over HTTPS needs the server's TLS name after '#', e.g. https://1.1.1.1/dns-query#cloudflare-dns.com")?;
        if name.is_empty() {
            return Err("empty TLS name after '#'".into());
        }
        let (host, path) = match hostpath.find('/') {
            Some(i) => (&hostpath[..i], &hostpath[i..]),
            None => (hostpath, "/dns-query"),
        };
        Ok(UpstreamServer {
            addr: addr(host, 443)?,
            protocol: UpstreamProtocol::Https {
                server_name: name.to_string(),
                path: path.to_string(),
            },
        })
    } else if s.contains("://") {
        Err("unknown scheme: use plain ip:port, tls:// or https://".into())
    } else {
        Ok(UpstreamServer {
            addr: addr(s, 53)?,
            protocol: UpstreamProtocol::Plain,
        })
    }
}

/// `[query_log]`: modes by name, key length, queue bounds; `-` = stdout.
fn validate_query_log(
    raw: super::raw::RawQueryLog,
    resolve: &dyn Fn(&Path) -> PathBuf,
    is: &mut Issues,
) -> QueryLogConfig {
    let defaults = QueryLogConfig::default();
    let mode = match raw.mode.as_deref() {
        None => defaults.mode,
        Some("blocks") => LogMode::Blocks,
        Some("all") => LogMode::All,
        Some(o) => {
            is.push("query_log.mode", format!("{o:?} is not one of blocks, all"));
            defaults.mode
        }
    };
    let client_addresses = match raw.client_addresses.as_deref() {
        None => defaults.client_addresses,
        Some("full") => ClientAddresses::Full,
        Some("truncated") => ClientAddresses::Truncated,
        Some("hashed") => ClientAddresses::Hashed,
        Some("none") => ClientAddresses::None,
        Some(o) => {
            is.push(
                "query_log.client_addresses",
                format!("{o:?} is not one of full, truncated, hashed, none"),
            );
            defaults.client_addresses
        }
    };
    if let Some(key) = &raw.hash_key
        && key.len() < crate::querylog::client::MIN_HASH_KEY_LEN
    {
        is.push(
            "query_log.hash_key",
            format!(
                "too short: use at least {} bytes of secret (or leave it unset for a random key per process)",
                crate::querylog::client::MIN_HASH_KEY_LEN
            ),
        );
    }
    let queue = raw.queue.unwrap_or(defaults.queue);
    if !(1..=1_000_000).contains(&queue) {
        is.push(
            "query_log.queue",
            format!("{queue} is not between 1 and 1000000"),
        );
    }
    let path = raw
        .path
        .filter(|p| p != Path::new("-") && p != Path::new("stdout"))
        .map(|p| resolve(&p));
    QueryLogConfig {
        enabled: raw.enabled.unwrap_or(false),
        mode,
        path,
        client_addresses,
        hash_key: raw.hash_key.map(HashKey::new),
        queue: queue.clamp(1, 1_000_000),
    }
}
