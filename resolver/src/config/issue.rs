//! Problems found in a config file, collected while it is checked, and
//! the resolution of the paths it names. A leaf of [`config`](super),
//! shared by the section checks.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Key path such as `block.sinkhole_ipv4` (empty for the whole file).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// Collects issues while converting.
pub(crate) struct Issues(pub(crate) Vec<ConfigIssue>);

impl Issues {
    /// Record that `key` is wrong in the way `message` says.
    pub(crate) fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            key: key.into(),
            message: message.into(),
        });
    }
}

/// Resolves the paths a config names against its directory.
pub(crate) struct Resolve<'a>(pub(crate) &'a Path);

impl Resolve<'_> {
    /// `p` itself when absolute, else under the config's directory.
    pub(crate) fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.0.join(p)
        }
    }
}
