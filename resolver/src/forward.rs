//! Forwarding of queries that are not blocked: hickory-resolver with its
//! cache (size and TTL bounds from `[upstream]`), plain, TLS or HTTPS
//! upstreams, and a hard deadline so a client gets SERVFAIL in time.
//!
//! Queries whose answers go into parapet's own encoded-answer cache
//! ([`crate::answer_cache`]; every transport, simple query shapes) use a
//! second hickory resolver with a small cache ([`Cache::Answers`]): the
//! answer cache serves their repeats, and a decoded copy of every answer in
//! hickory's cache as well would cost about five times the memory per
//! cached name (about 1.2 KB against 0.25 KB in the load benchmark). The
//! small cache still serves the few answers the answer cache does not keep
//! (truncated for a UDP client, whose TCP retry it then answers; blocked on
//! inspection). Every other query (shapes the answer cache does not take,
//! or with the answer cache off) uses the full-size cache.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};
use hickory_resolver::Resolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
    ServerOrderingStrategy,
};
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use tracing::warn;

use crate::answer::{EDE_NETWORK_ERROR, EDE_NO_REACHABLE_AUTHORITY};
use crate::config::{UpstreamConfig, UpstreamProtocol};
use crate::metrics::cache_probe::{self, ProbedProvider};
use crate::metrics::{Metrics, UpstreamFailure};

mod failure_log;

use failure_log::FailureLog;

/// An upstream answer, ready to be relayed.
#[derive(Debug, Clone, Default)]
pub struct Upstream {
    /// Response code (NOERROR or NXDOMAIN; failures are [`ForwardError`]).
    pub rcode: ResponseCode,
    /// The upstream validated the answer (AD).
    pub authentic_data: bool,
    /// Answer section, CNAME chain included, TTLs as cached.
    pub answers: Vec<Record>,
    /// Authority section (the SOA of a negative answer).
    pub authorities: Vec<Record>,
    /// Additional section.
    pub additionals: Vec<Record>,
    /// How long the lookup took (cache hits included).
    pub elapsed: Duration,
    /// Served from the resolver cache: no upstream was asked.
    pub from_cache: bool,
}

/// Why a query could not be forwarded. The client gets SERVFAIL.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No upstream answered within the configured timeout.
    #[error("no upstream answered within {0:?}")]
    Timeout(Duration),
    /// The upstreams failed (refused, SERVFAIL, unreachable, bad answer).
    #[error("upstream failure: {0}")]
    Upstream(#[from] NetError),
}

impl ForwardError {
    /// The Extended DNS Error INFO-CODE of the SERVFAIL this failure gives:
    /// 22 (No Reachable Authority) when no upstream answered in time or
    /// the upstreams answered with an error; 23 (Network Error) when they
    /// could not be reached (refused connection, ICMP unreachable, broken
    /// stream).
    pub fn ede_code(&self) -> u16 {
        match self {
            ForwardError::Timeout(_) => EDE_NO_REACHABLE_AUTHORITY,
            ForwardError::Upstream(NetError::Timeout | NetError::Dns(_)) => {
                EDE_NO_REACHABLE_AUTHORITY
            }
            ForwardError::Upstream(_) => EDE_NETWORK_ERROR,
        }
    }

    /// A short EXTRA-TEXT for the EDE option.
    pub fn ede_text(&self) -> &'static str {
        match self.ede_code() {
            EDE_NETWORK_ERROR => "upstream unreachable",
            _ => "no upstream answer",
        }
    }
}

/// Entries of the hickory cache behind the answer cache ([`Cache::Answers`]).
pub const ANSWERS_SIDE_CACHE: u64 = 1024;

/// Which of hickory-resolver's caches a lookup uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// The full-size cache (`[upstream] cache_size` entries).
    Full,
    /// The caller keeps the answer in the encoded-answer cache: a small
    /// cache ([`ANSWERS_SIDE_CACHE`] entries) for what that one refuses.
    Answers,
    /// A refresh of an answer the answer cache holds (prefetch): no cache,
    /// so that the upstream is asked.
    Refresh,
}

