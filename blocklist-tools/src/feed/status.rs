//! Per-feed results kept across runs (`<name>.status` in the state
//! directory) and exported as Prometheus metrics in `feeds.prom` beside
//! them, written by rename after every run: node_exporter's textfile
//! collector reads it, and parapet's `/metrics` appends it when the file is
//! in the default state directory (`feeds/` next to the artifact).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `parapet_feed_up` | gauge | `feed`: 1 when the last run updated or revalidated it, 0 when it failed or was refused |
//! | `parapet_feed_rules` | gauge | `feed`: rules of the copy in use (0: none, the feed is left out) |
//! | `parapet_feed_last_success_timestamp_seconds` | gauge | `feed` (feeds that ever succeeded) |
//! | `parapet_feed_last_failure_timestamp_seconds` | gauge | `feed`, `reason` (the last failure's message; feeds that ever failed) |
//! | `parapet_feed_update_timestamp_seconds` | gauge | — (when `update` last ran) |
//! | `parapet_feed_published` | gauge | — (1 when that run published a list, 0 when it did not) |

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::report::{FeedOutcome, FeedReport};

/// The metrics file's name in the state directory.
pub const METRICS_FILE: &str = "feeds.prom";

/// Longest failure message kept in the `reason` label, in characters.
const MAX_REASON_CHARS: usize = 200;

/// One feed's results across runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
struct Status {
    /// Last run that updated or revalidated the feed (Unix seconds).
    last_success_at: Option<u64>,
    /// Last run in which it failed or was refused (Unix seconds).
    last_failure_at: Option<u64>,
    /// Why, then.
    last_failure: Option<String>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Record this run's `reports` in each feed's status file and write the
/// metrics file; returns its path. A feed whose status file is unreadable
/// starts afresh.
pub(crate) fn record(
    dir: &Path,
    reports: &[FeedReport],
    published: bool,
) -> Result<PathBuf, String> {
    let at = now();
    let mut text = String::new();
    let mut statuses = Vec::with_capacity(reports.len());
    for report in reports {
        let path = dir.join(format!("{}.status", report.name));
        let mut status: Status = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default();
        match &report.outcome {
            FeedOutcome::Updated | FeedOutcome::Unchanged => status.last_success_at = Some(at),
            FeedOutcome::Failed(reason) | FeedOutcome::Refused(reason) => {
                status.last_failure_at = Some(at);
                status.last_failure = Some(reason.clone());
            }
        }
        let toml = toml::to_string(&status).map_err(|e| e.to_string())?;
        write_atomically(dir, &path, &toml)?;
        statuses.push(status);
    }
    render(&mut text, reports, &statuses, at, published);
    let path = dir.join(METRICS_FILE);
    write_atomically(dir, &path, &text)?;
    Ok(path)
}

/// The metrics text (Prometheus text format, also valid OpenMetrics
/// without the `# EOF` line).
fn render(out: &mut String, reports: &[FeedReport], statuses: &[Status], at: u64, published: bool) {
    let family = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP parapet_feed_{name} {help}");
        let _ = writeln!(out, "# TYPE parapet_feed_{name} gauge");
    };
    family(
        out,
        "up",
        "Whether the feed's last update succeeded (1) or failed or was refused (0)",
    );
    for report in reports {
        let ok = matches!(
            report.outcome,
            FeedOutcome::Updated | FeedOutcome::Unchanged
        );
        let _ = writeln!(
            out,
            "parapet_feed_up{{feed=\"{}\"}} {}",
            report.name,
            u8::from(ok)
        );
    }
    family(
        out,
        "rules",
        "Rules of the feed's copy in use (0: no usable copy, left out)",
    );
    for report in reports {
        let rules = report.rules.unwrap_or(0);
        let _ = writeln!(
            out,
            "parapet_feed_rules{{feed=\"{}\"}} {rules}",
            report.name
        );
    }
    family(
        out,
        "last_success_timestamp_seconds",
        "Last update that fetched or revalidated the feed (Unix time)",
    );
    for (report, status) in reports.iter().zip(statuses) {
        if let Some(t) = status.last_success_at {
            let _ = writeln!(
                out,
                "parapet_feed_last_success_timestamp_seconds{{feed=\"{}\"}} {t}",
                report.name
            );
        }
    }
    family(
        out,
        "last_failure_timestamp_seconds",
        "Last update in which the feed failed or was refused (Unix time), with the reason",
    );
    for (report, status) in reports.iter().zip(statuses) {
        if let (Some(t), Some(reason)) = (status.last_failure_at, &status.last_failure) {
            let reason = label_value(reason);
            let _ = writeln!(
                out,
                "parapet_feed_last_failure_timestamp_seconds{{feed=\"{}\",reason=\"{reason}\"}} {t}",
                report.name
            );
        }
    }
    family(
        out,
        "update_timestamp_seconds",
        "When parapet-blocklist update last ran (Unix time)",
    );
    let _ = writeln!(out, "parapet_feed_update_timestamp_seconds {at}");
    family(
        out,
        "published",
        "Whether the last update published a list (1) or left the previous one (0)",
    );
    let _ = writeln!(out, "parapet_feed_published {}", u8::from(published));
}

/// `text` as a label value: at most [`MAX_REASON_CHARS`] characters, with
/// backslash, double quote and line breaks escaped.
fn label_value(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(MAX_REASON_CHARS) {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' | '\r' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn write_atomically(dir: &Path, path: &Path, text: &str) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    #[cfg(unix)]
    {
        // node_exporter and parapet may run as other users.
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_escaped_and_capped() {
        assert_eq!(label_value("a \"b\"\\\nc"), "a \\\"b\\\"\\\\\\nc");
        assert_eq!(label_value(&"x".repeat(500)).len(), MAX_REASON_CHARS);
    }

    #[test]
    fn failure_keeps_the_last_success_time() {
        let dir = tempfile::tempdir().unwrap();
        let report = |outcome| FeedReport {
            name: "f".into(),
            outcome,
            rules: Some(3),
            previous_rules: None,
            skipped: 0,
        };
        record(dir.path(), &[report(FeedOutcome::Updated)], true).unwrap();
        let path = record(
            dir.path(),
            &[report(FeedOutcome::Failed("HTTP \"503\"".into()))],
            true,
        )
        .unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("parapet_feed_up{feed=\"f\"} 0\n"), "{text}");
        assert!(
            text.contains("parapet_feed_rules{feed=\"f\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("parapet_feed_last_success_timestamp_seconds{feed=\"f\"} "),
            "{text}"
        );
        assert!(
            text.contains("{feed=\"f\",reason=\"HTTP \\\"503\\\"\"} "),
            "{text}"
        );
    }
}
