//! The default feeds of the shipped home and VPS configs parse: each
//! `[[feeds]]` entry's saved sample (`config/feeds-samples/<name>.*`, see
//! its README for origin and licence) goes through the real update
//! pipeline (`parapet_blocklist::feed::update`) with the format and
//! category the config names, in place of its URL; the published artifact
//! blocks a name from every sample under that feed's name and category.

use std::path::{Path, PathBuf};

use parapet_blocklist::Blocklist;
use parapet_blocklist::feed::{FeedOutcome, UpdateConfig, UpdateOptions, update};

use crate::shipped_configs::config_dir;

/// The shipped configs that fetch real feeds.
const CONFIGS: [&str; 2] = ["home.toml", "vps.toml"];

/// `config/feeds-samples/<feed>.<ext>`: the one sample saved for `feed`.
fn sample_of(feed: &str) -> PathBuf {
    let dir = config_dir().join("feeds-samples");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("config/feeds-samples/")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            p.file_stem().and_then(|s| s.to_str()) == Some(feed)
                && p.extension().is_some_and(|e| e != "md")
        })
        .collect();
    assert_eq!(found.len(), 1, "one sample for feed {feed}: {found:?}");
    found.remove(0)
}

/// The name of a sample's first rule line that holds a letter (hosts: the
/// last field; URLhaus's junk such as `0000153.0000255.0000011.0000125`
/// is skipped).
fn first_name(sample: &Path) -> String {
    let text = std::fs::read_to_string(sample).expect("sample");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().last())
        .find(|name| name.bytes().any(|b| b.is_ascii_alphabetic()))
        .expect("a rule line")
        .to_string()
}

#[test]
fn every_default_feed_sample_compiles_in_its_configured_format() {
    for file in CONFIGS {
        let path = config_dir().join(file);
        let mut config = UpdateConfig::load(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            config.artifact == Path::new("/var/lib/parapet/parapet.pbl"),
            "{file}: [blocklist] path is {:?}",
            config.artifact
        );
        assert!(config.feeds.len() >= 3, "{file}: {:?}", config.feeds);
        let dir = tempfile::tempdir().unwrap();
        config.artifact = dir.path().join("parapet.pbl");
        for feed in &mut config.feeds {
            assert!(
                feed.is_https(),
                "{file}: feed {} is not fetched over https",
                feed.name
            );
            assert!(
                feed.format.is_some(),
                "{file}: feed {} names no format",
                feed.name
            );
            feed.url = None;
            feed.path = Some(sample_of(&feed.name));
        }
        let options = UpdateOptions {
            force: false,
            state_dir: Some(dir.path().join("feeds")),
        };
        let report = update(&config, &options);
        for feed in &report.feeds {
            assert_eq!(feed.outcome, FeedOutcome::Updated, "{file}: {feed}");
            assert!(feed.rules.unwrap_or(0) >= 5, "{file}: {feed}");
        }
        report
            .published
            .unwrap_or_else(|e| panic!("{file}: not published: {e}"));
        let list = Blocklist::open(&config.artifact).expect("published artifact");
        for feed in &config.feeds {
            let name = first_name(feed.path.as_ref().unwrap());
            let verdict = list.check_name(&name);
            let rule = verdict
                .rule()
                .filter(|_| verdict.is_block())
                .unwrap_or_else(|| panic!("{file}: {name} from {} not blocked", feed.name));
            let source = list.source_of(rule);
            // Several feeds may list one name; the rule names one of them.
            assert!(
                config.feeds.iter().any(|f| f.name == source.name),
                "{file}: {name}: source {source:?}"
            );
            if source.name == feed.name {
                assert_eq!(source.category, feed.category.as_deref(), "{file}: {name}");
            }
        }
    }
}
