//! The `parapet` binary: check-config exit codes, serving with the stable
//! "listening on" line, SIGHUP reload, SIGTERM shutdown.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{BIN, Proc, query_a};

fn repo_config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config")
        .join(name)
}

/// `config/NAME`, or for a config that serves the update timer's
/// artifact, a copy in `dir` whose artifact path names a compiled list.
fn checkable_config(name: &str, dir: &Path) -> PathBuf {
    const ARTIFACT: &str = "/var/lib/parapet/parapet.pbl";
    let text = std::fs::read_to_string(repo_config(name)).expect("config");
    if !text.contains(ARTIFACT) {
        return repo_config(name);
    }
    let artifact = dir.join("parapet.pbl");
    let mut compiler =
        parapet_blocklist::Compiler::new(parapet_blocklist::CompileOptions::default());
    compiler
        .add_reader(
            &parapet_blocklist::SourceSpec::new("feed"),
            "phishing.example\n".as_bytes(),
        )
        .expect("compile");
    compiler.write_file(&artifact).expect("write the list");
    let path = dir.join(name);
    std::fs::write(&path, text.replace(ARTIFACT, artifact.to_str().unwrap())).expect("write");
    path
}

#[test]
fn check_config_accepts_every_shipped_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["dev.toml", "home.toml", "vps.toml"] {
        let out = Command::new(BIN)
            .args(["check-config"])
            .arg(checkable_config(name, dir.path()))
            .output()
            .expect("run parapet");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("[upstream]"), "{name}: {stdout}");
    }
}

/// First boot: the compiled list is not there yet (the package installed
/// before the first feed update could run). check-config warns and passes.
#[test]
fn check_config_passes_with_a_warning_when_the_artifact_does_not_exist_yet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("parapet.toml");
    std::fs::write(
        &path,
        "[upstream]\nservers = [\"127.0.0.1:53\"]\n[blocklist]\npath = \"parapet.pbl\"\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&path)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("parapet.pbl does not exist yet"), "{err}");
    assert!(err.contains("without protection"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OK (0 domain rules"), "{stdout}");
}

#[test]
fn check_config_names_the_bad_key_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[upstream]\nservers = [\"127.0.0.1:53\"]\n[block]\nsinkhole_ipv4 = \"1.2.3\"\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("block.sinkhole_ipv4: \"1.2.3\" is not an IPv4 address"),
        "{err}"
    );
    let out = Command::new(BIN)
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_config_refuses_a_list_the_server_would_refuse_naming_its_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An error page where a list should be: 4 malformed lines, 1 rule.
    std::fs::write(
        dir.path().join("feed.txt"),
        "<html>\n<head><title>502 Bad Gateway</title></head>\nevil.example\n<body>oops</body>\n</html>\n",
    )
    .expect("write");
    let path = dir.path().join("parapet.toml");
    std::fs::write(
        &path,
        "[upstream]\nservers = [\"127.0.0.1:53\"]\n[blocklist]\nsources = [\"domains:feed.txt\"]\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&path)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("4 malformed lines against 1 rules"), "{err}");
    assert!(err.contains("feed.txt:1: <html>"), "{err}");
    assert!(err.contains("feed.txt:4: <body>oops</body>"), "{err}");
}

#[test]
fn serves_logs_listening_line_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("list.txt"), "phishing.example\n").expect("write");
    let config = dir.path().join("parapet.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"127.0.0.1:9\"]\n\
         [blocklist]\nsources = [\"list.txt\"]\nwatch = false\n[block]\nsinkhole_ipv4 = \"192.0.2.53\"\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\n[warning_page]\nlisten = [\"127.0.0.1:0\"]\n",
    )
    .expect("write");
    let mut p = Proc::start(&config);
    let addr = p.addr_after("listening on UDP ");
    // A SIGHUP the moment the server says it listens (a reload sent by a
    // script that waited for that line) reloads; it does not end the
    // process by the signal's default action.
    p.wait_line("listening on TCP ");
    p.signal("HUP");
    p.wait_line("SIGHUP received");
    p.wait_line("list reloaded");
    assert_eq!(query_a(addr, "phishing.example."), vec!["192.0.2.53"]);
    assert!(query_a(addr, "newthreat.example.").is_empty());

    std::fs::write(
        dir.path().join("list.txt"),
        "phishing.example\nnewthreat.example\n",
    )
    .expect("write");
    p.signal("HUP");
    p.wait_line("list reloaded");
    assert_eq!(query_a(addr, "newthreat.example."), vec!["192.0.2.53"]);

    p.signal("TERM");
    let status = p.wait_exit();
    assert!(status.success(), "{status:?}");
}

/// Every verb that prints to stdout, with stdout a pipe nobody reads
/// (`parapet token new | head -1` once `head` has gone): `Error: Broken
/// pipe` and exit 1, as parapet-blocklist, never a panic.
#[test]
fn a_closed_stdout_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = checkable_config("dev.toml", dir.path());
    let config = config.to_str().unwrap();
    let tokens = dir.path().join("tokens");
    let tokens = tokens.to_str().unwrap();
    let token = "abc-123";
    let verbs: [&[&str]; 6] = [
        &["check-config", config],
        &["explain", "--config", config, "example.org"],
        &["token", "new", "--label", "x", "--file", tokens],
        &["token", "hash", token],
        &["profile", "android", "--host", "dns.example.org"],
        &["token", "revoke", "--file", tokens, "x"],
    ];
    for args in verbs {
        let (reader, writer) = std::io::pipe().expect("pipe");
        // No reader from the start: every write fails with EPIPE.
        drop(reader);
        let out = Command::new(BIN)
            .args(args)
            .stdout(writer)
            .output()
            .expect("run parapet");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("Error: Broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}
