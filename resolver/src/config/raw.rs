//! The config file as written: serde structs, every one with
//! `deny_unknown_fields`, defaults from the `DEFAULT_*` constants.
//!
//! Nothing here is checked beyond TOML types; [`super::validate`] turns a
//! [`RawConfig`] into a typed [`super::Config`] and reports every problem.

use std::path::PathBuf;

use parapet_blocklist::feed::FeedConfig;
use serde::Deserialize;

use crate::warning::config::WarningPageConfig;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[server]`
    #[serde(default)]
    pub server: RawServer,
    /// `[upstream]`
    #[serde(default)]
    pub upstream: RawUpstream,
    /// `[blocklist]`
    #[serde(default)]
    pub blocklist: RawBlocklist,
    /// `[block]`
    #[serde(default)]
    pub block: RawBlock,
    /// `[access]`
    #[serde(default)]
    pub access: RawAccess,
    /// `[warning_page]` (owned by the warning page module).
    #[serde(default)]
    pub warning_page: WarningPageConfig,
    /// `[metrics]`
    #[serde(default)]
    pub metrics: RawMetrics,
    /// `[query_log]`
    #[serde(default)]
    pub query_log: RawQueryLog,
    /// `[lookalikes]` (owned by the look-alike module).
    #[serde(default)]
    pub lookalikes: crate::lookalike::config::RawLookalikes,
    /// `[[feeds]]` (read by `parapet-blocklist update --config`).
    #[serde(default)]
    pub feeds: Vec<FeedConfig>,
}

/// `[server]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// UDP and TCP listen addresses.
    pub listen: Option<Vec<String>>,
    /// DNS over TLS listen addresses.
    pub tls_listen: Option<Vec<String>>,
    /// DNS over HTTPS listen addresses.
    pub https_listen: Option<Vec<String>>,
    /// PEM certificate chain for DoT/DoH.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for DoT/DoH.
    pub tls_key: Option<PathBuf>,
    /// Bind listen addresses not (yet) on this machine (`IP_FREEBIND`).
    pub freebind: Option<bool>,
    /// Idle timeout of TCP/DoT/DoH connections, milliseconds.
    pub tcp_timeout_ms: Option<u64>,
    /// Open TCP, DoT and DoH connections in total.
    pub max_connections: Option<u64>,
    /// Open TCP, DoT and DoH connections per client address (IPv6: per /64).
    pub max_connections_per_client: Option<u64>,
}

/// `[upstream]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    /// `ip[:port]`, `tls://ip[:port]#name`, `https://ip[:port][/path]#name`.
    pub servers: Option<Vec<String>>,
    /// Per-attempt timeout, milliseconds.
    pub timeout_ms: Option<u64>,
    /// Attempts per upstream before giving up.
    pub attempts: Option<usize>,
    /// Cache entries.
    pub cache_size: Option<u64>,
    /// Memory of the answer cache, MiB.
    pub cache_memory_mb: Option<u64>,
    /// Serve-stale window, seconds (0 = off).
    pub serve_stale_secs: Option<u32>,
    /// Refresh popular answers before they expire.
    pub prefetch: Option<bool>,
    /// Lower bound on cached positive TTLs, seconds.
    pub cache_min_ttl: Option<u32>,
    /// Upper bound on cached positive TTLs, seconds.
    pub cache_max_ttl: Option<u32>,
    /// Upper bound on cached negative TTLs, seconds.
    pub cache_negative_max_ttl: Option<u32>,
    /// PEM CA certificates trusted for `tls://` and `https://` upstreams
    /// instead of the built-in web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// Upstreams whose AD bit is passed on, each written as in `servers`.
    pub trusted: Option<Vec<String>>,
    /// DNS 0x20: random case in names sent to plain UDP upstreams.
    pub randomize_case: Option<bool>,
}

/// `[blocklist]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBlocklist {
    /// A compiled `.pbl` artifact.
    pub path: Option<PathBuf>,
    /// Raw list sources compiled at start and on change.
    pub sources: Option<Vec<RawSource>>,
    /// Accept rules covering a whole public suffix.
    pub force_public_suffix: Option<bool>,
    /// Watch the files and reload on change.
    pub watch: Option<bool>,
}

/// One entry of `blocklist.sources`: `"FORMAT:path"` or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawSource {
    /// `"path"` or `"FORMAT:path"`.
    Short(String),
    /// `{ path = "…", format = "…", name = "…", category = "…", exact = true, allow = true }`
    Table(RawSourceTable),
}

/// Table form of a source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSourceTable {
    /// The file.
    pub path: PathBuf,
    /// Format name; detected when absent.
    pub format: Option<String>,
    /// Source name recorded with each rule (default: the file name).
    pub name: Option<String>,
    /// Category such as `phishing`.
    pub category: Option<String>,
    /// Every domain rule of this source is exact.
    #[serde(default)]
    pub exact: bool,
    /// Every rule of this source is an allow exception.
    #[serde(default)]
    pub allow: bool,
}

/// `[block]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBlock {
    /// `sinkhole | nxdomain | nodata | refused`
    pub action: Option<String>,
    /// Address given to blocked A queries.
    pub sinkhole_ipv4: Option<String>,
    /// Address given to blocked AAAA queries (NODATA when unset).
    pub sinkhole_ipv6: Option<String>,
    /// TTL of synthesised records, seconds.
    pub ttl: Option<u32>,
    /// Structured DNS error: contact URIs (`mailto:`, `tel:`, `https:`).
    pub contact: Option<Vec<String>>,
    /// Structured DNS error: why names are blocked here.
    pub justification: Option<String>,
    /// Structured DNS error: who runs this resolver.
    pub organisation: Option<String>,
    /// `allow | block`: forwarded answers holding private addresses.
    pub private_answers: Option<String>,
    /// Domains exempt from `private_answers = "block"`.
    pub private_answers_allow: Option<Vec<String>>,
}

/// `[access]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccess {
    /// Networks served; everyone else gets REFUSED.
    pub allow: Option<Vec<String>>,
    /// Sustained queries per second per client network; 0 turns limiting off.
    pub rate_limit_qps: Option<u32>,
    /// Burst size per client network.
    pub rate_limit_burst: Option<u32>,
    /// Every Nth limited UDP answer is truncated instead of dropped.
    pub rate_limit_slip: Option<u32>,
    /// Prefix length grouping IPv4 clients.
    pub rate_limit_ipv4_prefix: Option<u8>,
    /// Prefix length grouping IPv6 clients.
    pub rate_limit_ipv6_prefix: Option<u8>,
    /// DoT/DoH access tokens: `<sha256-hex> [label]` entries.
    pub tokens: Option<Vec<String>>,
    /// File of token hashes, one per line, watched for changes.
    pub tokens_file: Option<PathBuf>,
}

/// `[metrics]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Serve metrics at all.
    pub enabled: Option<bool>,
    /// Prometheus endpoint address.
    pub listen: Option<String>,
}

/// `[query_log]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueryLog {
    /// Off by default.
    pub enabled: Option<bool>,
    /// `blocks` or `all`.
    pub mode: Option<String>,
    /// Log file, or `-` for standard output (also when absent).
    pub path: Option<PathBuf>,
    /// `full`, `truncated`, `hashed` or `none`.
    pub client_addresses: Option<String>,
    /// Secret key for `hashed`.
    pub hash_key: Option<String>,
    /// Writer queue capacity.
    pub queue: Option<usize>,
}
