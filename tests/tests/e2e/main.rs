//! End-to-end tests: one binary, one module per area. Each test starts its
//! own upstream and parapet on ephemeral loopback ports (see the
//! `parapet_e2e` harness), so tests run in parallel.

mod access;
mod amplification;
mod answer_cache;
mod artifact_swap;
mod blocking;
mod bypass;
mod config_files;
mod conformance;
mod connections;
mod default_feeds;
mod dig;
mod dnssec;
mod exceptions;
mod failures;
mod faithful;
mod first_boot;
mod forwarding;
mod hostile_upstreams;
mod inspection;
mod list_sources;
mod listeners;
mod lookalikes;
mod observe;
mod one_address;
mod ratelimit;
mod reload;
mod reload_under_load;
mod reserved;
mod robustness;
mod shipped_configs;
mod stale_and_prefetch;
mod tcp_pipeline;
mod token_refusals;
mod transport;
mod udp_batch;
mod upstream_client;
mod warning_page;
mod wire;
