//! The validated config's types, one per section, and the defaults they
//! fall back to. A leaf of [`config`](super): the parsing, checking and
//! listener-overlap modules beside it build and read these without
//! importing their parent.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use parapet_blocklist::SourceSpec;
use parapet_blocklist::feed::FeedConfig;
use serde::Serialize;

use super::query_log::QueryLogConfig;
use crate::warning::config::WarningPageConfig;

/// Default UDP/TCP listen address: loopback only, an unprivileged port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5353";
/// Default idle timeout of a TCP connection.
pub const DEFAULT_TCP_TIMEOUT_MS: u64 = 10_000;
/// Default per-attempt upstream timeout: short enough that a client gets
/// SERVFAIL before it gives up itself (most stub resolvers wait 5 s).
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 2_000;
/// Default attempts per upstream.
pub const DEFAULT_UPSTREAM_ATTEMPTS: usize = 2;
/// Default memory of the answer cache, MiB (a VPS; `config/home.toml`
/// sets 16 for a Raspberry Pi).
pub const DEFAULT_CACHE_MEMORY_MB: u64 = 64;
/// Default serve-stale window (RFC 8767 suggests one to three days), s.
pub const DEFAULT_SERVE_STALE_SECS: u32 = 86_400;
/// Default upper bound on cached positive TTLs (one day).
pub const DEFAULT_CACHE_MAX_TTL: u32 = 86_400;
/// Default upper bound on cached negative TTLs (one hour, as RFC 2308 advises
/// at most a few hours).
pub const DEFAULT_CACHE_NEGATIVE_MAX_TTL: u32 = 3_600;
/// Default sinkhole for A: the unspecified address, which reaches nothing.
/// Set it to the address where the warning page listens.
pub const DEFAULT_SINKHOLE_IPV4: Ipv4Addr = Ipv4Addr::UNSPECIFIED;
/// Default TTL of synthesised answers: short, so a list fix takes effect soon.
pub const DEFAULT_BLOCK_TTL: u32 = 60;
/// Names whose answers may hold private addresses under
/// `private_answers = "block"`: the home network's own names.
pub const DEFAULT_PRIVATE_ANSWERS_ALLOW: &[&str] = &["home.arpa", "local", "lan", "internal"];
/// Networks served by default: loopback and private ranges (not an open resolver).
pub const DEFAULT_ACCESS_ALLOW: &[&str] = &[
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
];
/// Default sustained rate per client network (queries per second). A busy
/// household stays well under this; a flood does not.
pub const DEFAULT_RATE_LIMIT_QPS: u32 = 1_000;
/// Default burst per client (a home router forwarding for a household).
pub const DEFAULT_RATE_LIMIT_BURST: u32 = 5_000;
/// Every 2nd rate-limited UDP answer is sent truncated (TC=1), the others
/// dropped.
pub const DEFAULT_RATE_LIMIT_SLIP: u32 = 2;
/// IPv4 clients are grouped by /24 for rate limiting.
pub const DEFAULT_RATE_LIMIT_IPV4_PREFIX: u8 = 24;
/// IPv6 clients are grouped by /56 for rate limiting.
pub const DEFAULT_RATE_LIMIT_IPV6_PREFIX: u8 = 56;
/// Default `[server] max_connections`: open plain-TCP, DoT and DoH
/// connections in total.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default `[server] max_connections_per_client`.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 64;
/// Default Prometheus endpoint: loopback only.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9153";

/// A validated configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Listeners.
    pub server: ServerConfig,
    /// Where non-blocked queries go.
    pub upstream: UpstreamConfig,
    /// The list in service.
    pub blocklist: BlocklistConfig,
    /// How blocked names are answered.
    pub block: BlockConfig,
    /// Who is served and how fast.
    pub access: AccessConfig,
    /// The warning page.
    pub warning_page: WarningPageConfig,
    /// Prometheus metrics.
    pub metrics: MetricsConfig,
    /// Query log (off by default).
    pub query_log: QueryLogConfig,
    /// Look-alikes of protected domains.
    pub lookalikes: crate::lookalike::LookalikeConfig,
    /// Feeds for `parapet-blocklist update`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<FeedConfig>,
    /// Directory relative paths were resolved against.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file this was read from (re-read on SIGHUP for `[lookalikes]`).
    #[serde(skip)]
    pub source_file: Option<PathBuf>,
}

/// `[server]`
#[derive(Debug, Clone, Serialize)]
pub struct ServerConfig {
    /// UDP and TCP on each (default `127.0.0.1:5353`).
    pub listen: Vec<SocketAddr>,
    /// DNS over TLS.
    pub tls_listen: Vec<SocketAddr>,
    /// DNS over HTTPS (path `/dns-query`).
    pub https_listen: Vec<SocketAddr>,
    /// Certificate chain (PEM) for DoT/DoH; required when either is on.
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for DoT/DoH; required when either is on.
    pub tls_key: Option<PathBuf>,
    /// Idle timeout of TCP connections, ms (default 10 s).
    pub tcp_timeout_ms: u64,
    /// Bind every listener with `IP_FREEBIND`/`IPV6_FREEBIND`, so that an
    /// address not (yet) on the machine can be bound (default false: such
    /// an address is a start-up error naming the key).
    pub freebind: bool,
    /// Open TCP, DoT and DoH connections in total (default 1024).
    pub max_connections: usize,
    /// Open TCP, DoT and DoH connections per client (IPv4 address or IPv6
    /// /64; default 64).
    pub max_connections_per_client: usize,
}

