//! The one list of parapet's metrics: name, type, labels and their values.
//! The table in the [`super`] module's documentation is this list rendered
//! by [`markdown_table`] (a test compares them), and the metrics tests check
//! that `/metrics` exports exactly these families and label values.

use super::category;
use super::label::{
    ConnectionClose, Listener, OutcomeKind, Protocol, RateLimitAction, RateLimitReason,
    ReloadResult, RuleKind, TokenRefusal, Trigger, UpstreamFailure, WarningView,
};

/// One metric family as exported (counters with their `_total` suffix,
/// units in the name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricDef {
    /// Sample name: `parapet_queries_total`, `parapet_list_rules`, …
    pub name: &'static str,
    /// `counter`, `gauge` or `histogram`.
    pub kind: &'static str,
    /// Labels, in export order (a histogram's `le` is implied).
    pub labels: Vec<LabelDef>,
    /// A note for the table (how the value is computed), or empty.
    pub note: &'static str,
}

/// One label of a metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelDef {
    /// Label name.
    pub name: &'static str,
    /// Every value it takes (each exists from the first scrape).
    pub values: Vec<&'static str>,
    /// When not empty: further values come from elsewhere (this says where).
    pub open: &'static str,
}

fn label(name: &'static str, values: impl IntoIterator<Item = &'static str>) -> LabelDef {
    LabelDef {
        name,
        values: values.into_iter().collect(),
        open: "",
    }
}

fn metric(name: &'static str, kind: &'static str, labels: Vec<LabelDef>) -> MetricDef {
    MetricDef {
        name,
        kind,
        labels,
        note: "",
    }
}

/// The label values of an enum, in declaration order.
fn strs<T: Copy>(all: &'static [T], as_str: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| as_str(*v)).collect()
}

/// Every metric parapet exports, in the order of the documentation table.
pub fn definitions() -> Vec<MetricDef> {
    // Long on purpose: a table, one entry per metric, in the order of the
    // documentation; splitting it would split the table.
    vec![
        metric(
            "parapet_queries_total",
            "counter",
            vec![
                label("protocol", strs(Protocol::ALL, Protocol::as_str)),
                label("outcome", strs(OutcomeKind::ALL, OutcomeKind::as_str)),
            ],
        ),
        metric(
            "parapet_ratelimit_actions_total",
            "counter",
            vec![
                label(
                    "action",
                    strs(RateLimitAction::ALL, RateLimitAction::as_str),
                ),
                label(
                    "reason",
                    strs(RateLimitReason::ALL, RateLimitReason::as_str),
                ),
            ],
        ),
        metric(
            "parapet_blocks_by_trigger_total",
            "counter",
            vec![label("trigger", strs(Trigger::ALL, Trigger::as_str))],
        ),
        metric(
            "parapet_blocks_by_category_total",
            "counter",
            vec![LabelDef {
                open: "the list's source categories, at most 32",
                ..label("category", [category::NONE, category::OTHER])
            }],
        ),
        metric("parapet_upstream_latency_seconds", "histogram", vec![]),
        metric(
            "parapet_upstream_failures_total",
            "counter",
            vec![label(
                "reason",
                strs(UpstreamFailure::ALL, UpstreamFailure::as_str),
            )],
        ),
        metric("parapet_upstream_sockets", "gauge", vec![]),
        metric("parapet_upstream_ignored_total", "counter", vec![]),
        metric("parapet_upstream_coalesced_total", "counter", vec![]),
        metric("parapet_cache_hits_total", "counter", vec![]),
        metric("parapet_cache_misses_total", "counter", vec![]),
        metric("parapet_answer_cache_entries", "gauge", vec![]),
        metric("parapet_answer_cache_bytes", "gauge", vec![]),
        metric("parapet_prefetches_total", "counter", vec![]),
        metric(
            "parapet_list_rules",
            "gauge",
            vec![label("kind", strs(RuleKind::ALL, RuleKind::as_str))],
        ),
        MetricDef {
            note: "allow rules excluded; 0: the list protects from nothing (a WARN is logged)",
            ..metric("parapet_list_block_rules", "gauge", vec![])
        },
        MetricDef {
            note: "1: a list is in service; 0: none yet (the compiled list does not exist) or none configured, nothing is blocked",
            ..metric("parapet_list_loaded", "gauge", vec![])
        },
        metric("parapet_list_built_timestamp_seconds", "gauge", vec![]),
        MetricDef {
            note: "computed at scrape",
            ..metric("parapet_list_age_seconds", "gauge", vec![])
        },
        metric(
            "parapet_reloads_total",
            "counter",
            vec![label(
                "result",
                strs(ReloadResult::ALL, ReloadResult::as_str),
            )],
        ),
        metric("parapet_querylog_records_written_total", "counter", vec![]),
        metric("parapet_querylog_records_dropped_total", "counter", vec![]),
        metric("parapet_udp_dropped_total", "counter", vec![]),
        metric(
            "parapet_warning_page_views_total",
            "counter",
            vec![label("page", strs(WarningView::ALL, WarningView::as_str))],
        ),
        metric(
            "parapet_connections_open",
            "gauge",
            vec![label("listener", strs(Listener::ALL, Listener::as_str))],
        ),
        metric(
            "parapet_connections_closed_total",
            "counter",
            vec![
                label("listener", strs(Listener::ALL, Listener::as_str)),
                label(
                    "reason",
                    strs(ConnectionClose::ALL, ConnectionClose::as_str),
                ),
            ],
        ),
        metric("parapet_tokens_valid", "gauge", vec![]),
        metric("parapet_tokens_file_errors_total", "counter", vec![]),
        metric(
            "parapet_token_refusals_total",
            "counter",
            vec![label(
                "reason",
                strs(TokenRefusal::ALL, TokenRefusal::as_str),
            )],
        ),
    ]
}

/// The documentation table (markdown, one row per metric), as it appears
/// in the [`super`] module's doc comment without the `//! ` prefix.
pub fn markdown_table() -> String {
    let mut out = String::from("| metric | type | labels |\n|---|---|---|\n");
    for m in definitions() {
        let labels: Vec<String> = m
            .labels
            .iter()
            .map(|l| {
                let mut values = l.values.join(", ");
                if !l.open.is_empty() {
                    values = format!("{values}, and {}", l.open);
                }
                format!("`{}` ({values})", l.name)
            })
            .collect();
        let labels = if labels.is_empty() {
            "—".to_string()
        } else {
            labels.join(", ")
        };
        let kind = if m.note.is_empty() {
            m.kind.to_string()
        } else {
            format!("{}, {}", m.kind, m.note)
        };
        out.push_str(&format!("| `{}` | {kind} | {labels} |\n", m.name));
    }
    out
}

#[cfg(test)]
mod tests;
