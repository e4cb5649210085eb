//! `[upstream]`: where non-blocked queries go.

use std::net::{IpAddr, SocketAddr};

use super::values::positive;
use crate::config::issue::{Issues, Resolve};
use crate::config::raw::RawUpstream;
use crate::config::types::{
    DEFAULT_CACHE_MAX_TTL, DEFAULT_CACHE_MEMORY_MB, DEFAULT_CACHE_NEGATIVE_MAX_TTL,
    DEFAULT_SERVE_STALE_SECS, DEFAULT_UPSTREAM_ATTEMPTS, DEFAULT_UPSTREAM_TIMEOUT_MS,
    UpstreamConfig, UpstreamProtocol, UpstreamServer,
};

/// `[upstream]`.
pub(super) fn upstream(is: &mut Issues, raw: RawUpstream, resolve: &Resolve<'_>) -> UpstreamConfig {
    let mut servers = Vec::new();
    let raw_servers = raw.servers.unwrap_or_default();
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
    let cache_max_ttl = raw.cache_max_ttl.unwrap_or(DEFAULT_CACHE_MAX_TTL);
    if let Some(min) = raw.cache_min_ttl
        && min > cache_max_ttl
    {
        is.push(
            "upstream.cache_min_ttl",
            format!("{min} is above upstream.cache_max_ttl ({cache_max_ttl})"),
        );
    }
    let trusted = trusted(is, raw.trusted.unwrap_or_default(), &raw_servers);
    let attempts = raw.attempts.unwrap_or(DEFAULT_UPSTREAM_ATTEMPTS);
    if attempts == 0 {
        is.push("upstream.attempts", "must be at least 1");
    }
    UpstreamConfig {
        servers,
        timeout_ms: positive(
            is,
            "upstream.timeout_ms",
            raw.timeout_ms,
            DEFAULT_UPSTREAM_TIMEOUT_MS,
        ),
        attempts,
        cache_size: raw.cache_size,
        cache_memory_mb: positive(
            is,
            "upstream.cache_memory_mb",
            raw.cache_memory_mb,
            DEFAULT_CACHE_MEMORY_MB,
        ),
        serve_stale_secs: raw.serve_stale_secs.unwrap_or(DEFAULT_SERVE_STALE_SECS),
        prefetch: raw.prefetch.unwrap_or(true),
        cache_min_ttl: raw.cache_min_ttl,
        cache_max_ttl,
        cache_negative_max_ttl: raw
            .cache_negative_max_ttl
            .unwrap_or(DEFAULT_CACHE_NEGATIVE_MAX_TTL),
        ca_file: raw.ca_file.map(|p| resolve.path(&p)),
        trusted,
        randomize_case: raw.randomize_case.unwrap_or(false),
    }
}

/// `upstream.trusted`: each entry one of `servers`, written the same way.
fn trusted(is: &mut Issues, entries: Vec<String>, servers: &[String]) -> Vec<UpstreamServer> {
    let mut trusted = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        if !servers.contains(&entry) {
            is.push(
                format!("upstream.trusted[{i}]"),
                format!("{entry:?} is not in upstream.servers (write it exactly as there)"),
            );
        } else if let Ok(server) = parse_upstream(&entry) {
            trusted.push(server);
        }
    }
    trusted
}

/// Parse an upstream: `ip`, `ip:port`, `[v6]:port`, `tls://ip[:port]#name`,
/// `https://ip[:port][/path]#name`.
///
/// # Errors
/// What is wrong with `s`, in words for the config's reader.
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
