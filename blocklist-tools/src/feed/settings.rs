//! The parts of the parapet config file that `parapet-blocklist update`
//! reads: `[blocklist] path` and the `[[feeds]]`, checked as they load.

use std::path::{Path, PathBuf};

use super::config::FeedConfig;
use super::fetch::read_ca_file;

/// Errors reading the feed configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// The config file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config is not valid; the message names the key. Fix the file.
    #[error("{path}: {message}")]
    Config {
        /// The file (empty for config given as text).
        path: PathBuf,
        /// What is wrong, with the key path.
        message: String,
    },
}

/// What `parapet-blocklist update` needs from the parapet config file:
/// `[blocklist] path` and the `[[feeds]]`. Other sections are left to the
/// resolver, which validates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateConfig {
    /// Where the compiled artifact is published (`[blocklist] path`),
    /// resolved against the config file's directory.
    pub artifact: PathBuf,
    /// The feeds, `path`s resolved against the config file's directory.
    pub feeds: Vec<FeedConfig>,
}

#[derive(serde::Deserialize)]
struct RawFile {
    #[serde(default)]
    blocklist: RawBlocklist,
    #[serde(default)]
    feeds: Vec<FeedConfig>,
}

#[derive(Default, serde::Deserialize)]
struct RawBlocklist {
    path: Option<PathBuf>,
}

impl UpdateConfig {
    /// Read the config file at `path`.
    pub fn load(path: &Path) -> Result<UpdateConfig, FeedError> {
        let text = std::fs::read_to_string(path).map_err(|source| FeedError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml_str(&text, base).map_err(|e| match e {
            FeedError::Config { message, .. } => FeedError::Config {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parse config text; relative paths are taken from `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<UpdateConfig, FeedError> {
        let config_error = |message: String| FeedError::Config {
            path: PathBuf::new(),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| config_error(e.to_string()))?;
        let artifact = raw.blocklist.path.ok_or_else(|| {
            config_error(
                "blocklist.path: required: where `update` publishes the compiled list".into(),
            )
        })?;
        if raw.feeds.is_empty() {
            return Err(config_error("feeds: no [[feeds]] to update".into()));
        }
        let mut feeds = raw.feeds;
        for (i, feed) in feeds.iter_mut().enumerate() {
            feed.validate().map_err(|message| {
                config_error(format!("feeds[{i}] ({}): {message}", feed.name))
            })?;
            if let Some(path) = &feed.path {
                feed.path = Some(base_dir.join(path));
            }
            if let Some(ca) = &feed.ca_file {
                let ca = base_dir.join(ca);
                read_ca_file(&ca).map_err(|message| {
                    config_error(format!("feeds[{i}] ({}): ca_file: {message}", feed.name))
                })?;
                feed.ca_file = Some(ca);
            }
        }
        for (i, feed) in feeds.iter().enumerate() {
            if feeds[..i].iter().any(|f| f.name == feed.name) {
                return Err(config_error(format!(
                    "feeds[{i}]: name {:?} is used twice",
                    feed.name
                )));
            }
        }
        Ok(UpdateConfig {
            artifact: base_dir.join(artifact),
            feeds,
        })
    }
}
