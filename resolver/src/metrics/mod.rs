//! Prometheus metrics: one [`Metrics`] struct whose handles are all created
//! and registered at start, and the `/metrics` HTTP endpoint ([`http`]).
//!
//! Every label is a fixed enum from [`label`] (or a category from the capped
//! table in [`category`]): never a query name or a client address, so the
//! number of series is bounded. Recording a query is an index into a
//! pre-built array and an atomic increment: no lock, no allocation (a
//! block's category adds a lock-free table load and a short scan). The
//! upstream latency histogram takes prometheus-client's short internal
//! lock, on the forwarding path only (after a network or cache lookup),
//! never on the blocked path. Measured by `cargo bench -p parapet-benches
//! --bench observe`.
//!
//! Every metric, from [`catalog::definitions`] (a test checks this table
//! is its rendering by [`catalog::markdown_table`]):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `parapet_queries_total` | counter | `protocol` (udp, tcp, tls, https, other), `outcome` (forwarded, cached, stale, blocked, allowed_by_exception, refused, rate_limited, servfail, formerr, synthesised, lookalike) |
//! | `parapet_ratelimit_actions_total` | counter | `action` (drop, slip), `reason` (rate, refused) |
//! | `parapet_blocks_by_trigger_total` | counter | `trigger` (name, cname, ip, rebinding, lookalike) |
//! | `parapet_blocks_by_category_total` | counter | `category` (none, other, and the list's source categories, at most 32) |
//! | `parapet_upstream_latency_seconds` | histogram | — |
//! | `parapet_upstream_failures_total` | counter | `reason` (timeout, error) |
//! | `parapet_upstream_sockets` | gauge | — |
//! | `parapet_upstream_ignored_total` | counter | — |
//! | `parapet_upstream_coalesced_total` | counter | — |
//! | `parapet_cache_hits_total` | counter | — |
//! | `parapet_cache_misses_total` | counter | — |
//! | `parapet_answer_cache_entries` | gauge | — |
//! | `parapet_answer_cache_bytes` | gauge | — |
//! | `parapet_prefetches_total` | counter | — |
//! | `parapet_list_rules` | gauge | `kind` (domain, ip) |
//! | `parapet_list_block_rules` | gauge, allow rules excluded; 0: the list protects from nothing (a WARN is logged) | — |
//! | `parapet_list_loaded` | gauge, 1: a list is in service; 0: none yet (the compiled list does not exist) or none configured, nothing is blocked | — |
//! | `parapet_list_built_timestamp_seconds` | gauge | — |
//! | `parapet_list_age_seconds` | gauge, computed at scrape | — |
//! | `parapet_reloads_total` | counter | `result` (ok, failed) |
//! | `parapet_querylog_records_written_total` | counter | — |
//! | `parapet_querylog_records_dropped_total` | counter | — |
//! | `parapet_udp_dropped_total` | counter | — |
//! | `parapet_warning_page_views_total` | counter | `page` (blocked, not_blocked, ip, no_name, check, status) |
//! | `parapet_connections_open` | gauge | `listener` (dns, warning_page) |
//! | `parapet_connections_closed_total` | counter | `listener` (dns, warning_page), `reason` (full, evicted, untrusted) |
//! | `parapet_tokens_valid` | gauge | — |
//! | `parapet_tokens_file_errors_total` | counter | — |
//! | `parapet_token_refusals_total` | counter | `reason` (unknown, revoked, malformed) |
//!
//! Appended from the feed updater's `feeds.prom` when it exists beside the
//! artifact ([`feed_file`]; written by `parapet-blocklist update`):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `parapet_feed_up` | gauge | `feed` (1: last run updated or revalidated it; 0: failed or refused) |
//! | `parapet_feed_rules` | gauge | `feed` (rules of the copy in use; 0: none) |
//! | `parapet_feed_last_success_timestamp_seconds` | gauge | `feed` |
//! | `parapet_feed_last_failure_timestamp_seconds` | gauge | `feed`, `reason` (the failure message) |
//! | `parapet_feed_update_timestamp_seconds` | gauge | — (last run of the updater) |
//! | `parapet_feed_published` | gauge | — (1: the last run published a list) |

