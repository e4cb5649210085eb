//! The units in `systemd/` pass `systemd-analyze verify` and keep a low
//! `systemd-analyze security` exposure score.
//!
//! `verify` also checks that each `ExecStart` binary exists. The units name
//! the installed paths (`/usr/bin/parapet`, `/usr/bin/parapet-blocklist`), so
//! the test checks a copy in a temporary directory where only those two
//! paths are rewritten: `parapet-blocklist` to the binary under test,
//! `parapet` (another crate's binary) to a stub script. Every other line is
//! checked as shipped.

use std::path::{Path, PathBuf};
use std::process::Command;

const UNITS: [&str; 3] = [
    "parapet.service",
    "parapet-update.service",
    "parapet-update.timer",
];

/// `systemd-analyze`, or `None` after printing SKIPPED (a failure when
/// `PARAPET_REQUIRE_TOOLS` is set).
fn systemd_analyze(test: &str) -> Option<PathBuf> {
    parapet_test_support::tool("systemd-analyze", test)
}

/// Copy the units into `dir` with the two binary paths rewritten.
fn staged_units(dir: &Path) -> Vec<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd");
    let stub = dir.join("parapet");
    std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    UNITS
        .iter()
        .map(|unit| {
            let text = std::fs::read_to_string(source.join(unit))
                .unwrap_or_else(|e| panic!("systemd/{unit}: {e}"));
            let text = text
                .replace(
                    "/usr/bin/parapet-blocklist ",
                    &format!("{} ", env!("CARGO_BIN_EXE_parapet-blocklist")),
                )
                .replace("/usr/bin/parapet ", &format!("{} ", stub.display()));
            let path = dir.join(unit);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

#[test]
fn units_pass_systemd_analyze_verify() {
    let Some(tool) = systemd_analyze("units_pass_systemd_analyze_verify") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let units = staged_units(dir.path());
    let output = Command::new(&tool)
        .arg("verify")
        .args(&units)
        .output()
        .expect("run systemd-analyze verify");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // verify reports unknown keys and bad values on stderr but still exits 0:
    // any line about our units is a failure.
    let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains("parapet")).collect();
    assert!(
        output.status.success() && complaints.is_empty(),
        "systemd-analyze verify: {}\n{stderr}",
        output.status
    );
}

#[test]
fn units_keep_a_low_exposure_score() {
    let Some(tool) = systemd_analyze("units_keep_a_low_exposure_score") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let units = staged_units(dir.path());
    for unit in units
        .iter()
        .filter(|u| u.extension().is_some_and(|e| e == "service"))
    {
        let output = Command::new(&tool)
            .args(["security", "--offline=true", "--no-pager"])
            .arg(unit)
            .output()
            .expect("run systemd-analyze security");
        let text = String::from_utf8_lossy(&output.stdout);
        let score: f64 = text
            .lines()
            .find_map(|l| {
                l.split_once("Overall exposure level for ")?
                    .1
                    .split(": ")
                    .nth(1)
            })
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no exposure score for {}:\n{text}", unit.display()));
        // 0 is fully locked down, 10 unprotected; "OK" is below 4.
        assert!(score < 3.0, "{}: exposure {score}\n{text}", unit.display());
    }
}

/// `parapet-update.service` asks parapet to reload after exit 0 (published)
/// and 3 (published, a feed failed), not after 1 (nothing published) or 2
/// (bad config): its `ExecStopPost` script runs under `sh` with each
/// `EXIT_STATUS`, `/bin/systemctl` replaced by a stub that records its call.
#[test]
fn update_unit_reloads_parapet_after_a_publish_only() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd/parapet-update.service"),
    )
    .unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStopPost=+/bin/sh -c '"))
        .expect("ExecStopPost=+/bin/sh -c '…' in parapet-update.service");
    let script = line.strip_suffix('\'').expect("script ends with '");
    assert!(
        !text.lines().any(|l| l.starts_with("SuccessExitStatus=")),
        "exit 3 must leave the unit failed"
    );
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls");
    let stub = dir.path().join("systemctl");
    std::fs::write(
        &stub,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", calls.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // systemd turns "$$" into "$" before running the command.
    let script = script
        .replace("$$", "$")
        .replace("/bin/systemctl", &stub.display().to_string());
    for (status, reloads) in [("0", true), ("1", false), ("2", false), ("3", true)] {
        let _ = std::fs::remove_file(&calls);
        let output = Command::new("/bin/sh")
            .args(["-c", &script])
            .env("EXIT_STATUS", status)
            .output()
            .expect("run /bin/sh");
        assert!(output.status.success(), "exit {status}: {output:?}");
        let called = std::fs::read_to_string(&calls).unwrap_or_default();
        assert_eq!(
            called == "--no-block try-reload-or-restart parapet.service\n",
            reloads,
            "exit {status}: systemctl called with {called:?}"
        );
    }
}
