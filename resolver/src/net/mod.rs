//! The network toolkit every listener shares: one bounded accept loop
//! ([`accept`]), one HTTP server builder and connection driver ([`http`])
//! for DoH, metrics and the warning page, and the one signal task
//! ([`signals`]), and the bound on UDP queries in flight ([`inflight`]).
//!
//! Tasks: a listener's accept loop spawns each connection on a
//! [`TaskTracker`] of its own and, once shut down, closes its socket and
//! waits for them; the server spawns the listeners themselves on its
//! tracker and waits for it on shutdown (see [`crate::server`]), so a
//! stopped server has no task left serving.

pub(crate) mod accept;
pub(crate) mod http;
pub(crate) mod inflight;
pub(crate) mod signals;

pub(crate) use accept::{accept_loop, reset};
pub(crate) use inflight::InFlight;
pub(crate) use tokio_util::task::TaskTracker;
