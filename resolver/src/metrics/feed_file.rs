//! The feed updater's metrics, served by parapet too.
//!
//! `parapet-blocklist update` writes per-feed metrics (`parapet_feed_*`) to
//! `feeds.prom` in its state directory, by default `feeds/` next to the
//! artifact at `[blocklist] path`. When that file exists, every scrape of
//! `/metrics` appends its `parapet_feed_*` families (read at scrape time, so
//! the latest run shows without a reload). Lines that are not a
//! `parapet_feed_*` sample or its `# HELP`/`# TYPE` are left out, so a stray
//! or damaged file cannot break the exposition.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The updater's metrics file name (see `parapet_blocklist::feed::status`).
pub const FILE_NAME: &str = "feeds.prom";

/// Largest file read: a few hundred bytes per feed is normal.
const MAX_BYTES: u64 = 1024 * 1024;

/// Where the updater writes its metrics for the compiled artifact at
/// `artifact`: `feeds/feeds.prom` beside it (raw sources have none).
pub fn default_path(artifact: &Path) -> PathBuf {
    artifact
        .parent()
        .unwrap_or(Path::new("."))
        .join("feeds")
        .join(FILE_NAME)
}

/// Insert the `parapet_feed_*` lines of the file at `path`, if it reads,
/// into the exposition `out` before its closing `# EOF`.
pub fn append(out: &mut String, path: &Path) {
    let mut text = String::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(MAX_BYTES).read_to_string(&mut text));
    if read.is_err() {
        return;
    }
    let lines: Vec<&str> = text.lines().filter(|l| is_feed_line(l)).collect();
    if lines.is_empty() {
        return;
    }
    let at = out.rfind("# EOF").unwrap_or(out.len());
    let mut insert = String::with_capacity(text.len());
    for line in lines {
        insert.push_str(line);
        insert.push('\n');
    }
    out.insert_str(at, &insert);
}

/// A `parapet_feed_*` sample, or the `# HELP`/`# TYPE` line of such a family.
fn is_feed_line(line: &str) -> bool {
    let line = line
        .strip_prefix("# HELP ")
        .or_else(|| line.strip_prefix("# TYPE "))
        .unwrap_or(line);
    line.starts_with("parapet_feed_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_lines_go_before_eof_and_others_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            "# HELP parapet_feed_up up\n# TYPE parapet_feed_up gauge\nparapet_feed_up{feed=\"a\"} 1\n\
             parapet_queries_total 99\n# EOF\ngarbage\n",
        )
        .unwrap();
        let mut out = "parapet_x 1\n# EOF\n".to_string();
        append(&mut out, &path);
        assert_eq!(
            out,
            "parapet_x 1\n# HELP parapet_feed_up up\n# TYPE parapet_feed_up gauge\n\
             parapet_feed_up{feed=\"a\"} 1\n# EOF\n"
        );
        let mut untouched = "# EOF\n".to_string();
        append(&mut untouched, &dir.path().join("missing.prom"));
        assert_eq!(untouched, "# EOF\n");
    }

    #[test]
    fn path_is_beside_the_artifact() {
        assert_eq!(
            default_path(Path::new("/var/lib/parapet/parapet.pbl")),
            PathBuf::from("/var/lib/parapet/feeds/feeds.prom")
        );
    }
}
