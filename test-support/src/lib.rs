//! Test helpers shared by every crate of the workspace (a dev-dependency of
//! each). One rule decides what a test does when something it needs from
//! outside the repository is absent — an external tool (`dig`, `kdig`,
//! `curl`, `chromium`, `systemd-analyze`) or the real data set
//! (`$PARAPET_DATA`):
//!
//! * locally it prints `SKIPPED: <test>: <what> …` to stderr and the test
//!   returns early (passes);
//! * when `PARAPET_REQUIRE_TOOLS` is set (CI sets it) it panics, so a moved
//!   data set or an uninstalled tool fails the run instead of passing it
//!   silently.
//!
//! It also holds [`scripted`], a scriptable hostile DNS server for tests of
//! upstream clients, and [`ports`] for the servers tests start.
//!
//! ```no_run
//! let Some(dig) = parapet_test_support::tool("dig", "my_test") else { return };
//! ```

use std::path::{Path, PathBuf};

pub mod ports;
pub mod scripted;

/// Environment variable that turns every skip into a failure.
pub const REQUIRE_ENV: &str = "PARAPET_REQUIRE_TOOLS";

/// Whether missing tools and data must fail the test (`PARAPET_REQUIRE_TOOLS`
/// is set, to anything).
pub fn required() -> bool {
    std::env::var_os(REQUIRE_ENV).is_some()
}

/// Report that `what` is missing for `test`: panics when
/// [`required`], otherwise prints `SKIPPED: …` so the caller can return.
/// `hint` says how to get it (`apt-get install dnsutils`, a path to set).
pub fn missing(test: &str, what: &str, hint: &str) {
    let message = format!("{test}: {what} is missing ({hint})");
    if required() {
        panic!("{message}; {REQUIRE_ENV} is set, so this test may not be skipped");
    }
    eprintln!("SKIPPED: {message}");
}

/// The first of `names` found as an executable file on `PATH`, or `None`
/// after [`missing`] (which panics under `PARAPET_REQUIRE_TOOLS`).
pub fn tool_any(names: &[&str], test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    });
    if found.is_none() {
        missing(
            test,
            &format!("tool `{}`", names.join("` or `")),
            "install it (see .ci/run)",
        );
    }
    found
}

/// `name` found on `PATH`, or `None` after [`missing`].
pub fn tool(name: &str, test: &str) -> Option<PathBuf> {
    tool_any(&[name], test)
}

/// `path` when it exists (a file or a directory of the real data set), or
/// `None` after [`missing`] (which panics under `PARAPET_REQUIRE_TOOLS`).
pub fn data(path: &Path, test: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path.to_path_buf());
    }
    missing(
        test,
        &format!("real data {}", path.display()),
        "set PARAPET_DATA to the shared data directory",
    );
    None
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_not_a_made_up_tool() {
        assert!(tool("sh", "finds_sh").is_some());
        if !required() {
            assert!(tool("parapet-no-such-tool-xyz", "finds_sh").is_none());
            assert!(data(Path::new("/nonexistent/parapet"), "finds_sh").is_none());
        }
    }

    #[test]
    fn missing_panics_when_required() {
        // The env var is process-wide; spawn a child process of this very
        // test binary instead of mutating it here.
        if std::env::var_os("PARAPET_TEST_SUPPORT_CHILD").is_some() {
            missing("child", "something", "nothing to do");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let status = std::process::Command::new(exe)
            .args([
                "--exact",
                "tests::missing_panics_when_required",
                "--nocapture",
            ])
            .env("PARAPET_TEST_SUPPORT_CHILD", "1")
            .env(REQUIRE_ENV, "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(
            !status.success(),
            "missing() under {REQUIRE_ENV} must fail the test"
        );
    }
}
