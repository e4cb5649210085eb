//! Cost of observing one query: metrics recording and handing a record to
//! the query log. Baseline in the same group: an empty closure.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::rr::RecordType;
use parapet_resolver::config::{LogMode, QueryLogConfig};
use parapet_resolver::metrics::{Metrics, OutcomeKind, Protocol, Trigger};
use parapet_resolver::{QueryLog, QueryRecord};

fn metrics(c: &mut Criterion) {
    let m = Metrics::new();
    m.record_list(1, 1, 1, ["phishing", "malware", "scam", "c2"]);
    let mut group = c.benchmark_group("observe");
    group.bench_function("baseline_nothing", |b| b.iter(|| black_box(1)));
    group.bench_function("metrics_forwarded", |b| {
        b.iter(|| m.record_query(black_box(Protocol::Udp), black_box(OutcomeKind::Forwarded)))
    });
    group.bench_function("metrics_blocked_with_category", |b| {
        b.iter(|| {
            m.record_query(black_box(Protocol::Udp), black_box(OutcomeKind::Blocked));
            m.record_block(black_box(Trigger::Name), black_box(Some("c2")));
        })
    });
    group.finish();
}

fn query_log(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let _guard = runtime.enter();
    let metrics = Arc::new(Metrics::new());
    let config = QueryLogConfig {
        enabled: true,
        mode: LogMode::Blocks,
        path: Some("/dev/null".into()),
        ..QueryLogConfig::default()
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let (log, _writer) =
        QueryLog::start(&config, Arc::clone(&metrics), stop.clone()).expect("open /dev/null");
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    let mut group = c.benchmark_group("observe");
    group.bench_function("querylog_not_wanted", |b| {
        b.iter(|| log.wants(black_box(OutcomeKind::Forwarded)))
    });
    group.bench_function("querylog_build_and_send", |b| {
        b.iter(|| {
            if log.wants(OutcomeKind::Blocked) {
                let mut record = QueryRecord::new(
                    client,
                    Protocol::Udp,
                    "login.evil.example",
                    RecordType::A,
                    OutcomeKind::Blocked,
                );
                record.rule = Some("evil.example".into());
                record.source = Some("urlhaus".into());
                log.log(record);
            }
        })
    });
    group.finish();
    stop.cancel();
}

criterion_group!(benches, metrics, query_log);
criterion_main!(benches);
