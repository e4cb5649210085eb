//! Shared by the tests that run the real `parapet` binary: a process whose
//! log lines can be waited on, signalled and killed on drop, and a one-shot
//! UDP query, and a `/metrics` scrape.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use parapet_blocklist::{Blocklist, CompileOptions, SourceSpec};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_parapet");
/// How long any wait in these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A `parapet --config FILE` process with its log lines, killed on drop.
pub struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    /// Start `parapet --config config` at log level info.
    pub fn start(config: &Path) -> Proc {
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(config)
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
        Proc { child, lines }
    }

    /// The first log line containing `needle`, within [`DEADLINE`].
    pub fn wait_line(&self, needle: &str) -> String {
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

    /// The address printed after `prefix` on the first line holding it.
    pub fn addr_after(&self, prefix: &str) -> SocketAddr {
        let line = self.wait_line(prefix);
        line.rsplit(prefix)
            .next()
            .and_then(|s| s.split(|c: char| c.is_whitespace() || c == '/').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("cannot parse an address in {line:?}"))
    }

    /// Send `kill -SIG` to the process.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Wait for the process to exit, within [`DEADLINE`].
    pub fn wait_exit(&mut self) -> ExitStatus {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < end, "parapet did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One A query over UDP; the A addresses of the answer.
pub fn query_a(server: SocketAddr, name: &str) -> Vec<String> {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut msg = Message::query();
    let id: u16 = rand::random();
    msg.metadata.id = id;
    let qname = Name::from_ascii(name).expect("name");
    msg.add_query(Query::query(qname.clone(), RecordType::A));
    sock.send_to(&msg.to_vec().expect("encode"), server)
        .expect("send");
    let mut buf = [0u8; 4096];
    // Only the answer to this query counts: a late answer meant for an
    // earlier socket on the same port (another test's) is skipped.
    let resp = loop {
        let left = deadline
            .checked_duration_since(std::time::Instant::now())
            .filter(|d| !d.is_zero())
            .expect("no answer within 5 s");
        sock.set_read_timeout(Some(left)).expect("timeout");
        let (n, from) = sock.recv_from(&mut buf).expect("answer");
        let Ok(resp) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        let same_question = resp
            .queries
            .first()
            .is_some_and(|q| q.name().eq_case(&qname) && q.query_type() == RecordType::A);
        if from == server && resp.metadata.id == id && same_question {
            break resp;
        }
    };
    resp.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

/// `GET /metrics` from the server at `addr`: the whole HTTP response.
pub fn scrape(addr: SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to /metrics");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}

/// A file of `resolver/tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The warning-page fixture list (`warning-list.txt`, source `test-feed`)
/// with `category`; with `allowlist`, `warning-allow.txt` as an allowlist.
pub fn fixture_list(category: &str, allowlist: bool) -> Blocklist {
    let mut block = SourceSpec::new(fixture("warning-list.txt"));
    block.name = "test-feed".into();
    block.category = Some(category.into());
    let mut sources = vec![block];
    if allowlist {
        let mut allow = SourceSpec::new(fixture("warning-allow.txt"));
        allow.allow = true;
        sources.push(allow);
    }
    Blocklist::compile(&sources, CompileOptions::default())
        .expect("fixture compiles")
        .0
}