mod answer_cache;
pub mod catalog;
pub mod category;
mod connections;
pub mod feed_file;
pub mod http;
pub mod label;
pub mod list;
mod observer;
mod upstream;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text;
use prometheus_client::metrics::{
    counter::Counter, family::Family, gauge::Gauge, histogram::Histogram,
};
use prometheus_client::registry::{Registry, Unit};

use category::Categories;
pub use label::{
    ConnectionClose, Listener, OutcomeKind, Protocol, RateLimitAction, RateLimitReason,
    ReloadResult, RuleKind, TokenRefusal, Trigger, UpstreamFailure, WarningView,
};
use label::{
    QueryLabels, RateLimitLabels, ReloadLabels, RuleKindLabels, TokenRefusalLabels, TriggerLabels,
    UpstreamFailureLabels, WarningViewLabels,
};
pub use upstream::UpstreamMetrics;

/// Upper bounds of the upstream latency buckets, in seconds: 0.5 ms to 5 s.
pub const UPSTREAM_LATENCY_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Content type of the `/metrics` response (OpenMetrics text, which
/// Prometheus scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const PROTOCOLS: usize = Protocol::ALL.len();
const OUTCOMES: usize = OutcomeKind::ALL.len();

/// All of parapet's metric handles, registered at construction. Share it as
/// `Arc<Metrics>`; every recording method takes `&self`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    queries: [[Counter; OUTCOMES]; PROTOCOLS],
    blocks_by_trigger: [Counter; Trigger::ALL.len()],
    categories: Categories,
    upstream_latency: Histogram,
    upstream_failures: [Counter; UpstreamFailure::ALL.len()],
    upstream_client: UpstreamMetrics,
    ratelimit_actions: [[Counter; RateLimitReason::ALL.len()]; RateLimitAction::ALL.len()],
    cache_hits: Counter,
    cache_misses: Counter,
    answer_cache: answer_cache::CacheMetrics,
    list_rules: [Gauge; RuleKind::ALL.len()],
    list_block_rules: Gauge,
    list_loaded: Gauge,
    list_built: Gauge,
    list_built_secs: AtomicU64,
    list_age: Gauge,
    reloads: [Counter; ReloadResult::ALL.len()],
    querylog_written: Counter,
    querylog_dropped: Counter,
    udp_dropped: Counter,
    warning_views: [Counter; WarningView::ALL.len()],
    feed_file: Option<std::path::PathBuf>,
    connections: connections::ConnectionMetrics,
    token_refusals: [Counter; TokenRefusal::ALL.len()],
}

/// One pre-created child per label value of a single-label family.
fn children<L: Copy, S, const N: usize>(
    family: &Family<S, Counter>,
    values: &[L],
    labels: impl Fn(L) -> S,
) -> [Counter; N]
where
    S: Clone + std::hash::Hash + Eq,
{
    std::array::from_fn(|i| family.get_or_create(&labels(values[i])).clone())
}

