//! Compiling the feeds' good copies and publishing the artifact atomically.

use std::io::Write;
use std::path::Path;

use crate::blocklist::{Blocklist, Stats};
use crate::compile::Compiler;
use crate::source::{CompileOptions, SourceSpec};

/// Compile `sources` and replace `artifact` with the result: written to a
/// temporary file in the same directory, fsynced, opened and verified as
/// the resolver would, then renamed over `artifact` (and the directory
/// fsynced). A reader sees the old file or the new one, never a mix; a
/// result that does not open is never published, nor one without a block
/// rule unless `allow_no_blocks` (it would protect from nothing).
pub(crate) fn publish(
    artifact: &Path,
    sources: &[SourceSpec],
    allow_no_blocks: bool,
) -> Result<Stats, String> {
    let bytes = {
        let mut compiler = Compiler::new(CompileOptions::default());
        for spec in sources {
            compiler.add_source(spec).map_err(|e| e.to_string())?;
        }
        compiler.to_bytes().map_err(|e| e.to_string())?
    };
    let dir = match artifact.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let io = |e: std::io::Error| format!("{}: {e}", artifact.display());
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".parapet-")
        .suffix(".pbl.tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(&bytes).map_err(io)?;
    drop(bytes);
    tmp.as_file().sync_all().map_err(io)?;
    let stats = Blocklist::open(tmp.path())
        .map_err(|e| format!("the new artifact does not verify, not published: {e}"))?
        .stats();
    let blocks = (stats.domain_rules + stats.ip_rules).saturating_sub(stats.allow_rules);
    if blocks == 0 && !allow_no_blocks {
        return Err(format!(
            "the new list has no block rules ({} allow rules): it would protect from nothing; \
             run with --force to publish it anyway",
            stats.allow_rules
        ));
    }
    #[cfg(unix)]
    {
        // The resolver may run as another user than the updater.
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    tmp.persist(artifact).map_err(|e| io(e.error))?;
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)?;
    Ok(stats)
}
