//! The feed updater's last results, read from the `feeds.prom` it writes
//! beside the artifact (see [`crate::metrics::feed_file`]; the format is
//! Prometheus text, one sample a line). Read when a page is shown, so the
//! latest run shows at once. A missing, unreadable or damaged file reads as
//! "no record"; unknown lines are skipped.

use std::io::Read as _;
use std::path::Path;

/// Largest file read: a few hundred bytes per feed is normal.
const MAX_BYTES: u64 = 1024 * 1024;

/// One feed's results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Feed {
    /// The feed's `name` in `[[feeds]]`.
    pub name: String,
    /// Whether its last update succeeded (fetched or revalidated).
    pub up: bool,
    /// Rules of the copy in use (0: none, left out of the list).
    pub rules: u64,
    /// Last successful update (Unix seconds).
    pub last_success: Option<u64>,
    /// Last failed update (Unix seconds) and why.
    pub last_failure: Option<(u64, String)>,
}

/// What the last runs of `parapet-blocklist update` left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FeedReport {
    /// When the updater last ran (Unix seconds).
    pub updated_at: Option<u64>,
    /// Whether that run published a list.
    pub published: Option<bool>,
    /// Each feed, in file order.
    pub feeds: Vec<Feed>,
}

impl FeedReport {
    /// Read the file at `path`; `None` when there is no usable record.
    pub(crate) fn read(path: &Path) -> Option<FeedReport> {
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_BYTES).read_to_string(&mut text))
            .ok()?;
        let report = FeedReport::parse(&text);
        (report.updated_at.is_some() || !report.feeds.is_empty()).then_some(report)
    }

    /// Parse the text of a `feeds.prom`.
    pub(crate) fn parse(text: &str) -> FeedReport {
        let mut report = FeedReport::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some(sample) = Sample::parse(line) else {
                continue;
            };
            let Some(metric) = sample.name.strip_prefix("parapet_feed_") else {
                continue;
            };
            let value = sample.value;
            match metric {
                "update_timestamp_seconds" => report.updated_at = Some(value),
                "published" => report.published = Some(value == 1),
                _ => {
                    let Some(name) = sample.label("feed") else {
                        continue;
                    };
                    let feed = report.feed(name);
                    match metric {
                        "up" => feed.up = value == 1,
                        "rules" => feed.rules = value,
                        "last_success_timestamp_seconds" => feed.last_success = Some(value),
                        "last_failure_timestamp_seconds" => {
                            let reason = sample.label("reason").unwrap_or_default();
                            feed.last_failure = Some((value, reason.to_string()));
                        }
                        _ => {}
                    }
                }
            }
        }
        report
    }

    fn feed(&mut self, name: &str) -> &mut Feed {
        let at = match self.feeds.iter().position(|f| f.name == name) {
            Some(at) => at,
            None => {
                self.feeds.push(Feed {
                    name: name.to_string(),
                    ..Feed::default()
                });
                self.feeds.len() - 1
            }
        };
        &mut self.feeds[at]
    }
}

/// One sample line: `name{label="value",…} 123`.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: u64,
}

impl Sample {
    fn parse(line: &str) -> Option<Sample> {
        let (head, value) = line.trim().rsplit_once(' ')?;
        let value = value.parse::<f64>().ok().filter(|v| *v >= 0.0)? as u64;
        let (name, labels) = match head.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
            None => (head, Vec::new()),
        };
        Some(Sample {
            name: name.to_string(),
            labels,
            value,
        })
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// `a="x",b="y \"z\""` → pairs, unescaping `\\`, `\"` and `\n`.
fn parse_labels(text: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim_start_matches(',').to_string(), value));
        rest = &after[end + 1..];
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_updater_writes() {
        let text = "# HELP parapet_feed_up x\n# TYPE parapet_feed_up gauge\n\
            parapet_feed_up{feed=\"urlhaus\"} 1\nparapet_feed_up{feed=\"openphish\"} 0\n\
            parapet_feed_rules{feed=\"urlhaus\"} 1234\n\
            parapet_feed_last_success_timestamp_seconds{feed=\"urlhaus\"} 1700000000\n\
            parapet_feed_last_failure_timestamp_seconds{feed=\"openphish\",reason=\"HTTP 503: \\\"busy\\\", try later\"} 1700000100\n\
            parapet_feed_update_timestamp_seconds 1700000200\nparapet_feed_published 1\ngarbage\n";
        let r = FeedReport::parse(text);
        assert_eq!(r.updated_at, Some(1_700_000_200));
        assert_eq!(r.published, Some(true));
        assert_eq!(
            r.feeds,
            vec![
                Feed {
                    name: "urlhaus".into(),
                    up: true,
                    rules: 1234,
                    last_success: Some(1_700_000_000),
                    last_failure: None,
                },
                Feed {
                    name: "openphish".into(),
                    up: false,
                    rules: 0,
                    last_success: None,
                    last_failure: Some((1_700_000_100, "HTTP 503: \"busy\", try later".into())),
                },
            ]
        );
    }

    #[test]
    fn missing_or_empty_file_is_no_record() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(FeedReport::read(&dir.path().join("feeds.prom")), None);
        std::fs::write(dir.path().join("feeds.prom"), "nonsense\n").expect("write");
        assert_eq!(FeedReport::read(&dir.path().join("feeds.prom")), None);
    }
}
