//! parapet-blocklist's integration tests: one binary (one link, one run),
//! one module per area. `cargo test -p parapet-blocklist --test integration
//! feed_update::` runs one area.

mod artifact;
mod artifact_fetch;
mod cli;
mod feed_cli;
mod feed_support;
mod feed_trust;
mod feed_update;
mod matcher;
mod model;
mod real_lists;
mod systemd_units;