impl Metrics {
    /// Create every handle and register it (with zero values, so that every
    /// series exists from the first scrape).
    pub fn new() -> Self {
        // Long on purpose: one registration per metric family, in one
        // place, in the order of the catalog (`catalog.rs`), so that a new
        // metric is one more block here and nothing is registered twice.
        let mut registry = Registry::with_prefix("parapet");

        let queries_family = Family::<QueryLabels, Counter>::default();
        let queries = std::array::from_fn(|p| {
            std::array::from_fn(|o| {
                queries_family
                    .get_or_create(&QueryLabels {
                        protocol: Protocol::ALL[p],
                        outcome: OutcomeKind::ALL[o],
                    })
                    .clone()
            })
        });
        registry.register(
            "queries",
            "DNS queries answered, by transport and outcome",
            queries_family,
        );

        let trigger_family = Family::<TriggerLabels, Counter>::default();
        let blocks_by_trigger = children(&trigger_family, Trigger::ALL, |trigger| TriggerLabels {
            trigger,
        });
        registry.register(
            "blocks_by_trigger",
            "Blocked queries by what matched: the query name, a CNAME target or an answer address",
            trigger_family,
        );

        let categories = Categories::new();
        registry.register(
            "blocks_by_category",
            "Blocked queries by the category of the deciding rule's source (none: source has no category; other: unknown or over the cap)",
            categories.family(),
        );

        let upstream_latency = Histogram::new(UPSTREAM_LATENCY_BUCKETS);
        registry.register_with_unit(
            "upstream_latency",
            "Time to resolve a forwarded query that asked an upstream (cache hits are not included)",
            Unit::Seconds,
            upstream_latency.clone(),
        );
        let failure_family = Family::<UpstreamFailureLabels, Counter>::default();
        let upstream_failures = children(&failure_family, UpstreamFailure::ALL, |reason| {
            UpstreamFailureLabels { reason }
        });
        registry.register(
            "upstream_failures",
            "Forwarded queries that failed (answered SERVFAIL), by reason",
            failure_family,
        );

        let upstream_client = UpstreamMetrics::register(&mut registry);

        let ratelimit_family = Family::<RateLimitLabels, Counter>::default();
        let ratelimit_actions = std::array::from_fn(|a| {
            std::array::from_fn(|r| {
                ratelimit_family
                    .get_or_create(&RateLimitLabels {
                        action: RateLimitAction::ALL[a],
                        reason: RateLimitReason::ALL[r],
                    })
                    .clone()
            })
        });
        registry.register(
            "ratelimit_actions",
            "UDP answers over a rate limit, by what was done (dropped, or truncated so the client retries over TCP) and which limit",
            ratelimit_family,
        );

        let cache_hits = Counter::default();
        let cache_misses = Counter::default();
        registry.register(
            "cache_hits",
            "Forwarded queries answered from the resolver cache without contacting an upstream",
            cache_hits.clone(),
        );
        registry.register(
            "cache_misses",
            "Forwarded queries that needed at least one upstream exchange",
            cache_misses.clone(),
        );

        let answer_cache = answer_cache::CacheMetrics::register(&mut registry);

        let rules_family = Family::<RuleKindLabels, Gauge>::default();
        let list_rules = std::array::from_fn(|i| {
            rules_family
                .get_or_create(&RuleKindLabels {
                    kind: RuleKind::ALL[i],
                })
                .clone()
        });
        registry.register("list_rules", "Rules in the list in service", rules_family);
        let list_block_rules = Gauge::default();
        registry.register(
            "list_block_rules",
            "Block rules (domain and IP, allow rules excluded) in the list in service; 0: it protects from nothing",
            list_block_rules.clone(),
        );
        let list_loaded = Gauge::default();
        registry.register(
            "list_loaded",
            "1 when a list is in service; 0: none (the compiled list does not exist yet, or none is configured): nothing is blocked",
            list_loaded.clone(),
        );
        let list_built = Gauge::default();
        registry.register_with_unit(
            "list_built_timestamp",
            "Build time of the list in service (Unix time)",
            Unit::Seconds,
            list_built.clone(),
        );
        let list_age = Gauge::default();
        registry.register_with_unit(
            "list_age",
            "Age of the list in service: now minus its build time",
            Unit::Seconds,
            list_age.clone(),
        );

        let reload_family = Family::<ReloadLabels, Counter>::default();
        let reloads = children(&reload_family, ReloadResult::ALL, |result| ReloadLabels {
            result,
        });
        registry.register(
            "reloads",
            "List reloads: ok = swapped in, failed = refused (the previous list keeps serving)",
            reload_family,
        );

        let querylog_written = Counter::default();
        let querylog_dropped = Counter::default();
        registry.register(
            "querylog_records_written",
            "Query-log records written",
            querylog_written.clone(),
        );
        registry.register(
            "querylog_records_dropped",
            "Query-log records dropped because the writer fell behind or failed",
            querylog_dropped.clone(),
        );
        let udp_dropped = Counter::default();
        registry.register(
            "udp_dropped",
            "UDP queries dropped because the bound on queries in flight was reached (blocked names and cached answers are still answered)",
            udp_dropped.clone(),
        );

        let view_family = Family::<WarningViewLabels, Counter>::default();
        let warning_views = children(&view_family, WarningView::ALL, |page| WarningViewLabels {
            page,
        });
        registry.register(
            "warning_page_views",
            "Warning-page requests answered, by the page shown",
            view_family,
        );

        let connections = connections::ConnectionMetrics::register(&mut registry);
        let refusal_family = Family::<TokenRefusalLabels, Counter>::default();
        let token_refusals = children(&refusal_family, TokenRefusal::ALL, |reason| {
            TokenRefusalLabels { reason }
        });
        registry.register(
            "token_refusals",
            "DoH requests refused for their access token before reaching the query path, by reason",
            refusal_family,
        );

        Metrics {
            registry,
            queries,
            blocks_by_trigger,
            categories,
            upstream_latency,
            upstream_failures,
            upstream_client,
            ratelimit_actions,
            cache_hits,
            cache_misses,
            answer_cache,
            list_rules,
            list_block_rules,
            list_loaded,
            list_built,
            list_built_secs: AtomicU64::new(0),
            list_age,
            reloads,
            querylog_written,
            querylog_dropped,
            udp_dropped,
            warning_views,
            feed_file: None,
            connections,
            token_refusals,
        }
    }

