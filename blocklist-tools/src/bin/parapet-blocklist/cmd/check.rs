//! `check LIST NAME_OR_IP...` (`-` reads them from stdin).
//!
//! Output, one line per input, tab-separated:
//! `input block|allow|none [rule source category-or-dash [allowlist|own-list exception]]`;
//! a URL input is checked by its host. A name the list does not decide is
//! then checked for look-alikes of the protected domains (the resolver's
//! default `[lookalikes]` set plus `--protect`), as the resolver does before
//! forwarding: a look-alike prints
//! `input block IMITATED lookalikes lookalike HOW`.

use std::io::{BufRead, Write};
use std::net::IpAddr;

use parapet_blocklist::lookalike::Detector;
use parapet_blocklist::url_host;
use parapet_blocklist::{Blocklist, Verdict};

/// Check names or IP addresses against a list.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A .pbl artifact or a raw list (`path` or `FORMAT:path`).
    list: String,
    /// Names or addresses; `-` reads them from stdin, one a line.
    #[arg(required = true, value_name = "NAME_OR_IP")]
    queries: Vec<String>,
    /// A domain to protect from look-alikes, added to the default set (as
    /// `[lookalikes] protect`); repeat for more.
    #[arg(long, value_name = "DOMAIN")]
    protect: Vec<String>,
    /// A known legitimate neighbour of a protected domain (as
    /// `[lookalikes] allow`, `label.*` for every suffix); repeat for more.
    #[arg(long, value_name = "DOMAIN")]
    lookalike_allow: Vec<String>,
    /// Check the list only, not look-alikes (as `[lookalikes] action = "off"`).
    #[arg(long)]
    no_lookalikes: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let list = super::load_list(&args.list)?;
    let lookalikes = if args.no_lookalikes {
        Detector::default()
    } else {
        Detector::new(&args.protect, &args.lookalike_allow)?
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.queries.len() == 1 && args.queries[0] == "-" {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            let q = line.trim();
            if !q.is_empty() {
                writeln!(out, "{}", check_line(&list, &lookalikes, q))?;
            }
        }
    } else {
        for q in &args.queries {
            writeln!(out, "{}", check_line(&list, &lookalikes, q))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The output line for one query: a name, an address, or a URL (its host
/// is checked); a name the list does not decide is checked for look-alikes.
pub fn check_line(list: &Blocklist, lookalikes: &Detector, query: &str) -> String {
    let subject = if query.contains("://") {
        url_host(query).unwrap_or(query)
    } else {
        query
    };
    let (verdict, is_name) = match subject.parse::<IpAddr>() {
        Ok(ip) => (list.check_ip(ip), false),
        Err(_) => (list.check_name(subject), true),
    };
    let word = match verdict {
        Verdict::None if is_name => return lookalike_line(lookalikes, query, subject),
        Verdict::None => return format!("{query}\tnone"),
        Verdict::Block(_) => "block",
        Verdict::Allow(_) => "allow",
    };
    let Some(rule) = verdict.rule() else {
        return format!("{query}\tnone");
    };
    let info = list.rule_info(rule, subject);
    // Whose exception applied: an allowlist's applies across sources, a
    // list's own only cancels that list's blocks.
    let scope = match verdict {
        Verdict::Allow(rule) if list.allows_across_sources(rule) => "\tallowlist",
        Verdict::Allow(_) => "\town-list exception",
        _ => "",
    };
    format!(
        "{query}\t{word}\t{}\t{}\t{}{scope}",
        info.pattern,
        info.source,
        info.category.as_deref().unwrap_or("-")
    )
}

/// The line for a name no list rule decides: a look-alike, or `none`.
fn lookalike_line(lookalikes: &Detector, query: &str, subject: &str) -> String {
    match lookalikes.check_text(subject) {
        Some(hit) => format!(
            "{query}\tblock\t{}\tlookalikes\tlookalike\t{}",
            hit.imitates,
            hit.class.describe()
        ),
        None => format!("{query}\tnone"),
    }
}
