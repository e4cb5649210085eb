//! Every config in `config/` starts as shipped: installed the way the README
//! says (the file as `parapet.toml`, `config/lists` beside it as `lists`),
//! only `[upstream] servers` pointed at the test's upstream, inside a
//! network namespace that has the config's own addresses (`192.168.1.2`,
//! `10.8.0.1`, `203.0.113.10`) and real ports (53, 80, 9153). Each listener
//! answers DNS over UDP and TCP, IPv4 and IPv6 among them, and the warning
//! page and metrics answer HTTP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, ensure};
use hickory_proto::rr::RecordType;
use parapet_e2e::client::{self, QueryOptions, Transport, addresses};
use parapet_e2e::{Upstream, http, netns};
use parapet_resolver::ServerBuilder;
use tokio_util::sync::CancellationToken;

/// The addresses the shipped configs name, added to `lo` in the namespace.
pub const CONFIG_ADDRS: &[&str] = &["192.168.1.2/32", "10.8.0.1/32", "203.0.113.10/32"];
/// Names the config to start inside the namespace.
const CONFIG_ENV: &str = "PARAPET_SHIPPED_CONFIG";
/// `www.example`'s address in the test zone (forwarded, not blocked).
const ALLOWED: &str = "192.0.2.10";

/// The shipped configs' directory.
pub fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config")
}

/// Every `*.toml` in `config/`.
fn config_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(config_dir())
        .expect("config/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_config_starts_as_shipped() {
    let files = config_files();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        // One namespace per config: each gets the real ports to itself.
        let inner = "shipped_configs::inside_the_shipped_config_serves";
        if !netns::run_inside(inner, CONFIG_ADDRS, &[(CONFIG_ENV, &file)]) {
            return;
        }
    }
}

#[tokio::test]
#[ignore = "runs inside a network namespace, started by every_shipped_config_starts_as_shipped"]
async fn inside_the_shipped_config_serves() -> Result<()> {
    if !netns::inside() {
        return Ok(());
    }
    let file = std::env::var(CONFIG_ENV)?;
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir()?;
    let config_path = install(&file, dir.path(), upstream.addr())?;
    serves(&config_path)
        .await
        .with_context(|| format!("config/{file}"))
}

/// Install `config/<file>` into `etc` as the README says (the file as
/// `parapet.toml`, `config/lists` as `lists`), its upstream pointed at
/// `upstream`. Returns the config path.
pub fn install(file: &str, etc: &Path, upstream: SocketAddr) -> Result<PathBuf> {
    let text = std::fs::read_to_string(config_dir().join(file))?;
    install_text(&text, etc, upstream)
}

/// [`install`] for config text `text` (a shipped config, edited). A config
/// that serves a compiled artifact (`[blocklist] path`, where the update
/// timer publishes the real feeds) gets one compiled from the sample lists
/// in `etc`, and only that path changes: the test runs offline.
pub fn install_text(text: &str, etc: &Path, upstream: SocketAddr) -> Result<PathBuf> {
    let path = etc.join("parapet.toml");
    let lists = etc.join("lists");
    std::fs::create_dir(&lists)?;
    for entry in std::fs::read_dir(config_dir().join("lists"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), lists.join(entry.file_name()))?;
    }
    let text = with_test_artifact(&with_upstream(text, upstream)?, etc)?;
    std::fs::write(&path, text)?;
    Ok(path)
}

/// `text` as is, or, when it serves a compiled artifact (`[blocklist]
/// path`, where the update timer publishes the real feeds), with that path
/// pointed at one compiled from `config/lists`' samples into `dir`.
pub fn with_test_artifact(text: &str, dir: &Path) -> Result<String> {
    let table: toml::Table = toml::from_str(text)?;
    if table.get("blocklist").and_then(|b| b.get("path")).is_none() {
        return Ok(text.to_string());
    }
    let local = dir.join("parapet.pbl");
    compile_samples(&config_dir().join("lists"), &local)?;
    with_artifact(text, &local)
}

