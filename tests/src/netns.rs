//! Tests that need real addresses and ports (port 53, 80, 443, a LAN or
//! public address such as `192.168.1.2`): the test binary runs one of its
//! own tests again inside a new network and mount namespace (`unshare
//! --net --mount`, as root), where loopback is brought up, the addresses
//! are added to `lo` and a tmpfs covers `/var/log`. Everything inside
//! (upstream, parapet, clients) talks only to addresses of that namespace;
//! the host's network and files are untouched.
//!
//! ```no_run
//! # use parapet_e2e::netns;
//! #[test]
//! fn outer() {
//!     netns::run_inside("my_module::inner", &["192.168.1.2/32"], &[]);
//! }
//!
//! #[tokio::test]
//! #[ignore = "runs inside a network namespace (started by outer)"]
//! async fn inner() {
//!     if !netns::inside() {
//!         return;
//!     }
//!     // bind 192.168.1.2:53 …
//! }
//! ```
//!
//! Without root or a working `unshare`, [`run_inside`] skips (or, under
//! `PARAPET_REQUIRE_TOOLS`, fails) like any missing tool.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::require_tool;

/// Set in the child: the addresses it must add to `lo`, comma-separated.
const INSIDE: &str = "PARAPET_NETNS_ADDRS";
/// How long the test inside may run.
const DEADLINE: Duration = Duration::from_secs(120);

/// Whether this process is the child inside the namespace. Also sets the
/// namespace up (once): `lo` up, the addresses added, an empty tmpfs on
/// `/var/log` (parapet creates `/var/log/parapet` itself, as a config run
/// outside systemd needs).
///
/// # Panics
/// A setup command fails inside the namespace.
pub fn inside() -> bool {
    let Ok(addrs) = std::env::var(INSIDE) else {
        return false;
    };
    static SETUP: std::sync::Once = std::sync::Once::new();
    SETUP.call_once(|| {
        // Best effort: hosts that turn IPv6 off by default still get ::1
        // here (the setting belongs to the namespace).
        let _ = std::fs::write("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "0");
        run("ip", &["link", "set", "lo", "up"]);
        for addr in addrs.split(',').filter(|a| !a.is_empty()) {
            run("ip", &["address", "add", addr, "dev", "lo"]);
        }
        run("mount", &["-t", "tmpfs", "tmpfs", "/var/log"]);
    });
    true
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run test `test` (its path in this test binary, e.g.
/// `shipped_configs::inner`) in a new network and mount namespace with
/// `addrs` (CIDR, e.g. `192.168.1.2/32`) on `lo` and the environment
/// variables `env` set, and fail when it fails.
/// Returns false (after printing `SKIPPED`) when namespaces are not
/// available and `PARAPET_REQUIRE_TOOLS` is unset.
///
/// # Panics
/// The test failed or timed out inside the namespace, or namespaces are
/// missing under `PARAPET_REQUIRE_TOOLS`.
pub fn run_inside(test: &str, addrs: &[&str], env: &[(&str, &str)]) -> bool {
    if !available(test) {
        return false;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new("unshare")
        .args(["--net", "--mount", "--"])
        .arg(exe)
        .args([test, "--exact", "--include-ignored", "--nocapture"])
        .env(INSIDE, addrs.join(","))
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start unshare");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the namespace") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{test} did not finish within {DEADLINE:?} inside the namespace");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("namespace output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.success() && stdout.contains("1 passed"),
        "{test} failed inside the namespace ({status}):\n{stdout}\n{stderr}"
    );
    true
}

/// Root, `unshare`, `ip` and a namespace that can be made; else skip or,
/// under `PARAPET_REQUIRE_TOOLS`, panic.
fn available(test: &str) -> bool {
    if !require_tool("unshare", test) || !require_tool("ip", test) {
        return false;
    }
    let why = if !is_root() {
        "needs root for network namespaces"
    } else if !Command::new("unshare")
        .args(["--net", "--mount", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        "`unshare --net --mount` does not work here"
    } else {
        return true;
    };
    if std::env::var_os("PARAPET_REQUIRE_TOOLS").is_some() {
        panic!("{test}: {why} (PARAPET_REQUIRE_TOOLS is set)");
    }
    eprintln!("SKIPPED: {test}: {why}");
    false
}

/// Effective user id 0, from `/proc/self/status`.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}