impl ServerConfig {
    /// Idle timeout of stream connections.
    pub fn tcp_timeout(&self) -> Duration {
        Duration::from_millis(self.tcp_timeout_ms)
    }
}

/// `[upstream]`
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamConfig {
    /// The upstream resolvers, tried in order of observed speed.
    pub servers: Vec<UpstreamServer>,
    /// Deadline of one forwarded query, every attempt included, ms
    /// (default 2 s): SERVFAIL after it.
    pub timeout_ms: u64,
    /// Upstream exchanges per forwarded query at most, the first one and
    /// its retries (default 2: one retry, on another upstream when there
    /// is one). A retry goes out when the previous attempt failed or gave
    /// no answer within a few round-trip times; earlier attempts' answers
    /// are still taken until the deadline.
    pub attempts: usize,
    /// An upper bound on the entries of the encoded-answer cache (the only
    /// cache: the upstream client keeps none) besides its memory
    /// (default: none); 0 turns the cache off. Unset, it stays unset when
    /// the effective config is printed.
    pub cache_size: Option<u64>,
    /// Memory of the encoded-answer cache all transports share, MiB
    /// (default 64): every entry is charged its bytes plus its table and
    /// queue slots (about 300 bytes for a typical answer).
    pub cache_memory_mb: u64,
    /// How long past its expiry a cached answer may be served when every
    /// upstream fails (RFC 8767), s (default one day; 0 = off).
    pub serve_stale_secs: u32,
    /// Refresh a popular cached answer shortly before it expires
    /// (default on).
    pub prefetch: bool,
    /// Lower bound on cached positive TTLs, s (default: none).
    pub cache_min_ttl: Option<u32>,
    /// Upper bound on cached positive TTLs, s (default one day).
    pub cache_max_ttl: u32,
    /// Upper bound on cached negative TTLs, s (default one hour).
    pub cache_negative_max_ttl: u32,
    /// CA certificates (PEM) trusted for `tls://`/`https://` upstreams
    /// instead of the web PKI roots (default: unset, web PKI).
    pub ca_file: Option<PathBuf>,
    /// Upstreams whose AD (authentic data) bit is passed on to clients
    /// that set DO or AD (default: none; AD is cleared). Mark only a
    /// validating resolver reached over a path nobody can tamper with.
    pub trusted: Vec<UpstreamServer>,
    /// DNS 0x20 (default false): letters of the name sent to a plain UDP
    /// upstream get a random case, and an answer must echo it exactly.
    /// Some authoritative servers do not echo case; leave it off for
    /// upstreams that forward to them without it.
    pub randomize_case: bool,
}

impl UpstreamConfig {
    /// Per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// One upstream resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamServer {
    /// Address and port.
    pub addr: SocketAddr,
    /// How to talk to it.
    pub protocol: UpstreamProtocol,
}

/// Transport to an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamProtocol {
    /// UDP, TCP on truncation.
    Plain,
    /// DNS over TLS; the name is checked against the certificate.
    Tls {
        /// TLS server name.
        server_name: String,
    },
    /// DNS over HTTPS.
    Https {
        /// TLS server name.
        server_name: String,
        /// URL path (default `/dns-query`).
        path: String,
    },
}

impl fmt::Display for UpstreamServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.protocol {
            UpstreamProtocol::Plain => write!(f, "{}", self.addr),
            UpstreamProtocol::Tls { server_name } => write!(f, "tls://{}#{server_name}", self.addr),
            UpstreamProtocol::Https { server_name, path } => {
                write!(f, "https://{}{path}#{server_name}", self.addr)
            }
        }
    }
}

impl Serialize for UpstreamServer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `[blocklist]`
#[derive(Debug, Clone, Serialize)]
pub struct BlocklistConfig {
    /// What to load (`path` or `sources` in the file).
    #[serde(flatten)]
    pub source: ListSource,
    /// Accept rules that cover a whole public suffix (default false).
    pub force_public_suffix: bool,
    /// Reload when the files change (default true).
    pub watch: bool,
}

/// Where the list comes from.
#[derive(Debug, Clone)]
pub enum ListSource {
    /// A compiled artifact, read into memory.
    Artifact(PathBuf),
    /// Raw lists, compiled in memory.
    Sources(Vec<SourceSpec>),
    /// No list configured: parapet only forwards.
    Empty,
}

impl ListSource {
    /// The files whose change triggers a reload.
    pub fn files(&self) -> Vec<&Path> {
        match self {
            ListSource::Artifact(p) => vec![p.as_path()],
            ListSource::Sources(s) => s.iter().map(|s| s.path.as_path()).collect(),
            ListSource::Empty => Vec::new(),
        }
    }
}

