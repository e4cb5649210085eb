//! End-to-end tests: one binary, one module per area. Each test starts its
//! own upstream and parapet on ephemeral loopback ports (see the
//! `parapet_e2e` harness), so tests run in parallel.

mod access;
mod answer_cache;
mod artifact_swap;
mod blocking;
mod config_files;
mod dig;
mod exceptions;
mod forwarding;
mod inspection;
mod list_sources;
mod observe;
mod reload;
mod robustness;
mod transport;
mod udp_batch;
