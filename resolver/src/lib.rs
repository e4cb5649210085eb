//! parapet-resolver: a protective DNS resolver.
//!
//! The query path (DESIGN.md), each stage in its module:
//!
//! ```text
//! client ─▶ listener (UDP, TCP, DoT, DoH)            server, udp, transport
//!           (connection caps)                        conntable
//!        ─▶ access control                           access
//!        ─▶ rate limit (UDP: drop / TC slip)         ratelimit
//!        ─▶ policy check (one pass over the name)    policy
//!             ├─ hit  ─▶ sinkhole answer + EDE 15    answer
//!             └─ miss ─▶ answer cache                answer_cache
//!                       ─▶ look-alike check          lookalike
//!                       ─▶ forward                   forward
//!                       ─▶ inspect CNAMEs, A/AAAA    policy, rebinding
//!        ─▶ observe(Outcome): metrics, query log     handler
//! ```
//!
//! [`handler::Handler`] runs the path for any transport; [`server`] binds
//! the listeners (every socket through [`listen`]); [`reload`] swaps the list in service ([`SharedBlocklist`]);
//! [`config`] reads and validates the TOML file.
#![warn(missing_docs)]

use std::sync::Arc;

use arc_swap::ArcSwap;
use parapet_blocklist::Blocklist;

pub mod access;
pub mod answer;
pub mod answer_cache;
pub mod cli;
pub mod config;
pub mod conntable;
pub mod enrol;
pub mod fastpath;
pub mod fdlimit;
pub mod forward;
pub mod handler;
pub mod listen;
pub mod lookalike;
pub mod metrics;
pub mod net;
pub mod policy;
pub mod preflight;
pub mod profile;
pub mod querylog;
pub mod ratelimit;
pub mod rebinding;
pub mod reload;
pub mod server;
pub mod setup;
pub mod transport;
pub mod udp;
pub mod warning;
pub mod wildcard_check;

pub use config::Config;
pub use handler::{Handler, Observer, Outcome, QueryEvent};
pub use server::{RunningServer, ServerBuilder};

/// The list in service, swapped atomically on reload. Readers take a
/// snapshot with `load()` and keep it for the whole query.
pub type SharedBlocklist = Arc<ArcSwap<Blocklist>>;
