//! The warning page in a real browser: headless Chromium loads
//! `http://login.phishing.example/` (mapped to the page's loopback address),
//! and we check the text it rendered and save a screenshot.
//!
//! Needs Debian's `chromium`. Skipped with `SKIPPED:` when it is absent,
//! unless `PARAPET_REQUIRE_TOOLS` is set (CI), where it fails instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use crate::support::fixture_list;
use arc_swap::ArcSwap;
use parapet_resolver::SharedBlocklist;
use parapet_resolver::warning::{self, WarningListeners, WarningPageConfig};
use tokio_util::sync::CancellationToken;

/// Bound on one Chromium run; it is killed after this.
const BROWSER_DEADLINE: Duration = Duration::from_secs(90);

/// The Chromium binary, or `None` (after printing `SKIPPED:`) when absent
/// and not required.
fn chromium() -> Option<PathBuf> {
    parapet_test_support::tool_any(&["chromium", "chromium-browser"], "warning_browser")
}

/// Where the screenshot goes: `target/test-output/`.
fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(
            || PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
            Path::to_path_buf,
        )
        .join("test-output");
    std::fs::create_dir_all(&dir).expect("create target/test-output");
    dir
}

/// Run Chromium on `url` with `extra` arguments, every name under
/// `phishing.example` mapped to `page`. Returns stdout and stderr.
async fn run_chromium(
    browser: &Path,
    page: SocketAddr,
    url: &str,
    extra: &[String],
) -> (String, String) {
    let profile = tempfile::tempdir().expect("temp profile dir");
    let mut command = tokio::process::Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
            "--no-proxy-server",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        // The test names go to the page; every other name fails to
        // resolve, so the browser reaches nothing but loopback.
        .arg(format!(
            "--host-resolver-rules=MAP phishing.example {page}, MAP *.phishing.example {page}, EXCLUDE localhost, MAP * ~NOTFOUND"
        ))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = command.spawn().expect("start chromium");
    let pid = child.id();
    match tokio::time::timeout(BROWSER_DEADLINE, child.wait_with_output()).await {
        Ok(output) => {
            let output = output.expect("chromium ran");
            assert!(
                output.status.success(),
                "chromium failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            (
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        }
        Err(_) => {
            // Kill the whole process group (renderer, zygote, GPU helpers).
            if let Some(pid) = pid {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &format!("-{pid}")])
                    .status();
            }
            panic!("chromium did not finish within {BROWSER_DEADLINE:?}");
        }
    }
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((width, height))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_warning_for_a_blocked_site() {
    let Some(browser) = chromium() else { return };
    let config = WarningPageConfig {
        listen: Some(vec!["127.0.0.1:0".parse().unwrap()]),
        tls_listen: Some(vec![]),
        organisation: Some("Example Party".into()),
        contact: Some("the party's digital team".into()),
        contact_address: Some("security@party.example".into()),
        ..WarningPageConfig::default()
    };
    let listeners = WarningListeners::bind(&config, &[]).expect("bind loopback");
    let page = listeners.http_addrs()[0];
    let lists: SharedBlocklist = Arc::new(ArcSwap::from_pointee(fixture_list("phishing", false)));
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    tokio::spawn(warning::serve(listeners, config, lists, None, shutdown));

    let url = "http://login.phishing.example/account/verify";
    let (dom, _) = run_chromium(&browser, page, url, &["--dump-dom".into()]).await;
    let text: String = dom.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Warning: this site was blocked to protect you",
        "<strong>login.phishing.example</strong>",
        "as phishing: a site that pretends to be someone you trust",
        "The list is “test-feed”.",
        "Nothing from this site was loaded on your device.",
        "Do not enter passwords",
        "security@party.example",
    ] {
        assert!(
            text.contains(expected),
            "rendered DOM lacks {expected:?}:\n{dom}"
        );
    }

    let shot = output_dir().join("warning-page.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &browser,
        page,
        url,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=900,1300".into(),
        ],
    )
    .await;
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    let (width, height) = png_size(&png).expect("the screenshot is a PNG");
    assert!(
        width >= 800 && height >= 1000,
        "screenshot is {width}x{height}"
    );
    // A blank page compresses to a few hundred bytes; text and colour do not.
    assert!(
        png.len() > 10_000,
        "screenshot is only {} bytes: blank page?",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_gets_an_immediate_error_for_https() {
    let Some(browser) = chromium() else { return };
    let config = WarningPageConfig {
        listen: Some(vec![]),
        tls_listen: Some(vec!["127.0.0.1:0".parse().unwrap()]),
        ..WarningPageConfig::default()
    };
    let listeners = WarningListeners::bind(&config, &[]).expect("bind loopback");
    let tls = listeners.tls_addrs()[0];
    let lists: SharedBlocklist = Arc::new(ArcSwap::from_pointee(fixture_list("phishing", false)));
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    tokio::spawn(warning::serve(listeners, config, lists, None, shutdown));

    // A port that accepted and then said nothing would leave the browser
    // waiting until BROWSER_DEADLINE, failing the run.
    let (_, log) = run_chromium(
        &browser,
        tls,
        "https://login.phishing.example/",
        &["--dump-dom".into()],
    )
    .await;
    assert!(
        log.contains("ERR_CONNECTION_RESET"),
        "chromium did not report a reset:\n{log}"
    );
}

/// The browser reaches nothing but the names it was given: any other name
/// fails to resolve, even one (`*.localhost`) that Chromium would otherwise
/// send to loopback, where the page is listening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_resolves_no_other_name() {
    let Some(browser) = chromium() else { return };
    let config = WarningPageConfig {
        listen: Some(vec!["127.0.0.1:0".parse().unwrap()]),
        tls_listen: Some(vec![]),
        ..WarningPageConfig::default()
    };
    let listeners = WarningListeners::bind(&config, &[]).expect("bind loopback");
    let page = listeners.http_addrs()[0];
    let lists: SharedBlocklist = Arc::new(ArcSwap::from_pointee(fixture_list("phishing", false)));
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    tokio::spawn(warning::serve(listeners, config, lists, None, shutdown));

    let url = format!("http://escape.localhost:{}/", page.port());
    let (dom, log) = run_chromium(&browser, page, &url, &["--dump-dom".into()]).await;
    assert!(
        log.contains("ERR_NAME_NOT_RESOLVED"),
        "escape.localhost resolved:\n{log}\n{dom}"
    );
    assert!(!dom.contains("blocked"), "the page was reached:\n{dom}");
}