    /// Append the feed updater's metrics file at `path` (when it exists) to
    /// every scrape; see [`feed_file`].
    pub fn with_feed_file(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.feed_file = path;
        self
    }

    /// Record the number of block rules in the list in service.
    pub fn record_block_rules(&self, rules: u64) {
        self.list_block_rules.set(saturating_i64(rules));
    }

    /// Record whether a list is in service (see [`crate::reload::has_list`]).
    pub fn record_list_loaded(&self, loaded: bool) {
        self.list_loaded.set(i64::from(loaded));
    }

    /// Queries answered (every outcome but refused and rate-limited) and
    /// queries blocked (every trigger) since start: the status page's counts.
    pub fn answered_and_blocked(&self) -> (u64, u64) {
        let turned_away = [
            OutcomeKind::Refused as usize,
            OutcomeKind::RateLimited as usize,
        ];
        let answered = self
            .queries
            .iter()
            .flat_map(|row| row.iter().enumerate())
            .filter(|(outcome, _)| !turned_away.contains(outcome))
            .map(|(_, counter)| counter.get())
            .sum();
        let blocked = self.blocks_by_trigger.iter().map(Counter::get).sum();
        (answered, blocked)
    }

    /// Count one answered query. Call exactly once per query.
    pub fn record_query(&self, protocol: Protocol, outcome: OutcomeKind) {
        self.queries[protocol as usize][outcome as usize].inc();
    }

    /// Count one block by `trigger`, attributed to `category` (the deciding
    /// rule's source category, `None` when the source has none).
    pub fn record_block(&self, trigger: Trigger, category: Option<&str>) {
        self.blocks_by_trigger[trigger as usize].inc();
        self.categories.inc(category);
    }

    /// Record a forwarded lookup: a cache hit, or a miss that asked an
    /// upstream and took `latency` (only misses feed the latency histogram,
    /// so that it measures upstreams).
    pub fn record_upstream(&self, latency: Duration, cache_hit: bool) {
        if cache_hit {
            self.cache_hits.inc();
        } else {
            self.upstream_latency.observe(latency.as_secs_f64());
            self.cache_misses.inc();
        }
    }

