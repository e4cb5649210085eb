//! `parapet-blocklist`: compile, check, stats, bench, update, fetch.
//!
//! Exit codes: 0 ok, 1 failure (unreadable or refused list), 2 usage error;
//! `update` adds 3 (published, but a feed failed).
use clap::{Parser, Subcommand};

mod cmd;

/// parapet's blocklist toolkit.
#[derive(Debug, Parser)]
#[command(name = "parapet-blocklist", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One verb per module in `cmd/`.
#[derive(Debug, Subcommand)]
enum Command {
    /// Compile lists into a .pbl artifact.
    Compile(cmd::compile::Args),
    /// Check names or IP addresses against a list.
    Check(cmd::check::Args),
    /// Show counts, size and sources of a list.
    Stats(cmd::stats::Args),
    /// Measure lookup speed and memory.
    Bench(cmd::bench::Args),
    /// Fetch the feeds of a config file and publish the compiled artifact.
    #[command(after_help = cmd::update::EXIT_CODES)]
    Update(cmd::update::Args),
    /// On a replica: fetch, verify and install a published signed artifact.
    Fetch(cmd::fetch::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile(args) => cmd::compile::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Stats(args) => cmd::stats::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Update(args) => cmd::update::run(args),
        Command::Fetch(args) => cmd::fetch::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
