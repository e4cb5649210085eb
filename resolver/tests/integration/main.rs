//! parapet-resolver's integration tests: one binary (one link, one run),
//! one module per area; most run the real `parapet` binary. `cargo test -p
//! parapet-resolver --test integration warning_page::` runs one area.

mod cli;
mod config_errors;
mod enrol_cli;
mod feed_metrics_binary;
mod lookalike_rates;
mod observe_binary;
mod support;
mod warning_browser;
mod warning_page;
mod warning_wiring;
