//! The `[query_log]` section: its value types and their checks. The query
//! log ([`crate::querylog`]) uses these; this module owns them.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::issue::{Issues, Resolve};
use super::raw::RawQueryLog;

/// Default capacity of the channel between the query path and the writer.
pub const DEFAULT_QUEUE: usize = 4096;

/// Which queries are logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogMode {
    /// Only blocked queries: what incident response needs, and the least
    /// about everyone else.
    #[default]
    Blocks,
    /// Every query.
    All,
}

/// Shortest accepted `hash_key`, in bytes.
pub const MIN_HASH_KEY_LEN: usize = 16;

/// The `client_addresses` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAddresses {
    /// The address as is: `192.0.2.77`. For incident response on networks
    /// whose users agreed to it.
    Full,
    /// The network only: `192.0.2.0/24`, `2001:db8:0:ab00::/56`. The
    /// default: enough to tell sites apart, not people.
    #[default]
    Truncated,
    /// A keyed hash (HMAC-SHA-256, first 16 bytes in hex): the same client
    /// gives the same value under the same key, and the address cannot be
    /// recovered or confirmed without the key.
    Hashed,
    /// Not logged at all.
    None,
}

impl fmt::Display for ClientAddresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientAddresses::Full => "full",
            ClientAddresses::Truncated => "truncated",
            ClientAddresses::Hashed => "hashed",
            ClientAddresses::None => "none",
        })
    }
}

/// The configured `hash_key`: a secret, never printed (`Debug` shows
/// `HashKey(..)`, and config output skips it).
#[derive(Clone, PartialEq, Eq)]
pub struct HashKey(String);

impl HashKey {
    /// Wrap a configured secret.
    pub fn new(secret: String) -> Self {
        HashKey(secret)
    }

    /// The secret's bytes, the HMAC key.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashKey(..)")
    }
}

/// `[query_log]`: see [`crate::querylog`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryLogConfig {
    /// Default false: nothing about queries is recorded.
    pub enabled: bool,
    /// `blocks` (default: only blocked queries, the privacy-minimal choice)
    /// or `all`.
    pub mode: LogMode,
    /// Log file (appended to, reopened on SIGHUP); standard output when
    /// unset or `"-"`.
    pub path: Option<PathBuf>,
    /// `full`, `truncated` (default: /24, /56), `hashed` or `none`.
    pub client_addresses: ClientAddresses,
    /// Secret for `hashed` (at least 16 bytes); unset = a random key per
    /// process, so hashes cannot be linked across restarts. Never printed.
    #[serde(skip)]
    pub hash_key: Option<HashKey>,
    /// Records queued for the writer before new ones are dropped and
    /// counted (default 4096).
    pub queue: usize,
}

impl Default for QueryLogConfig {
    fn default() -> Self {
        QueryLogConfig {
            enabled: false,
            mode: LogMode::default(),
            path: None,
            client_addresses: ClientAddresses::default(),
            hash_key: None,
            queue: DEFAULT_QUEUE,
        }
    }
}

/// `[query_log]`: modes by name, key length, queue bounds; `-` = stdout.
pub(super) fn validate(raw: RawQueryLog, resolve: &Resolve<'_>, is: &mut Issues) -> QueryLogConfig {
    let defaults = QueryLogConfig::default();
    let mode = match raw.mode.as_deref() {
        None => defaults.mode,
        Some("blocks") => LogMode::Blocks,
        Some("all") => LogMode::All,
        Some(o) => {
            is.push("query_log.mode", format!("{o:?} is not one of blocks, all"));
            defaults.mode
        }
    };
    let client_addresses = match raw.client_addresses.as_deref() {
        None => defaults.client_addresses,
        Some("full") => ClientAddresses::Full,
        Some("truncated") => ClientAddresses::Truncated,
        Some("hashed") => ClientAddresses::Hashed,
        Some("none") => ClientAddresses::None,
        Some(o) => {
            is.push(
                "query_log.client_addresses",
                format!("{o:?} is not one of full, truncated, hashed, none"),
            );
            defaults.client_addresses
        }
    };
    if let Some(key) = &raw.hash_key
        && key.len() < MIN_HASH_KEY_LEN
    {
        is.push(
            "query_log.hash_key",
            format!(
                "too short: use at least {} bytes of secret (or leave it unset for a random key per process)",
                MIN_HASH_KEY_LEN
            ),
        );
    }
    let queue = raw.queue.unwrap_or(defaults.queue);
    if !(1..=1_000_000).contains(&queue) {
        is.push(
            "query_log.queue",
            format!("{queue} is not between 1 and 1000000"),
        );
    }
    let path = raw
        .path
        .filter(|p| p != Path::new("-") && p != Path::new("stdout"))
        .map(|p| resolve.path(&p));
    QueryLogConfig {
        enabled: raw.enabled.unwrap_or(false),
        mode,
        path,
        client_addresses,
        hash_key: raw.hash_key.map(HashKey::new),
        queue: queue.clamp(1, 1_000_000),
    }
}
