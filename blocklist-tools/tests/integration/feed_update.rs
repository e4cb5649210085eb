//! `parapet-blocklist update` against feeds served from a loopback HTTP
//! server started by each test.

use std::time::{Duration, Instant};

use crate::feed_support::{FeedServer, Route, Setup, fixture, hosts, names, url_feed};
use parapet_blocklist::Blocklist;
use parapet_blocklist::feed::{FeedOutcome, FeedReport};

fn only(report: &parapet_blocklist::feed::UpdateReport) -> &FeedReport {
    assert_eq!(report.feeds.len(), 1, "{:?}", report.feeds);
    &report.feeds[0]
}

fn assert_failed(feed: &FeedReport, needle: &str) {
    match &feed.outcome {
        FeedOutcome::Failed(reason) => {
            assert!(reason.contains(needle), "{reason:?} lacks {needle:?}")
        }
        other => panic!("expected Failed({needle}), got {other:?}"),
    }
}

fn assert_refused(feed: &FeedReport, needle: &str) {
    match &feed.outcome {
        FeedOutcome::Refused(reason) => {
            assert!(reason.contains(needle), "{reason:?} lacks {needle:?}")
        }
        other => panic!("expected Refused({needle}), got {other:?}"),
    }
}

/// A setup with one feed `f` at `/f.txt` already updated once to `first`.
fn with_good_copy(server: &FeedServer, first: &[&str], extra: &str) -> Setup {
    server.set_body("/f.txt", &hosts(first), "v1");
    let setup = Setup::new(&url_feed("f", &server.url("/f.txt"), extra));
    let report = setup.update(false);
    assert_eq!(only(&report).outcome, FeedOutcome::Updated);
    assert!(report.published.is_ok(), "{:?}", report.published);
    setup
}

fn blocks(setup: &Setup, name: &str) -> bool {
    Blocklist::open(&setup.artifact())
        .expect("published artifact opens")
        .check_name(name)
        .is_block()
}

#[test]
fn changed_feed_is_published_and_blocks_its_names() {
    let server = FeedServer::start();
    let setup = with_good_copy(&server, &["phish-one.example", "phish-two.example"], "");
    {
        let list = Blocklist::open(&setup.artifact()).unwrap();
        assert!(list.check_name("www.phish-one.example").is_block());
        assert!(!list.check_name("harmless.example").is_block());
        let stats = list.stats();
        assert_eq!(stats.domain_rules, 2);
        assert_eq!(stats.sources[0].0, "f");
        assert_eq!(stats.sources[0].1.as_deref(), Some("phishing"));
    }

    server.set_body(
        "/f.txt",
        &hosts(&["phish-one.example", "phish-three.example"]),
        "v2",
    );
    let report = setup.update(false);
    let feed = only(&report);
    assert_eq!(feed.outcome, FeedOutcome::Updated);
    assert_eq!((feed.rules, feed.previous_rules), (Some(2), Some(2)));
    assert!(blocks(&setup, "phish-three.example"));
    assert!(!blocks(&setup, "phish-two.example"));
}

#[test]
fn unchanged_feed_is_revalidated_with_etag_and_gets_304() {
    let server = FeedServer::start();
    let setup = with_good_copy(&server, &["phish-one.example"], "");
    let report = setup.update(false);
    assert_eq!(only(&report).outcome, FeedOutcome::Unchanged);
    assert_eq!(only(&report).rules, Some(1));
    assert!(report.published.is_ok());
    assert!(blocks(&setup, "phish-one.example"));
    let requests = server.requests_for("/f.txt");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].headers.get("if-none-match"), None);
    assert_eq!(
        requests[1].headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );
}

