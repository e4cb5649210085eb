use std::path::Path;
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::*;
use crate::config::query_log::{ClientAddresses, DEFAULT_QUEUE};
use crate::metrics::{Protocol, Trigger};
use hickory_proto::rr::RecordType;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn sample(metrics: &Metrics, series: &str) -> f64 {
    metrics
        .encode()
        .lines()
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
        .unwrap_or(-1.0)
}

fn blocked(client: &str) -> QueryRecord {
    let mut record = QueryRecord::new(
        client.parse().expect("test address"),
        Protocol::Udp,
        "Login.Evil.Example.",
        RecordType::A,
        OutcomeKind::Blocked,
    );
    record.time = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
    record.trigger = Some(Trigger::Name);
    record.rule = Some("evil.example".into());
    record.source = Some("urlhaus".into());
    record.category = Some("malware".into());
    record
}

fn forwarded(client: &str) -> QueryRecord {
    let mut record = QueryRecord::new(
        client.parse().expect("test address"),
        Protocol::Https,
        "www.example.org",
        RecordType::AAAA,
        OutcomeKind::Forwarded,
    );
    record.upstream = Some(Duration::from_micros(12_345));
    record
}

fn line_of(record: &QueryRecord, mode: ClientAddresses) -> Value {
    let clients = ClientFormat::new(mode, Some(b"test key 16 byte")).expect("key");
    let mut buf = Vec::new();
    writer::format_line(record, &clients, &mut buf);
    assert_eq!(buf.last(), Some(&b'\n'), "one line ends with a newline");
    assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
    serde_json::from_slice(&buf).expect("valid JSON")
}

#[test]
fn blocked_record_has_every_field() {
    let line = line_of(&blocked("192.0.2.77"), ClientAddresses::Truncated);
    assert_eq!(line["time"], "2026-11-18T11:06:40.123Z");
    let mut whole_second = blocked("192.0.2.77");
    whole_second.time = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let line = line_of(&whole_second, ClientAddresses::Truncated);
    assert_eq!(line["time"], "2026-11-18T11:06:40.000Z", "fixed width");
    assert_eq!(line["client"], "192.0.2.0/24");
    assert_eq!(line["protocol"], "udp");
    assert_eq!(line["name"], "Login.Evil.Example");
    assert_eq!(line["type"], "A");
    assert_eq!(line["outcome"], "blocked");
    assert_eq!(line["trigger"], "name");
    assert_eq!(line["rule"], "evil.example");
    assert_eq!(line["source"], "urlhaus");
    assert_eq!(line["category"], "malware");
    assert!(line.get("upstream_ms").is_none());
}

#[test]
fn forwarded_record_has_latency_and_no_rule() {
    let line = line_of(&forwarded("2001:db8:aa:bbcc::1"), ClientAddresses::Full);
    assert_eq!(line["client"], "2001:db8:aa:bbcc::1");
    assert_eq!(line["type"], "AAAA");
    assert_eq!(line["outcome"], "forwarded");
    assert_eq!(line["upstream_ms"], 12.345);
    for absent in ["rule", "source", "category", "trigger"] {
        assert!(line.get(absent).is_none(), "{absent} in {line}");
    }
}

#[test]
fn client_modes_in_the_line() {
    let record = blocked("2001:db8:aa:bbcc::1");
    let truncated = line_of(&record, ClientAddresses::Truncated);
    assert_eq!(truncated["client"], "2001:db8:aa:bb00::/56");
    let hashed = line_of(&record, ClientAddresses::Hashed);
    let hash = hashed["client"].as_str().expect("hash string");
    assert_eq!(hash.len(), 32);
    assert!(!hash.contains(':'), "not an address: {hash}");
    let none = line_of(&record, ClientAddresses::None);
    assert!(none.get("client").is_none(), "{none}");
}

#[test]
fn hostile_name_stays_one_valid_line() {
    let mut record = blocked("192.0.2.1");
    record.name = "a\"b\\c\nd\u{0}.example".into();
    let line = line_of(&record, ClientAddresses::None);
    assert_eq!(line["name"], "a\"b\\c\nd\u{0}.example");
}

