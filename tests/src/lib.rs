//! End-to-end test harness: real servers on loopback, real DNS.
//!
//! * [`Upstream`] — an authoritative hickory server for [`upstream::test_zone`]
//!   (A, AAAA, CNAME, TXT, MX, a CNAME into a blocked name, a name whose A
//!   is a blocked IP); [`Blackhole`] — an upstream that never answers.
//! * [`Parapet`] / [`ParapetBuilder`] — parapet in-process on `127.0.0.1:0`
//!   with its config and lists in a temp dir; change any config section
//!   with [`ParapetBuilder::section`], any file with
//!   [`ParapetBuilder::file`] / [`Parapet::replace_file`]; wait on reloads
//!   with [`Parapet::wait_reload`], on anything else with [`eventually`].
//! * [`client`] — hickory's client over UDP/TCP ([`Parapet::query`],
//!   [`Parapet::query_tcp`], [`client::QueryOptions`] for EDNS off or
//!   another source address), helpers [`client::addresses`],
//!   [`client::ede`], [`client::has_soa`], raw datagrams.
//! * [`signing`], [`nsd`], [`unbound`] — DNSSEC-signed zones made at test
//!   time, served by NSD, validated by Unbound (run as [`daemon::Daemon`]s);
//!   hostile upstreams are `parapet_test_support::scripted`.
//! * [`tools`] — `dig` and friends; skip (or fail under
//!   `PARAPET_REQUIRE_TOOLS`) when absent.
//! * [`netns`] — run a test inside a network namespace of its own (real
//!   ports and addresses such as `192.168.1.2:53`); [`http::get`] — a
//!   plain HTTP GET with a deadline.
//!
//! A typical test (add a module under `tests/tests/e2e/` and a `mod` line
//! in `tests/tests/e2e/main.rs`):
//!
//! ```no_run
//! use hickory_proto::rr::RecordType;
//! use parapet_e2e::{Parapet, Upstream, client};
//!
//! # async fn t() -> anyhow::Result<()> {
//! let upstream = Upstream::start().await;
//! let parapet = Parapet::builder(upstream.addr())
//!     .section("block", "action = \"nxdomain\"")
//!     .start()
//!     .await?;
//! let msg = parapet.query("phishing.example.", RecordType::A).await?;
//! assert_eq!(client::rcode(&msg), hickory_proto::op::ResponseCode::NXDomain);
//! # Ok(()) }
//! ```

pub mod client;
pub mod daemon;
pub mod http;
pub mod lists;
pub mod netns;
pub mod nsd;
pub mod parapet;
pub mod signing;
pub mod tools;
pub mod unbound;
pub mod upstream;

pub use parapet::{Parapet, ParapetBuilder, eventually};
pub use upstream::{Blackhole, Upstream};

/// Install a tracing subscriber once (honours `RUST_LOG`; silent by default).
pub fn init_tracing() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
    });
}
