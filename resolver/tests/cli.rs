//! The `parapet` binary: check-config exit codes, serving with the stable
//! "listening on" line, SIGHUP reload, SIGTERM shutdown.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};

const BIN: &str = env!("CARGO_BIN_EXE_parapet");
const DEADLINE: Duration = Duration::from_secs(20);

fn repo_config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config")
        .join(name)
}

#[test]
fn check_config_accepts_every_shipped_config() {
    for name in ["dev.toml", "home.toml", "vps.toml"] {
        let out = Command::new(BIN)
            .args(["check-config"])
            .arg(repo_config(name))
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

/// A `parapet` process, killed on drop.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn wait_line(&self, needle: &str) -> String {
        let end = Instant::now() + DEADLINE;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        panic!("no log line containing {needle:?} within {DEADLINE:?}")
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn query_a(server: SocketAddr, name: &str) -> Vec<String> {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut msg = Message::query();
    msg.add_query(Query::query(
        Name::from_ascii(name).expect("name"),
        RecordType::A,
    ));
    sock.send_to(&msg.to_vec().expect("encode"), server)
        .expect("send");
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).expect("answer");
    let resp = Message::from_vec(&buf[..n]).expect("decode");
    resp.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
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
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn parapet");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut p = Proc { child, lines };
    let line = p.wait_line("listening on UDP ");
    let addr: SocketAddr = line
        .rsplit("listening on UDP ")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot parse {line:?}"));
    p.wait_line("listening on TCP ");
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
    let end = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = p.child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < end, "parapet did not exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}