/// The forwarding resolver. Cheap to clone (shared cache and connections).
#[derive(Clone)]
pub struct Forwarder {
    resolver: Arc<Resolver<ProbedProvider>>,
    /// The same upstreams with a small cache, for [`Cache::Answers`];
    /// `None` when caching is off.
    answers: Option<Arc<Resolver<ProbedProvider>>>,
    /// The same upstreams without a cache, for [`Cache::Refresh`].
    refresh: Option<Arc<Resolver<ProbedProvider>>>,
    deadline: Duration,
    metrics: Option<Arc<Metrics>>,
    /// The configured upstreams, as the failure log names them.
    names: Arc<str>,
    failures: Arc<FailureLog>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    /// Build a forwarder for `[upstream]`.
    ///
    /// `timeout_ms` is the budget for one client query: it is split over
    /// `attempts`, and the whole lookup is cut off at it.
    pub fn new(config: &UpstreamConfig) -> Result<Self, NetError> {
        let answers = match config.cache_size {
            0 => None,
            n => Some(Arc::new(resolver(config, n.min(ANSWERS_SIDE_CACHE))?)),
        };
        let refresh = match config.cache_size {
            0 => None,
            _ => Some(Arc::new(resolver(config, 0)?)),
        };
        Ok(Forwarder {
            refresh,
            resolver: Arc::new(resolver(config, config.cache_size)?),
            answers,
            deadline: config.timeout(),
            metrics: None,
            names: config
                .servers
                .iter()
                .map(|s| s.addr.to_string())
                .collect::<Vec<_>>()
                .join(", ")
                .into(),
            failures: Arc::new(FailureLog::new(failure_log::INTERVAL)),
        })
    }

    /// Resolve `name`/`qtype` upstream or from the hickory cache `cache` names.
    pub async fn forward(
        &self,
        name: &Name,
        qtype: RecordType,
        cache: Cache,
    ) -> Result<Upstream, ForwardError> {
        let resolver = match (cache, &self.answers) {
            (Cache::Answers, Some(answers)) => answers,
            (Cache::Refresh, _) => self.refresh.as_ref().unwrap_or(&self.resolver),
            _ => &self.resolver,
        };
        let mut fqdn = name.clone();
        fqdn.set_fqdn(true);
        let started = Instant::now();
        let (lookup, sent_upstream) = cache_probe::probe(tokio::time::timeout(
            self.deadline,
            resolver.lookup(fqdn, qtype),
        ))
        .await;
        let elapsed = started.elapsed();
        let result = match lookup {
            Err(_) => Err(ForwardError::Timeout(self.deadline)),
            Ok(Ok(lookup)) => {
                let msg = lookup.message();
                Ok(Upstream {
                    rcode: msg.metadata.response_code,
                    authentic_data: msg.metadata.authentic_data,
                    answers: msg.answers.clone(),
                    authorities: msg.authorities.clone(),
                    additionals: msg.additionals.clone(),
                    elapsed,
                    from_cache: !sent_upstream,
                })
            }
            Ok(Err(NetError::Dns(DnsError::NoRecordsFound(no)))) => Ok(Upstream {
                from_cache: !sent_upstream,
                ..negative(no, elapsed)
            }),
            Ok(Err(e)) => Err(ForwardError::Upstream(e)),
        };
        if let Err(error) = &result
            && let Some(suppressed) = self.failures.note(Instant::now())
        {
            warn!(
                upstreams = %self.names,
                %error,
                suppressed,
                "upstream failure, answered SERVFAIL (logged once per {}s at most; suppressed: failures not logged since the last line)",
                failure_log::INTERVAL.as_secs()
            );
        }
        if let Some(metrics) = &self.metrics {
            match &result {
                Ok(_) => metrics.record_upstream(elapsed, !sent_upstream),
                Err(ForwardError::Timeout(_)) => {
                    metrics.record_upstream_failure(UpstreamFailure::Timeout)
                }
                Err(ForwardError::Upstream(_)) => {
                    metrics.record_upstream_failure(UpstreamFailure::Error)
                }
            }
        }
        result
    }

