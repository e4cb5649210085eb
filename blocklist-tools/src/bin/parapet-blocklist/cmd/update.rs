//! `parapet-blocklist update --config FILE [--force]`: fetch the feeds of a
//! parapet config file, check them and publish the compiled artifact at its
//! `[blocklist] path` for the resolver to hot-reload.

use std::path::PathBuf;

use parapet_blocklist::feed::{self, UpdateConfig, UpdateOptions};

/// The exit codes of `update`, for `--help` (the README lists them too).
pub const EXIT_CODES: &str = "Exit codes:
  0  published; every feed updated or unchanged
  1  nothing published (no usable copy, no block rule, a write error); the previous list, if any, stays
  2  usage error or invalid config file
  3  published, but at least one feed failed or was refused (it keeps its last good copy)";

/// Exit code: published, but a feed failed or was refused.
pub const EXIT_PARTIAL: u8 = 3;
/// Exit code: usage error or invalid config (clap's own usage error code).
pub const EXIT_CONFIG: u8 = 2;

/// Arguments of `update`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The parapet config file: its `[blocklist] path` and `[[feeds]]` are used.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Accept feeds whose rule count fell beyond their `max_drop_percent`,
    /// and publish a list with no block rule (signature, pin and replay
    /// failures are never forced).
    #[arg(long)]
    pub force: bool,
    /// Where feed state (last good copies, feeds.prom) is kept; default
    /// `feeds/` next to the artifact.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Run an update and print one line per feed and one for the artifact;
/// the exit code is one of [`EXIT_CODES`].
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = match UpdateConfig::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("Error: invalid config: {e}");
            exit(EXIT_CONFIG);
        }
    };
    let options = UpdateOptions {
        force: args.force,
        state_dir: args.state_dir.clone(),
    };
    let report = feed::update(&config, &options);
    for feed in &report.feeds {
        println!("feed {feed}");
    }
    if let Err(e) = &report.metrics_file {
        eprintln!("Warning: feed metrics not written: {e}");
    }
    let stats = match &report.published {
        Ok(stats) => stats,
        Err(reason) => {
            // First boot: there is no previous artifact to keep.
            let kept = if report.artifact.exists() {
                "the previous artifact stays in service"
            } else {
                "no list yet"
            };
            return Err(anyhow::anyhow!(
                "nothing published to {}: {reason}; {kept}",
                report.artifact.display()
            ));
        }
    };
    println!(
        "published {}: {} domain rules, {} IP rules from {} sources, {} bytes",
        report.artifact.display(),
        stats.domain_rules,
        stats.ip_rules,
        stats.sources.len(),
        stats.bytes
    );
    if !report.all_feeds_ok() {
        let failed = report.feeds.iter().filter(|f| {
            !matches!(
                f.outcome,
                feed::FeedOutcome::Updated | feed::FeedOutcome::Unchanged
            )
        });
        let names: Vec<&str> = failed.map(|f| f.name.as_str()).collect();
        eprintln!(
            "Error: published, but {} feed(s) failed: {}",
            names.len(),
            names.join(", ")
        );
        exit(EXIT_PARTIAL);
    }
    Ok(())
}

fn exit(code: u8) -> ! {
    std::process::exit(i32::from(code))
}
