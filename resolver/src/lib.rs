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
//!
//! The library exists for the `parapet` binary, the end-to-end tests, the
//! benchmarks and the fuzz targets: the root re-exports what they name
//! ([`ServerBuilder`], [`Handler`], [`Cli`], …) and the modules they use
//! stay public; every other module is private. Its documentation is for
//! developers: read it with `cargo doc --document-private-items`, where
//! the links to private modules resolve.
//!
//! Serving, as the binary does:
//! ```no_run
//! # async fn demo(config: parapet_resolver::Config) -> Result<(), parapet_resolver::ServerError> {
//! use tokio_util::sync::CancellationToken;
//! let shutdown = CancellationToken::new();
//! let server = parapet_resolver::ServerBuilder::new(config)
//!     .start(shutdown.clone())
//!     .await?;
//! println!("UDP on {:?}", server.udp_addrs());
//! shutdown.cancel();
//! server.wait().await
//! # }
//! ```
#![warn(missing_docs)]
#![warn(unreachable_pub)]
// The docs link freely to private modules (see above).
#![allow(rustdoc::private_intra_doc_links)]

mod access;
pub mod answer;
pub mod answer_cache;
mod cli;
pub mod config;
mod conntable;
mod enrol;
pub mod event;
pub mod fastpath;
mod fdlimit;
pub mod forward;
pub mod handler;
mod list;
mod listen;
pub mod lookalike;
pub mod metrics;
mod net;
mod policy;
pub mod preflight;
pub mod profile;
mod querylog;
mod ratelimit;
mod rebinding;
pub mod reload;
mod reserved;
mod server;
mod setup;
mod status;
mod stdout;
pub mod transport;
mod udp;
pub mod upstream;
pub mod warning;
mod wildcard_check;
pub mod wire;

pub use access::{AccessList, ClientAuth, Context};
pub use cli::Cli;
pub use config::{ClientAddresses, Config};
pub use enrol::ProfileCommand;
pub use event::{Observer, Outcome, QueryEvent};
pub use handler::Handler;
pub use list::SharedBlocklist;
pub use querylog::{ClientFormat, QueryLog, QueryRecord};
pub use ratelimit::{REFUSED_BURST, REFUSED_QPS};
pub use server::{RunningServer, ServerBuilder, ServerError};
