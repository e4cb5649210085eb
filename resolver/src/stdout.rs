//! Writing the CLI's output: a stdout closed early (`parapet token new |
//! head -1`) is an error to report, where `print!` would panic.

use std::io::Write;
use std::process::ExitCode;

/// Exit code of a failed write (as parapet-blocklist's I/O errors).
const EXIT_IO: u8 = 1;

/// Write `text` to standard output and flush it; a closed stdout comes
/// back as an error for [`failed`] to report.
pub(crate) fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Report a failed write to stdout as parapet-blocklist does: `Error: Broken
/// pipe (os error 32)` on stderr, exit code 1.
pub(crate) fn failed(e: &std::io::Error) -> ExitCode {
    eprintln!("Error: {e}");
    ExitCode::from(EXIT_IO)
}
