//! Feeds: lists fetched from a URL or path by `parapet-blocklist update`.
//!
//! One update run, per feed: fetch the body into a temporary file (an HTTP
//! fetch is conditional on the last good copy's `ETag`/`Last-Modified`,
//! capped at `max_bytes` while it streams, bounded by `timeout_secs`) and
//! verify it as it streams (pinned `sha256`, minisign signature; a signed
//! copy must also be signed after the copy in use and for this feed's file,
//! see `rollback.rs`); compile it
//! on its own and apply the guards (no rules; more malformed lines than
//! rules; a fall of the rule count beyond `max_drop_percent` unless forced);
//! accept it as the feed's new last good copy. A feed that fails keeps its
//! last good copy. Then every feed's good copy is compiled into one artifact
//! that is published atomically at `[blocklist] path`, unless it holds no
//! block rule (then nothing is published unless forced).
//!
//! State lives next to the artifact: `<artifact dir>/feeds/<name>.body` (the
//! last good copy), `<name>.meta`, `<name>.status` (last success and
//! failure) and `feeds.prom` (per-feed metrics, see `status.rs`).

mod config;
#[cfg(feature = "updater")]
mod fetch;
#[cfg(feature = "updater")]
mod publish;
#[cfg(feature = "updater")]
pub mod replica;
#[cfg(feature = "updater")]
mod report;
#[cfg(feature = "updater")]
mod rollback;
#[cfg(feature = "updater")]
mod settings;
#[cfg(feature = "updater")]
mod state;
#[cfg(feature = "updater")]
pub mod status;
#[cfg(feature = "updater")]
mod update;
#[cfg(feature = "updater")]
mod verify;

pub use config::{DEFAULT_MAX_BYTES, DEFAULT_MAX_DROP_PERCENT, DEFAULT_TIMEOUT_SECS, FeedConfig};
#[cfg(feature = "updater")]
pub use report::{FeedOutcome, FeedReport, UpdateOptions, UpdateReport};
#[cfg(feature = "updater")]
pub use settings::{FeedError, UpdateConfig};
#[cfg(feature = "updater")]
pub use update::update;
