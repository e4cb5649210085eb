//! First boot, offline: a config whose compiled list (`[blocklist] path`)
//! does not exist yet still starts and serves DNS (forwarding, reserved
//! names), says "no list" in metrics and on the check page, and starts
//! blocking as soon as the update publishes the artifact (by rename).

use anyhow::{Context, Result};
use hickory_proto::rr::RecordType;
use parapet_blocklist::{CompileOptions, Compiler, Format, SourceSpec};
use parapet_e2e::client::addresses;
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::{Parapet, Upstream, eventually, http};

/// An artifact blocking `phishing.example`, from a feed named `test-feed`.
fn artifact() -> Vec<u8> {
    let mut spec = SourceSpec::new("/var/lib/parapet/feeds/test-feed.txt");
    spec.name = "test-feed".into();
    spec.format = Some(Format::Domains);
    spec.category = Some("phishing".into());
    let mut c = Compiler::new(CompileOptions::default());
    c.add_reader(&spec, "phishing.example\n".as_bytes())
        .expect("compiles");
    c.to_bytes().expect("artifact")
}

/// The `parapet_list_loaded` sample of a scrape.
async fn list_loaded(p: &Parapet) -> Result<String> {
    let addr = p.server().metrics_addr().context("metrics on")?;
    let (_, body) = http::get(addr, "127.0.0.1", "/metrics").await?;
    Ok(body
        .lines()
        .find(|l| l.starts_with("parapet_list_loaded "))
        .unwrap_or_default()
        .to_string())
}

/// Wait until `phishing.example` gets the sinkhole (the list is in service).
async fn wait_blocked(p: &Parapet) -> Result<()> {
    let got = eventually(
        WAIT,
        || async {
            p.query("phishing.example.", RecordType::A)
                .await
                .map(|m| addresses(&m))
                .unwrap_or_default()
        },
        |got| got == &[SINKHOLE_V4],
    )
    .await?;
    assert_eq!(got, [SINKHOLE_V4]);
    Ok(())
}

async fn check_page(p: &Parapet) -> Result<(u16, String)> {
    let addr = p.server().warning_page_addrs()[0];
    http::get(addr, "check.parapet.test", "/").await
}

#[tokio::test]
async fn missing_artifact_serves_dns_then_picks_the_list_up() -> Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section("blocklist", "path = \"parapet.pbl\"")
        .start()
        .await?;

    // DNS is up: forwarding, reserved names; nothing is blocked.
    let msg = p.query("www.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), ["192.0.2.10"]);
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), ["192.0.2.66"], "no list, no block");
    let msg = p.query("check.parapet.test.", RecordType::A).await?;
    assert_eq!(addresses(&msg), [SINKHOLE_V4]);
    let msg = p.query("blocked.parapet.test.", RecordType::A).await?;
    assert_eq!(addresses(&msg), [SINKHOLE_V4]);
    assert_eq!(list_loaded(&p).await?, "parapet_list_loaded 0");
    let (status, page) = check_page(&p).await?;
    assert_eq!(status, 200);
    assert!(page.contains("Not protected yet: no list"), "{page}");

    // The update publishes the artifact by rename.
    let tmp = p.path("parapet.pbl.tmp");
    std::fs::write(&tmp, artifact())?;
    std::fs::rename(&tmp, p.path("parapet.pbl"))?;
    wait_blocked(&p).await?;
    assert_eq!(list_loaded(&p).await?, "parapet_list_loaded 1");
    let (_, page) = check_page(&p).await?;
    assert!(page.contains("This device is protected"), "{page}");
    // The warning page names the list by its feed name.
    let addr = p.server().warning_page_addrs()[0];
    let (status, page) = http::get(addr, "phishing.example", "/").await?;
    assert_eq!(status, 403);
    assert!(page.contains("The list is “test-feed”."), "{page}");
    Ok(())
}

/// A hand install: the list's folder itself does not exist at start (the
/// package creates `/var/lib/parapet`; someone following the README on
/// another system may not). The first update creates the folder and the
/// artifact; the server picks the list up without a SIGHUP.
#[tokio::test]
async fn missing_list_folder_is_watched_for_and_the_list_picked_up() -> Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section("blocklist", "path = \"state/parapet.pbl\"")
        .start()
        .await?;
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), ["192.0.2.66"], "no list, no block");

    std::fs::create_dir(p.path("state"))?;
    let tmp = p.path("state/parapet.pbl.tmp");
    std::fs::write(&tmp, artifact())?;
    std::fs::rename(&tmp, p.path("state/parapet.pbl"))?;
    wait_blocked(&p).await?;
    assert_eq!(list_loaded(&p).await?, "parapet_list_loaded 1");
    Ok(())
}
