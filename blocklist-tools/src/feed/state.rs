//! Each feed's last good copy and what is known about it, kept next to the
//! artifact in `<artifact dir>/feeds/<name>.body` and `<name>.meta` (TOML).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::config::FeedConfig;

/// What was recorded when a feed's copy was last accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub(crate) struct Meta {
    /// The URL or path the copy came from.
    pub origin: String,
    /// The guards it passed (see [`guards`]); a change forces a full download.
    pub guards: String,
    /// `ETag` of the response, for `If-None-Match`.
    pub etag: Option<String>,
    /// `Last-Modified` of the response, for `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// SHA-256 (hex) of the body as served.
    pub sha256: String,
    /// Rules (domain + IP) the copy compiled to.
    pub rules: u64,
    /// When it was accepted, seconds since the Unix epoch.
    pub accepted_at: u64,
    /// The `timestamp:` of its minisign trusted comment (signed feeds): a
    /// later copy must be signed after it.
    #[serde(default)]
    pub signed_at: Option<u64>,
}

/// The state files of one feed.
#[derive(Debug, Clone)]
pub(crate) struct FeedState {
    dir: PathBuf,
    name: String,
}

impl FeedState {
    /// State of the feed `name` under `dir`.
    pub(crate) fn new(dir: &Path, name: &str) -> FeedState {
        FeedState {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        }
    }

    /// The directory holding the state files.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last good copy of the list.
    pub(crate) fn body(&self) -> PathBuf {
        self.dir.join(format!("{}.body", self.name))
    }

    fn meta_path(&self) -> PathBuf {
        self.dir.join(format!("{}.meta", self.name))
    }

    /// The metadata of the last good copy, if both files are present and the
    /// metadata reads.
    pub(crate) fn load(&self) -> Option<Meta> {
        if !self.body().is_file() {
            return None;
        }
        self.load_meta()
    }

    /// The recorded metadata alone, whether or not the body is present.
    pub(crate) fn load_meta(&self) -> Option<Meta> {
        let text = std::fs::read_to_string(self.meta_path()).ok()?;
        toml::from_str(&text).ok()
    }

    /// Make `body` (a temporary file in [`FeedState::dir`]) the last good
    /// copy and record `meta`, each by rename.
    pub(crate) fn accept(&self, body: tempfile::NamedTempFile, meta: &Meta) -> std::io::Result<()> {
        body.as_file().sync_all()?;
        body.persist(self.body()).map_err(|e| e.error)?;
        self.record(meta)
    }

    /// Record `meta` (by rename) without touching the body.
    pub(crate) fn record(&self, meta: &Meta) -> std::io::Result<()> {
        let text = toml::to_string(meta).map_err(std::io::Error::other)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(text.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(self.meta_path()).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Whether `meta` was accepted for `feed` from the same place under the same
/// minisign key (its `signed_at` then bounds the next copy's signature).
pub(crate) fn same_signer(meta: &Meta, feed: &FeedConfig) -> bool {
    let key = feed.minisign_key.as_deref().unwrap_or("").trim();
    meta.origin == feed.origin() && meta.guards.ends_with(&format!(";minisign_key={key}"))
}

/// A fingerprint of the guards a copy passed. A copy accepted under other
/// guards (a new key or pin) is downloaded again rather than revalidated.
pub(crate) fn guards(feed: &FeedConfig) -> String {
    format!(
        "sha256={};minisign_key={}",
        feed.sha256.as_deref().unwrap_or("").to_ascii_lowercase(),
        feed.minisign_key.as_deref().unwrap_or("").trim()
    )
}