fn config(dir: &Path, mode: LogMode, queue: usize) -> QueryLogConfig {
    QueryLogConfig {
        enabled: true,
        mode,
        queue,
        path: Some(dir.join("query.log")),
        ..QueryLogConfig::default()
    }
}

#[test]
fn wants_follows_the_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Arc::new(Metrics::new());
    assert!(!QueryLog::disabled().wants(OutcomeKind::Blocked));
    let (blocks, _w) = QueryLog::open(
        &config(dir.path(), LogMode::Blocks, 8),
        Arc::clone(&metrics),
    )
    .expect("open");
    assert!(blocks.wants(OutcomeKind::Blocked));
    for outcome in OutcomeKind::ALL {
        if !matches!(outcome, OutcomeKind::Blocked | OutcomeKind::Lookalike) {
            assert!(!blocks.wants(*outcome), "{outcome}");
        }
    }
    let (all, _w) = QueryLog::open(&config(dir.path(), LogMode::All, 8), metrics).expect("open");
    assert!(OutcomeKind::ALL.iter().all(|o| all.wants(*o)));
}

#[test]
fn unwritable_path_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A file where the log's directory should be: it cannot be created.
    std::fs::write(dir.path().join("not-a-dir"), "").expect("write");
    let config = QueryLogConfig {
        path: Some(dir.path().join("not-a-dir/query.log")),
        ..QueryLogConfig::default()
    };
    let error = QueryLog::open(&config, Arc::new(Metrics::new())).expect_err("directory is a file");
    assert!(error.to_string().contains("not-a-dir/query.log"), "{error}");
}

#[test]
fn a_missing_log_directory_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("var/log/parapet");
    let config = QueryLogConfig {
        path: Some(logs.join("queries.log")),
        ..QueryLogConfig::default()
    };
    QueryLog::open(&config, Arc::new(Metrics::new())).expect("directory created");
    let mode = std::fs::metadata(&logs)
        .expect("log directory")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750 & !umask_bits(), "{mode:o}");
    assert!(logs.join("queries.log").is_file());
}

/// The bits the process umask clears (read from /proc; 0o022 if unknown).
fn umask_bits() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Wait until `path` holds `lines` lines (or the deadline passes) and
/// return its lines.
async fn wait_for_lines(path: &Path, lines: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let got: Vec<String> = text.lines().map(str::to_owned).collect();
        if got.len() >= lines || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn records_beyond_the_queue_are_dropped_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Arc::new(Metrics::new());
    let (log, writer) =
        QueryLog::open(&config(dir.path(), LogMode::All, 2), Arc::clone(&metrics)).expect("open");
    // The writer is not running yet: the queue fills at 2.
    for i in 0..5 {
        log.log(blocked(&format!("192.0.2.{i}")));
    }
    assert_eq!(
        sample(&metrics, "parapet_querylog_records_dropped_total"),
        3.0
    );
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(writer.run(shutdown.clone()));
    let lines = wait_for_lines(&dir.path().join("query.log"), 2).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("\"192.0.2.0/24\""), "{}", lines[0]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while sample(&metrics, "parapet_querylog_records_written_total") < 2.0 {
        assert!(Instant::now() < deadline, "written counter never reached 2");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    task.await.expect("writer ends");
    assert_eq!(
        sample(&metrics, "parapet_querylog_records_dropped_total"),
        3.0
    );
}

#[tokio::test]
async fn reopen_after_rename_writes_to_the_new_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("query.log");
    let rotated = dir.path().join("query.log.1");
    let metrics = Arc::new(Metrics::new());
    let (log, writer) =
        QueryLog::open(&config(dir.path(), LogMode::All, 16), metrics).expect("open");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(writer.run(shutdown.clone()));

    log.log(blocked("192.0.2.1"));
    assert_eq!(wait_for_lines(&path, 1).await.len(), 1);

    std::fs::rename(&path, &rotated).expect("rotate");
    log.reopen();
    // The writer creates the new file on reopen.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "log not reopened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log.log(forwarded("192.0.2.2"));
    let new_lines = wait_for_lines(&path, 1).await;
    assert_eq!(new_lines.len(), 1, "{new_lines:?}");
    assert!(new_lines[0].contains("\"forwarded\""), "{}", new_lines[0]);

    shutdown.cancel();
    task.await.expect("writer ends");
    let old_lines = wait_for_lines(&rotated, 1).await;
    assert_eq!(old_lines.len(), 1, "rotated file keeps only the old record");
    assert!(old_lines[0].contains("\"blocked\""));
}

