//! The list in service: one compiled blocklist shared by every query,
//! swapped whole by [`reload`](crate::reload). A leaf: the handler, the
//! reloader, the metrics and the pages share it without importing each
//! other.

use std::sync::Arc;

use arc_swap::ArcSwap;
use parapet_blocklist::Blocklist;

/// The list in service, swapped atomically on reload. Readers take a
/// snapshot with `load()` and keep it for the whole query.
pub type SharedBlocklist = Arc<ArcSwap<Blocklist>>;
