//! The warning page as part of parapet: started by the server from the
//! `[warning_page]` config, fed by the live list and its reloader, and the
//! `parapet explain` verb speaking the page's words.

use std::time::{Duration, Instant};

use parapet_resolver::ServerBuilder;
use parapet_resolver::config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Upper bound for waits; a hang fails the test.
const DEADLINE: Duration = Duration::from_secs(15);

/// A config in `dir` whose list is `list.txt` (category phishing). Every
/// listener binds port 0 (`[metrics]` too: its default is the fixed
/// `127.0.0.1:9153`, which another process may hold).
fn config_text(warning_page: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\n\
         [upstream]\nservers = [\"127.0.0.1:9\"]\n\
         [blocklist]\nsources = [{{ path = \"list.txt\", name = \"party-feed\", category = \"phishing\" }}]\n\
         [block]\nsinkhole_ipv4 = \"127.0.0.1\"\n\
         [warning_page]\n{warning_page}\n"
    )
}

async fn page_text(addr: std::net::SocketAddr, host: &str) -> String {
    page_at(addr, host, "/").await
}

async fn page_at(addr: std::net::SocketAddr, host: &str, path: &str) -> String {
    tokio::time::timeout(DEADLINE, async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        String::from_utf8(raw).expect("UTF-8")
    })
    .await
    .expect("page answered within the deadline")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parapet_serves_the_page_and_a_reload_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list.txt"), "phishing.example\n").unwrap();
    let text = config_text(
        "listen = [\"127.0.0.1:0\"]\norganisation = \"Example Party\"\ncontact = \"the digital team\"",
    );
    let cfg = config::from_toml_str(&text, dir.path()).expect("config is valid");
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let server = ServerBuilder::new(cfg)
        .start(shutdown.clone())
        .await
        .expect("parapet starts");
    let addr = *server
        .warning_page_addrs()
        .first()
        .expect("the warning page listens");

    let page = page_text(addr, "www.phishing.example").await;
    assert!(page.starts_with("HTTP/1.1 403"), "{page}");
    assert!(
        page.contains("You tried to open <strong>www.phishing.example</strong>"),
        "{page}"
    );
    assert!(page.contains("The list is “party-feed”."), "{page}");
    assert!(page.contains("run by Example Party"), "{page}");

    // Replace the list: phishing.example is no longer on it.
    std::fs::write(dir.path().join("list.txt"), "other.example\n").unwrap();
    server.reload().trigger();
    let start = Instant::now();
    loop {
        let page = page_text(addr, "www.phishing.example").await;
        if page.contains("That site is not blocked now") {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the page still warns after the reload: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = page_text(addr, "other.example").await;
    assert!(
        page.contains("You tried to open <strong>other.example</strong>"),
        "{page}"
    );

    shutdown.cancel();
    tokio::time::timeout(DEADLINE, server.wait())
        .await
        .expect("parapet stopped within the deadline")
        .expect("clean stop");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "warning page closed on shutdown"
    );
}

#[test]
fn bad_warning_page_config_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list.txt"), "phishing.example\n").unwrap();
    let error = config::from_toml_str(&config_text("max_connections = 0"), dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("warning_page.max_connections: must be at least 1"),
        "{error}"
    );
    let error = config::from_toml_str(&config_text("colour = \"red\""), dir.path())
        .unwrap_err()
        .to_string();
    assert!(error.contains("colour"), "{error}");
}

#[test]
fn explain_verb_prints_the_page_words() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list.txt"), "phishing.example\n").unwrap();
    let config_path = dir.path().join("parapet.toml");
    std::fs::write(
        &config_path,
        config_text(
            "listen = []\ncontact = \"the digital team\"\ncontact_address = \"it@party.example\"",
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_parapet"))
        .args(["explain", "--config"])
        .arg(&config_path)
        .args(["https://login.phishing.example/verify", "example.org"])
        .output()
        .expect("run parapet explain");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let flat = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Warning: this site was blocked to protect you",
        "You tried to open login.phishing.example.",
        "as phishing: a site that pretends to be someone you trust",
        "The list is “party-feed”.",
        "Nothing from this site was loaded on your device.",
        "Tell the digital team (it@party.example) what happened",
        "rule phishing.example, list party-feed, category phishing",
        "example.org is not blocked by the list in service.",
    ] {
        assert!(
            flat.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_parapet"))
        .args(["explain", "phishing.example"])
        .output()
        .expect("run parapet explain");
    assert_eq!(output.status.code(), Some(2), "no config is a usage error");
}

/// The README's `[warning_page]` example is a valid section.
#[test]
fn readme_warning_page_example_parses() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let examples: Vec<&str> = readme
        .split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter_map(|block| block.strip_prefix("[warning_page]\n"))
        .collect();
    assert!(!examples.is_empty(), "README has a [warning_page] example");
    for body in examples {
        let section: parapet_resolver::warning::WarningPageConfig =
            toml::from_str(body).unwrap_or_else(|e| panic!("README example: {e}\n{body}"));
        assert!(section.issues().is_empty(), "{body}");
    }
}

/// The status page is for the networks the resolver serves (`[access]
/// allow`); the check page is for everyone who reaches the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_is_refused_outside_the_access_list() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list.txt"), "phishing.example\n").unwrap();
    let served_here = |allow: &str| {
        let text = config_text("listen = [\"127.0.0.1:0\"]\norganisation = \"Example Party\"");
        let text = format!("{text}[access]\nallow = [\"{allow}\"]\n");
        config::from_toml_str(&text, dir.path()).expect("config is valid")
    };
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    for (allow, allowed) in [("10.0.0.0/8", false), ("127.0.0.0/8", true)] {
        let server = ServerBuilder::new(served_here(allow))
            .start(shutdown.clone())
            .await
            .expect("parapet starts");
        let addr = server.warning_page_addrs()[0];
        for host in ["check.parapet.test", "127.0.0.1"] {
            let page = page_at(addr, host, "/status").await;
            if allowed {
                assert!(page.starts_with("HTTP/1.1 200"), "{page}");
                assert!(page.contains("<h1>parapet status</h1>"), "{page}");
            } else {
                assert!(page.starts_with("HTTP/1.1 403"), "{page}");
                assert!(page.contains("Not available from here"), "{page}");
                assert!(!page.contains("Recently blocked"), "{page}");
            }
        }
        let page = page_at(addr, "check.parapet.test", "/").await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("This device is protected"), "{page}");
        // `/status` on any other host is the warning page's business.
        let page = page_at(addr, "www.phishing.example", "/status").await;
        assert!(page.contains("You tried to open"), "{page}");
    }
}
