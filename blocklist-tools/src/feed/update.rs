//! One update run: fetch, check and accept each feed, then publish.

use std::path::Path;

use super::config::FeedConfig;
use super::fetch::{self, FetchError, Fetched};
use super::report::{FeedOutcome, FeedReport, UpdateOptions, UpdateReport};
use super::settings::UpdateConfig;
use super::state::{self, FeedState, Meta};
use super::{publish, rollback, status};
use crate::compile::Compiler;
use crate::source::{CompileOptions, SourceSpec};

/// Run an update: fetch and check every feed, then compile the good copies
/// and publish the artifact. Per-feed failures are reported, not returned;
/// `published` is an error when nothing was published (no usable copy, no
/// block rule without `force`, a compile or write error). Each feed's status
/// and the metrics file are written to the state directory.
pub fn update(config: &UpdateConfig, options: &UpdateOptions) -> UpdateReport {
    let state_dir = options.state_dir.clone().unwrap_or_else(|| {
        config
            .artifact
            .parent()
            .unwrap_or(Path::new("."))
            .join("feeds")
    });
    let mut feeds = Vec::new();
    let mut sources = Vec::new();
    let created = std::fs::create_dir_all(&state_dir);
    for feed in &config.feeds {
        let state = FeedState::new(&state_dir, &feed.name);
        let report = match &created {
            Ok(()) => update_feed(feed, &state, options.force),
            Err(e) => FeedReport {
                name: feed.name.clone(),
                outcome: FeedOutcome::Failed(format!("{}: {e}", state_dir.display())),
                rules: None,
                previous_rules: None,
                skipped: 0,
            },
        };
        if report.rules.is_some() {
            sources.push(source_spec(feed, &state.body()));
        }
        feeds.push(report);
    }
    let published = if sources.is_empty() {
        Err("no feed has a usable copy".to_string())
    } else {
        publish::publish(&config.artifact, &sources, options.force)
    };
    let metrics_file = status::record(&state_dir, &feeds, published.is_ok());
    UpdateReport {
        feeds,
        artifact: config.artifact.clone(),
        published,
        metrics_file,
    }
}

/// The compile source for a feed's copy at `body`.
fn source_spec(feed: &FeedConfig, body: &Path) -> SourceSpec {
    SourceSpec {
        path: body.to_path_buf(),
        format: feed.list_format(),
        name: feed.name.clone(),
        category: feed.category.clone(),
        exact: feed.is_exact(),
        allow: feed.allow,
    }
}

fn update_feed(feed: &FeedConfig, state: &FeedState, force: bool) -> FeedReport {
    let previous = state.load();
    let guards = state::guards(feed);
    let previous_rules = previous.as_ref().map(|m| m.rules);
    let report = |outcome: FeedOutcome, rules: Option<u64>| FeedReport {
        name: feed.name.clone(),
        outcome,
        rules,
        previous_rules,
        skipped: 0,
    };
    // Revalidate only a copy fetched from the same place under the same guards.
    let current = previous
        .as_ref()
        .filter(|m| m.origin == feed.origin() && m.guards == guards);
    let download = match fetch::fetch(feed, current, state.dir()) {
        Ok(Fetched::NotModified) => return report(FeedOutcome::Unchanged, previous_rules),
        Ok(Fetched::Body(download)) => download,
        Err(FetchError::Download(reason)) => {
            return report(FeedOutcome::Failed(reason), previous_rules);
        }
        Err(FetchError::Refused(reason)) => {
            return report(FeedOutcome::Refused(reason), previous_rules);
        }
    };
    let signed_at = match &download.trusted_comment {
        None if current.is_some_and(|m| m.sha256 == download.sha256) => {
            return report(FeedOutcome::Unchanged, previous_rules);
        }
        None => None,
        Some(comment) => {
            let signer = previous.as_ref().filter(|m| state::same_signer(m, feed));
            let last = signer.and_then(|m| m.signed_at);
            let same_content = signer.is_some_and(|m| m.sha256 == download.sha256);
            match rollback::check(comment, feed.file_name().as_deref(), last, same_content) {
                Ok((rollback::Freshness::Same, _)) => {
                    return report(FeedOutcome::Unchanged, previous_rules);
                }
                Ok((rollback::Freshness::Newer, at)) => Some(at),
                Err(reason) => return report(FeedOutcome::Refused(reason), previous_rules),
            }
        }
    };
    let (rules, skipped) = match count_rules(feed, download.file.path()) {
        Ok(counts) => counts,
        Err(reason) => return report(FeedOutcome::Failed(reason), previous_rules),
    };
    if let Some(before) = previous_rules
        && let Err(reason) = check_drop(feed, before, rules, force)
    {
        return report(FeedOutcome::Refused(reason), previous_rules);
    }
    let meta = Meta {
        origin: feed.origin(),
        guards,
        etag: download.etag,
        last_modified: download.last_modified,
        sha256: download.sha256,
        rules,
        accepted_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        signed_at,
    };
    match state.accept(download.file, &meta) {
        Ok(()) => FeedReport {
            skipped,
            ..report(FeedOutcome::Updated, Some(rules))
        },
        Err(e) => report(
            FeedOutcome::Failed(format!("saving {}: {e}", state.body().display())),
            previous_rules.filter(|_| state.body().is_file()),
        ),
    }
}