impl Serialize for ListSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;

        /// One source as the effective config shows it.
        #[derive(Serialize)]
        struct View<'a> {
            path: &'a Path,
            #[serde(skip_serializing_if = "Option::is_none")]
            format: Option<String>,
            name: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            category: Option<&'a str>,
            exact: bool,
            allow: bool,
        }

        let mut map = s.serialize_map(Some(1))?;
        match self {
            ListSource::Artifact(p) => map.serialize_entry("path", p)?,
            ListSource::Sources(specs) => {
                let v: Vec<View<'_>> = specs
                    .iter()
                    .map(|spec| View {
                        path: &spec.path,
                        format: spec.format.map(|f| format!("{f:?}").to_ascii_lowercase()),
                        name: &spec.name,
                        category: spec.category.as_deref(),
                        exact: spec.exact,
                        allow: spec.allow,
                    })
                    .collect();
                map.serialize_entry("sources", &v)?
            }
            ListSource::Empty => map.serialize_entry("sources", &Vec::<String>::new())?,
        }
        map.end()
    }
}

/// What a blocked name gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockAction {
    /// A → `sinkhole_ipv4`, AAAA → `sinkhole_ipv6`, other types NODATA.
    Sinkhole,
    /// NXDOMAIN for every type.
    Nxdomain,
    /// NODATA for every type.
    Nodata,
    /// REFUSED.
    Refused,
}

/// `[block]`
#[derive(Debug, Clone, Serialize)]
pub struct BlockConfig {
    /// Default `sinkhole`.
    pub action: BlockAction,
    /// Default `0.0.0.0`; point it at the warning page.
    pub sinkhole_ipv4: Ipv4Addr,
    /// Default unset: AAAA gets NODATA.
    pub sinkhole_ipv6: Option<Ipv6Addr>,
    /// TTL of synthesised records (default 60 s).
    pub ttl: u32,
    /// Structured DNS error contact URIs.
    pub contact: Vec<String>,
    /// Structured DNS error justification.
    pub justification: Option<String>,
    /// Structured DNS error organisation.
    pub organisation: Option<String>,
    /// Whether forwarded answers may hold private addresses (default
    /// allow; block = DNS rebinding protection).
    pub private_answers: PrivateAnswers,
    /// Domains (and the names under them) exempt from
    /// `private_answers = "block"`, lower case without trailing dot.
    pub private_answers_allow: Vec<String>,
}

/// What a forwarded answer holding a private, loopback or link-local
/// address gets (`[block] private_answers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivateAnswers {
    /// Relayed as received.
    Allow,
    /// Replaced by the block answer (DNS rebinding protection), except for
    /// names under `private_answers_allow`.
    Block,
}

impl BlockConfig {
    /// The addresses a blocked name sends browsers to (where the warning
    /// page listens by default): the sinkhole addresses when the action is
    /// `sinkhole`, else none.
    pub fn sinkhole_addrs(&self) -> Vec<std::net::IpAddr> {
        if self.action != BlockAction::Sinkhole {
            return Vec::new();
        }
        std::iter::once(std::net::IpAddr::V4(self.sinkhole_ipv4))
            .chain(self.sinkhole_ipv6.map(std::net::IpAddr::V6))
            .collect()
    }
}

/// `[access]`
#[derive(Debug, Clone, Serialize)]
pub struct AccessConfig {
    /// Served networks (default loopback and private ranges).
    #[serde(serialize_with = "serialize_display_vec")]
    pub allow: Vec<IpNet>,
    /// Sustained UDP rate per client (an address in private and loopback
    /// ranges, else a network); 0 = unlimited (default 1000).
    pub rate_limit_qps: u32,
    /// Burst per client (default 5000).
    pub rate_limit_burst: u32,
    /// Every Nth rate-limited UDP answer is sent truncated (TC=1) instead
    /// of dropped; 0 = drop all (default 2).
    pub rate_limit_slip: u32,
    /// IPv4 grouping prefix (default 24).
    pub rate_limit_ipv4_prefix: u8,
    /// IPv6 grouping prefix (default 56).
    pub rate_limit_ipv6_prefix: u8,
    /// DoT/DoH access tokens (`<sha256-hex> [label]`); a query with a valid
    /// token skips `allow`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<String>,
    /// File of token hashes, watched (see `parapet token`).
    pub tokens_file: Option<PathBuf>,
}

/// `[metrics]`
#[derive(Debug, Clone, Serialize)]
pub struct MetricsConfig {
    /// Default true.
    pub enabled: bool,
    /// Default `127.0.0.1:9153`.
    pub listen: SocketAddr,
}

fn serialize_display_vec<S: serde::Serializer, T: fmt::Display>(
    v: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| x.to_string()))
}

/// Whether `ip` is inside any of `nets`.
pub fn contains_ip(nets: &[IpNet], ip: IpAddr) -> bool {
    nets.iter().any(|n| n.contains(&ip))
}
