//! The warning page over real TCP on loopback: what a browser (or an
//! attacker) sending raw HTTP gets back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::support::fixture_list;
use arc_swap::ArcSwap;
use parapet_resolver::SharedBlocklist;
use parapet_resolver::metrics::Metrics;
use parapet_resolver::warning::{self, WarningListeners, WarningPageConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Upper bound for any single exchange; a hang fails the test.
const DEADLINE: Duration = Duration::from_secs(10);

fn page_config() -> WarningPageConfig {
    WarningPageConfig {
        listen: Some(vec!["127.0.0.1:0".parse().unwrap()]),
        tls_listen: Some(vec!["127.0.0.1:0".parse().unwrap()]),
        organisation: Some("Example Party".into()),
        contact: Some("the digital team".into()),
        contact_address: Some("security@party.example".into()),
        ..WarningPageConfig::default()
    }
}

/// A running warning page; stopped on drop.
struct Page {
    http: SocketAddr,
    tls: SocketAddr,
    lists: SharedBlocklist,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Page {
    fn start(config: WarningPageConfig) -> Page {
        let listeners = WarningListeners::bind(&config, &[]).expect("bind loopback");
        let http = listeners.http_addrs()[0];
        let tls = listeners.tls_addrs()[0];
        let lists: SharedBlocklist =
            Arc::new(ArcSwap::from_pointee(fixture_list("phishing", true)));
        let shutdown = CancellationToken::new();
        let metrics = Arc::new(Metrics::new());
        let task = tokio::spawn(warning::serve(
            listeners,
            config,
            lists.clone(),
            Some(metrics.clone()),
            shutdown.clone(),
        ));
        Page {
            http,
            tls,
            lists,
            metrics,
            shutdown,
            task: Some(task),
        }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A parsed response.
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Send raw bytes, read until the server closes, parse.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let raw = tokio::time::timeout(DEADLINE, async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        raw
    })
    .await
    .expect("server answered within the deadline");
    let text = String::from_utf8(raw).expect("response is UTF-8");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .expect("a complete response head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

async fn get(addr: SocketAddr, host: &str) -> Reply {
    exchange(
        addr,
        format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
    )
    .await
}

/// The visible text of the page, tags dropped and whitespace collapsed.
fn visible(html: &str) -> String {
    let body = html.split("<body>").nth(1).unwrap_or(html);
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" .", ".")
        .replace(" )", ")")
        .replace("( ", "(")
}

#[tokio::test]
async fn blocked_name_page_names_site_category_and_source() {
    let page = Page::start(page_config());
    let reply = get(page.http, "login.phishing.example").await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = reply
        .header("content-security-policy")
        .expect("a CSP header");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let text = visible(&reply.body);
    for expected in [
        "Warning: this site was blocked to protect you",
        "You tried to open login.phishing.example.",
        "as phishing: a site that pretends to be someone you trust",
        "The list is “test-feed”.",
        "Nothing from this site was loaded on your device.",
        "Do not enter passwords",
        "Tell the digital team (security@party.example) what happened",
        "the protective DNS service run by Example Party (parapet)",
        "The whole site phishing.example is blocked, including login.phishing.example.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }
    // Nothing is loaded from anywhere else.
    for forbidden in ["<script", "<img", "<link", "<iframe", "src=", "url("] {
        assert!(!reply.body.contains(forbidden), "{forbidden} in page");
    }
}

#[tokio::test]
async fn any_path_and_method_gets_the_page() {
    let page = Page::start(page_config());
    for request in [
        "GET /login/account?next=%2F HTTP/1.1\r\nHost: phishing.example\r\n\r\n",
        "POST /wp-login.php HTTP/1.1\r\nHost: phishing.example\r\nContent-Length: 9\r\n\r\nuser=test",
        "GET http://phishing.example/abs HTTP/1.1\r\nHost: example.org\r\n\r\n",
    ] {
        let reply = exchange(page.http, request.as_bytes()).await;
        assert_eq!(reply.status, 403, "{request}");
        assert!(
            visible(&reply.body).contains("You tried to open phishing.example."),
            "{request}"
        );
    }
}

#[tokio::test]
async fn reload_changes_the_page() {
    let page = Page::start(page_config());
    let before = visible(&get(page.http, "phishing.example").await.body);
    assert!(before.contains("as phishing:"), "{before}");
    page.lists.store(Arc::new(fixture_list("malware", true)));
    let after = visible(&get(page.http, "phishing.example").await.body);
    assert!(
        after.contains("as malware: a site that spreads harmful software"),
        "{after}"
    );
    assert!(!after.contains("phishing:"), "{after}");
}

#[tokio::test]
async fn head_has_the_headers_and_no_body() {
    let page = Page::start(page_config());
    let reply = exchange(
        page.http,
        b"HEAD / HTTP/1.1\r\nHost: phishing.example\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let length: usize = reply
        .header("content-length")
        .expect("content-length")
        .parse()
        .unwrap();
    assert!(
        length > 1000,
        "HEAD announces the page's length, got {length}"
    );
    assert_eq!(reply.body, "", "HEAD must not send a body");
}

#[tokio::test]
async fn generic_page_for_unblocked_ip_and_missing_host() {
    let page = Page::start(page_config());
    let cases = [
        (
            "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n".to_string(),
            "You asked for example.org. That site is not blocked now.",
        ),
        (
            "GET / HTTP/1.1\r\nHost: safe.phishing.example\r\n\r\n".to_string(),
            "You asked for safe.phishing.example. That site is not blocked now.",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", page.http),
            "This address belongs to the protective DNS service run by Example Party (parapet).",
        ),
        (
            "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n".to_string(),
            "This address belongs to the protective DNS service run by Example Party (parapet).",
        ),
        (
            "GET / HTTP/1.0\r\n\r\n".to_string(),
            "This address belongs to the protective DNS service run by Example Party (parapet).",
        ),
    ];
    for (request, expected) in cases {
        let reply = exchange(page.http, request.as_bytes()).await;
        assert_eq!(reply.status, 403, "{request}");
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let text = visible(&reply.body);
        assert!(text.contains(expected), "{request:?}: {text}");
        assert!(
            !text.contains("blocked to protect you"),
            "{request:?}: {text}"
        );
        assert!(
            text.contains("Questions? Contact the digital team (security@party.example)."),
            "{text}"
        );
    }
}

#[tokio::test]
async fn idn_host_shows_unicode_beside_the_a_label() {
    let page = Page::start(page_config());
    for host in ["xn--80ak6aa92e.com", "XN--80AK6AA92E.COM."] {
        let text = visible(&get(page.http, host).await.body);
        assert!(
            text.contains("You tried to open аррӏе.com (written out: xn--80ak6aa92e.com)"),
            "{text}"
        );
        assert!(text.contains("letters from other alphabets"), "{text}");
    }
}

#[tokio::test]
async fn hostile_hosts_are_escaped_and_cut() {
    let page = Page::start(page_config());
    let long = format!("{}.example", "a".repeat(4000));
    let cases: Vec<Vec<u8>> = vec![
        b"<script>alert(1)</script>".to_vec(),
        b"\"><img src=x onerror=alert(1)>".to_vec(),
        b"evil'.example\" onmouseover=\"alert(1)".to_vec(),
        long.clone().into_bytes(),
        b"\xff\xfe<b>bold</b>\x80.example".to_vec(),
    ];
    for host in cases {
        let mut request = b"GET / HTTP/1.1\r\nHost: ".to_vec();
        request.extend_from_slice(&host);
        request.extend_from_slice(b"\r\n\r\n");
        let reply = exchange(page.http, &request).await;
        assert_eq!(reply.status, 403, "{host:?}");
        for raw in ["<script>", "<img", "<b>", "onmouseover=\""] {
            assert!(!reply.body.contains(raw), "{raw} echoed raw for {host:?}");
        }
        assert!(
            visible(&reply.body).contains("which is not a valid site name"),
            "{host:?}"
        );
        assert!(
            !reply.body.contains(&"a".repeat(200)),
            "long host echoed in full"
        );
        assert!(
            reply.body.len() < 8000,
            "page grew with the input: {} bytes",
            reply.body.len()
        );
    }
    let reply = get(page.http, "<script>alert(1)</script>").await;
    assert!(
        reply.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        reply.body
    );

    // A head larger than the server reads is refused, and the server lives on.
    let huge = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", "a".repeat(64 * 1024));
    let mut stream = TcpStream::connect(page.http).await.unwrap();
    tokio::time::timeout(DEADLINE, async {
        let _ = stream.write_all(huge.as_bytes()).await;
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
        if !sink.is_empty() {
            let head = String::from_utf8_lossy(&sink);
            assert!(
                head.starts_with("HTTP/1.1 431") || head.starts_with("HTTP/1.1 400"),
                "{head}"
            );
        }
    })
    .await
    .expect("oversized request ended within the deadline");
    assert_eq!(get(page.http, "phishing.example").await.status, 403);
}

#[tokio::test]
async fn tls_port_resets_at_once() {
    let page = Page::start(page_config());
    let outcome = tokio::time::timeout(DEADLINE, async {
        let mut stream = TcpStream::connect(page.tls)
            .await
            .expect("connect to TLS port");
        // Send nothing: a plain close would read as end-of-file here; only
        // SO_LINGER 0 turns it into a reset.
        let mut buf = [0u8; 64];
        stream.read(&mut buf).await
    })
    .await
    .expect("TLS port answered within the deadline instead of hanging");
    let error = outcome.expect_err("the TLS port must reset, not answer or close cleanly");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let config = WarningPageConfig {
        header_timeout_secs: 1,
        ..page_config()
    };
    let page = Page::start(config);
    let mut stream = TcpStream::connect(page.http).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: phish")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut buf)).await;
    assert!(
        closed.is_ok(),
        "a client that never finishes its headers is disconnected"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains("blocked to protect you"), "{text}");
}

#[tokio::test]
async fn a_full_page_closes_the_longest_idle_connection_for_a_new_client() {
    let config = WarningPageConfig {
        max_connections: 2,
        header_timeout_secs: 30,
        ..page_config()
    };
    let page = Page::start(config);
    let mut idle = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(page.http).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        idle.push(stream);
    }
    // Both slots are held by clients that never finish their request; a
    // third is served at once (long before the 30 s header timeout)...
    let reply = get(page.http, "phishing.example").await;
    assert_eq!(reply.status, 403);
    // ...because the connection idle longest was closed for it.
    let mut buf = [0u8; 16];
    let oldest = tokio::time::timeout(DEADLINE, idle[0].read(&mut buf)).await;
    assert!(
        matches!(oldest, Ok(Ok(0) | Err(_))),
        "the oldest idle connection is still open: {oldest:?}"
    );
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let mut page = Page::start(page_config());
    page.shutdown.cancel();
    let task = page.task.take().unwrap();
    tokio::time::timeout(DEADLINE, task)
        .await
        .expect("serve returned after shutdown")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(page.http).await.is_err(),
        "listener closed"
    );
}

#[test]
fn explain_says_what_the_page_says() {
    let list = fixture_list("phishing", true);
    let config = page_config();
    let text = warning::explain(&list, "https://login.phishing.example/account", &config);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Warning: this site was blocked to protect you",
        "You tried to open login.phishing.example.",
        "as phishing: a site that pretends to be someone you trust",
        "The list is “test-feed”.",
        "Nothing from this site was loaded on your device.",
        "Tell the digital team (security@party.example) what happened",
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in {text}");
    }
    let not = warning::explain(&list, "example.org", &config);
    let flat_not = not.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat_not.starts_with("example.org is not blocked by the list in service."),
        "{not}"
    );
    // A block through the answer (CNAME, address) is the running server's
    // knowledge: explain says so rather than "not blocked" alone.
    assert!(
        flat_not.contains("explain looks nothing up, only the running server sees that"),
        "{not}"
    );
    let allowed = warning::explain(&list, "safe.phishing.example", &config);
    assert!(
        allowed.starts_with("safe.phishing.example is not blocked: an exception allows it"),
        "{allowed}"
    );
    let bad = warning::explain(&list, "<bad name>", &config);
    assert!(
        bad.contains("is not a valid site name or IP address"),
        "{bad}"
    );
}

#[test]
fn configured_address_in_use_is_an_error_naming_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let config = WarningPageConfig {
        listen: Some(vec![addr]),
        tls_listen: Some(vec![]),
        ..WarningPageConfig::default()
    };
    let error = WarningListeners::bind(&config, &[])
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!("warning_page.listen: cannot listen on {addr}: ")),
        "{error}"
    );
    assert!(error.contains("another program is using it"), "{error}");

    let config = WarningPageConfig {
        listen: Some(vec![]),
        tls_listen: Some(vec![addr]),
        ..WarningPageConfig::default()
    };
    let error = WarningListeners::bind(&config, &[])
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("warning_page.tls_listen: "), "{error}");
}

#[tokio::test]
async fn every_page_shown_is_counted_by_kind() {
    let page = Page::start(page_config());
    for host in [
        "login.phishing.example",
        "phishing.example",
        "safe.phishing.example",
        "example.org",
        "192.0.2.1",
    ] {
        assert_eq!(get(page.http, host).await.status, 403, "{host}");
    }
    let no_host = exchange(page.http, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(no_host.status, 403);
    let text = page.metrics.encode();
    for (kind, count) in [
        ("blocked", 2),
        ("not_blocked", 2),
        ("ip", 1),
        ("no_name", 1),
    ] {
        let line = format!("parapet_warning_page_views_total{{page=\"{kind}\"}} {count}");
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing in:\n{text}"
        );
    }
}