#[test]
fn unchanged_feed_is_revalidated_with_last_modified() {
    let server = FeedServer::start();
    let date = "Mon, 23 Nov 2026 10:00:00 GMT".to_string();
    server.set(
        "/f.txt",
        Route::Ok {
            body: hosts(&["phish-one.example"]),
            etag: None,
            last_modified: Some(date.clone()),
        },
    );
    let setup = Setup::new(&url_feed("f", &server.url("/f.txt"), ""));
    assert_eq!(only(&setup.update(false)).outcome, FeedOutcome::Updated);
    assert_eq!(only(&setup.update(false)).outcome, FeedOutcome::Unchanged);
    let requests = server.requests_for("/f.txt");
    assert_eq!(requests[1].headers.get("if-modified-since"), Some(&date));
}

#[test]
fn truncated_body_keeps_last_good_copy() {
    let server = FeedServer::start();
    let setup = with_good_copy(&server, &["phish-one.example"], "");
    let body = hosts(&["phish-one.example", "phish-two.example"]);
    server.set(
        "/f.txt",
        Route::Truncated {
            declared: body.len() + 500,
            body,
        },
    );
    let report = setup.update(false);
    assert_failed(only(&report), "reading body");
    assert_eq!(only(&report).rules, Some(1));
    assert!(report.published.is_ok());
    assert!(blocks(&setup, "phish-one.example"));
    assert!(!blocks(&setup, "phish-two.example"));
}

#[test]
fn garbage_body_keeps_last_good_copy() {
    let server = FeedServer::start();
    let setup = with_good_copy(&server, &["phish-one.example"], "");
    let garbage: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    server.set_body("/f.txt", &garbage, "junk");
    let report = setup.update(false);
    assert_failed(only(&report), "parse");
    assert_eq!(only(&report).rules, Some(1));
    assert!(blocks(&setup, "phish-one.example"));
}

#[test]
fn a_page_that_is_not_a_list_keeps_last_good_copy_and_names_its_lines() {
    let server = FeedServer::start();
    let setup = with_good_copy(&server, &["phish-one.example", "phish-two.example"], "");
    // An error page a proxy served instead: two lines happen to parse as
    // hosts entries, the rest do not (the same rule as compile and the server).
    let page = "<html><head><title>502 Bad Gateway</title></head>\n<body>\n\
                0.0.0.0 oops.example\n0.0.0.0 other.example\n\
                <h1>Bad Gateway</h1>\n<p>The upstream is down.</p>\n</body></html>\n";
    server.set_body("/f.txt", page.as_bytes(), "err");
    let report = setup.update(false);
    assert_failed(only(&report), "not a list");
    assert_failed(only(&report), "<h1>Bad Gateway</h1>");
    assert!(blocks(&setup, "phish-two.example"));
    assert!(!blocks(&setup, "oops.example"));
}

