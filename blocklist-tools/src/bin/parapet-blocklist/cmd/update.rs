//! `parapet-blocklist update --config FILE [--force]`: fetch the feeds of a
//! parapet config file, check them and publish the compiled artifact at its
//! `[blocklist] path` for the resolver to hot-reload.

use std::path::PathBuf;

use parapet_blocklist::feed::{self, UpdateConfig, UpdateOptions};

/// Arguments of `update`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The parapet config file: its `[blocklist] path` and `[[feeds]]` are used.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Accept feeds whose rule count fell beyond their `max_drop_percent`
    /// (signature and pin failures are never forced).
    #[arg(long)]
    pub force: bool,
    /// Where feed state (last good copies) is kept; default `feeds/` next to
    /// the artifact.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Run an update and print one line per feed and one for the artifact.
/// Exit 0 when an artifact was published (even if some feeds failed), 1 when
/// nothing could be published, 2 when the config file is not valid.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = match UpdateConfig::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("Error: invalid config: {e}");
            std::process::exit(2);
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
    match &report.published {
        Ok(stats) => {
            println!(
                "published {}: {} domain rules, {} IP rules from {} sources, {} bytes",
                report.artifact.display(),
                stats.domain_rules,
                stats.ip_rules,
                stats.sources.len(),
                stats.bytes
            );
            Ok(())
        }
        Err(reason) => Err(anyhow::anyhow!(
            "nothing published to {}: {reason}; the previous artifact stays in service",
            report.artifact.display()
        )),
    }
}