    /// Count a failed forwarded lookup.
    pub fn record_upstream_failure(&self, reason: UpstreamFailure) {
        self.upstream_failures[reason as usize].inc();
    }

    /// The upstream client's handles (sockets, ignored answers, coalesced
    /// queries), for [`crate::upstream::ClientMetrics::attach`].
    pub fn upstream_client(&self) -> UpstreamMetrics {
        self.upstream_client.clone()
    }

    /// Count one UDP answer over a rate limit.
    pub fn record_ratelimit(&self, action: RateLimitAction, reason: RateLimitReason) {
        self.ratelimit_actions[action as usize][reason as usize].inc();
    }

    /// Record the list now in service: rule counts, build time (seconds since
    /// the Unix epoch) and its source categories (for the category label).
    pub fn record_list<'a>(
        &self,
        domain_rules: u64,
        ip_rules: u64,
        built_at: u64,
        categories: impl IntoIterator<Item = &'a str>,
    ) {
        self.list_rules[RuleKind::Domain as usize].set(saturating_i64(domain_rules));
        self.list_rules[RuleKind::Ip as usize].set(saturating_i64(ip_rules));
        self.list_built.set(saturating_i64(built_at));
        self.list_built_secs.store(built_at, Ordering::Relaxed);
        self.categories.learn(categories);
    }

    /// Count a reload attempt.
    pub fn record_reload(&self, result: ReloadResult) {
        self.reloads[result as usize].inc();
    }

    /// Count a query-log record written.
    pub fn record_querylog_written(&self) {
        self.querylog_written.inc();
    }

    /// Count a warning-page request by the page it got.
    pub fn record_warning_view(&self, page: WarningView) {
        self.warning_views[page as usize].inc();
    }

    /// Count one DoH request refused for its token.
    pub fn record_token_refusal(&self, reason: TokenRefusal) {
        self.token_refusals[reason as usize].inc();
    }

    /// Count a query-log record dropped.
    pub fn record_querylog_dropped(&self) {
        self.querylog_dropped.inc();
    }

    /// The counter of UDP queries dropped at the bound on queries in
    /// flight, for [`crate::net::InFlight`].
    pub fn udp_dropped(&self) -> prometheus_client::metrics::counter::Counter {
        self.udp_dropped.clone()
    }

    /// Read the answer cache's entries and bytes with `usage` at each
    /// scrape (set once).
    pub fn watch_answer_cache(&self, usage: impl Fn() -> (usize, usize) + Send + Sync + 'static) {
        self.answer_cache.watch(Box::new(usage));
    }

    /// Count a background refresh of a cached answer.
    pub fn record_prefetch(&self) {
        self.answer_cache.prefetched();
    }

    /// Count a connection closed by the connection limits.
    pub fn record_connection_closed(&self, listener: Listener, reason: ConnectionClose) {
        self.connections.closed(listener, reason);
    }

    /// Connections open on `listener` changed by `delta`.
    pub fn connections_open_changed(&self, listener: Listener, delta: i64) {
        self.connections.open_changed(listener, delta);
    }

    /// Record the access tokens now valid, and whether the tokens file
    /// failed to load (counted in `parapet_tokens_file_errors_total`).
    pub fn record_tokens(&self, valid: usize, file_error: bool) {
        self.connections.tokens(valid, file_error);
    }

    /// The whole exposition in OpenMetrics text format (ends with `# EOF`).
    /// Updates `parapet_list_age_seconds` first.
    pub fn encode(&self) -> String {
        let built = self.list_built_secs.load(Ordering::Relaxed);
        if built > 0 {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            self.list_age.set(saturating_i64(now.saturating_sub(built)));
        }
        self.answer_cache.update();
        let mut out = String::with_capacity(8 * 1024);
        // Writing to a String cannot fail; the encoder only propagates
        // fmt::Error from the writer.
        let _ = text::encode(&mut out, &self.registry);
        if let Some(path) = &self.feed_file {
            feed_file::append(&mut out, path);
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
