//! The verbs.
pub mod bench;
pub mod check;
pub mod compile;
pub mod fetch;
pub mod stats;
pub mod update;

use std::path::Path;

use anyhow::Context;
use parapet_blocklist::{Blocklist, CompileOptions, SourceReport, SourceSpec};

/// Load LIST: a `.pbl` artifact, or raw list sources compiled in memory.
pub fn load_list(list: &str) -> anyhow::Result<Blocklist> {
    let path = Path::new(list);
    if is_artifact(path) {
        return Blocklist::open(path).with_context(|| format!("loading {list}"));
    }
    let spec = SourceSpec::parse_cli(list)?;
    let (bl, reports) = Blocklist::compile(&[spec], CompileOptions::default())
        .with_context(|| format!("compiling {list}"))?;
    for r in &reports {
        print_report(r, 0);
        if let Some(why) = r.refusal() {
            anyhow::bail!("{why}");
        }
    }
    Ok(bl)
}

/// A `.pbl` by extension or magic bytes.
fn is_artifact(path: &Path) -> bool {
    if path.extension().is_some_and(|e| e == "pbl") {
        return true;
    }
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|()| &magic == b"PARAPBL\0")
}

/// Print a source's counts, and its first `errors` skipped lines, to stderr.
pub fn print_report(r: &SourceReport, errors: usize) {
    eprintln!(
        "{}: {} format, {} domain rules, {} IP rules, {} skipped ({} refused), {} ignored, {} exceptions dropped",
        r.path.display(),
        r.format.map(|f| f.name()).unwrap_or("?"),
        r.domain_rules,
        r.ip_rules,
        r.skipped,
        r.refused,
        r.ignored,
        r.exceptions_dropped
    );
    if r.exceptions_dropped > 0 {
        eprintln!(
            "  exceptions are kept only when the format is named (e.g. adblock:{})",
            r.path.display()
        );
    }
    for e in r.errors.iter().take(errors) {
        eprintln!(
            "  {}:{}: {}: {}",
            r.path.display(),
            e.line,
            e.reason,
            e.text
        );
    }
    if r.skipped as usize > errors && errors > 0 {
        eprintln!(
            "  … {} more skipped lines",
            r.skipped as usize - errors.min(r.errors.len())
        );
    }
}
