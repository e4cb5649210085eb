//! NSD on loopback, authoritative for zone files a test wrote (the
//! configuration of `benches/lib.sh`'s `nsd_conf`: no chroot, no user
//! switch, every state file in the test's directory, response rate
//! limiting off).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::daemon::Daemon;

/// A running NSD; stopped when dropped.
pub struct Nsd {
    daemon: Daemon,
}

impl Nsd {
    /// Whether `nsd` is installed; when not, skips the test (or fails it
    /// under `PARAPET_REQUIRE_TOOLS`).
    pub fn available(test: &str) -> bool {
        parapet_test_support::tool("nsd", test).is_some()
    }

    /// Serve `zones` (origin, zone file) from `dir` on a free loopback
    /// port; returns once NSD answers.
    ///
    /// # Errors
    /// When NSD does not start or answer; the error carries its output.
    pub fn start(dir: &Path, zones: &[(&str, PathBuf)]) -> Result<Nsd> {
        let conf = dir.join("nsd.conf");
        let probe = zones.first().map_or(".", |(origin, _)| origin);
        let daemon = Daemon::start("nsd", dir, probe, |addr| {
            std::fs::write(&conf, config(dir, addr, zones)).context("write nsd.conf")?;
            let mut command = Command::new("nsd");
            command.arg("-d").arg("-c").arg(&conf);
            Ok(command)
        })?;
        Ok(Nsd { daemon })
    }

    /// The address it serves on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr()
    }
}

fn config(dir: &Path, addr: SocketAddr, zones: &[(&str, PathBuf)]) -> String {
    let dir = dir.display();
    let mut conf = format!(
        "server:
  ip-address: {ip}@{port}
  server-count: 1
  username: \"\"
  chroot: \"\"
  zonesdir: \"{dir}\"
  database: \"\"
  zonelistfile: \"{dir}/nsd-zone.list\"
  xfrdfile: \"{dir}/nsd-xfrd.state\"
  pidfile: \"{dir}/nsd.pid\"
  logfile: \"{dir}/nsd.log\"
  verbosity: 1
  rrl-ratelimit: 0
remote-control:
  control-enable: no
",
        ip = addr.ip(),
        port = addr.port(),
    );
    for (origin, file) in zones {
        conf.push_str(&format!(
            "zone:\n  name: \"{origin}\"\n  zonefile: \"{}\"\n",
            file.display()
        ));
    }
    conf
}