#[test]
fn body_over_the_size_cap_is_refused_while_streaming() {
    let server = FeedServer::start();
    let setup = with_good_copy(&server, &["phish-one.example"], "max_bytes = 1048576");
    server.set("/f.txt", Route::Endless);
    let report = setup.update(false);
    assert_failed(only(&report), "max_bytes");
    assert_eq!(only(&report).rules, Some(1));
    assert!(blocks(&setup, "phish-one.example"));
    assert!(!blocks(&setup, "endless.example"));
    // Nothing but the last good copy, its metadata and status and the
    // metrics file is left behind.
    let mut leftovers: Vec<String> = std::fs::read_dir(setup.state_body("f").parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    leftovers.sort();
    assert_eq!(leftovers, ["f.body", "f.meta", "f.status", "feeds.prom"]);
}

#[test]
fn declared_length_over_the_cap_is_refused_before_reading() {
    let server = FeedServer::start();
    let setup = Setup::new(&url_feed("f", &server.url("/f.txt"), "max_bytes = 100"));
    server.set_body(
        "/f.txt",
        &hosts(
            &names(50, "big.example")
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        ),
        "v1",
    );
    let report = setup.update(false);
    assert_failed(only(&report), "max_bytes");
    assert_eq!(only(&report).rules, None);
    assert!(report.published.is_err());
    assert!(!setup.artifact().exists());
}

#[test]
fn server_error_keeps_last_good_copy() {
    let server = FeedServer::start();
    let setup = with_good_copy(&server, &["phish-one.example"], "");
    server.set("/f.txt", Route::Status(500));
    let report = setup.update(false);
    assert_failed(only(&report), "HTTP 500");
    assert!(report.published.is_ok());
    assert!(blocks(&setup, "phish-one.example"));
}

#[test]
fn slow_server_times_out_within_bound() {
    let server = FeedServer::start();
    let setup = with_good_copy(&server, &["phish-one.example"], "timeout_secs = 1");
    server.set("/f.txt", Route::Slow);
    let started = Instant::now();
    let report = setup.update(false);
    let took = started.elapsed();
    assert!(
        matches!(only(&report).outcome, FeedOutcome::Failed(_)),
        "{report:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "took {took:?} with timeout_secs = 1"
    );
    assert!(blocks(&setup, "phish-one.example"));
}

#[test]
fn sha256_pin_refuses_any_other_body() {
    let server = FeedServer::start();
    let body = hosts(&["pinned.example"]);
    let good = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&body))
    };
    server.set_body("/f.txt", &body, "v1");
    let setup = Setup::new(&url_feed(
        "f",
        &server.url("/f.txt"),
        &format!("sha256 = \"{good}\""),
    ));
    assert_eq!(only(&setup.update(false)).outcome, FeedOutcome::Updated);

    server.set_body("/f.txt", &hosts(&["pinned.example", "other.example"]), "v2");
    let report = setup.update(false);
    assert_refused(only(&report), "does not match the pinned");
    assert!(blocks(&setup, "pinned.example"));
    assert!(!blocks(&setup, "other.example"));
}

fn signed_setup(server: &FeedServer, key_file: &str) -> Setup {
    let key = std::fs::read_to_string(fixture(key_file)).unwrap();
    let key = key.lines().nth(1).unwrap().to_string();
    Setup::new(&url_feed(
        "signed",
        &server.url("/signed-hosts.txt"),
        &format!("minisign_key = \"{key}\""),
    ))
}

#[test]
fn good_minisign_signature_is_accepted() {
    let server = FeedServer::start();
    server.set_body(
        "/signed-hosts.txt",
        &std::fs::read(fixture("signed-hosts.txt")).unwrap(),
        "s1",
    );
    server.set_body(
        "/signed-hosts.txt.minisig",
        &std::fs::read(fixture("signed-hosts.txt.minisig")).unwrap(),
        "m1",
    );
    let setup = signed_setup(&server, "signed-hosts.pub");
    let report = setup.update(false);
    assert_eq!(only(&report).outcome, FeedOutcome::Updated, "{report:?}");
    assert!(blocks(&setup, "signed-phish.example"));
}

#[test]
fn tampered_body_or_wrong_key_or_missing_signature_is_refused() {
    let server = FeedServer::start();
    let mut tampered = std::fs::read(fixture("signed-hosts.txt")).unwrap();
    tampered.extend_from_slice(b"0.0.0.0 google.com\n");
    let signature = std::fs::read(fixture("signed-hosts.txt.minisig")).unwrap();

    server.set_body("/signed-hosts.txt", &tampered, "t1");
    server.set_body("/signed-hosts.txt.minisig", &signature, "m1");
    let report = signed_setup(&server, "signed-hosts.pub").update(false);
    assert_refused(only(&report), "does not verify");
    assert_eq!(only(&report).rules, None);
    assert!(report.published.is_err());

    server.set_body(
        "/signed-hosts.txt",
        &std::fs::read(fixture("signed-hosts.txt")).unwrap(),
        "s1",
    );
    let report = signed_setup(&server, "other-key.pub").update(false);
    assert_refused(only(&report), "signature");

    server.set("/signed-hosts.txt.minisig", Route::Status(404));
    let report = signed_setup(&server, "signed-hosts.pub").update(false);
    assert_refused(only(&report), "HTTP 404");
}

