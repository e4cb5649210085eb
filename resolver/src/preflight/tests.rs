use super::*;
use crate::config::from_toml_str;

const MIN: &str = "[upstream]\nservers = [\"127.0.0.1:5300\"]\n";

fn keys(result: Result<Preflight, ConfigError>) -> Vec<String> {
    match result {
        Err(ConfigError::Invalid { issues, .. }) => issues.into_iter().map(|i| i.key).collect(),
        other => panic!("expected issues, got {other:?}"),
    }
}

/// Validation reads no file: a config naming missing files is valid, and
/// preflight names each of them, all at once.
#[test]
fn validation_reads_no_file_and_preflight_names_every_missing_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "{MIN}ca_file = \"ca.pem\"\n\
         [server]\ntls_listen = [\"127.0.0.1:0\"]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n\
         [blocklist]\nsources = [\"a.txt\", \"b.txt\"]\n\
         [access]\ntokens_file = \"tokens\"\n"
    );
    let config = from_toml_str(&text, dir.path()).expect("values are valid");
    assert_eq!(
        keys(check(&config)),
        [
            "blocklist.sources[0]",
            "blocklist.sources[1]",
            "server.tls_cert",
            "server.tls_key",
            "access.tokens_file",
            "upstream.ca_file",
        ]
    );
}

#[test]
fn a_directory_is_not_a_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!("{MIN}[blocklist]\npath = \".\"\n");
    let config = from_toml_str(&text, dir.path()).expect("values are valid");
    let Err(ConfigError::Invalid { issues, .. }) = check(&config) else {
        panic!("a directory was accepted");
    };
    assert_eq!(issues[0].key, "blocklist.path");
    assert!(issues[0].message.ends_with("is not a file"), "{issues:?}");
}

#[test]
fn loaded_tokens_are_handed_on_and_none_configured_is_disabled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hash = crate::transport::tokens::hash_token("alice");
    std::fs::write(dir.path().join("tokens"), format!("{hash} alice\n")).expect("write");
    let text = format!("{MIN}[access]\ntokens_file = \"tokens\"\n");
    let (_, loaded) = super::from_toml_str(&text, dir.path()).expect("loads");
    assert!(loaded.tokens.check("alice").is_some());
    assert!(loaded.cert.is_none());
    let (_, loaded) = super::from_toml_str(MIN, dir.path()).expect("loads");
    assert!(loaded.tokens.current().is_empty());
}
