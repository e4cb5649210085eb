//! `bench LIST QUERIES`: load time, lookups per second, ns per lookup, memory.

use std::hint::black_box;
use std::io::Read;
use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::Context;

/// Measure lookup speed and memory.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .pbl artifact or a raw list.
    list: String,
    /// File of names or IPs, one a line (`.gz` ok).
    queries: String,
    /// Minimum measuring time in seconds.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let started = Instant::now();
    let list = super::load_list(&args.list)?;
    let load = started.elapsed();
    let mut raw = Vec::new();
    std::fs::File::open(&args.queries)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .with_context(|| format!("reading {}", args.queries))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut text)?;
        raw = text;
    }
    let text = String::from_utf8_lossy(&raw);
    let queries: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    anyhow::ensure!(!queries.is_empty(), "{}: no queries", args.queries);
    let ips: Vec<Option<IpAddr>> = queries.iter().map(|q| q.parse().ok()).collect();
    let budget = Duration::from_secs_f64(args.seconds.max(0.1));
    let (mut lookups, mut blocked) = (0u64, 0u64);
    let t = Instant::now();
    while t.elapsed() < budget {
        for (q, ip) in queries.iter().zip(&ips) {
            let v = match ip {
                Some(ip) => list.check_ip(*ip),
                None => list.check_name(q),
            };
            blocked += u64::from(black_box(v).is_block());
        }
        lookups += queries.len() as u64;
    }
    let elapsed = t.elapsed();
    let stats = list.stats();
    writeln!(
        out,
        "list\t{}\t{} domain rules\t{} IP ranges\t{} bytes",
        args.list, stats.domain_rules, stats.ip_rules, stats.bytes
    )?;
    writeln!(out, "load\t{:.3} ms", load.as_secs_f64() * 1e3)?;
    writeln!(
        out,
        "queries\t{}\tblocked {:.2}%",
        queries.len(),
        100.0 * blocked as f64 / lookups as f64
    )?;
    writeln!(
        out,
        "lookups_per_sec\t{:.0}",
        lookups as f64 / elapsed.as_secs_f64()
    )?;
    writeln!(
        out,
        "ns_per_lookup\t{:.1}",
        elapsed.as_nanos() as f64 / lookups as f64
    )?;
    if let Some((rss, hwm)) = memory() {
        writeln!(out, "rss_kib\t{rss}\tpeak_rss_kib\t{hwm}")?;
    }
    out.flush()?;
    Ok(())
}

/// Current and peak resident set size in KiB, from /proc/self/status.
fn memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
