//! External DNS servers (NSD, Unbound) run by a test: a free port for them,
//! a child process stopped when dropped, and a wait until it answers.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};

/// How long a server may take to answer its first query.
pub const START_DEADLINE: Duration = Duration::from_secs(20);

/// A loopback port free for UDP and TCP now, below the kernel's ephemeral
/// range (32768 and up by default) so that sockets other tests bind to
/// port 0 cannot take it before the server binds it; each call in a
/// process gets another one.
pub fn free_port() -> Result<SocketAddr> {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 4_000) as u16;
    for _ in 0..2_000 {
        let port = base + NEXT.fetch_add(1, Ordering::SeqCst) % 8_000;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if UdpSocket::bind(addr).is_ok() && std::net::TcpListener::bind(addr).is_ok() {
            return Ok(addr);
        }
    }
    bail!("no free loopback port below the ephemeral range")
}

/// A server process started by a test; stopped (SIGTERM, then SIGKILL)
/// when dropped. Its output goes to `<dir>/<name>.out`.
pub struct Daemon {
    name: String,
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Daemon {
    /// Start `command` (output to `dir/name.out`) and wait until it answers
    /// `probe` (any response) on `addr` over UDP, within
    /// [`START_DEADLINE`]. Fails with the end of its output if it exits or
    /// does not answer.
    pub fn start(
        name: &str,
        mut command: Command,
        dir: &Path,
        addr: SocketAddr,
        probe: &str,
    ) -> Result<Daemon> {
        let log = dir.join(format!("{name}.out"));
        let out = std::fs::File::create(&log).context("create daemon log")?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("start {name}"))?;
        let mut daemon = Daemon {
            name: name.to_string(),
            child,
            addr,
            log,
        };
        daemon.wait_answering(probe)?;
        Ok(daemon)
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn wait_answering(&mut self, probe: &str) -> Result<()> {
        let deadline = std::time::Instant::now() + START_DEADLINE;
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut query = Message::query();
        query.add_query(Query::query(Name::from_ascii(probe)?, RecordType::SOA));
        let bytes = query.to_vec()?;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited ({status}): {}", self.name, self.tail());
            }
            socket.send_to(&bytes, self.addr)?;
            if socket.recv(&mut buf).is_ok() {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(anyhow!(
                    "{} does not answer on {} within {START_DEADLINE:?}: {}",
                    self.name,
                    self.addr,
                    self.tail()
                ));
            }
        }
    }

    /// The last lines of its output.
    pub fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SIGTERM lets NSD stop the server processes it forked.
            #[allow(unsafe_code)]
            // SAFETY: kill(2) on our own child's pid has no memory effects.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
