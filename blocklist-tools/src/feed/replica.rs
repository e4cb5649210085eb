//! Replicas: fetching the compiled artifact that an update node publishes,
//! instead of fetching and compiling the feeds themselves.
//!
//! The update node runs `parapet-blocklist update`, signs the artifact with
//! `minisign -S` and serves `parapet.pbl` and `parapet.pbl.minisig` from any
//! static web server. A replica runs `parapet-blocklist fetch`: the same
//! fetcher as the feeds (conditional GET, size cap, timeout, `ca_file`, an
//! `https://` URL never left for `http://`), the same minisign check over the
//! bytes as served, the same rollback rule (signed after the copy installed,
//! for the same file name), then the artifact is opened as the resolver would
//! (magic, format version, checksum) and installed by rename. Nothing is
//! installed that fails any of these; the artifact in service stays.
//!
//! What was installed is recorded in `<state dir>/<artifact file>.fetch.meta`
//! (default state dir: the artifact's directory). Its `signed_at` bounds every
//! later copy, even when the artifact itself was deleted.

use std::path::{Path, PathBuf};

use super::config::{DEFAULT_TIMEOUT_SECS, FeedConfig};
use super::fetch::{self, FetchError, Fetched};
use super::rollback::{self, Freshness};
use super::state::{self, FeedState, Meta};
use crate::blocklist::{Blocklist, Stats};

/// Largest artifact accepted by default: 1 GiB (a 10-million-name list
/// compiles to a few hundred MB).
pub const DEFAULT_ARTIFACT_MAX_BYTES: u64 = 1 << 30;

/// Where a replica gets the artifact from, and what it must be signed with.
#[derive(Debug, Clone)]
pub struct ArtifactSource {
    /// HTTP(S) URL of the artifact.
    pub url: String,
    /// minisign public key (the base64 line of the `.pub` file).
    pub minisign_key: String,
    /// URL of the signature (default: `url` + `.minisig`).
    pub signature_url: Option<String>,
    /// PEM file of the CAs trusted for an `https://` URL, in place of the
    /// public roots.
    pub ca_file: Option<PathBuf>,
    /// Largest artifact accepted (default [`DEFAULT_ARTIFACT_MAX_BYTES`]).
    pub max_bytes: Option<u64>,
    /// Download timeout in seconds (default [`DEFAULT_TIMEOUT_SECS`]).
    pub timeout_secs: Option<u64>,
}

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactOutcome {
    /// A newer signed artifact was verified and installed.
    Installed {
        /// Its counts.
        stats: Stats,
        /// Its signature's `timestamp:`.
        signed_at: u64,
    },
    /// The server answered 304, or served the artifact already installed.
    Unchanged,
}

/// Why nothing was installed; the artifact in service stays either way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    /// Could not get the artifact (network, HTTP status, size, time, I/O).
    #[error("download failed: {0}")]
    Download(String),
    /// Got an artifact that failed a check (signature, rollback, not an
    /// artifact, bad checksum).
    #[error("refused: {0}")]
    Refused(String),
}

impl ArtifactSource {
    /// The source as a feed, so that the feed fetcher serves it.
    fn as_feed(&self) -> FeedConfig {
        FeedConfig {
            name: "artifact".into(),
            url: Some(self.url.clone()),
            path: None,
            format: None,
            category: None,
            match_mode: None,
            allow: false,
            sha256: None,
            minisign_key: Some(self.minisign_key.clone()),
            signature_url: self.signature_url.clone(),
            ca_file: self.ca_file.clone(),
            max_bytes: Some(self.max_bytes.unwrap_or(DEFAULT_ARTIFACT_MAX_BYTES)),
            timeout_secs: Some(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS)),
            max_drop_percent: None,
            force: false,
        }
    }
}

/// Fetch the artifact from `source` and install it at `artifact` if it is
/// signed, newer than the one installed and opens; `state_dir` holds the
/// record of what was installed (default: the artifact's directory).
pub fn fetch_artifact(
    source: &ArtifactSource,
    artifact: &Path,
    state_dir: Option<&Path>,
) -> Result<ArtifactOutcome, ArtifactError> {
    let feed = source.as_feed();
    feed.validate()
        .map_err(|e| ArtifactError::Download(format!("invalid source: {e}")))?;
    let dir = match artifact.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let io = |e: std::io::Error| ArtifactError::Download(format!("{}: {e}", artifact.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let file_name = artifact
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "parapet.pbl".into());
    let state = FeedState::new(state_dir.unwrap_or(dir), &format!("{file_name}.fetch"));
    std::fs::create_dir_all(state.dir()).map_err(io)?;
    let previous = state.load_meta().filter(|m| state::same_signer(m, &feed));
    let installed = artifact.is_file();
    let download = match fetch::fetch(&feed, previous.as_ref().filter(|_| installed), dir) {
        Ok(Fetched::NotModified) => return Ok(ArtifactOutcome::Unchanged),
        Ok(Fetched::Body(download)) => download,
        Err(FetchError::Download(e)) => return Err(ArtifactError::Download(e)),
        Err(FetchError::Refused(e)) => return Err(ArtifactError::Refused(e)),
    };
    let comment = download
        .trusted_comment
        .as_deref()
        .ok_or_else(|| ArtifactError::Refused("no signature was checked".into()))?;
    let last = previous.as_ref().and_then(|m| m.signed_at);
    let same_content = previous
        .as_ref()
        .is_some_and(|m| m.sha256 == download.sha256);
    let signed_at = match rollback::check(comment, feed.file_name().as_deref(), last, same_content)
    {
        Ok((Freshness::Same, _)) if installed => return Ok(ArtifactOutcome::Unchanged),
        Ok((_, at)) => at,
        Err(e) => return Err(ArtifactError::Refused(e)),
    };
    let stats = Blocklist::open(download.file.path())
        .map_err(|e| ArtifactError::Refused(format!("not a usable artifact: {e}")))?
        .stats();
    install(download.file, artifact, dir).map_err(io)?;
    let meta = Meta {
        origin: feed.origin(),
        guards: state::guards(&feed),
        etag: download.etag,
        last_modified: download.last_modified,
        sha256: download.sha256,
        rules: stats.domain_rules + stats.ip_rules,
        accepted_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        signed_at: Some(signed_at),
    };
    state.record(&meta).map_err(io)?;
    Ok(ArtifactOutcome::Installed { stats, signed_at })
}

/// Rename the verified temporary file over `artifact` (readable by the
/// resolver's user) and make the rename durable.
fn install(tmp: tempfile::NamedTempFile, artifact: &Path, dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(artifact).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}
