//! What the server takes as a list: URL feeds give their hosts, never a
//! shared host; a source that is mostly malformed is refused, naming its
//! lines, at start and at reload (the previous list keeps serving).

use hickory_proto::rr::RecordType;
use parapet_e2e::client::addresses;
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::{Parapet, Upstream};

/// An OpenPhish-style feed: phishing pages on their own hosts and on
/// shared hosts.
const URL_FEED: &str = "https://phishing.example/login/verify.php\nhttps://www.login-bank.example/x\nhttps://docs.google.com/forms/d/e/1FAIpQL/viewform\nhttps://bit.ly/3xYz\nhttp://203.0.113.9/x.exe\n";

/// An error page where a list should be: 4 malformed lines, 1 rule.
const NOT_A_LIST: &str = "<html>\n<head><title>502 Bad Gateway</title></head>\nevil.example\n<body>oops</body>\n</html>\n";

#[tokio::test]
async fn url_feed_blocks_its_own_hosts_and_no_shared_host() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section(
            "blocklist",
            r#"sources = [{ path = "openphish.txt", format = "urls", category = "phishing" }]"#,
        )
        .file("openphish.txt", URL_FEED)
        .start()
        .await?;
    for name in [
        "phishing.example.",
        "www.login-bank.example.",
        "a.phishing.example.",
    ] {
        let msg = p.query(name, RecordType::A).await?;
        assert_eq!(addresses(&msg), vec![SINKHOLE_V4], "{name}");
    }
    assert_eq!(up.queries(), 0, "blocked names are never forwarded");
    for name in ["docs.google.com.", "bit.ly.", "www.example."] {
        let msg = p.query(name, RecordType::A).await?;
        assert!(
            !addresses(&msg).contains(&SINKHOLE_V4.to_string()),
            "{name}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_mostly_malformed_source_is_refused_naming_its_lines() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let builder = Parapet::builder(up.addr())
        .section("blocklist", r#"sources = ["domains:feed.txt"]"#)
        .file("feed.txt", NOT_A_LIST);
    let Err(e) = builder.start().await else {
        anyhow::bail!("a server started on an error page as its list");
    };
    let e = format!("{e:#}");
    assert!(e.contains("4 malformed lines against 1 rules"), "{e}");
    assert!(e.contains("feed.txt:1: <html>"), "{e}");

    // At reload: refused, counted, and the list in service stays.
    let p = Parapet::builder(up.addr())
        .section("blocklist", r#"sources = ["domains:feed.txt"]"#)
        .file("feed.txt", "phishing.example\n")
        .start()
        .await?;
    p.replace_file("feed.txt", NOT_A_LIST)?;
    p.wait_reload(WAIT, |s| s.failures >= 1).await?;
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    Ok(())
}
