//! The `parapet-blocklist update` command line: output and exit codes; and
//! the README's feed configuration example.

mod feed_support;

use std::path::Path;
use std::process::{Command, Output};

use feed_support::{FeedServer, Route, Setup, hosts, url_feed};
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
fn update_prints_each_feed_and_exits_zero_when_published() {
    let server = FeedServer::start();
    let mut body = hosts(&["cli-phish.example", "cli-malware.example"]);
    body.extend_from_slice(b"0.0.0.0 not a name!\n");
    server.set_body("/good.txt", &body, "g1");
    server.set("/down.txt", Route::Status(500));
    let setup = Setup::new(&format!(
        "{}{}",
        url_feed("good", &server.url("/good.txt"), ""),
        url_feed("down", &server.url("/down.txt"), "")
    ));
    let output = run_update(&setup, &[]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains("feed good: updated, 2 rules, 1 malformed lines skipped"),
        "{stdout}"
    );
    assert!(stdout.contains("feed down: failed: "), "{stdout}");
    assert!(
        stdout.contains("HTTP 500; no good copy, feed left out"),
        "{stdout}"
    );
    assert!(stdout.contains("published "), "{stdout}");

    let output = run_update(&setup, &[]);
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("feed good: unchanged, 2 rules"));
}

#[test]
fn update_exits_one_when_nothing_can_be_published() {
    let server = FeedServer::start();
    server.set("/down.txt", Route::Status(503));
    let setup = Setup::new(&url_feed("down", &server.url("/down.txt"), ""));
    let output = run_update(&setup, &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        text(&output.stderr).contains("nothing published"),
        "{output:?}"
    );
    assert!(!setup.artifact().exists());
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
