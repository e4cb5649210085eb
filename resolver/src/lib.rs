//! parapet-resolver: a protective DNS resolver.
#![warn(missing_docs)]

use std::sync::Arc;

use arc_swap::ArcSwap;
use parapet_blocklist::Blocklist;

pub mod enrol;
pub mod profile;
pub mod transport;
pub mod warning;

/// The list in service, swapped atomically on reload. Readers take a
/// snapshot with `load()` and keep it for the whole query.
pub type SharedBlocklist = Arc<ArcSwap<Blocklist>>;
