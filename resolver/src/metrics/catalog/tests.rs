//! The catalog is the truth: the module's doc table is its rendering, and
//! `/metrics` (scraped over a real socket after every label value has been
//! recorded) exports exactly its families, types and label values.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::{MetricDef, definitions, markdown_table};
use crate::metrics::{
    ConnectionClose, Listener, Metrics, OutcomeKind, Protocol, RateLimitAction, RateLimitReason,
    ReloadResult, TokenRefusal, Trigger, UpstreamFailure, WarningView,
};

const DEADLINE: Duration = Duration::from_secs(10);

#[test]
fn doc_table_is_the_rendered_catalog() {
    let source = include_str!("../mod.rs");
    // The first table of the module doc (the feed updater's metrics, read
    // from its file, follow in a table of their own).
    let documented: String = source
        .lines()
        .skip_while(|l| !l.starts_with("//! |"))
        .map_while(|l| l.strip_prefix("//! |"))
        .map(|l| format!("|{l}\n"))
        .collect();
    assert_eq!(
        documented,
        markdown_table(),
        "the table in resolver/src/metrics/mod.rs is not the catalog; paste this:\n{}",
        markdown_table()
    );
}

/// Record every label value of every metric at least once.
fn exercise_every_label(m: &Metrics) {
    m.record_list(10, 3, 1_000, ["phishing"]);
    for p in Protocol::ALL {
        for o in OutcomeKind::ALL {
            m.record_query(*p, *o);
        }
    }
    for (t, category) in Trigger::ALL.iter().zip([
        Some("phishing"),
        None,
        Some("unknown"),
        Some("phishing"),
        None,
    ]) {
        m.record_block(*t, category);
    }
    for a in RateLimitAction::ALL {
        for r in RateLimitReason::ALL {
            m.record_ratelimit(*a, *r);
        }
    }
    m.record_upstream(Duration::from_millis(3), false);
    m.record_upstream(Duration::from_millis(1), true);
    for r in UpstreamFailure::ALL {
        m.record_upstream_failure(*r);
    }
    let client = m.upstream_client();
    client.sockets.inc();
    client.ignored.inc();
    client.coalesced.inc();
    for r in ReloadResult::ALL {
        m.record_reload(*r);
    }
    m.record_querylog_written();
    m.record_prefetch();
    m.record_querylog_dropped();
    m.udp_dropped().inc();
    for v in WarningView::ALL {
        m.record_warning_view(*v);
    }
    for l in Listener::ALL {
        m.connections_open_changed(*l, 1);
        for r in ConnectionClose::ALL {
            m.record_connection_closed(*l, *r);
        }
    }
    m.record_tokens(2, true);
    for r in TokenRefusal::ALL {
        m.record_token_refusal(*r);
    }
}

/// `GET /metrics` from a real endpoint on 127.0.0.1:0.
async fn scrape(metrics: Arc<Metrics>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    tokio::spawn(crate::metrics::http::serve(listener, metrics, shutdown));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: parapet\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(DEADLINE, stream.read_to_string(&mut response))
        .await
        .expect("scrape within the deadline")
        .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// What an exposition exports per family: type, and per label its values
/// (a histogram's `le` left out), and every sample value.
#[derive(Debug, Default, PartialEq)]
struct Family {
    kind: String,
    labels: BTreeMap<String, BTreeSet<String>>,
    samples: Vec<f64>,
}

/// The exported name of `# TYPE` family `family` of `kind`.
fn exported_name(family: &str, kind: &str) -> String {
    match kind {
        "counter" => format!("{family}_total"),
        _ => family.to_string(),
    }
}

fn families(text: &str) -> BTreeMap<String, Family> {
    let mut out: BTreeMap<String, Family> = BTreeMap::new();
    let mut types = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').expect("TYPE line");
            let name = exported_name(family, kind);
            types.push((family.to_string(), name.clone()));
            out.entry(name).or_default().kind = kind.to_string();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let (sample, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (series, ""),
        };
        let (_, name) = types
            .iter()
            .rev()
            .find(|(family, _)| sample.starts_with(family.as_str()))
            .unwrap_or_else(|| panic!("sample {sample} has no TYPE"));
        let family = out.get_mut(name).expect("declared");
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').expect("label pair");
            if k != "le" {
                let values = family.labels.entry(k.to_string()).or_default();
                values.insert(v.trim_matches('"').to_string());
            }
        }
        family.samples.push(value.parse().expect("numeric sample"));
    }
    out
}

/// What the catalog says `def` exports, given the open labels' extra
/// values actually seen.
fn expected(def: &MetricDef, seen: &Family) -> Family {
    let labels = def
        .labels
        .iter()
        .map(|l| {
            let mut values: BTreeSet<String> = l.values.iter().map(|v| v.to_string()).collect();
            if !l.open.is_empty()
                && let Some(more) = seen.labels.get(l.name)
            {
                values.extend(more.iter().cloned());
            }
            (l.name.to_string(), values)
        })
        .collect();
    Family {
        kind: def.kind.to_string(),
        labels,
        samples: seen.samples.clone(),
    }
}

#[tokio::test]
async fn metrics_endpoint_exports_exactly_the_catalog() {
    let metrics = Arc::new(Metrics::new());
    exercise_every_label(&metrics);
    let text = scrape(metrics).await;
    let exported = families(&text);
    let defs = definitions();
    let names: BTreeSet<&str> = defs.iter().map(|d| d.name).collect();
    let exported_names: BTreeSet<&str> = exported.keys().map(String::as_str).collect();
    assert_eq!(
        exported_names, names,
        "exported families vs the catalog\n{text}"
    );
    for def in &defs {
        let seen = &exported[def.name];
        assert_eq!(seen, &expected(def, seen), "{}\n{text}", def.name);
        if def.kind == "counter" {
            // Every series was recorded: none is still at zero.
            assert!(
                seen.samples.iter().all(|v| *v >= 1.0),
                "{}: a label value was never recorded: {:?}",
                def.name,
                seen.samples
            );
        }
    }
}

#[test]
fn every_catalog_series_exists_at_zero_before_any_query() {
    let text = Metrics::new().encode();
    for def in definitions() {
        let mut series = vec![String::new()];
        for l in &def.labels {
            series = series
                .iter()
                .flat_map(|prefix| {
                    l.values.iter().map(move |v| {
                        let sep = if prefix.is_empty() { "" } else { "," };
                        format!("{prefix}{sep}{}=\"{v}\"", l.name)
                    })
                })
                .collect();
        }
        for labels in series {
            let name = match def.kind {
                "histogram" => format!("{}_count", def.name),
                _ => def.name.to_string(),
            };
            let line = if labels.is_empty() {
                format!("{name} 0")
            } else {
                format!("{name}{{{labels}}} 0")
            };
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
