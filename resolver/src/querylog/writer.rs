//! The query-log writer task: formats records as JSON lines and writes them
//! in batches, off the query path; reopens its file on request.

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::client::ClientFormat;
use super::record::{LogTarget, QueryRecord};
use crate::metrics::Metrics;

/// Records written per batch (one `write` and one flush).
const MAX_BATCH: usize = 256;

/// Writes query-log records; run it with [`Writer::run`].
#[derive(Debug)]
pub struct Writer {
    target: LogTarget,
    sink: Sink,
    clients: ClientFormat,
    rx: mpsc::Receiver<QueryRecord>,
    reopen: Arc<Notify>,
    metrics: Arc<Metrics>,
    /// Whether the last write failed (to warn once per failure streak).
    failing: bool,
}

#[derive(Debug)]
enum Sink {
    Stdout(tokio::io::Stdout),
    File(tokio::fs::File),
}

/// Create the log's directory (mode 0750) when it is missing, as the
/// systemd unit's `LogsDirectory` does: a config naming
/// `/var/log/parapet/queries.log` then starts outside systemd too.
fn create_parent(path: &std::path::Path) -> io::Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o750);
    builder.create(dir).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!(
                "query log {}: cannot create {}: {error}",
                path.display(),
                dir.display()
            ),
        )
    })
}

impl Sink {
    fn open(target: &LogTarget) -> io::Result<Sink> {
        match target {
            LogTarget::Stdout => Ok(Sink::Stdout(tokio::io::stdout())),
            LogTarget::File(path) => {
                create_parent(path)?;
                let mut options = std::fs::OpenOptions::new();
                options.create(true).append(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
                let file = options.open(path).map_err(|error| {
                    io::Error::new(
                        error.kind(),
                        format!("query log {}: {error}", path.display()),
                    )
                })?;
                Ok(Sink::File(tokio::fs::File::from_std(file)))
            }
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout(out) => {
                out.write_all(bytes).await?;
                out.flush().await
            }
            Sink::File(file) => {
                file.write_all(bytes).await?;
                file.flush().await
            }
        }
    }
}

impl Writer {
    pub(super) fn open(
        target: LogTarget,
        clients: ClientFormat,
        rx: mpsc::Receiver<QueryRecord>,
        reopen: Arc<Notify>,
        metrics: Arc<Metrics>,
    ) -> io::Result<Writer> {
        let sink = Sink::open(&target)?;
        Ok(Writer {
            target,
            sink,
            clients,
            rx,
            reopen,
            metrics,
            failing: false,
        })
    }

    /// Write records until `shutdown` is cancelled (then write what is
    /// queued) or every [`super::QueryLog`] handle is gone.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = self.reopen.notified() => self.reopen_sink(),
                record = self.rx.recv() => {
                    let Some(record) = record else { return };
                    self.write_batch(record, &mut buf).await;
                }
            }
        }
        // Shutting down: write what is already queued, within a bound.
        let drain = async {
            while let Ok(record) = self.rx.try_recv() {
                self.write_batch(record, &mut buf).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    }

    fn reopen_sink(&mut self) {
        if self.target == LogTarget::Stdout {
            return;
        }
        match Sink::open(&self.target) {
            Ok(sink) => {
                self.sink = sink;
                self.failing = false;
                info!("query log reopened");
            }
            Err(error) => warn!(%error, "query log: reopen failed, still writing to the old file"),
        }
    }

    /// Format `first` and whatever else is queued (up to [`MAX_BATCH`]) and
    /// write them with one call.
    async fn write_batch(&mut self, first: QueryRecord, buf: &mut Vec<u8>) {
        buf.clear();
        format_line(&first, &self.clients, buf);
        let mut count = 1u64;
        while count < MAX_BATCH as u64 {
            let Ok(record) = self.rx.try_recv() else {
                break;
            };
            format_line(&record, &self.clients, buf);
            count += 1;
        }
        match self.sink.write_all(buf).await {
            Ok(()) => {
                self.failing = false;
                for _ in 0..count {
                    self.metrics.record_querylog_written();
                }
            }
            Err(error) => {
                if !self.failing {
                    warn!(%error, "query log: write failed; dropping records until it recovers");
                    self.failing = true;
                }
                for _ in 0..count {
                    self.metrics.record_querylog_dropped();
                }
            }
        }
    }
}

/// One JSON line as written.
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    protocol: &'static str,
    name: &'a str,
    #[serde(rename = "type")]
    qtype: String,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// `time` in RFC 3339, UTC, always to the millisecond (fixed width):
/// `2026-11-23T11:42:07.123Z`.
fn rfc3339_millis(time: SystemTime) -> String {
    let t = OffsetDateTime::from(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Append `record` to `buf` as one JSON line.
pub(super) fn format_line(record: &QueryRecord, clients: &ClientFormat, buf: &mut Vec<u8>) {
    let name = record.name.trim_end_matches('.');
    let line = Line {
        time: rfc3339_millis(record.time),
        client: clients.format(record.client),
        protocol: record.protocol.as_str(),
        name: if name.is_empty() { "." } else { name },
        qtype: record.qtype.to_string(),
        outcome: record.outcome.as_str(),
        trigger: record.trigger.map(|t| t.as_str()),
        rule: record.rule.as_deref(),
        source: record.source.as_deref(),
        category: record.category.as_deref(),
        upstream_ms: record
            .upstream
            .map(|d| (d.as_secs_f64() * 1e6).round() / 1e3),
        reason: record.reason.map(|r| r.as_str()),
    };
    // Serialising plain strings and numbers into a Vec cannot fail.
    if serde_json::to_writer(&mut *buf, &line).is_ok() {
        buf.push(b'\n');
    }
}
