//! Every config in `config/` is valid and its list loads.

use std::path::PathBuf;

fn config_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_config_file_validates_and_its_list_loads() {
    let files = config_files();
    for want in ["dev.toml", "home.toml", "vps.toml"] {
        assert!(
            files.iter().any(|f| f.ends_with(want)),
            "config/{want} missing"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    for f in files {
        // A config that serves the update timer's artifact gets one compiled
        // from the sample lists at that path; nothing else changes.
        let text = std::fs::read_to_string(&f).unwrap();
        let text = crate::shipped_configs::with_test_artifact(&text, tmp.path())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let cfg = parapet_resolver::config::from_toml_str(&text, f.parent().unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        use parapet_resolver::config::overlap;
        let overlaps = overlap::find(&overlap::listeners(&cfg));
        assert!(overlaps.is_empty(), "{}: {overlaps:?}", f.display());
        let list = parapet_resolver::reload::load(&cfg.blocklist)
            .unwrap_or_else(|e| panic!("{}: list does not load: {e}", f.display()));
        assert!(list.stats().domain_rules > 0, "{}: empty list", f.display());
    }
}

#[test]
fn home_and_vps_configs_serve_the_update_timers_artifact() {
    for name in ["home.toml", "vps.toml"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../config")
            .join(name);
        let table: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let blocklist = &table["blocklist"];
        assert_eq!(
            blocklist.get("path").and_then(toml::Value::as_str),
            Some("/var/lib/parapet/parapet.pbl"),
            "{name}"
        );
        assert!(blocklist.get("sources").is_none(), "{name}: sample lists");
    }
}

#[test]
fn dev_config_blocks_the_sample_names() {
    let dev = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/dev.toml");
    let cfg = parapet_resolver::config::load(&dev).unwrap_or_else(|e| panic!("{e}"));
    let list = parapet_resolver::reload::load(&cfg.blocklist).unwrap_or_else(|e| panic!("{e}"));
    assert!(list.check_name("phishing.example").is_block());
    assert!(list.check_name("www.malware.test").is_block());
    assert!(!list.check_name("safe.phishing.example").is_block());
    assert!(!list.check_name("example.com").is_block());
}
