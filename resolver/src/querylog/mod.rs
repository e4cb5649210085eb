//! The query log: an opt-in JSON-lines record of queries for incident
//! response, with privacy controls.
//!
//! Off by default. When on, `mode = "blocks"` (the default) logs only
//! blocked queries and `mode = "all"` every query; client addresses are
//! logged `full`, `truncated` (the default: /24, /56), `hashed` (keyed
//! HMAC-SHA-256) or `none` ([`client`]).
//!
//! The query path only builds a [`QueryRecord`] when [`QueryLog::wants`] the
//! outcome and hands it to a bounded channel with `try_send`; a separate
//! [`Writer`] task formats and writes the lines. When the writer falls
//! behind, records are dropped and counted
//! (`parapet_querylog_records_dropped_total`), never waited for.
//! [`QueryLog::reopen`] (called on SIGHUP) makes the writer reopen its file,
//! so logrotate can rename it away.
//!
//! One line per record, fields omitted when empty:
//! ```json
//! {"time":"2026-11-23T11:42:07.123Z","client":"192.0.2.0/24","protocol":"udp","name":"login.evil.example","type":"A","outcome":"blocked","trigger":"name","rule":"evil.example","source":"urlhaus","category":"malware"}
//! ```
//!
//! A DoH request refused for its token (`mode = "all"`) has no query:
//! `"name":".","type":"NULL","outcome":"refused","reason":"revoked"`.

pub(crate) mod client;
mod observer;
mod record;
mod writer;

use std::sync::Arc;

use tokio::sync::{Notify, mpsc};

use crate::config::query_log::{HashKey, LogMode, QueryLogConfig};
use crate::metrics::{Metrics, OutcomeKind};
pub use client::ClientFormat;
use record::LogTarget;
pub use record::QueryRecord;
pub(crate) use writer::Writer;

/// The query path's handle on the query log: cheap to clone; a disabled
/// log costs one branch per query.
#[derive(Debug, Clone, Default)]
pub struct QueryLog {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    mode: LogMode,
    tx: mpsc::Sender<QueryRecord>,
    reopen: Arc<Notify>,
    metrics: Arc<Metrics>,
}

impl QueryLog {
    /// A log that records nothing (`[query_log] enabled = false`).
    pub fn disabled() -> Self {
        QueryLog { inner: None }
    }

    /// Open the log's file (so a bad path is a start-up error) and create
    /// the handle and its writer; spawn [`Writer::run`]. Ignores
    /// `config.enabled`: see [`QueryLog::start`].
    ///
    /// # Errors
    /// The file cannot be opened for appending, or (hashed mode without a
    /// key) the system random generator failed.
    pub fn open(
        config: &QueryLogConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(QueryLog, Writer)> {
        let clients = ClientFormat::new(
            config.client_addresses,
            config.hash_key.as_ref().map(HashKey::as_bytes),
        )
        .map_err(|_| std::io::Error::other("no randomness for the query-log hash key"))?;
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let reopen = Arc::new(Notify::new());
        let writer = Writer::open(
            LogTarget::from_path(config.path.as_deref()),
            clients,
            rx,
            Arc::clone(&reopen),
            Arc::clone(&metrics),
        )?;
        let log = QueryLog {
            inner: Some(Arc::new(Inner {
                mode: config.mode,
                tx,
                reopen,
                metrics,
            })),
        };
        Ok((log, writer))
    }

    /// The log `config` asks for: [`QueryLog::disabled`] unless
    /// `config.enabled`; otherwise opened, with its writer spawned. Cancel
    /// `stop` once no more queries are answered (the writer then writes
    /// what is queued and ends: await the returned task).
    ///
    /// # Errors
    /// As [`QueryLog::open`].
    pub fn start(
        config: &QueryLogConfig,
        metrics: Arc<Metrics>,
        stop: tokio_util::sync::CancellationToken,
    ) -> std::io::Result<(QueryLog, Option<tokio::task::JoinHandle<()>>)> {
        if !config.enabled {
            return Ok((QueryLog::disabled(), None));
        }
        let (log, writer) = QueryLog::open(config, metrics)?;
        Ok((log, Some(tokio::spawn(writer.run(stop)))))
    }

    /// Whether the log is on.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Whether a query with `outcome` is logged. Check this before building
    /// a [`QueryRecord`].
    pub fn wants(&self, outcome: OutcomeKind) -> bool {
        match &self.inner {
            None => false,
            Some(inner) => {
                inner.mode == LogMode::All
                    || matches!(outcome, OutcomeKind::Blocked | OutcomeKind::Lookalike)
            }
        }
    }

    /// Hand a record to the writer without waiting; when the writer is
    /// behind (channel full) or gone, the record is dropped and counted.
    pub fn log(&self, record: QueryRecord) {
        if let Some(inner) = &self.inner
            && inner.tx.try_send(record).is_err()
        {
            inner.metrics.record_querylog_dropped();
        }
    }

    /// Ask the writer to reopen its file (after logrotate renamed it).
    /// Returns at once; the writer reopens before its next write.
    pub fn reopen(&self) {
        if let Some(inner) = &self.inner {
            inner.reopen.notify_one();
        }
    }
}

#[cfg(test)]
mod tests;