#[test]
fn rule_count_drop_is_refused_unless_forced() {
    let server = FeedServer::start();
    let many = names(10, "drop.example");
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let setup = with_good_copy(&server, &many, "");
    server.set_body("/f.txt", &hosts(&many[..4]), "v2");
    let report = setup.update(false);
    assert_refused(only(&report), "fell from 10 to 4");
    assert_eq!(only(&report).rules, Some(10));
    assert!(blocks(&setup, "n9.drop.example"));

    let report = setup.update(true);
    assert_eq!(only(&report).outcome, FeedOutcome::Updated);
    assert_eq!(only(&report).rules, Some(4));
    assert!(!blocks(&setup, "n9.drop.example"));
    assert!(blocks(&setup, "n3.drop.example"));
}

#[test]
fn one_failing_feed_does_not_stop_the_others() {
    let server = FeedServer::start();
    server.set_body("/good.txt", &hosts(&["good-feed.example"]), "g1");
    server.set("/down.txt", Route::Status(503));
    let setup = Setup::new(&format!(
        "{}{}",
        url_feed("good", &server.url("/good.txt"), ""),
        url_feed("down", &server.url("/down.txt"), "")
    ));
    let report = setup.update(false);
    assert_eq!(report.feeds[0].outcome, FeedOutcome::Updated);
    assert_failed(&report.feeds[1], "HTTP 503");
    assert_eq!(report.feeds[1].rules, None);
    assert!(report.published.is_ok());
    assert!(blocks(&setup, "good-feed.example"));
}

#[test]
fn local_path_feed_and_gzip_body() {
    use std::io::Write;
    let server = FeedServer::start();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&hosts(&["zipped.example"])).unwrap();
    server.set_body("/z.txt.gz", &gz.finish().unwrap(), "z1");
    let setup = Setup::new("");
    std::fs::write(
        setup.dir.path().join("local.txt"),
        hosts(&["local-only.example"]),
    )
    .unwrap();
    setup.write_config(&format!(
        "{}[[feeds]]\nname = \"local\"\npath = \"local.txt\"\nmatch = \"exact\"\n",
        url_feed("zipped", &server.url("/z.txt.gz"), "")
    ));
    let report = setup.update(false);
    assert_eq!(report.feeds[0].outcome, FeedOutcome::Updated, "{report:?}");
    assert_eq!(report.feeds[1].outcome, FeedOutcome::Updated, "{report:?}");
    assert!(blocks(&setup, "www.zipped.example"));
    assert!(blocks(&setup, "local-only.example"));
    assert!(!blocks(&setup, "www.local-only.example"), "match = exact");
    let report = setup.update(false);
    assert_eq!(report.feeds[1].outcome, FeedOutcome::Unchanged);
}

#[test]
fn local_path_feed_checks_its_minisig_file() {
    let setup = Setup::new("");
    let dir = setup.dir.path();
    for file in ["signed-hosts.txt", "signed-hosts.txt.minisig"] {
        std::fs::copy(fixture(file), dir.join(file)).unwrap();
    }
    let key = std::fs::read_to_string(fixture("signed-hosts.pub")).unwrap();
    let key = key.lines().nth(1).unwrap().to_string();
    setup.write_config(&format!(
        "[[feeds]]\nname = \"signed\"\npath = \"signed-hosts.txt\"\nminisign_key = \"{key}\"\n"
    ));
    assert_eq!(only(&setup.update(false)).outcome, FeedOutcome::Updated);
    assert!(blocks(&setup, "login.signed-bank.example"));

    let mut text = std::fs::read_to_string(dir.join("signed-hosts.txt")).unwrap();
    text.push_str("0.0.0.0 injected.example\n");
    std::fs::write(dir.join("signed-hosts.txt"), text).unwrap();
    let report = setup.update(false);
    assert_refused(only(&report), "does not verify");
    assert!(!blocks(&setup, "injected.example"));
}
