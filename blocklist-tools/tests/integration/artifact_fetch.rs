//! `parapet-blocklist fetch` on a replica: a signed compiled artifact from
//! the HTTPS test server, signed by the real `minisign`, is installed by
//! rename only when its signature verifies, it is signed after the artifact
//! installed and it opens; an unchanged artifact costs one 304 and rewrites
//! nothing.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::feed_support::{FeedServer, Setup, Signer, hosts};
use parapet_blocklist::{Blocklist, CompileOptions, Compiler, SourceSpec};

/// The artifact compiled from a hosts list blocking `names`.
fn artifact(names: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    std::fs::write(&list, hosts(names)).unwrap();
    let mut compiler = Compiler::new(CompileOptions::default());
    compiler.add_source(&SourceSpec::new(&list)).unwrap();
    compiler.to_bytes().unwrap()
}

/// A trusted comment as `minisign -S` writes it, at `timestamp`.
fn comment(timestamp: u64) -> String {
    format!("timestamp:{timestamp}\tfile:parapet.pbl\thashed")
}

struct Replica {
    setup: Setup,
    server: FeedServer,
    signer: Signer,
}

impl Replica {
    fn new() -> Replica {
        Replica {
            setup: Setup::new(""),
            server: FeedServer::start(),
            signer: Signer::new(),
        }
    }

    /// Publish `body` signed at `timestamp` (ETag `tag`).
    fn publish(&self, body: &[u8], timestamp: u64, tag: &str) {
        let sig = self
            .signer
            .sign("parapet.pbl", body, Some(&comment(timestamp)));
        self.publish_signed(body, &sig, tag);
    }

    fn publish_signed(&self, body: &[u8], sig: &[u8], tag: &str) {
        self.server.set_body("/parapet.pbl", body, tag);
        self.server.set_body("/parapet.pbl.minisig", sig, tag);
    }

    fn fetch(&self) -> Output {
        Command::new(env!("CARGO_BIN_EXE_parapet-blocklist"))
            .arg("fetch")
            .arg("--url")
            .arg(self.server.url("/parapet.pbl"))
            .arg("--minisign-key")
            .arg(self.signer.public_key())
            .arg("--ca-file")
            .arg(self.setup.dir.path().join("test-ca.pem"))
            .arg("--artifact")
            .arg(self.setup.artifact())
            .arg("--timeout-secs")
            .arg("10")
            .output()
            .expect("run parapet-blocklist fetch")
    }

    fn blocks(&self, name: &str) -> bool {
        Blocklist::open(&self.setup.artifact())
            .expect("installed artifact opens")
            .check_name(name)
            .is_block()
    }

    fn inode(&self) -> u64 {
        std::fs::metadata(self.setup.artifact()).unwrap().ino()
    }
}

fn assert_ok(output: &Output, needle: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains(needle), "{stdout:?} lacks {needle:?}");
}

fn assert_refused(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stderr.contains(needle) && stderr.contains("the artifact in service stays"),
        "{stderr:?} lacks {needle:?}"
    );
}

#[test]
fn fetch_installs_then_revalidates_with_one_304() {
    if parapet_test_support::tool("minisign", "fetch_installs_then_revalidates_with_one_304")
        .is_none()
    {
        return;
    }
    let r = Replica::new();
    let v1 = artifact(&["v1-phish.example"]);
    r.publish(&v1, 1_700_000_000, "v1");
    assert_ok(&r.fetch(), "installed");
    assert!(r.blocks("v1-phish.example"));
    let inode = r.inode();

    assert_ok(&r.fetch(), "unchanged");
    let requests = r.server.requests_for("/parapet.pbl");
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );
    assert!(
        r.server.requests_for("/parapet.pbl.minisig").len() == 1,
        "a 304 needs no signature"
    );
    assert_eq!(r.inode(), inode, "an unchanged artifact is not rewritten");

    // The same artifact, signed again at the same time, served in full
    // (new ETag): unchanged.
    r.publish(&v1, 1_700_000_000, "v1-again");
    assert_ok(&r.fetch(), "unchanged");
    assert_eq!(r.inode(), inode);

    r.publish(&artifact(&["v2-phish.example"]), 1_700_000_100, "v2");
    assert_ok(&r.fetch(), "installed");
    assert!(r.blocks("v2-phish.example") && !r.blocks("v1-phish.example"));
    assert_ne!(r.inode(), inode, "installed by rename");
}

