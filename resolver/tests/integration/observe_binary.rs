//! The `parapet` binary's observability: `/metrics` served where the
//! "metrics listening on" line says, and the query log reopened on SIGHUP
//! after logrotate renamed it.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{DEADLINE, Proc, query_a, scrape};

/// Wait until `path` exists and holds a line containing `needle`.
fn wait_for_line(path: &Path, needle: &str) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < end,
            "{} never held {needle:?}: {text:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn binary_serves_metrics_and_reopens_the_query_log_on_sighup() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("list.txt"),
        "phishing.example\nnewthreat.example\n",
    )
    .expect("write list");
    let config = dir.path().join("parapet.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"127.0.0.1:9\"]\n\
         [blocklist]\nsources = [\"list.txt\"]\nwatch = false\n[block]\nsinkhole_ipv4 = \"192.0.2.53\"\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\n[warning_page]\nlisten = [\"127.0.0.1:0\"]\n\
         [query_log]\nenabled = true\npath = \"query.log\"\n",
    )
    .expect("write config");
    let log = dir.path().join("query.log");
    let rotated = dir.path().join("query.log.1");

    let p = Proc::start(&config);
    let dns = p.addr_after("listening on UDP ");
    let metrics = p.addr_after("metrics listening on http://");

    query_a(dns, "phishing.example.");
    let first = wait_for_line(&log, "phishing.example");
    assert!(first.contains("\"outcome\":\"blocked\""), "{first}");
    assert!(first.contains("\"client\":\"127.0.0.0/24\""), "{first}");

    // logrotate: rename, then SIGHUP.
    std::fs::rename(&log, &rotated).expect("rotate");
    p.signal("HUP");
    p.wait_line("query log reopened");
    query_a(dns, "newthreat.example.");
    let second = wait_for_line(&log, "newthreat.example");
    assert!(second.contains("\"outcome\":\"blocked\""), "{second}");
    let old = std::fs::read_to_string(&rotated).expect("rotated log");
    assert_eq!(old.lines().count(), 1, "{old}");

    // Counters move after the answer is sent: scrape until they show.
    let end = Instant::now() + DEADLINE;
    loop {
        let response = scrape(metrics);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("# EOF\n"), "{response}");
        if response.contains("parapet_queries_total{protocol=\"udp\",outcome=\"blocked\"} 2")
            && response.contains("parapet_querylog_records_written_total 2")
        {
            break;
        }
        assert!(Instant::now() < end, "counters never reached 2: {response}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
