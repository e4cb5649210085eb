//! parapet started in-process on an ephemeral loopback port, with its
//! config and lists in a temporary directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use parapet_resolver::reload::{ReloadHandle, ReloadStatus};
use parapet_resolver::{Observer, RunningServer, ServerBuilder};
use tokio_util::sync::CancellationToken;

use crate::client::{self, QueryOptions, Transport};
use crate::lists;

/// Default deadline for waiting on a condition (reload, start).
pub const WAIT: Duration = Duration::from_secs(10);

/// Builds a test instance: a config made of sections (each replaceable)
/// and files written into the instance's directory before start.
///
/// The default config listens on `127.0.0.1:0`, forwards to the given
/// upstream with a 1 s timeout, uses [`crate::lists`] as sources, answers
/// A with [`SINKHOLE_V4`] and AAAA with [`SINKHOLE_V6`], serves only
/// loopback, has no rate limit, and puts metrics and the warning page on
/// `127.0.0.1:0` so parallel tests never collide.
pub struct ParapetBuilder {
    sections: Vec<(String, String)>,
    files: Vec<(String, Vec<u8>)>,
    observers: Vec<Arc<dyn Observer>>,
}

/// Sinkhole address of the default test config.
pub const SINKHOLE_V4: &str = "192.0.2.53";
/// IPv6 sinkhole of the default test config.
pub const SINKHOLE_V6: &str = "2001:db8::53";
/// TTL of synthesised answers in the default test config.
pub const BLOCK_TTL: u32 = 42;

impl ParapetBuilder {
    /// The default config forwarding to `upstream`.
    pub fn new(upstream: SocketAddr) -> Self {
        let sections = [
            ("server", "listen = [\"127.0.0.1:0\"]".to_string()),
            (
                "upstream",
                format!("servers = [\"{upstream}\"]\ntimeout_ms = 1000"),
            ),
            ("blocklist", lists::SOURCES_SECTION.to_string()),
            (
                "block",
                format!(
                    "sinkhole_ipv4 = \"{SINKHOLE_V4}\"\nsinkhole_ipv6 = \"{SINKHOLE_V6}\"\nttl = {BLOCK_TTL}"
                ),
            ),
            (
                "access",
                "allow = [\"127.0.0.0/8\", \"::1/128\"]\nrate_limit_qps = 0".to_string(),
            ),
            ("metrics", "listen = \"127.0.0.1:0\"".to_string()),
            ("warning_page", "listen = [\"127.0.0.1:0\"]".to_string()),
        ];
        ParapetBuilder {
            sections: sections
                .into_iter()
                .map(|(h, b)| (h.to_string(), b))
                .collect(),
            files: lists::default_files(),
            observers: Vec::new(),
        }
    }

    /// Replace (or add) the body of section `[header]`, e.g.
    /// `.section("block", "action = \"nxdomain\"")`. Tables-of-arrays such as
    /// `[[feeds]]` can be passed with header `"[feeds]"`.
    pub fn section(mut self, header: &str, body: &str) -> Self {
        match self.sections.iter_mut().find(|(h, _)| h == header) {
            Some(s) => s.1 = body.to_string(),
            None => self.sections.push((header.to_string(), body.to_string())),
        }
        self
    }

    /// Remove section `[header]` so its defaults apply.
    pub fn without_section(mut self, header: &str) -> Self {
        self.sections.retain(|(h, _)| h != header);
        self
    }

    /// Write (or replace) a file in the instance directory before start.
    pub fn file(mut self, name: &str, contents: impl AsRef<[u8]>) -> Self {
        self.files.retain(|(n, _)| n != name);
        self.files
            .push((name.to_string(), contents.as_ref().to_vec()));
        self
    }

    /// Add an observer of finished queries.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// The config text that [`ParapetBuilder::start`] will use.
    pub fn toml(&self) -> String {
        let mut out = String::new();
        for (h, b) in &self.sections {
            out.push_str(&format!("[{h}]\n{b}\n\n"));
        }
        out
    }

