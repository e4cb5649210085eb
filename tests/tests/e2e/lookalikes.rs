//! Look-alikes of protected domains over real DNS: sinkholed with EDE 15
//! naming the imitated domain, never forwarded or served from a cache;
//! `action = "log"` forwards and reports them; `allow` lets neighbours by.

use std::sync::{Arc, Mutex};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_e2e::client::{addresses, ede, rcode};
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::{Parapet, Upstream, eventually};
use parapet_resolver::{Observer, Outcome, QueryEvent};

/// Collects (name, outcome, matched) of finished queries.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Outcome, Option<String>)>>);

impl Observer for Recorder {
    fn observe(&self, e: &QueryEvent<'_>) {
        let name = e.name.map(|n| n.to_ascii()).unwrap_or_default();
        if let Ok(mut v) = self.0.lock() {
            v.push((name, e.outcome, e.matched.map(str::to_string)));
        }
    }
}

impl Recorder {
    /// Every event for `name` once `n` have arrived (observers run after
    /// the answer is sent).
    async fn events_for(&self, name: &str, n: usize) -> Vec<(Outcome, Option<String>)> {
        let of = || async {
            let v = self.0.lock().map(|v| v.clone()).unwrap_or_default();
            v.into_iter()
                .filter(|(q, _, _)| q == name)
                .map(|(_, o, m)| (o, m))
                .collect::<Vec<_>>()
        };
        eventually(WAIT, of, |v| v.len() >= n)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookalike_of_a_default_domain_is_sinkholed_with_ede_naming_it() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let recorder = Arc::new(Recorder::default());
    let p = Parapet::builder(up.addr())
        .observer(recorder.clone())
        .start()
        .await?;
    // Twice over UDP (the second would meet the fast path and the answer
    // cache) and once over TCP, as a homograph A-label too.
    let homograph = "xn--gmil-63d.com."; // gmаil.com, Cyrillic а
    for name in ["gmaill.com.", "gmaill.com.", homograph] {
        let msg = p.query(name, RecordType::A).await?;
        assert_eq!(rcode(&msg), ResponseCode::NoError, "{name}");
        assert_eq!(addresses(&msg), vec![SINKHOLE_V4], "{name}");
        let (code, text) = ede(&msg).expect("EDE present");
        assert_eq!(code, 15);
        assert_eq!(text, "Blocked: lookalike (imitates gmail.com)", "{name}");
    }
    let msg = p.query_tcp("login-gmail.com.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    assert_eq!(up.queries(), 0, "a look-alike is never forwarded");
    let events = recorder.events_for("gmaill.com.", 2).await;
    for (outcome, matched) in events {
        assert!(
            matches!(outcome, Outcome::Lookalike { blocked: true, .. }),
            "{outcome:?}"
        );
        assert_eq!(matched.as_deref(), Some("gmail.com"));
    }
    // The real one is forwarded (the test zone has no gmail.com: NXDOMAIN).
    let msg = p.query("gmail.com.", RecordType::A).await?;
    assert_eq!(rcode(&msg), ResponseCode::NXDomain);
    assert_eq!(up.queries(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_protected_domain_and_allowed_neighbour() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section(
            "lookalikes",
            "protect = [\"party.example.org.uk\"]\nallow = [\"party-example.org\"]",
        )
        .start()
        .await?;
    for name in ["partyexample.co.uk.", "party.example.org.uk.evil.com."] {
        let msg = p.query(name, RecordType::A).await?;
        assert_eq!(addresses(&msg), vec![SINKHOLE_V4], "{name}");
        let (_, text) = ede(&msg).expect("EDE present");
        assert!(text.contains("imitates party.example.org.uk"), "{text}");
    }
    assert_eq!(up.queries(), 0);
    for name in [
        "www.party.example.org.uk.",
        "party-example.org.",
        "www.example.",
    ] {
        let msg = p.query(name, RecordType::A).await?;
        assert_ne!(addresses(&msg), vec![SINKHOLE_V4], "{name}");
        assert!(ede(&msg).is_none(), "{name}");
    }
    assert_eq!(
        up.queries(),
        3,
        "protected, allowed and unrelated names are forwarded"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_action_forwards_and_reports_every_time() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let recorder = Arc::new(Recorder::default());
    let p = Parapet::builder(up.addr())
        .section("lookalikes", "action = \"log\"")
        .observer(recorder.clone())
        .start()
        .await?;
    for _ in 0..2 {
        let msg = p.query("gmaill.com.", RecordType::A).await?;
        assert_eq!(rcode(&msg), ResponseCode::NXDomain, "forwarded as is");
        assert!(ede(&msg).is_none());
    }
    let events = recorder.events_for("gmaill.com.", 2).await;
    for (outcome, matched) in events {
        assert!(
            matches!(outcome, Outcome::Lookalike { blocked: false, .. }),
            "{outcome:?}"
        );
        assert_eq!(matched.as_deref(), Some("gmail.com"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloaded_protected_set_applies_even_to_cached_names() -> anyhow::Result<()> {
    use parapet_resolver::reload::reload_lookalikes as reload;
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let name = "partyexample.co.uk.";
    // Not protected yet: forwarded, and its answer cached.
    for _ in 0..2 {
        let msg = p.query(name, RecordType::A).await?;
        assert_eq!(rcode(&msg), ResponseCode::NXDomain);
    }
    let config = p.path("parapet.toml");
    let text = std::fs::read_to_string(&config)?;
    let shared = p.server().handler().lookalikes();
    std::fs::write(
        &config,
        format!("{text}\n[lookalikes]\nprotect = [\"party.example.org.uk\"]\n"),
    )?;
    assert!(reload(&config, shared), "a good config is taken");
    let msg = p.query(name, RecordType::A).await?;
    assert_eq!(
        addresses(&msg),
        vec![SINKHOLE_V4],
        "the cached answer is not served"
    );
    // A bad set is refused and the one in service stays.
    std::fs::write(
        &config,
        format!("{text}\n[lookalikes]\nprotect = [\"http://party\"]\n"),
    )?;
    assert!(!reload(&config, shared), "a bad config is refused");
    let msg = p.query(name, RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warning_page_says_which_site_is_imitated() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let page = p.server().warning_page_addrs()[0];
    let (status, body) = parapet_e2e::http::get(page, "gmaill.com", "/").await?;
    assert_eq!(status, 403, "the blocked page");
    assert!(
        body.contains("This site&#39;s name imitates gmail.com; the real one is gmail.com")
            || body.contains("This site's name imitates gmail.com; the real one is gmail.com"),
        "{body}"
    );
    assert!(
        body.contains("lookalikes"),
        "the reference names the source"
    );
    let (_, body) = parapet_e2e::http::get(page, "gmail.com", "/").await?;
    assert!(
        !body.contains("imitates"),
        "the real one is not a look-alike"
    );
    Ok(())
}
