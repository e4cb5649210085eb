//! The `parapet` binary serving a list published by the real feed updater
//! (`parapet_blocklist::feed::update`): a list without block rules is loaded
//! with a WARN and `parapet_list_block_rules 0`, and the updater's per-feed
//! metrics (`feeds.prom` beside the artifact) appear in `/metrics`.

use std::path::Path;
use std::time::{Duration, Instant};

use parapet_blocklist::feed::{self, UpdateConfig, UpdateOptions};

use crate::support::{DEADLINE, Proc, scrape};

/// The value of the sample whose series is exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

/// Run the updater on `config`, forced (so a list without block rules is
/// published).
fn update(config: &Path) -> feed::UpdateReport {
    let config = UpdateConfig::load(config).expect("feed config");
    let options = UpdateOptions {
        force: true,
        state_dir: None,
    };
    let report = feed::update(&config, &options);
    assert!(report.published.is_ok(), "{report:?}");
    report
}

const FEEDS: &str = "[[feeds]]\nname = \"local-allow\"\npath = \"allow.txt\"\nallow = true\n\
                     [[feeds]]\nname = \"gone\"\npath = \"missing.txt\"\n";

fn write_config(dir: &Path, feeds: &str) {
    std::fs::write(
        dir.join("parapet.toml"),
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"127.0.0.1:9\"]\n\
             [blocklist]\npath = \"lists/parapet.pbl\"\nwatch = false\n\
             [block]\nsinkhole_ipv4 = \"192.0.2.53\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n\
             [warning_page]\nlisten = [\"127.0.0.1:0\"]\n{feeds}"
        ),
    )
    .expect("write config");
}

#[test]
fn list_without_block_rules_warns_and_feed_metrics_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("parapet.toml");
    std::fs::write(dir.path().join("allow.txt"), "allowed.example\n").expect("allow list");
    write_config(dir.path(), FEEDS);
    update(&config);

    let p = Proc::start(&config);
    let warning = p.wait_line("no block rules");
    assert!(warning.contains("WARN"), "{warning}");
    let metrics = p.addr_after("metrics listening on http://");
    let text = scrape(metrics);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(
        sample(&text, "parapet_list_block_rules"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "parapet_feed_up{feed=\"local-allow\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "parapet_feed_up{feed=\"gone\"}"), Some(0.0));
    assert_eq!(sample(&text, "parapet_feed_published"), Some(1.0));
    let failure = text
        .lines()
        .find(|l| l.starts_with("parapet_feed_last_failure_timestamp_seconds{feed=\"gone\","))
        .unwrap_or_else(|| panic!("no failure series in\n{text}"));
    assert!(failure.contains("missing.txt"), "{failure}");
    assert!(text.ends_with("# EOF\n"), "feed metrics must precede # EOF");

    // A block feed arrives: the gauge follows the reloaded list.
    std::fs::write(dir.path().join("block.txt"), "0.0.0.0 evil.example\n").expect("block list");
    write_config(
        dir.path(),
        &format!("{FEEDS}[[feeds]]\nname = \"block\"\npath = \"block.txt\"\n"),
    );
    update(&config);
    p.signal("HUP");
    let end = Instant::now() + DEADLINE;
    loop {
        let text = scrape(metrics);
        if sample(&text, "parapet_list_block_rules") == Some(1.0) {
            assert_eq!(
                sample(&text, "parapet_feed_rules{feed=\"block\"}"),
                Some(1.0)
            );
            break;
        }
        assert!(Instant::now() < end, "block rules never reached 1:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
