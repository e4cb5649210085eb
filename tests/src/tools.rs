//! External tools (dig, kdig, …): found, or the test skips, or, under
//! `PARAPET_REQUIRE_TOOLS`, fails (the rule of [`parapet_test_support`]).

use std::process::Command;

/// Whether `tool` is on `PATH`. When it is not: with `PARAPET_REQUIRE_TOOLS`
/// set this panics (CI must have it); otherwise it prints `SKIPPED: …` to
/// stderr and returns false so the test can return early.
pub fn require_tool(tool: &str, test: &str) -> bool {
    parapet_test_support::tool(tool, test).is_some()
}

/// Run `dig` against `server` with `args`; returns stdout. `+tries=1
/// +time=3` keep it bounded.
pub fn dig(server: std::net::SocketAddr, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .arg("-p")
        .arg(server.port().to_string())
        .args(["+tries=1", "+time=3"])
        .args(args)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    anyhow::ensure!(
        out.status.success(),
        "dig {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout)
}
