//! External DNS servers (NSD, Unbound) run by a test: a free port for them
//! ([`free_port`]), a child process stopped when dropped, and a wait until it answers.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
pub use parapet_test_support::ports::free_port;

/// How long a server may take to answer its first query.
pub const START_DEADLINE: Duration = Duration::from_secs(20);

/// A server process started by a test; stopped (SIGTERM, then SIGKILL)
/// when dropped. Its output goes to `<dir>/<name>.out`.
pub struct Daemon {
    name: String,
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Daemon {
    /// Start the server `name` on a [`free_port`]: `command_for(addr)`
    /// writes its configuration and returns the command (output goes to
    /// `dir/name.out`); then wait until it answers `probe` (any response)
    /// over UDP, within [`START_DEADLINE`]. Should it exit first (another
    /// process took the port meanwhile), it is tried on two more ports.
    ///
    /// # Errors
    /// When it cannot start, exits three times, or does not answer; the
    /// error carries the end of its output.
    pub fn start(
        name: &str,
        dir: &Path,
        probe: &str,
        command_for: impl Fn(SocketAddr) -> Result<Command>,
    ) -> Result<Daemon> {
        let mut exited = None;
        for _ in 0..3 {
            let addr = free_port();
            let log = dir.join(format!("{name}.out"));
            let out = std::fs::File::create(&log).context("create daemon log")?;
            let child = command_for(addr)?
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
            match daemon.wait_answering(probe)? {
                true => return Ok(daemon),
                false => exited = Some(daemon.tail()),
            }
        }
        bail!("{name} exited three times: {}", exited.unwrap_or_default())
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether it answered (`false`: it exited first); an error when it
    /// is still running but silent at the deadline.
    fn wait_answering(&mut self, probe: &str) -> Result<bool> {
        let deadline = std::time::Instant::now() + START_DEADLINE;
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut query = Message::query();
        query.add_query(Query::query(Name::from_ascii(probe)?, RecordType::SOA));
        let bytes = query.to_vec()?;
        let mut buf = [0u8; 4096];
        loop {
            if self.child.try_wait()?.is_some() {
                return Ok(false);
            }
            socket.send_to(&bytes, self.addr)?;
            if socket.recv(&mut buf).is_ok() {
                return Ok(true);
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