/// `text` with `[blocklist] path` set to `artifact`.
fn with_artifact(text: &str, artifact: &Path) -> Result<String> {
    let path = toml::Value::String(artifact.display().to_string());
    with_key(text, "blocklist", "path", path)
}

/// `text` with `[section] key` set to `value`; nothing else changes (the
/// TOML is re-rendered from its parsed form).
fn with_key(text: &str, section: &str, key: &str, value: toml::Value) -> Result<String> {
    let mut table: toml::Table = toml::from_str(text)?;
    table
        .get_mut(section)
        .and_then(toml::Value::as_table_mut)
        .ok_or_else(|| anyhow!("no [{section}] section"))?
        .insert(key.into(), value);
    Ok(toml::to_string(&table)?)
}

/// Compile `config/lists`' samples (as `config/dev.toml` names them) into
/// `out`, as `parapet-blocklist update` would publish the feeds.
pub fn compile_samples(lists: &Path, out: &Path) -> Result<()> {
    use parapet_blocklist::{CompileOptions, Compiler, Format, SourceSpec};
    let mut compiler = Compiler::new(CompileOptions::default());
    let sources = [
        ("sample-phishing.txt", Some("phishing"), false, None),
        ("sample-malware.txt", Some("malware"), false, None),
        ("sample-allow.txt", None, true, None),
        ("sample-ips.txt", None, false, Some(Format::Ip)),
    ];
    for (file, category, allow, format) in sources {
        let spec = SourceSpec {
            category: category.map(str::to_string),
            allow,
            format,
            ..SourceSpec::new(lists.join(file))
        };
        compiler.add_source(&spec)?;
    }
    compiler.write_file(out)?;
    Ok(())
}

/// `text` with `[upstream] servers` replaced by `upstream`; nothing else
/// changes (the TOML is re-rendered from its parsed form).
pub fn with_upstream(text: &str, upstream: SocketAddr) -> Result<String> {
    let servers = toml::Value::Array(vec![toml::Value::String(upstream.to_string())]);
    with_key(text, "upstream", "servers", servers)
}

/// Start the config at `path` and check every listener it opened.
async fn serves(path: &Path) -> Result<()> {
    let config = parapet_resolver::config::load(path).map_err(|e| anyhow!("{e}"))?;
    let sinkhole = config.block.sinkhole_ipv4.to_string();
    let shutdown = CancellationToken::new();
    let server = ServerBuilder::new(config)
        .start(shutdown.clone())
        .await
        .map_err(|e| anyhow!("does not start: {e}"))?;
    let mut families = (false, false);
    for &addr in server.udp_addrs() {
        let target = reachable(addr);
        families.0 |= target.is_ipv4();
        families.1 |= target.is_ipv6();
        for transport in [Transport::Udp, Transport::Tcp] {
            let opts = QueryOptions {
                transport,
                ..QueryOptions::default()
            };
            let blocked = client::query(target, "phishing.example.", RecordType::A, &opts).await?;
            ensure!(
                addresses(&blocked) == [sinkhole.as_str()],
                "{target} {transport:?}: blocked name got {:?}",
                addresses(&blocked)
            );
            let allowed = client::query(target, "www.example.", RecordType::A, &opts).await?;
            ensure!(
                addresses(&allowed) == [ALLOWED],
                "{target} {transport:?}: www.example got {:?}",
                addresses(&allowed)
            );
        }
    }
    ensure!(families == (true, true), "not served over IPv4 and IPv6");
    let pages = server.warning_page_addrs();
    ensure!(!pages.is_empty(), "no warning page");
    for &page in pages {
        let (status, body) = http::get(reachable(page), "phishing.example", "/").await?;
        ensure!(
            status == 403 && body.contains("phishing.example"),
            "warning page on {page}: {status}"
        );
    }
    if let Some(metrics) = server.metrics_addr() {
        let (status, body) = http::get(reachable(metrics), "localhost", "/metrics").await?;
        ensure!(
            status == 200 && body.contains("parapet_"),
            "metrics: {status}"
        );
    }
    shutdown.cancel();
    server.wait().await.map_err(|e| anyhow!("{e}"))
}

/// Where to reach a listener bound to `addr`: loopback for a wildcard.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}
