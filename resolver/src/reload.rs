//! Hot reload of the blocklist: on a change to the artifact or source files
//! (notify, debounced) and on demand (SIGHUP, [`ReloadHandle::trigger`]).
//!
//! A new list is built or mapped on a blocking thread, off the query path,
//! checked, and swapped in atomically ([`SharedBlocklist`]); queries in
//! flight keep the snapshot they started with. A bad new list is refused,
//! logged and counted, and the previous one keeps serving. On a reload, a
//! block source that had rules in the list in service and now has none (a
//! file emptied or truncated under parapet) counts as a bad list too
//! ([`ReloadError::Emptied`]).

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::{EventKind, RecursiveMode, Watcher};
use parapet_blocklist::feed::DEFAULT_MAX_DROP_PERCENT;
use parapet_blocklist::{Blocklist, CompileOptions, SourceReport, SourceSpec, Stats};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{BlocklistConfig, ListSource};
use crate::list::SharedBlocklist;
use crate::lookalike::{Lookalikes, SharedLookalikes};

/// Quiet time after the last file event before reloading: editors and
/// feed updates write in several steps.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(250);

/// Why a list was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The engine refused the artifact or a source.
    #[error(transparent)]
    List(#[from] parapet_blocklist::Error),
    /// A source produced mostly malformed lines: probably not a list at all
    /// (a truncated download, an HTML error page). The text names the first
    /// malformed lines ([`SourceReport::refusal`], the rule that
    /// `check-config` and `parapet-blocklist compile` apply too).
    #[error("{0}")]
    Garbage(String),
    /// On a reload, a block source that has rules in the list in service
    /// has none in the new one: an emptied or truncated file, most likely
    /// caught mid-write. Its protection must not lapse; a source may be
    /// empty only from start-up on.
    #[error(
        "{}: source {source_name} went from {before} rules to 0 (emptied or truncated?); \
         its rules stay in service (to empty it on purpose, restart parapet)",
        .path.display()
    )]
    Emptied {
        /// The source's name.
        source_name: String,
        /// The source's file.
        path: PathBuf,
        /// Its rules in the list in service.
        before: u64,
    },
    /// The build thread failed.
    #[error("list build task failed: {0}")]
    Task(String),
}

/// Counters of the reloader, observable by tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadStatus {
    /// Lists put in service so far (the initial load is 1).
    pub generation: u64,
    /// Reloads refused so far.
    pub failures: u64,
}

/// Control of a running reloader. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ReloadHandle {
    tx: mpsc::UnboundedSender<()>,
    status: watch::Receiver<ReloadStatus>,
}

impl ReloadHandle {
    /// Ask for a reload now (what SIGHUP does).
    pub fn trigger(&self) {
        let _ = self.tx.send(());
    }

    /// The current counters.
    pub fn status(&self) -> ReloadStatus {
        *self.status.borrow()
    }

    /// A receiver that changes whenever a reload succeeds or fails.
    pub fn subscribe(&self) -> watch::Receiver<ReloadStatus> {
        self.status.clone()
    }
}

/// Build or read the configured list (blocking: call it off the query path).
pub fn load(config: &BlocklistConfig) -> Result<Blocklist, ReloadError> {
    build(config, None)
}

/// [`load`] for a reload: raw sources are also checked against the list in
/// service (see [`check_shrink`]).
fn build(
    config: &BlocklistConfig,
    in_service: Option<&Blocklist>,
) -> Result<Blocklist, ReloadError> {
    let options = CompileOptions {
        force_public_suffix: config.force_public_suffix,
    };
    match &config.source {
        ListSource::Artifact(path) => Ok(Blocklist::open(path)?),
        ListSource::Sources(specs) => {
            let (list, reports) = Blocklist::compile(specs, options)?;
            check_reports(&reports)?;
            if let Some(old) = in_service {
                check_shrink(specs, &reports, &old.stats())?;
            }
            Ok(list)
        }
        ListSource::Empty => Ok(Blocklist::compile(&[], options)?.0),
    }
}

fn check_reports(reports: &[SourceReport]) -> Result<(), ReloadError> {
    for r in reports {
        if let Some(why) = r.refusal() {
            return Err(ReloadError::Garbage(why));
        }
        if r.skipped > 0 {
            let first = r.errors.first();
            warn!(
                source = %r.name,
                skipped = r.skipped,
                first_line = first.map_or(0, |e| e.line),
                first_reason = first.map_or("", |e| e.reason.as_str()),
                "skipped malformed lines"
            );
        }
    }
    Ok(())
}

