//! Configuration: TOML in, a validated [`Config`] out.
//!
//! Two stages: [`raw::RawConfig`] is the file as serde reads it (unknown keys
//! refused), [`validate::validate`] turns it into typed values, resolves paths
//! against the config file's directory and reports *all* problems at once,
//! each with its key path (`block.sinkhole_ipv4: "1.2.3" is not an IPv4
//! address`). Only a validated [`Config`] reaches the server.
//!
//! Values only: nothing here reads a file the config names. The lists,
//! certificates, tokens and CA roots are read by [`crate::preflight`], which
//! `check-config` and start-up run next. Each section has one owner: the
//! types of `[query_log]` are in [`query_log`], `[warning_page]` and
//! `[lookalikes]` are their modules' own (checked by them, re-used here).

use std::path::{Path, PathBuf};

pub mod issue;
pub mod overlap;
pub mod query_log;
pub mod raw;
pub mod types;
pub mod validate;

pub use issue::ConfigIssue;
pub use query_log::{ClientAddresses, HashKey, LogMode, QueryLogConfig};
pub use types::{
    AccessConfig, BlockAction, BlockConfig, BlocklistConfig, Config, DEFAULT_ACCESS_ALLOW,
    DEFAULT_BLOCK_TTL, DEFAULT_CACHE_MAX_TTL, DEFAULT_CACHE_MEMORY_MB,
    DEFAULT_CACHE_NEGATIVE_MAX_TTL, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_CLIENT, DEFAULT_METRICS_LISTEN, DEFAULT_PRIVATE_ANSWERS_ALLOW,
    DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_IPV4_PREFIX, DEFAULT_RATE_LIMIT_IPV6_PREFIX,
    DEFAULT_RATE_LIMIT_QPS, DEFAULT_RATE_LIMIT_SLIP, DEFAULT_SERVE_STALE_SECS,
    DEFAULT_SINKHOLE_IPV4, DEFAULT_TCP_TIMEOUT_MS, DEFAULT_UPSTREAM_ATTEMPTS,
    DEFAULT_UPSTREAM_TIMEOUT_MS, ListSource, MetricsConfig, PrivateAnswers, ServerConfig,
    UpstreamConfig, UpstreamProtocol, UpstreamServer, contains_ip,
};

impl Config {
    /// How every listener is bound (see [`crate::listen`]): `[server]
    /// freebind`, and the ports IPv4 listeners use (a `[::]` listener on
    /// another port is dual-stack).
    pub fn bind_options(&self) -> crate::listen::BindOptions {
        crate::listen::BindOptions {
            freebind: self.server.freebind,
            v4_ports: overlap::listeners(self)
                .iter()
                .filter(|l| l.addr.is_ipv4() && l.addr.port() != 0)
                .map(|l| l.addr.port())
                .collect(),
        }
    }
}

/// A config that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or wrong type.
    #[error("{origin}: {message}")]
    Parse {
        /// The file (or `<string>`).
        origin: String,
        /// serde/toml's message, which names the key and line.
        message: String,
    },
    /// One or more values are invalid.
    #[error("{origin}: {} problem(s):\n{}", issues.len(), issues.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file (or `<string>`).
        origin: String,
        /// Every problem found.
        issues: Vec<ConfigIssue>,
    },
}

/// Read and validate a config file; relative paths in it are resolved
/// against the file's directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    check_file(path)?.into_result()
}

/// Validate config text; relative paths are resolved against `base_dir`.
pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
    check_str(text, base_dir)?.into_result()
}

/// A config whose values were checked, kept even when some are invalid
/// (each replaced by its default), so that [`crate::preflight`] can check
/// the files it names too and report every problem at once.
#[derive(Debug)]
pub struct Checked {
    /// The config, with defaults in place of invalid values.
    pub config: Config,
    /// Every invalid value.
    pub issues: Vec<ConfigIssue>,
    /// The file (or `<string>`), for messages.
    pub origin: String,
}

impl Checked {
    /// The config if every value is valid, else [`ConfigError::Invalid`].
    ///
    /// # Errors
    /// Any issue.
    pub fn into_result(self) -> Result<Config, ConfigError> {
        if self.issues.is_empty() {
            Ok(self.config)
        } else {
            Err(ConfigError::Invalid {
                origin: self.origin,
                issues: self.issues,
            })
        }
    }
}

/// Read a config file and check its values ([`load`] without the verdict).
///
/// # Errors
/// The file cannot be read, or is not valid TOML of known keys.
pub fn check_file(path: &Path) -> Result<Checked, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut checked = check(&text, &base, &path.display().to_string())?;
    checked.config.source_file = Some(path.to_path_buf());
    Ok(checked)
}

/// Check config text's values ([`from_toml_str`] without the verdict).
///
/// # Errors
/// Not valid TOML of known keys.
pub fn check_str(text: &str, base_dir: &Path) -> Result<Checked, ConfigError> {
    check(text, base_dir, "<string>")
}

fn check(text: &str, base_dir: &Path, origin: &str) -> Result<Checked, ConfigError> {
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
        origin: origin.to_string(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let (config, issues) = validate::checked(raw, base_dir);
    Ok(Checked {
        config,
        issues,
        origin: origin.to_string(),
    })
}

impl Config {
    /// The effective config as TOML (defaults filled in, paths resolved).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

#[cfg(test)]
mod tests;
