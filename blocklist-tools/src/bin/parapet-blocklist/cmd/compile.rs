//! `compile -o OUT.pbl [--allow FILE]... [--force-public-suffix] SOURCE...`

use std::path::PathBuf;

use anyhow::Context;
use parapet_blocklist::{CompileOptions, Compiler, SourceSpec};

/// Compile lists into a .pbl artifact.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output artifact.
    #[arg(short, long)]
    output: PathBuf,
    /// An allowlist file (`path` or `FORMAT:path`): every rule in it is an
    /// exception that applies across sources. Repeatable.
    #[arg(long = "allow", value_name = "FILE")]
    allow: Vec<String>,
    /// Category recorded for every block source (e.g. `malware`).
    #[arg(long)]
    category: Option<String>,
    /// Accept rules that cover a whole public suffix (`com`, `github.io`).
    #[arg(long)]
    force_public_suffix: bool,
    /// How many skipped lines to print per source.
    #[arg(long, default_value_t = 5)]
    show_skipped: usize,
    /// List sources: `path` or `FORMAT:path` (hosts, domains, adblock, rpz,
    /// dnsmasq, ip, urls). Only a named format keeps its exceptions.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut compiler = Compiler::new(CompileOptions {
        force_public_suffix: args.force_public_suffix,
    });
    let started = std::time::Instant::now();
    let mut specs = Vec::new();
    for s in &args.sources {
        let mut spec = SourceSpec::parse_cli(s)?;
        spec.category = args.category.clone();
        specs.push(spec);
    }
    for s in &args.allow {
        let mut spec = SourceSpec::parse_cli(s)?;
        spec.allow = true;
        specs.push(spec);
    }
    for spec in &specs {
        let report = compiler.add_source(spec)?;
        super::print_report(report, args.show_skipped);
        // The rule the server applies: a source it would refuse is an error here.
        if let Some(why) = report.refusal() {
            anyhow::bail!("{why}");
        }
    }
    compiler
        .write_file(&args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let size = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "wrote {} ({size} bytes) in {:.2?}",
        args.output.display(),
        started.elapsed()
    );
    Ok(())
}
