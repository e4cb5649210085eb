//! The warning page for names blocked through their answer: a CNAME into a
//! listed name, a listed address, a private address. The list does not
//! hold these names, yet the page must say they were blocked, and why.

use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use hickory_proto::rr::rdata::{A, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_e2e::client::addresses;
use parapet_e2e::parapet::{BLOCK_TTL, SINKHOLE_V4, SINKHOLE_V6, WAIT};
use parapet_e2e::upstream::{ZONE_TTL, test_zone};
use parapet_e2e::{Parapet, Upstream, eventually, http};
use parapet_resolver::{Observer, QueryEvent};

/// The names of finished queries. The server's own observers (the warning
/// page's memory among them) hear of a query before this test's.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl Observer for Seen {
    fn observe(&self, e: &QueryEvent<'_>) {
        if let (Some(name), Ok(mut seen)) = (e.name, self.0.lock()) {
            seen.push(name.to_ascii());
        }
    }
}

impl Seen {
    /// Wait (within [`WAIT`]) until a query for `name` has finished.
    async fn wait_for(&self, name: &str) {
        let seen = || async { self.0.lock().map(|v| v.clone()).unwrap_or_default() };
        eventually(WAIT, seen, |v| v.iter().any(|n| n == name))
            .await
            .unwrap_or_else(|e| panic!("{name} not observed: {e}"));
    }
}

fn record(name: &str, data: RData) -> Record {
    let name = Name::from_str(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    Record::from_rdata(name, ZONE_TTL, data)
}

/// The test zone plus `cname.test` (CNAME to the listed
/// `phishing.example`), `flux.test` (A 203.0.113.66, on the IP list) and
/// `lan.test` (a private address).
async fn upstream() -> Upstream {
    let mut zone = test_zone();
    let target = Name::from_str("phishing.example.").expect("name");
    zone.push(record("cname.test.", RData::CNAME(CNAME(target))));
    zone.push(record(
        "flux.test.",
        RData::A(A(Ipv4Addr::new(192, 0, 2, 71))),
    ));
    zone.push(record(
        "flux.test.",
        RData::A(A(Ipv4Addr::new(203, 0, 113, 66))),
    ));
    zone.push(record(
        "lan.test.",
        RData::A(A(Ipv4Addr::new(192, 168, 1, 10))),
    ));
    Upstream::with_records(zone).await
}

/// The words of a page: the body without tags, apostrophes unescaped,
/// spaces collapsed.
fn flat(html: &str) -> String {
    let body = html.split_once("<body>").map_or(html, |(_, body)| body);
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&#39;", "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_explains_names_blocked_through_their_answer() -> anyhow::Result<()> {
    let up = upstream().await;
    let seen = Arc::new(Seen::default());
    let block = format!(
        "sinkhole_ipv4 = \"{SINKHOLE_V4}\"\nsinkhole_ipv6 = \"{SINKHOLE_V6}\"\nttl = {BLOCK_TTL}\n\
         private_answers = \"block\""
    );
    let p = Parapet::builder(up.addr())
        .section("block", &block)
        .observer(seen.clone())
        .start()
        .await?;
    let page = p.server().warning_page_addrs()[0];

    // (name, what the page must say)
    let cases: [(&str, &[&str]); 3] = [
        (
            "cname.test",
            &[
                "its address led to another site, phishing.example.",
                "It is on a list of known dangerous sites, as phishing",
                "The list is “phishing”.",
                "rule phishing.example, list phishing, category phishing \
                 (CNAME target phishing.example)",
            ],
        ),
        (
            "flux.test",
            &[
                "its address is 203.0.113.66.",
                "It is on a list of known dangerous addresses.",
                "The list is “ips”.",
                "rule 203.0.113.66, list ips (answer address 203.0.113.66)",
            ],
        ),
        (
            "lan.test",
            &[
                "The address of this site is 192.168.1.10, an address inside a private network",
                "(DNS rebinding)",
            ],
        ),
    ];
    for (name, expected) in cases {
        let msg = p.query(&format!("{name}."), RecordType::A).await?;
        assert_eq!(addresses(&msg), vec![SINKHOLE_V4], "{name} is sinkholed");
        seen.wait_for(&format!("{name}.")).await;

        // The browser follows the sinkhole answer to the page.
        let (status, body) = http::get(page, name, "/").await?;
        let text = flat(&body);
        assert_eq!(status, 403, "{name}: {text}");
        assert!(
            text.contains("Warning: this site was blocked to protect you"),
            "{name}: {text}"
        );
        assert!(
            text.contains(&format!("You tried to open {name}.")),
            "{name}: {text}"
        );
        for words in expected {
            assert!(text.contains(words), "{name}: missing {words:?} in {text}");
        }
        assert!(!text.contains("not blocked now"), "{name}: {text}");
    }

    // A name nobody was blocked for still gets the generic page.
    let (_, body) = http::get(page, "www.example", "/").await?;
    assert!(
        flat(&body).contains("That site is not blocked now."),
        "{body}"
    );

    let views = "parapet_warning_page_views_total{page=";
    assert_eq!(p.metric(&format!("{views}\"blocked\"}}")).await?, 3.0);
    assert_eq!(p.metric(&format!("{views}\"not_blocked\"}}")).await?, 1.0);
    Ok(())
}
