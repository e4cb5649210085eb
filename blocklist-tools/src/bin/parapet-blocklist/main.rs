//! `parapet-blocklist`: compile, check, stats, bench, update.
//! (Placeholder dispatch on the ops branch; the engine branch owns this file.)

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd {
    pub mod update;
}

#[derive(Parser)]
#[command(version, about = "parapet's list toolkit")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch the feeds of a config file and publish the compiled artifact.
    Update(cmd::update::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Update(args) => cmd::update::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