    /// Write the files and config, start parapet, and return once it serves.
    pub async fn start(self) -> Result<Parapet> {
        let dir = tempfile::tempdir().context("tempdir")?;
        for (name, contents) in &self.files {
            std::fs::write(dir.path().join(name), contents)
                .with_context(|| format!("write {name}"))?;
        }
        let text = self.toml();
        let config_path = dir.path().join("parapet.toml");
        std::fs::write(&config_path, &text).context("write config")?;
        let config = parapet_resolver::config::load(&config_path)
            .map_err(|e| anyhow!("test config refused: {e}\n--- config ---\n{text}"))?;
        let shutdown = CancellationToken::new();
        let mut builder = ServerBuilder::new(config);
        for o in self.observers {
            builder = builder.observer(o);
        }
        let server = builder
            .start(shutdown.clone())
            .await
            .map_err(|e| anyhow!("parapet did not start: {e}"))?;
        Ok(Parapet {
            addr: server.udp_addrs()[0],
            server: Some(server),
            shutdown,
            dir,
        })
    }
}

/// A running in-process parapet. Stops when dropped.
pub struct Parapet {
    addr: SocketAddr,
    server: Option<RunningServer>,
    shutdown: CancellationToken,
    dir: tempfile::TempDir,
}

impl Parapet {
    /// Start with the default test config forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<Parapet> {
        ParapetBuilder::new(upstream).start().await
    }

    /// A builder to change the default config first.
    pub fn builder(upstream: SocketAddr) -> ParapetBuilder {
        ParapetBuilder::new(upstream)
    }

    /// Address parapet answers on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The instance directory (config and lists).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Path of a file in the instance directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The running server (handler, reload handle, addresses).
    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server running until drop")
    }

    /// The value of the sample `series` (name and labels, as written in
    /// the exposition) in a scrape of `/metrics`; 0 when absent.
    pub async fn metric(&self, series: &str) -> Result<f64> {
        let addr = self
            .server()
            .metrics_addr()
            .ok_or_else(|| anyhow::anyhow!("metrics off"))?;
        let (_, body) = crate::http::get(addr, "127.0.0.1", "/metrics").await?;
        Ok(body
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0))
    }

    /// Reload control and counters.
    pub fn reload(&self) -> &ReloadHandle {
        self.server().reload()
    }

    /// Replace a file atomically (write a temporary file, then rename), as
    /// feed updates do.
    pub fn replace_file(&self, name: &str, contents: impl AsRef<[u8]>) -> Result<()> {
        let tmp = self.path(&format!(".{name}.tmp"));
        std::fs::write(&tmp, contents).context("write temp file")?;
        std::fs::rename(&tmp, self.path(name)).context("rename")?;
        Ok(())
    }

    /// Wait until the reload counters satisfy `cond`, or fail after `within`.
    pub async fn wait_reload(
        &self,
        within: Duration,
        cond: impl Fn(&ReloadStatus) -> bool,
    ) -> Result<ReloadStatus> {
        let mut rx = self.reload().subscribe();
        let fut = async {
            loop {
                let now = *rx.borrow_and_update();
                if cond(&now) {
                    return Ok(now);
                }
                if rx.changed().await.is_err() {
                    return Err(anyhow!("reloader stopped"));
                }
            }
        };
        tokio::time::timeout(within, fut).await.map_err(|_| {
            anyhow!(
                "reload condition not met within {within:?}; status {:?}",
                self.reload().status()
            )
        })?
    }

    /// UDP query with EDNS.
    pub async fn query(&self, name: &str, rtype: RecordType) -> Result<Message> {
        client::query(self.addr, name, rtype, &QueryOptions::default()).await
    }

    /// TCP query with EDNS.
    pub async fn query_tcp(&self, name: &str, rtype: RecordType) -> Result<Message> {
        let opts = QueryOptions {
            transport: Transport::Tcp,
            ..QueryOptions::default()
        };
        client::query(self.addr, name, rtype, &opts).await
    }

    /// Query with explicit options.
    pub async fn query_with(
        &self,
        name: &str,
        rtype: RecordType,
        opts: &QueryOptions,
    ) -> Result<Message> {
        client::query(self.addr, name, rtype, opts).await
    }

    /// Stop and wait for the server to finish.
    pub async fn stop(mut self) -> Result<()> {
        self.shutdown.cancel();
        if let Some(s) = self.server.take() {
            s.wait()
                .await
                .map_err(|e| anyhow!("server stopped with error: {e}"))?;
        }
        Ok(())
    }
}

impl Drop for Parapet {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Poll an async condition until it holds or `within` passes; returns the
/// last value for the error message. For conditions without a notifier.
pub async fn eventually<T, F, Fut>(
    within: Duration,
    mut probe: F,
    ok: impl Fn(&T) -> bool,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
    T: std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let v = probe().await;
        if ok(&v) {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(anyhow!(
                "condition not met within {within:?}; last value {v:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