/// Compare each source's rules with its rules in the list in service
/// (`in_service`, built from the same `specs`, so sources match by
/// position). A block source that falls to zero is refused: an emptied
/// file is far more likely a truncation or a half-done write than a
/// wish to drop its protection. An allowlist may empty (that only blocks
/// more). A fall beyond the feed updater's [`DEFAULT_MAX_DROP_PERCENT`] is
/// logged, not refused: these files are edited by hand, with no `force`.
fn check_shrink(
    specs: &[SourceSpec],
    reports: &[SourceReport],
    in_service: &Stats,
) -> Result<(), ReloadError> {
    let old = in_service
        .sources
        .iter()
        .map(|(name, _, _, rules)| (name, *rules));
    for ((spec, r), (old_name, before)) in specs.iter().zip(reports).zip(old) {
        let after = r.domain_rules + r.ip_rules;
        if *old_name != r.name || after >= before {
            continue;
        }
        if after == 0 && !spec.allow {
            return Err(ReloadError::Emptied {
                source_name: r.name.clone(),
                path: r.path.clone(),
                before,
            });
        }
        let max = u64::from(DEFAULT_MAX_DROP_PERCENT);
        if after * 100 < before * (100 - max) {
            warn!(
                source = %r.name,
                before,
                after,
                "source lost more than {max}% of its rules; reloaded anyway"
            );
        }
    }
    Ok(())
}

async fn load_off_path(
    config: &BlocklistConfig,
    in_service: Option<Arc<Blocklist>>,
) -> Result<Blocklist, ReloadError> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || build(&config, in_service.as_deref()))
        .await
        .map_err(|e| ReloadError::Task(e.to_string()))?
}

/// Load the list for start-up (off the async threads).
///
/// A compiled artifact (`[blocklist] path`) that does not exist yet (first
/// boot, before the first feed update could run) is not an error: DNS is
/// served with an empty list ([`has_list`] is false), an error is logged,
/// and the reloader picks the artifact up as soon as it is published.
/// Missing raw `sources` stay a start-up error: a person wrote those paths,
/// so a missing one is a mistake to fix, not a list still on its way.
pub(crate) async fn initial(config: &BlocklistConfig) -> Result<SharedBlocklist, ReloadError> {
    let list = match missing_artifact(config) {
        Some(path) => {
            error!(
                path = %path.display(),
                "no list yet: the compiled list does not exist; serving DNS WITHOUT protection \
                 until `parapet-blocklist update` publishes it (it is picked up at once)"
            );
            empty()?
        }
        None => {
            let list = load_off_path(config, None).await?;
            log_loaded(&list, "list loaded");
            list
        }
    };
    Ok(Arc::new(ArcSwap::from_pointee(list)))
}

/// The artifact at `[blocklist] path` when that file does not exist (yet).
pub(crate) fn missing_artifact(config: &BlocklistConfig) -> Option<&Path> {
    match &config.source {
        ListSource::Artifact(path) if is_missing(path) => Some(path),
        _ => None,
    }
}

/// Whether nothing exists at `path` (other errors, such as a denied
/// permission, are not "missing": opening the file reports them).
pub(crate) fn is_missing(path: &Path) -> bool {
    matches!(std::fs::metadata(path), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// The list served while there is none: no rules, no sources.
pub(crate) fn empty() -> Result<Blocklist, ReloadError> {
    Ok(Blocklist::compile(&[], CompileOptions::default())?.0)
}

/// Whether `list` is a real list rather than [`empty`] (which also stands
/// for "no `[blocklist]` configured"): it was built from at least one
/// source.
pub(crate) fn has_list(list: &Blocklist) -> bool {
    !list.stats().sources.is_empty()
}

fn log_loaded(list: &Blocklist, what: &str) {
    let s = list.stats();
    info!(
        domain_rules = s.domain_rules,
        ip_rules = s.ip_rules,
        allow_rules = s.allow_rules,
        bytes = s.bytes,
        sources = s.sources.len(),
        "{what}"
    );
    if block_rules(&s) == 0 && !s.sources.is_empty() {
        warn!(
            allow_rules = s.allow_rules,
            "the list has no block rules: it protects from nothing (did every feed fail?)"
        );
    }
}

/// Block rules of a list: its domain and IP rules less the allow rules.
pub(crate) fn block_rules(stats: &parapet_blocklist::Stats) -> u64 {
    (stats.domain_rules + stats.ip_rules).saturating_sub(stats.allow_rules)
}

/// Start the reloader for `shared`: a file watcher (when `config.watch`)
/// plus the returned handle's trigger. Stops when `shutdown` is cancelled.
pub(crate) fn spawn(
    config: BlocklistConfig,
    shared: SharedBlocklist,
    shutdown: CancellationToken,
) -> ReloadHandle {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let (status_tx, status_rx) = watch::channel(ReloadStatus {
        generation: 1,
        failures: 0,
    });
    let watcher = if config.watch {
        watch_files(&config.source, tx.clone())
    } else {
        None
    };
    let watcher = watcher.map(|(watcher, missing)| {
        let watcher = Arc::new(std::sync::Mutex::new(watcher));
        if !missing.is_empty() {
            tokio::spawn(await_folders(
                missing,
                Arc::clone(&watcher),
                tx.clone(),
                shutdown.clone(),
            ));
        }
        watcher
    });
    tokio::spawn(async move {
        let _watcher = watcher; // dropped (unwatched) when the task ends
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                got = rx.recv() => if got.is_none() { break },
            }
            // Debounce: wait until events stop for DEBOUNCE.
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    more = tokio::time::timeout(DEBOUNCE, rx.recv()) => match more {
                        Ok(Some(())) => continue,
                        _ => break,
                    },
                }
            }
            match load_off_path(&config, Some(shared.load_full())).await {
                Ok(list) => {
                    // In service before it is announced: whoever reads the
                    // log line (a test, an operator) gets the new list.
                    let list = Arc::new(list);
                    shared.store(Arc::clone(&list));
                    log_loaded(&list, "list reloaded");
                    status_tx.send_modify(|s| s.generation += 1);
                }
                Err(e) => {
                    error!(error = %e, "new list refused; the previous list keeps serving");
                    status_tx.send_modify(|s| s.failures += 1);
                }
            }
        }
    });
    ReloadHandle {
        tx,
        status: status_rx,
    }
}

