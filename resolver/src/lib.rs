//! parapet-resolver: a protective DNS resolver.
//!
//! The query path (DESIGN.md), each step with its file (see also
//! `ARCHITECTURE.md` at the repository root):
//!
//! ```text
//! client ─▶ listener: UDP receive loop                 udp.rs, udp/batch.rs
//!           TCP, DoT, DoH (connection caps)            transport/{tcp,dot,doh,stream}.rs, conntable.rs
//!           context = (address, protocol, token)       access.rs (Context, ClientAuth)
//!        ─▶ front, from the bytes                      handler/front.rs
//!             access decided once                     access.rs (AccessList::admits)
//!             question parsed once (no allocation)     wire/query.rs
//!             UDP blocked name ─▶ sinkhole from bytes  fastpath.rs
//!             answer-cache hit ─▶ patched copy         answer_cache.rs, wire/layout.rs
//!        ─▶ parse once (hickory)                       handler/mod.rs (Handler::parse)
//!        ─▶ core                                       handler/core.rs
//!             rate limit (UDP: drop / TC slip)         ratelimit.rs
//!             reserved test names (check., blocked.)   reserved.rs
//!             policy check (one pass over the name)    policy.rs
//!               ├─ hit  ─▶ block answer + EDE 15       answer.rs
//!               └─ miss ─▶ look-alike check            lookalike.rs
//!                         ─▶ forward                   forward.rs, upstream/
//!                         ─▶ inspect CNAMEs, A/AAAA    policy.rs, rebinding.rs
//!        ─▶ encode once ─▶ answer cache                handler/reply.rs, wire/encode.rs, answer_cache.rs
//!        ─▶ observe(Outcome): metrics, query log       event.rs, metrics/observer.rs, querylog/observer.rs
//! ```
//!
//! [`handler::Handler`] runs the path for every transport: UDP calls
//! [`Handler::front`] then [`Handler::core`]; the stream transports call
//! both through [`handler::DnsService`]. The leaf modules [`event`],
//! [`wire`] and [`access`] hold the shared vocabulary, the wire format and
//! the access inputs. [`server`] binds the listeners (every socket through
//! [`listen`]); [`reload`] swaps the list in service ([`SharedBlocklist`]);
//! [`config`] reads and validates the TOML file; [`warning`] and [`status`]
//! serve the warning, check and status pages.
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
pub mod event;
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
pub mod reserved;
pub mod server;
pub mod setup;
pub mod status;
pub mod transport;
pub mod udp;
pub mod upstream;
pub mod warning;
pub mod wildcard_check;
pub mod wire;

pub use access::Context;
pub use config::Config;
pub use event::{Observer, Outcome, QueryEvent};
pub use handler::Handler;
pub use server::{RunningServer, ServerBuilder};

/// The list in service, swapped atomically on reload. Readers take a
/// snapshot with `load()` and keep it for the whole query.
pub type SharedBlocklist = Arc<ArcSwap<Blocklist>>;