/// Compile a new copy on its own: its rule and skipped-line counts, or why
/// it is unusable.
fn count_rules(feed: &FeedConfig, body: &Path) -> Result<(u64, u64), String> {
    let mut compiler = Compiler::new(CompileOptions::default());
    let report = compiler
        .add_source(&source_spec(feed, body))
        .map_err(|e| format!("parse: {e}"))?;
    let rules = report.domain_rules + report.ip_rules;
    if rules == 0 {
        return Err(format!(
            "parse: no rules in the new copy ({} lines skipped as malformed)",
            report.skipped
        ));
    }
    // The same rule as compile, check-config and the server.
    if let Some(why) = report.refusal() {
        return Err(format!("parse: {why}"));
    }
    Ok((rules, report.skipped))
}

/// The rule-count guard: refuse a fall to zero or beyond `max_drop_percent`.
fn check_drop(feed: &FeedConfig, before: u64, after: u64, force: bool) -> Result<(), String> {
    if force || feed.force || after >= before {
        return Ok(());
    }
    let max = u64::from(feed.max_drop_percent());
    // after < before * (100 - max) / 100, in integers.
    if after == 0 || after * 100 < before * (100 - max) {
        return Err(format!(
            "rule count fell from {before} to {after}, more than max_drop_percent ({max}%); \
             run with --force or set force = true to accept it"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(max: Option<u8>) -> FeedConfig {
        toml::from_str::<FeedConfig>(&format!(
            "name = \"f\"\npath = \"x\"\n{}",
            max.map(|m| format!("max_drop_percent = {m}\n"))
                .unwrap_or_default()
        ))
        .unwrap()
    }

    #[test]
    fn drop_beyond_default_half_is_refused() {
        let f = feed(None);
        assert!(check_drop(&f, 1000, 500, false).is_ok());
        assert!(check_drop(&f, 1000, 499, false).is_err());
        assert!(check_drop(&f, 1000, 499, true).is_ok());
        assert!(check_drop(&f, 1000, 2000, false).is_ok());
    }

    #[test]
    fn drop_to_zero_is_refused_even_at_100_percent() {
        let f = feed(Some(100));
        assert!(check_drop(&f, 10, 1, false).is_ok());
        assert!(check_drop(&f, 10, 0, false).is_err());
    }

    #[test]
    fn config_errors_name_the_key() {
        let base = Path::new("/etc/parapet");
        let cases = [
            ("[[feeds]]\nname='a'\npath='x'\n", "blocklist.path"),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\n",
                "set url or path",
            ),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a/b'\npath='x'\n",
                "name",
            ),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\nurl='ftp://x'\n",
                "url:",
            ),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\npath='x'\nsha256='12'\n",
                "sha256",
            ),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\npath='x'\nformat='csv'\n",
                "format",
            ),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\npath='x'\nmatch='fuzzy'\n",
                "match",
            ),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\npath='x'\nminisign_key='xyz'\n",
                "minisign_key",
            ),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\npath='x'\nbogus=1\n",
                "bogus",
            ),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\nurl='http://x/l.txt'\n",
                "feeds[0] (a): url: \"http://x/l.txt\" is plain http:// with neither sha256 nor minisign_key",
            ),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\nurl='https://x/l'\nminisign_key='RWQSyyMTzwn7FTjfSdzy3QEy1AbecLnJjGeDNXQ6s30usWTu+e3+UkSS'\nsignature_url='http://x/l.minisig'\n",
                "signature_url: \"http://x/l.minisig\" is http://",
            ),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\nurl='https://x/l'\nca_file='/nonexistent/ca.pem'\n",
                "ca_file:",
            ),
            (
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\npath='x'\n[[feeds]]\nname='a'\npath='y'\n",
                "twice",
            ),
        ];
        for (text, key) in cases {
            let err = UpdateConfig::from_toml_str(text, base)
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text:?}: {err:?} does not name {key:?}");
        }
    }

    #[test]
    fn plain_http_is_accepted_with_a_pin_or_a_key() {
        let base = Path::new("/etc/parapet");
        for guard in [
            format!("sha256='{}'", "ab".repeat(32)),
            "minisign_key='RWQSyyMTzwn7FTjfSdzy3QEy1AbecLnJjGeDNXQ6s30usWTu+e3+UkSS'".into(),
        ] {
            let text = format!(
                "[blocklist]\npath='a.pbl'\n[[feeds]]\nname='a'\nurl='HTTP://x/l'\n{guard}\n"
            );
            let config = UpdateConfig::from_toml_str(&text, base).unwrap();
            assert!(!config.feeds[0].is_https());
        }
    }

    #[test]
    fn file_name_is_the_last_path_segment() {
        let url = |u: &str| FeedConfig {
            url: Some(u.into()),
            path: None,
            ..feed(None)
        };
        assert_eq!(
            url("https://h/a/list.txt?x=1#f").file_name().as_deref(),
            Some("list.txt")
        );
        assert_eq!(url("https://h/downloads/hostfile/").file_name(), None);
        assert_eq!(url("https://h").file_name(), None);
        assert_eq!(feed(None).file_name().as_deref(), Some("x"));
    }

    #[test]
    fn other_sections_are_left_to_the_resolver() {
        let text = "[server]\nlisten=['127.0.0.1:53']\n[blocklist]\npath='lists/p.pbl'\nsources=['a']\n\
                    [[feeds]]\nname='local'\npath='l.txt'\ncategory='phishing'\nmatch='exact'\n";
        let config = UpdateConfig::from_toml_str(text, Path::new("/etc/parapet")).unwrap();
        assert_eq!(config.artifact, Path::new("/etc/parapet/lists/p.pbl"));
        assert_eq!(
            config.feeds[0].path.as_deref(),
            Some(Path::new("/etc/parapet/l.txt"))
        );
        assert!(config.feeds[0].is_exact());
    }
}
