//! `stats LIST`: counts, bytes, sources.

use std::io::Write;
/// Show counts, size and sources of a list.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .pbl artifact or a raw list.
    list: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let list = super::load_list(&args.list)?;
    let s = list.stats();
    writeln!(out, "domain_rules\t{}", s.domain_rules)?;
    writeln!(out, "ip_ranges\t{}", s.ip_rules)?;
    writeln!(out, "allow_rules\t{}", s.allow_rules)?;
    writeln!(out, "bytes\t{}", s.bytes)?;
    if s.domain_rules > 0 {
        writeln!(
            out,
            "bytes_per_domain\t{:.2}",
            s.bytes as f64 / s.domain_rules as f64
        )?;
    }
    writeln!(out, "fst_bytes\t{}", s.fst_bytes)?;
    writeln!(out, "filter_bytes\t{}", s.filter_bytes)?;
    writeln!(out, "index_bytes\t{}", s.index_bytes)?;
    writeln!(out, "built_at\t{}", s.built_at)?;
    for (name, category, sha, rules) in &s.sources {
        writeln!(
            out,
            "source\t{name}\t{}\t{rules}\tsha256:{sha}",
            category.as_deref().unwrap_or("-")
        )?;
    }
    out.flush()?;
    Ok(())
}
