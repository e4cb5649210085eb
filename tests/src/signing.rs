//! DNSSEC-signed test zones, made at test time with BIND's
//! `dnssec-keygen` and `dnssec-signzone` (Debian `bind9-utils`): a fresh
//! KSK and ZSK (ECDSA P-256) per zone, NSEC for denial, and the zone's DS
//! as the trust anchor a validating resolver is given.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

/// The tools signing needs (one `bind9-utils` package).
pub const SIGNING_TOOLS: [&str; 2] = ["dnssec-keygen", "dnssec-signzone"];

/// Whether the signing tools are installed; when not, skips the test (or
/// fails it under `PARAPET_REQUIRE_TOOLS`) through [`parapet_test_support`].
pub fn signing_tools(test: &str) -> bool {
    SIGNING_TOOLS
        .iter()
        .all(|tool| parapet_test_support::tool(tool, test).is_some())
}

/// How a zone proves that a name or type does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// NSEC records (RFC 4034).
    Nsec,
    /// NSEC3 records (RFC 5155), no salt, no extra iterations (RFC 9276).
    Nsec3,
}

/// A signed zone on disk.
#[derive(Debug, Clone)]
pub struct SignedZone {
    /// The zone's origin, e.g. `signed.test.`.
    pub origin: String,
    /// The signed zone file (one record per line).
    pub file: PathBuf,
    /// The zone's DS records in zone-file form: its trust anchor.
    pub ds: String,
}

/// Write the unsigned zone `origin` made of `body` (zone-file lines
/// relative to the origin; an SOA and NS are added) to `dir/<origin>.zone`.
///
/// # Errors
/// When the file cannot be written.
pub fn write_zone(dir: &Path, origin: &str, body: &str) -> Result<PathBuf> {
    let bare = origin.trim_end_matches('.');
    let file = dir.join(format!("{bare}.zone"));
    let text = format!(
        "$ORIGIN {bare}.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n{body}\n"
    );
    std::fs::write(&file, text).context("write the zone file")?;
    Ok(file)
}

/// Sign the zone `origin` made of `body` (as [`write_zone`]), in `dir`,
/// with `denial` records.
///
/// # Errors
/// When a tool fails; the error carries its output.
pub fn sign_zone(dir: &Path, origin: &str, body: &str, denial: Denial) -> Result<SignedZone> {
    let bare = origin.trim_end_matches('.');
    let unsigned = write_zone(dir, origin, body)?;
    for ksk in [true, false] {
        let mut keygen = Command::new("dnssec-keygen");
        keygen.args(["-q", "-a", "ECDSAP256SHA256", "-n", "ZONE", "-K"]);
        keygen.arg(dir);
        if ksk {
            keygen.args(["-f", "KSK"]);
        }
        run(keygen.arg(bare))?;
    }
    let file = dir.join(format!("{bare}.signed"));
    let mut signzone = Command::new("dnssec-signzone");
    if denial == Denial::Nsec3 {
        signzone.args(["-3", "-", "-H", "0"]);
    }
    signzone.args(["-q", "-S", "-O", "full", "-o", bare, "-K"]);
    signzone.arg(dir).arg("-d").arg(dir).arg("-f").arg(&file);
    run(signzone.arg(&unsigned))?;
    let ds = std::fs::read_to_string(dir.join(format!("dsset-{bare}.")))
        .context("read the zone's DS set")?;
    Ok(SignedZone {
        origin: format!("{bare}."),
        file,
        ds,
    })
}

/// Damage the signature of `owner`'s `rtype` records in the signed zone
/// (one base64 character of each RRSIG changed), so validation of that
/// RRset fails while the data stays served.
///
/// # Errors
/// When the file cannot be read or written, or has no such RRSIG.
pub fn break_signature(zone: &SignedZone, owner: &str, rtype: &str) -> Result<()> {
    let text = std::fs::read_to_string(&zone.file).context("read the signed zone")?;
    let mut changed = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let covers = fields.len() > 5
                && fields[0].eq_ignore_ascii_case(owner)
                && fields[3] == "RRSIG"
                && fields[4] == rtype;
            if !covers {
                return line.to_string();
            }
            changed += 1;
            let (head, sig) = line.rsplit_once(char::is_whitespace).unwrap_or((line, ""));
            let mut sig = sig.to_string();
            let first = if sig.starts_with('A') { "B" } else { "A" };
            sig.replace_range(..1, first);
            format!("{head} {sig}")
        })
        .collect();
    ensure!(
        changed > 0,
        "no RRSIG {rtype} for {owner} in {}",
        zone.file.display()
    );
    std::fs::write(&zone.file, lines.join("\n") + "\n").context("write the broken zone")
}

fn run(command: &mut Command) -> Result<()> {
    let out = command
        .output()
        .with_context(|| format!("run {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