    /// Record upstream latency, cache hits/misses and failures in `metrics`.
    pub fn set_metrics(&mut self, metrics: Arc<Metrics>) {
        self.metrics = Some(metrics);
    }
}

/// A hickory resolver for `[upstream]` with a cache of `cache_size` entries.
fn resolver(
    config: &UpstreamConfig,
    cache_size: u64,
) -> Result<Resolver<ProbedProvider>, NetError> {
    let mut servers = Vec::new();
    for s in &config.servers {
        let conn = match &s.protocol {
            UpstreamProtocol::Plain => {
                let mut udp = ConnectionConfig::udp();
                udp.port = s.addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = s.addr.port();
                vec![udp, tcp]
            }
            UpstreamProtocol::Tls { server_name } => {
                let mut c = ConnectionConfig::tls(Arc::from(server_name.as_str()));
                c.port = s.addr.port();
                vec![c]
            }
            UpstreamProtocol::Https { server_name, path } => {
                let mut c = ConnectionConfig::https(
                    Arc::from(server_name.as_str()),
                    Some(Arc::from(path.as_str())),
                );
                c.port = s.addr.port();
                vec![c]
            }
        };
        servers.push(NameServerConfig::new(s.addr.ip(), true, conn));
    }
    let rc = ResolverConfig::from_name_servers(servers);
    let mut opts = ResolverOpts::default();
    let deadline = config.timeout();
    let attempts = config.attempts.max(1);
    opts.timeout = (deadline / attempts as u32).max(Duration::from_millis(50));
    opts.attempts = attempts;
    opts.cache_size = cache_size;
    opts.positive_min_ttl = config.cache_min_ttl.map(|s| Duration::from_secs(s.into()));
    opts.positive_max_ttl = Some(Duration::from_secs(config.cache_max_ttl.into()));
    opts.negative_max_ttl = Some(Duration::from_secs(config.cache_negative_max_ttl.into()));
    opts.use_hosts_file = ResolveHosts::Never;
    opts.preserve_intermediates = true;
    opts.try_tcp_on_error = true;
    opts.server_ordering_strategy = ServerOrderingStrategy::QueryStatistics;
    opts.ndots = 0;
    let mut builder = Resolver::builder_with_config(rc, ProbedProvider::default());
    if let Some(ca) = &config.ca_file {
        builder = builder.with_tls_config(tls_client_config(ca).map_err(NetError::from)?);
    }
    *builder.options_mut() = opts;
    builder.build()
}

/// NXDOMAIN / NODATA as the upstream gave it, SOA included.
fn negative(no: NoRecords, elapsed: Duration) -> Upstream {
    let authorities = match (no.authorities, no.soa) {
        (Some(auth), _) if !auth.is_empty() => auth.to_vec(),
        (_, Some(soa)) => vec![soa.into_record_of_rdata()],
        _ => Vec::new(),
    };
    Upstream {
        rcode: no.response_code,
        authentic_data: false,
        answers: Vec::new(),
        authorities,
        additionals: Vec::new(),
        elapsed,
        from_cache: false,
    }
}

/// The CA certificates in a PEM file (`[upstream] ca_file`).
///
/// # Errors
/// An unreadable file, bad PEM, or no certificate in it.
pub fn load_roots(path: &std::path::Path) -> Result<rustls::RootCertStore, String> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("{}: no usable CA certificate", path.display()));
    }
    Ok(roots)
}

/// TLS for `tls://` and `https://` upstreams that trusts only `ca_file`.
fn tls_client_config(ca_file: &std::path::Path) -> Result<rustls::ClientConfig, String> {
    let roots = load_roots(ca_file)?;
    Ok(
        rustls::ClientConfig::builder_with_provider(crate::transport::certs::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

#[cfg(test)]
mod tests;
