//! `stats LIST`: counts, bytes, sources.

/// Show counts, size and sources of a list.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .pbl artifact or a raw list.
    list: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let list = super::load_list(&args.list)?;
    let s = list.stats();
    println!("domain_rules\t{}", s.domain_rules);
    println!("ip_ranges\t{}", s.ip_rules);
    println!("allow_rules\t{}", s.allow_rules);
    println!("bytes\t{}", s.bytes);
    if s.domain_rules > 0 {
        println!(
            "bytes_per_domain\t{:.2}",
            s.bytes as f64 / s.domain_rules as f64
        );
    }
    println!("built_at\t{}", s.built_at);
    for (name, category, sha, rules) in &s.sources {
        println!(
            "source\t{name}\t{}\t{rules}\tsha256:{sha}",
            category.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