/// Watch the directories holding the list files (so that a file replaced
/// by rename is seen) and signal `tx` on changes to those files.
///
/// Also returns the folders that do not exist yet (a first boot before the
/// first update created `/var/lib/parapet`, or a hand install): see
/// [`await_folders`].
fn watch_files(
    source: &ListSource,
    tx: mpsc::UnboundedSender<()>,
) -> Option<(notify::RecommendedWatcher, Vec<PathBuf>)> {
    let files = source.files();
    if files.is_empty() {
        return None;
    }
    let names: HashSet<OsString> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_os_string()))
        .collect();
    let dirs: HashSet<PathBuf> = files
        .iter()
        .map(|f| match f.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        })
        .collect();
    let handler = move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        let relevant_kind = matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Modify(_)
                | EventKind::Remove(_)
                | EventKind::Access(notify::event::AccessKind::Close(
                    notify::event::AccessMode::Write
                ))
        );
        if relevant_kind
            && event
                .paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| names.contains(n)))
        {
            let _ = tx.send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            warn!(error = %e, "cannot watch list files; reload with SIGHUP");
            return None;
        }
    };
    let mut missing = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            info!(dir = %dir.display(), "the list's folder does not exist yet; watching for it");
            missing.push(dir);
        } else if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
            warn!(dir = %dir.display(), error = %e, "cannot watch directory; reload with SIGHUP");
        }
    }
    Some((watcher, missing))
}

/// How often [`await_folders`] looks for the folders that do not exist.
const FOLDER_POLL: Duration = Duration::from_secs(2);

/// Until every folder in `missing` exists: look for them every
/// [`FOLDER_POLL`]; watch each as it appears, and reload (the list may have
/// been written into it at once). Ends early on `shutdown`.
async fn await_folders(
    mut missing: Vec<PathBuf>,
    watcher: Arc<std::sync::Mutex<notify::RecommendedWatcher>>,
    tx: mpsc::UnboundedSender<()>,
    shutdown: CancellationToken,
) {
    while !missing.is_empty() {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(FOLDER_POLL) => {}
        }
        let before = missing.len();
        missing.retain(|dir| {
            if !dir.is_dir() {
                return true;
            }
            let mut watcher = watcher.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                warn!(dir = %dir.display(), error = %e, "cannot watch directory; reload with SIGHUP");
            } else {
                info!(dir = %dir.display(), "the list's folder now exists; watching it");
            }
            false
        });
        if missing.len() < before {
            let _ = tx.send(());
        }
    }
}

/// Re-read `[lookalikes]` from the config file at `path` and put the new
/// check in service; a file that does not load (or a refused set) is
/// logged and the check in service stays. Returns whether it was swapped.
pub fn reload_lookalikes(path: &Path, shared: &SharedLookalikes) -> bool {
    let new = crate::config::load(path)
        .map_err(|e| e.to_string())
        .and_then(|config| Lookalikes::new(&config.lookalikes).map_err(|e| e.to_string()));
    match new {
        Ok(lookalikes) => {
            info!(
                protected = lookalikes.detector().protected().len(),
                action = ?lookalikes.action(),
                "[lookalikes] reloaded"
            );
            shared.store(Arc::new(lookalikes));
            true
        }
        Err(e) => {
            error!(error = %e, "config not reloaded: [lookalikes] and everything else stay as they are");
            false
        }
    }
}

/// After a SIGHUP: warn when the config file at `path` now differs from
/// `started` (the file as the server started with it) outside
/// `[lookalikes]`, since those changes need a restart.
pub(crate) fn warn_if_restart_needed(path: &Path, started: &crate::config::Config) {
    if let Ok(now) = crate::config::load(path)
        && changed_outside_lookalikes(started, &now)
    {
        warn!(
            "the config file changed outside [lookalikes]: those changes take effect when parapet restarts (SIGHUP reloads the lists, [lookalikes], the tokens file and the query log file)"
        );
    }
}

/// Whether two configs differ in anything but `[lookalikes]`.
pub(crate) fn changed_outside_lookalikes(
    a: &crate::config::Config,
    b: &crate::config::Config,
) -> bool {
    let without = |c: &crate::config::Config| {
        let mut value = serde_json::to_value(c).unwrap_or_default();
        if let Some(sections) = value.as_object_mut() {
            sections.remove("lookalikes");
        }
        value
    };
    without(a) != without(b)
}

#[cfg(test)]
mod tests;
