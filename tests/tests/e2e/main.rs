//! End-to-end tests: one binary, one module per area. Each test starts its
//! own upstream and parapet on ephemeral loopback ports (see the
//! `parapet_e2e` harness), so tests run in parallel.

mod access;
mod answer_cache;
mod blocking;
mod config_files;
mod dig;
mod forwarding;
mod inspection;
mod observe;
mod reload;
mod robustness;
mod token_refusals;
mod transport;
mod udp_batch;
