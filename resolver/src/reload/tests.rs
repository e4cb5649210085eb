//! The reload's check against the list in service: a block source emptied
//! under a running server is refused; an allowlist may empty; start-up
//! takes an empty source as before.

use std::path::Path;

use super::*;

const BLOCKS: &str = "0.0.0.0 phishing.example\n0.0.0.0 login-bank.example\n";
const ALLOWS: &str = "safe.phishing.example\n";

/// `[blocklist] sources`: `blocks.txt` (hosts) and `allow.txt` (an
/// allowlist) in `dir`, written with the given contents.
fn config(dir: &Path, blocks: &str, allows: &str) -> BlocklistConfig {
    std::fs::write(dir.join("blocks.txt"), blocks).unwrap();
    std::fs::write(dir.join("allow.txt"), allows).unwrap();
    let mut allow = SourceSpec::new(dir.join("allow.txt"));
    allow.allow = true;
    BlocklistConfig {
        source: ListSource::Sources(vec![SourceSpec::new(dir.join("blocks.txt")), allow]),
        force_public_suffix: false,
        watch: false,
    }
}

/// The list a reload with `blocks` and `allows` would put in place of one
/// loaded from [`BLOCKS`] and [`ALLOWS`].
fn reload_to(blocks: &str, allows: &str) -> Result<Blocklist, ReloadError> {
    let dir = tempfile::tempdir().unwrap();
    let in_service = load(&config(dir.path(), BLOCKS, ALLOWS)).unwrap();
    build(&config(dir.path(), blocks, allows), Some(&in_service))
}

#[test]
fn an_emptied_block_source_is_refused_naming_it_and_its_count() {
    for (what, text) in [
        ("empty", ""),
        ("blank lines", "\n\n\r\n"),
        ("comments only", "# test phishing list\n# nothing today\n"),
    ] {
        let err = reload_to(text, ALLOWS).expect_err(what);
        assert!(
            matches!(&err, ReloadError::Emptied { source_name, before: 2, .. } if source_name == "blocks.txt"),
            "{what}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("blocks.txt went from 2 rules to 0"), "{text}");
    }
}

#[test]
fn a_shrunk_but_not_empty_source_is_reloaded() {
    let list = reload_to("0.0.0.0 phishing.example\n", ALLOWS).unwrap();
    assert!(list.check_name("phishing.example").is_block());
    assert!(!list.check_name("login-bank.example").is_block());
}

#[test]
fn an_emptied_allowlist_is_reloaded() {
    let list = reload_to(BLOCKS, "").unwrap();
    assert!(list.check_name("safe.phishing.example").is_block());
}

#[test]
fn a_source_empty_at_start_loads_and_may_fill_later() {
    let dir = tempfile::tempdir().unwrap();
    let empty = load(&config(dir.path(), "", ALLOWS)).unwrap();
    assert_eq!(empty.stats().sources[0].3, 0);
    // Nothing to lose: the empty source stays empty on a reload, or fills.
    build(&config(dir.path(), "", ALLOWS), Some(&empty)).unwrap();
    let full = build(&config(dir.path(), BLOCKS, ALLOWS), Some(&empty)).unwrap();
    assert!(full.check_name("phishing.example").is_block());
}

#[test]
fn only_changes_outside_lookalikes_need_a_restart() {
    let load = |text: &str| {
        let text = format!("[upstream]\nservers = [\"127.0.0.1:53\"]\n{text}");
        crate::config::from_toml_str(&text, Path::new(".")).expect("config")
    };
    let base = load("[block]\nttl = 60\n");
    let lookalikes =
        load("[block]\nttl = 60\n[lookalikes]\nprotect = [\"party.example.org.uk\"]\n");
    let block = load("[block]\nttl = 300\n");
    assert!(!super::changed_outside_lookalikes(&base, &base));
    assert!(!super::changed_outside_lookalikes(&base, &lookalikes));
    assert!(super::changed_outside_lookalikes(&base, &block));
}
