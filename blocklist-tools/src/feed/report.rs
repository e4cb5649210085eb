//! What an update run reports: per feed and as a whole.

use std::fmt;
use std::path::PathBuf;

use crate::blocklist::Stats;

/// Options of an update run.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Accept every feed whose rule count fell beyond its `max_drop_percent`,
    /// and publish a list with no block rule.
    pub force: bool,
    /// Where feed state is kept (default: `feeds/` next to the artifact).
    pub state_dir: Option<PathBuf>,
}

/// What became of one feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedOutcome {
    /// A new copy was fetched, verified and accepted.
    Updated,
    /// The server answered 304 Not Modified, or a local file is unchanged.
    Unchanged,
    /// Fetching or parsing failed (network, HTTP status, size, time,
    /// malformed body); the last good copy, if any, stays in use.
    Failed(String),
    /// The new copy failed a guard (pin, signature, rule-count fall); the
    /// last good copy, if any, stays in use.
    Refused(String),
}

/// The report for one feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedReport {
    /// Feed name.
    pub name: String,
    /// What happened.
    pub outcome: FeedOutcome,
    /// Rules of the copy now in use (`None`: no usable copy, the feed is not
    /// in the artifact).
    pub rules: Option<u64>,
    /// Rules of the previous good copy, if there was one.
    pub previous_rules: Option<u64>,
    /// Lines of a new copy skipped as malformed (only for `Updated`).
    pub skipped: u64,
}

impl fmt::Display for FeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.name)?;
        let in_use = match self.rules {
            Some(n) => format!("last good copy kept ({n} rules)"),
            None => "no good copy, feed left out".to_string(),
        };
        match &self.outcome {
            FeedOutcome::Updated => {
                write!(f, "updated, {} rules", self.rules.unwrap_or(0))?;
                if let Some(before) = self.previous_rules {
                    write!(f, " (was {before})")?;
                }
                if self.skipped > 0 {
                    write!(f, ", {} malformed lines skipped", self.skipped)?;
                }
                Ok(())
            }
            FeedOutcome::Unchanged => write!(f, "unchanged, {} rules", self.rules.unwrap_or(0)),
            FeedOutcome::Failed(reason) => write!(f, "failed: {reason}; {in_use}"),
            FeedOutcome::Refused(reason) => write!(f, "refused: {reason}; {in_use}"),
        }
    }
}

/// The result of an update run.
#[derive(Debug, Clone)]
pub struct UpdateReport {
    /// One report per configured feed, in config order.
    pub feeds: Vec<FeedReport>,
    /// Where the artifact was (or was to be) published.
    pub artifact: PathBuf,
    /// The published artifact's stats, or why nothing was published.
    pub published: Result<Stats, String>,
    /// Where the per-feed metrics were written, or why they were not.
    pub metrics_file: Result<PathBuf, String>,
}

impl UpdateReport {
    /// Whether every feed was updated or unchanged (none failed or was
    /// refused).
    pub fn all_feeds_ok(&self) -> bool {
        self.feeds
            .iter()
            .all(|f| matches!(f.outcome, FeedOutcome::Updated | FeedOutcome::Unchanged))
    }
}