#[test]
fn replayed_tampered_or_corrupt_artifacts_are_refused() {
    if parapet_test_support::tool(
        "minisign",
        "replayed_tampered_or_corrupt_artifacts_are_refused",
    )
    .is_none()
    {
        return;
    }
    let r = Replica::new();
    let v1 = artifact(&["v1-phish.example"]);
    let v1_sig = r
        .signer
        .sign("parapet.pbl", &v1, Some(&comment(1_700_000_000)));
    r.publish_signed(&v1, &v1_sig, "v1");
    assert_ok(&r.fetch(), "installed");
    r.publish(&artifact(&["v2-phish.example"]), 1_700_000_100, "v2");
    assert_ok(&r.fetch(), "installed");
    let kept = std::fs::read(r.setup.artifact()).unwrap();

    // An attacker replays yesterday's artifact with its valid signature.
    r.publish_signed(&v1, &v1_sig, "v1-replay");
    assert_refused(&r.fetch(), "older than the copy in use");
    assert_eq!(std::fs::read(r.setup.artifact()).unwrap(), kept);

    // Even with the installed artifact gone, the record of it bounds the next.
    std::fs::remove_file(r.setup.artifact()).unwrap();
    assert_refused(&r.fetch(), "older than the copy in use");
    assert!(!r.setup.artifact().exists());
    r.publish_signed(&kept, &r.server_sig(&kept, 1_700_000_100), "v2-again");
    assert_ok(&r.fetch(), "installed");

    // A newer artifact changed after signing.
    let v3 = artifact(&["v3-phish.example"]);
    let v3_sig = r
        .signer
        .sign("parapet.pbl", &v3, Some(&comment(1_700_000_200)));
    let mut tampered = v3.clone();
    *tampered.last_mut().unwrap() ^= 1;
    r.publish_signed(&tampered, &v3_sig, "v3-tampered");
    assert_refused(&r.fetch(), "does not verify");
    assert_eq!(std::fs::read(r.setup.artifact()).unwrap(), kept);

    // Validly signed, but not an artifact that opens (bad checksum).
    let mut corrupt = v3.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0xff;
    r.publish(&corrupt, 1_700_000_300, "corrupt");
    assert_refused(&r.fetch(), "not a usable artifact");
    assert_eq!(std::fs::read(r.setup.artifact()).unwrap(), kept);

    // Signed for another file with the same key.
    let other_sig = r.signer.sign("other.pbl", &v3, None);
    r.publish_signed(&v3, &other_sig, "other");
    assert_refused(&r.fetch(), "signed for file \"other.pbl\"");

    r.publish_signed(&v3, &v3_sig, "v3");
    assert_ok(&r.fetch(), "installed");
    assert!(r.blocks("v3-phish.example"));
    assert!(leftovers(r.setup.artifact().parent().unwrap()).is_empty());
}

impl Replica {
    /// `body` signed at `timestamp`.
    fn server_sig(&self, body: &[u8], timestamp: u64) -> Vec<u8> {
        self.signer
            .sign("parapet.pbl", body, Some(&comment(timestamp)))
    }
}

/// Temporary files left in `dir` (refused downloads must not stay).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect()
}

#[test]
fn fetch_needs_a_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_parapet-blocklist"))
        .args(["fetch", "--url", "https://127.0.0.1:1/parapet.pbl"])
        .args(["--artifact", "/nonexistent/parapet.pbl"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("--minisign-key"));
}
