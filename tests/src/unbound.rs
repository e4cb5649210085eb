//! A validating Unbound on loopback: its trust anchors are the test zones'
//! DS records and it reaches each zone through a stub zone pointing at the
//! test's authoritative server (no root, no internet).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::daemon::Daemon;
use crate::signing::SignedZone;

/// A running Unbound; stopped when dropped.
pub struct Unbound {
    daemon: Daemon,
}

impl Unbound {
    /// Whether `unbound` is installed; when not, skips the test (or fails
    /// it under `PARAPET_REQUIRE_TOOLS`).
    pub fn available(test: &str) -> bool {
        parapet_test_support::tool("unbound", test).is_some()
    }

    /// Validate `signed` zones (their DS as trust anchors) and resolve
    /// them and the `unsigned` zones through stubs at `authority`;
    /// returns once Unbound answers.
    ///
    /// # Errors
    /// When Unbound does not start or answer; the error carries its output.
    pub fn start(
        dir: &Path,
        authority: SocketAddr,
        signed: &[&SignedZone],
        unsigned: &[&str],
    ) -> Result<Unbound> {
        let anchors = dir.join("anchors.ds");
        let ds: String = signed.iter().map(|z| z.ds.as_str()).collect();
        std::fs::write(&anchors, ds).context("write trust anchors")?;
        let zones: Vec<&str> = signed
            .iter()
            .map(|z| z.origin.as_str())
            .chain(unsigned.iter().copied())
            .collect();
        let conf = dir.join("unbound.conf");
        let probe = zones.first().copied().unwrap_or(".");
        let daemon = Daemon::start("unbound", dir, probe, |addr| {
            std::fs::write(&conf, config(dir, addr, authority, &anchors, &zones))
                .context("write unbound.conf")?;
            let mut command = Command::new("unbound");
            command.arg("-d").arg("-c").arg(&conf);
            Ok(command)
        })?;
        Ok(Unbound { daemon })
    }

    /// The address it serves on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr()
    }
}

fn config(
    dir: &Path,
    addr: SocketAddr,
    authority: SocketAddr,
    anchors: &Path,
    zones: &[&str],
) -> String {
    let d = dir.display();
    let mut conf = format!(
        "server:
  verbosity: 1
  interface: {ip}@{port}
  port: {port}
  do-ip6: no
  do-daemonize: no
  chroot: \"\"
  username: \"\"
  directory: \"{d}\"
  pidfile: \"{d}/unbound.pid\"
  use-syslog: no
  logfile: \"\"
  num-threads: 1
  module-config: \"validator iterator\"
  trust-anchor-file: \"{anchors}\"
  val-log-level: 2
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  qname-minimisation: no
  target-fetch-policy: \"0 0 0 0 0\"
  # Unbound answers the special-use `test.` (RFC 6761) itself by default.
  local-zone: \"test.\" nodefault
remote-control:
  control-enable: no
",
        ip = addr.ip(),
        port = addr.port(),
        anchors = anchors.display(),
    );
    for zone in zones {
        conf.push_str(&format!(
            "stub-zone:\n  name: \"{zone}\"\n  stub-addr: {}@{}\n",
            authority.ip(),
            authority.port()
        ));
    }
    conf
}
