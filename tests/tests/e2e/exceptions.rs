//! Exceptions have a scope: an exception inside a list cancels that list's
//! own blocks only and never switches off answer inspection; a source marked
//! `allow = true` allows across lists. Public-suffix allows are refused.

use hickory_proto::rr::RecordType;
use parapet_e2e::client::addresses;
use parapet_e2e::parapet::SINKHOLE_V4;
use parapet_e2e::{Parapet, Upstream};

/// A block list in hosts format (replaces the default `phishing.txt`).
const BLOCKS: &str =
    "0.0.0.0 phishing.example\n0.0.0.0 login-bank.com\n0.0.0.0 secure-paypa1.com\n";
/// An adblock feed trying to unblock the other lists' names and a whole
/// TLD, and excepting two names it blocks itself: one whose answer is a
/// CNAME to a listed name, one whose answer holds a listed address.
const FEED: &str = "[Adblock Plus]\n||ads.example^\n@@||phishing.example^\n@@||login-bank.com^\n||cloaked.example^\n@@||cloaked.example^\n||flux.example^\n@@||flux.example^\n@@||com^\n";

async fn start(feed_allow: bool) -> anyhow::Result<(Upstream, Parapet)> {
    let up = Upstream::start().await;
    let sources = format!(
        r#"sources = [
  {{ path = "phishing.txt", category = "phishing" }},
  {{ path = "feed.txt", format = "adblock", allow = {feed_allow} }},
  "ip:ips.txt",
]"#
    );
    let p = Parapet::builder(up.addr())
        .section("blocklist", &sources)
        .file("phishing.txt", BLOCKS)
        .file("feed.txt", FEED)
        .start()
        .await?;
    Ok((up, p))
}

async fn a(p: &Parapet, name: &str) -> anyhow::Result<Vec<String>> {
    Ok(addresses(&p.query(name, RecordType::A).await?))
}

#[tokio::test]
async fn an_exception_in_a_feed_unblocks_nothing_of_another_list() -> anyhow::Result<()> {
    let (_up, p) = start(false).await?;
    for name in [
        "phishing.example.",
        "www.phishing.example.",
        "login-bank.com.",
        "secure-paypa1.com.",
        "ads.example.",
    ] {
        assert_eq!(a(&p, name).await?, vec![SINKHOLE_V4], "{name}");
    }
    // Excepted names are still forwarded and their answers inspected: a
    // CNAME into a listed name, an answer holding a listed address.
    assert_eq!(a(&p, "cloaked.example.").await?, vec![SINKHOLE_V4]);
    assert_eq!(a(&p, "flux.example.").await?, vec![SINKHOLE_V4]);
    assert_eq!(a(&p, "www.example.").await?, vec!["192.0.2.10"]);
    Ok(())
}

#[tokio::test]
async fn the_same_exceptions_in_an_allowlist_source_allow() -> anyhow::Result<()> {
    let (_up, p) = start(true).await?;
    assert_eq!(a(&p, "phishing.example.").await?, vec!["192.0.2.66"]);
    let allowed = a(&p, "login-bank.com.").await?;
    assert!(!allowed.contains(&SINKHOLE_V4.to_string()), "{allowed:?}");
    // An allowlisted name's answer passes uninspected.
    assert!(
        a(&p, "cloaked.example.")
            .await?
            .contains(&"192.0.2.66".to_string())
    );
    // `@@||com^` is refused even in an allowlist: other .com blocks stand.
    assert_eq!(a(&p, "secure-paypa1.com.").await?, vec![SINKHOLE_V4]);
    Ok(())
}
