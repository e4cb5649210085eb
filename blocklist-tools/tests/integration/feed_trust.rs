//! Feeds that cannot be rolled back or downgraded: signed copies must be
//! newer than the one in use and signed for this feed's file (keys and
//! signatures made by the real `minisign`); an `https://` feed never follows
//! a redirect to `http://`; a plain `http://` feed needs a pin or a key.

use std::process::Command;

use crate::feed_support::{FeedServer, Route, Setup, Signer, hosts, url_feed};
use parapet_blocklist::Blocklist;
use parapet_blocklist::feed::{FeedOutcome, FeedReport, UpdateReport};

fn only(report: &UpdateReport) -> &FeedReport {
    assert_eq!(report.feeds.len(), 1, "{:?}", report.feeds);
    &report.feeds[0]
}

fn assert_refused(feed: &FeedReport, needle: &str) {
    match &feed.outcome {
        FeedOutcome::Refused(reason) => {
            assert!(reason.contains(needle), "{reason:?} lacks {needle:?}")
        }
        other => panic!("expected Refused({needle}), got {other:?}"),
    }
}

fn blocks(setup: &Setup, name: &str) -> bool {
    Blocklist::open(&setup.artifact())
        .expect("published artifact opens")
        .check_name(name)
        .is_block()
}

/// Serve `body` and its signature at `/list.txt`.
fn serve_signed(server: &FeedServer, body: &[u8], signature: &[u8], tag: &str) {
    server.set_body("/list.txt", body, tag);
    server.set_body("/list.txt.minisig", signature, tag);
}

#[test]
fn signed_feed_cannot_be_rolled_back_or_swapped() {
    if parapet_test_support::tool("minisign", "signed_feed_cannot_be_rolled_back_or_swapped")
        .is_none()
    {
        return;
    }
    let signer = Signer::new();
    let server = FeedServer::start();
    let v1 = hosts(&["v1-phish.example"]);
    let v1_sig = signer.sign("list.txt", &v1, Some("timestamp:1700000000\tfile:list.txt"));
    // v2 carries minisign's default trusted comment: the signing time now.
    let v2 = hosts(&["v2-phish.example", "v2-other.example"]);
    let v2_sig = signer.sign("list.txt", &v2, None);
    assert!(
        String::from_utf8_lossy(&v2_sig).contains("\tfile:list.txt\thashed"),
        "minisign's default trusted comment changed"
    );
    let setup = Setup::new(&url_feed(
        "f",
        &server.url("/list.txt"),
        &format!("minisign_key = \"{}\"", signer.public_key()),
    ));

    serve_signed(&server, &v1, &v1_sig, "v1");
    assert_eq!(only(&setup.update(false)).outcome, FeedOutcome::Updated);
    assert!(blocks(&setup, "v1-phish.example"));
    serve_signed(&server, &v2, &v2_sig, "v2");
    assert_eq!(only(&setup.update(false)).outcome, FeedOutcome::Updated);
    assert!(blocks(&setup, "v2-phish.example"));

    // An attacker on the path replays yesterday's list with its valid signature.
    serve_signed(&server, &v1, &v1_sig, "v1-again");
    let report = setup.update(false);
    assert_refused(only(&report), "older than the copy in use");
    assert_eq!(only(&report).rules, Some(2), "last good copy kept");
    assert!(report.published.is_ok());
    assert!(blocks(&setup, "v2-phish.example"));
    assert!(!blocks(&setup, "v1-phish.example"));
    assert_eq!(std::fs::read(setup.state_body("f")).unwrap(), v2);

    // Another list signed with the same key, later, for another file.
    let other = hosts(&["other-feed.example"]);
    let other_sig = signer.sign("other.txt", &other, None);
    serve_signed(&server, &other, &other_sig, "other");
    assert_refused(only(&setup.update(false)), "signed for file \"other.txt\"");
    assert!(!blocks(&setup, "other-feed.example"));

    // The copy in use served again in full (no ETag match): unchanged.
    serve_signed(&server, &v2, &v2_sig, "v2-again");
    assert_eq!(only(&setup.update(false)).outcome, FeedOutcome::Unchanged);
    assert!(blocks(&setup, "v2-phish.example"));
}

#[test]
fn signature_without_a_timestamp_is_refused() {
    if parapet_test_support::tool("minisign", "signature_without_a_timestamp_is_refused").is_none()
    {
        return;
    }
    let signer = Signer::new();
    let server = FeedServer::start();
    let body = hosts(&["no-time.example"]);
    serve_signed(
        &server,
        &body,
        &signer.sign("list.txt", &body, Some("my list")),
        "t",
    );
    let setup = Setup::new(&url_feed(
        "f",
        &server.url("/list.txt"),
        &format!("minisign_key = \"{}\"", signer.public_key()),
    ));
    assert_refused(only(&setup.update(false)), "has no timestamp");
}

#[test]
fn https_feed_never_follows_a_redirect_to_http() {
    let plain = FeedServer::start_plain();
    plain.set_body("/list.txt", &hosts(&["downgraded.example"]), "p");
    let tls = FeedServer::start();
    tls.set("/to-http.txt", Route::Redirect(plain.url("/list.txt")));
    tls.set("/to-https.txt", Route::Redirect(tls.url("/list.txt")));
    tls.set_body("/list.txt", &hosts(&["moved.example"]), "t");

    let setup = Setup::new(&url_feed("f", &tls.url("/to-http.txt"), ""));
    let report = setup.update(false);
    match &only(&report).outcome {
        FeedOutcome::Failed(reason) => {
            assert!(reason.contains("never fetched over http://"), "{reason}")
        }
        other => panic!("expected a refused redirect, got {other:?}"),
    }
    assert!(
        plain.requests_for("/list.txt").is_empty(),
        "http was contacted"
    );
    assert!(report.published.is_err());

    // A redirect that stays on https is followed.
    let setup = Setup::new(&url_feed("f", &tls.url("/to-https.txt"), ""));
    assert_eq!(only(&setup.update(false)).outcome, FeedOutcome::Updated);
    assert!(blocks(&setup, "moved.example"));
}

#[test]
fn plain_http_feed_needs_a_pin_and_works_with_one() {
    let plain = FeedServer::start_plain();
    let body = hosts(&["pinned-over-http.example"]);
    plain.set_body("/list.txt", &body, "p");
    let setup = Setup::new(&url_feed("cleartext", &plain.url("/list.txt"), ""));
    let output = Command::new(env!("CARGO_BIN_EXE_parapet-blocklist"))
        .args(["update", "--config"])
        .arg(setup.config_path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("feeds[0] (cleartext): url:") && stderr.contains("neither sha256"),
        "{stderr}"
    );
    assert!(plain.requests_for("/list.txt").is_empty());

    let pin = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&body))
    };
    setup.write_config(&url_feed(
        "cleartext",
        &plain.url("/list.txt"),
        &format!("sha256 = \"{pin}\""),
    ));
    let report = setup.update(false);
    assert_eq!(only(&report).outcome, FeedOutcome::Updated);
    assert!(blocks(&setup, "pinned-over-http.example"));
}
