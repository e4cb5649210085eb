//! The `parapet-blocklist update` command line: output and exit codes; and
//! the README's feed configuration example.

use std::path::Path;
use std::process::{Command, Output};

use crate::feed_support::{FeedServer, Route, Setup, hosts, url_feed};
use parapet_blocklist::feed::UpdateConfig;

fn run_update(setup: &Setup, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parapet-blocklist"))
        .arg("update")
        .arg("--config")
        .arg(setup.config_path())
        .args(extra)
        .output()
        .expect("run parapet-blocklist")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn update_prints_each_feed_and_exits_zero_when_every_feed_is_fine() {
    let server = FeedServer::start();
    let mut body = hosts(&["cli-phish.example", "cli-malware.example"]);
    body.extend_from_slice(b"0.0.0.0 not a name!\n");
    server.set_body("/good.txt", &body, "g1");
    let setup = Setup::new(&url_feed("good", &server.url("/good.txt"), ""));
    let output = run_update(&setup, &[]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout.contains("feed good: updated, 2 rules, 1 malformed lines skipped"),
        "{stdout}"
    );
    assert!(stdout.contains("published "), "{stdout}");

    let output = run_update(&setup, &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(text(&output.stdout).contains("feed good: unchanged, 2 rules"));
}

/// One of three feeds failing: the list is published from the other two,
/// the exit code says "published, but a feed failed", and the metrics file
/// shows which feed failed and why.
#[test]
fn update_exits_three_when_a_feed_failed_but_the_list_was_published() {
    let server = FeedServer::start();
    server.set_body("/one.txt", &hosts(&["cli-one.example"]), "o1");
    server.set_body(
        "/two.txt",
        &hosts(&["cli-two.example", "cli-2b.example"]),
        "t1",
    );
    server.set("/down.txt", Route::Status(500));
    let setup = Setup::new(&format!(
        "{}{}{}",
        url_feed("one", &server.url("/one.txt"), ""),
        url_feed("down", &server.url("/down.txt"), ""),
        url_feed("two", &server.url("/two.txt"), "")
    ));
    let output = run_update(&setup, &[]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(stdout.contains("feed down: failed: "), "{stdout}");
    assert!(
        stdout.contains("HTTP 500; no good copy, feed left out"),
        "{stdout}"
    );
    assert!(stdout.contains("published "), "{stdout}");
    assert!(
        text(&output.stderr).contains("published, but 1 feed(s) failed: down"),
        "{output:?}"
    );
    let list = parapet_blocklist::Blocklist::open(&setup.artifact()).unwrap();
    assert!(list.check_name("cli-two.example").is_block());

    let metrics = std::fs::read_to_string(setup.dir.path().join("lists/feeds/feeds.prom"))
        .expect("feeds.prom beside the feed state");
    for line in [
        "parapet_feed_up{feed=\"one\"} 1",
        "parapet_feed_up{feed=\"down\"} 0",
        "parapet_feed_up{feed=\"two\"} 1",
        "parapet_feed_rules{feed=\"two\"} 2",
        "parapet_feed_rules{feed=\"down\"} 0",
        "parapet_feed_published 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    let failure = metrics
        .lines()
        .find(|l| l.starts_with("parapet_feed_last_failure_timestamp_seconds{feed=\"down\","))
        .unwrap_or_else(|| panic!("no failure series for down in\n{metrics}"));
    assert!(failure.contains("HTTP 500"), "{failure}");
    assert!(
        !metrics.contains("parapet_feed_last_failure_timestamp_seconds{feed=\"one\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("parapet_feed_last_success_timestamp_seconds{feed=\"one\"} "),
        "{metrics}"
    );

    // The feed recovers: exit 0, and the metric follows.
    server.set_body("/down.txt", &hosts(&["cli-down.example"]), "d1");
    let output = run_update(&setup, &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let metrics = std::fs::read_to_string(setup.dir.path().join("lists/feeds/feeds.prom")).unwrap();
    assert!(
        metrics.contains("parapet_feed_up{feed=\"down\"} 1\n"),
        "{metrics}"
    );
}

#[test]
fn update_exits_one_when_nothing_can_be_published() {
    let server = FeedServer::start();
    server.set("/down.txt", Route::Status(503));
    let setup = Setup::new(&url_feed("down", &server.url("/down.txt"), ""));
    let output = run_update(&setup, &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("nothing published"), "{stderr}");
    // First boot: no previous list to speak of.
    assert!(stderr.contains("; no list yet"), "{stderr}");
    assert!(!stderr.contains("previous"), "{stderr}");
    assert!(!setup.artifact().exists());
}

/// Every block feed failing (offline) while a local allow list still reads:
/// a list of allow rules alone protects from nothing and is not published.
#[test]
fn update_publishes_no_list_without_block_rules_unless_forced() {
    let server = FeedServer::start();
    server.set("/block-a.txt", Route::Status(503));
    server.set("/block-b.txt", Route::Status(502));
    let setup = Setup::new("");
    std::fs::write(setup.dir.path().join("allow.txt"), "allowed.example\n").unwrap();
    setup.write_config(&format!(
        "{}{}[[feeds]]\nname = \"local-allow\"\npath = \"allow.txt\"\nallow = true\n",
        url_feed("block-a", &server.url("/block-a.txt"), ""),
        url_feed("block-b", &server.url("/block-b.txt"), "")
    ));
    let output = run_update(&setup, &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("nothing published"), "{stderr}");
    assert!(stderr.contains("no block rules"), "{stderr}");
    assert!(!setup.artifact().exists());
    let metrics = std::fs::read_to_string(setup.dir.path().join("lists/feeds/feeds.prom")).unwrap();
    assert!(metrics.contains("parapet_feed_published 0\n"), "{metrics}");

    // --force publishes it (the feeds still failed: exit 3).
    let output = run_update(&setup, &["--force"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let stats = parapet_blocklist::Blocklist::open(&setup.artifact())
        .unwrap()
        .stats();
    assert_eq!((stats.domain_rules, stats.allow_rules), (1, 1));

    // Refused again without --force: now the published list stays.
    let output = run_update(&setup, &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("; the previous artifact stays in service"),
        "{stderr}"
    );
}

#[test]
fn update_help_lists_the_exit_codes() {
    let output = Command::new(env!("CARGO_BIN_EXE_parapet-blocklist"))
        .args(["update", "--help"])
        .output()
        .expect("run parapet-blocklist");
    let help = text(&output.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(
        help.contains("3  published, but at least one feed failed"),
        "{help}"
    );
}

#[test]
fn update_exits_two_on_a_bad_config() {
    let setup = Setup::new("[[feeds]]\nname = \"x\"\nurl = \"ftp://example.invalid/list\"\n");
    let output = run_update(&setup, &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("invalid config: "), "{stderr}");
    assert!(stderr.contains("feeds[0] (x): url:"), "{stderr}");
}

/// Every TOML example in the README with `[[feeds]]` is a valid feed config.
#[test]
fn readme_feed_examples_parse() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md");
    let mut checked = 0;
    let mut block: Option<String> = None;
    for line in readme.lines() {
        let trimmed = line.trim_start();
        match &mut block {
            None if trimmed.starts_with("```toml") => block = Some(String::new()),
            Some(text) if trimmed.starts_with("```") => {
                if text.contains("[[feeds]]") {
                    UpdateConfig::from_toml_str(text, Path::new("/etc/parapet"))
                        .unwrap_or_else(|e| panic!("README example does not parse: {e}\n{text}"));
                    checked += 1;
                }
                block = None;
            }
            Some(text) => {
                text.push_str(trimmed);
                text.push('\n');
            }
            None => {}
        }
    }
    assert!(checked > 0, "no [[feeds]] example found in README.md");
}