#[tokio::test]
async fn shutdown_writes_what_is_queued() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("query.log");
    let (log, writer) = QueryLog::open(
        &config(dir.path(), LogMode::All, 64),
        Arc::new(Metrics::new()),
    )
    .expect("open");
    for i in 0..10 {
        log.log(blocked(&format!("192.0.2.{i}")));
    }
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    writer.run(shutdown).await;
    assert_eq!(wait_for_lines(&path, 10).await.len(), 10);
}

mod config_section {
    use crate::config::{ConfigError, from_toml_str};

    use super::*;

    const MIN: &str = "[upstream]\nservers = [\"127.0.0.1:5300\"]\n";

    fn parse(section: &str) -> Result<QueryLogConfig, Vec<String>> {
        match from_toml_str(
            &format!("{MIN}[query_log]\n{section}"),
            Path::new("/etc/parapet"),
        ) {
            Ok(config) => Ok(config.query_log),
            Err(ConfigError::Invalid { issues, .. }) => {
                Err(issues.iter().map(|i| i.to_string()).collect())
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn off_by_default_and_privacy_minimal_when_on() {
        let off = parse("").expect("valid");
        assert!(!off.enabled);
        let on = parse("enabled = true").expect("valid");
        assert!(on.enabled);
        assert_eq!(on.mode, LogMode::Blocks);
        assert_eq!(on.client_addresses, ClientAddresses::Truncated);
        assert_eq!(on.path, None, "standard output");
        assert_eq!(on.queue, DEFAULT_QUEUE);
    }

    #[test]
    fn every_key_is_read() {
        let c = parse(
            "enabled = true\nmode = \"all\"\npath = \"log/query.log\"\n\
             client_addresses = \"hashed\"\nhash_key = \"0123456789abcdef0123\"\nqueue = 10\n",
        )
        .expect("valid");
        assert_eq!(c.mode, LogMode::All);
        assert_eq!(
            c.path.as_deref(),
            Some(Path::new("/etc/parapet/log/query.log"))
        );
        assert_eq!(c.client_addresses, ClientAddresses::Hashed);
        assert_eq!(
            c.hash_key.as_ref().map(|k| k.as_bytes()),
            Some(&b"0123456789abcdef0123"[..])
        );
        assert_eq!(c.queue, 10);
        assert_eq!(parse("path = \"-\"").expect("valid").path, None);
        for mode in ["full", "truncated", "none"] {
            parse(&format!("client_addresses = \"{mode}\"")).expect(mode);
        }
    }

    #[test]
    fn bad_values_are_all_reported_with_their_keys() {
        let issues = parse(
            "mode = \"blocked\"\nclient_addresses = \"truncate\"\nhash_key = \"tiny-key\"\nqueue = 0\n",
        )
        .expect_err("invalid");
        for key in [
            "query_log.mode",
            "query_log.client_addresses",
            "query_log.hash_key",
            "query_log.queue",
        ] {
            assert!(
                issues.iter().any(|i| i.contains(key)),
                "{key} in {issues:?}"
            );
        }
        assert!(
            !issues.iter().any(|i| i.contains("tiny-key")),
            "the key is never echoed"
        );
    }

    #[test]
    fn hash_key_is_not_printed() {
        let text = format!(
            "{MIN}[query_log]\nenabled = true\nclient_addresses = \"hashed\"\nhash_key = \"super secret key 1234\"\n"
        );
        let config = from_toml_str(&text, Path::new(".")).expect("valid");
        assert!(
            !config.to_toml().contains("super secret"),
            "{}",
            config.to_toml()
        );
        assert!(!format!("{config:?}").contains("super secret"));
    }
}
