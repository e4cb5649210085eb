//! `parapet-blocklist fetch --url URL --minisign-key KEY --artifact PATH`:
//! on a replica, fetch the compiled artifact an update node publishes,
//! verify it (signature, newer than the one installed, opens with a good
//! checksum) and install it by rename for the resolver to hot-reload.

use std::path::PathBuf;

use anyhow::Context;
use parapet_blocklist::feed::replica::{self, ArtifactOutcome, ArtifactSource};

/// Arguments of `fetch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// HTTP(S) URL of the published artifact (`.pbl`).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// minisign public key: the base64 line of the update node's `.pub` file.
    #[arg(long, value_name = "KEY", conflicts_with = "minisign_key_file")]
    pub minisign_key: Option<String>,
    /// The update node's minisign `.pub` file, in place of `--minisign-key`.
    #[arg(long, value_name = "FILE")]
    pub minisign_key_file: Option<PathBuf>,
    /// Where to install the artifact: the resolver's `[blocklist] path`.
    #[arg(long, value_name = "PATH")]
    pub artifact: PathBuf,
    /// URL of the signature (default: URL + `.minisig`).
    #[arg(long, value_name = "URL")]
    pub signature_url: Option<String>,
    /// PEM file of the CAs trusted for an `https://` URL (default: public roots).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Largest artifact accepted, in bytes (default 1 GiB).
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<u64>,
    /// Download timeout in seconds (default 60).
    #[arg(long, value_name = "SECS")]
    pub timeout_secs: Option<u64>,
    /// Where the record of the installed artifact is kept (default: the
    /// artifact's directory).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Fetch, verify and install; prints one line. Exit 0 when installed or
/// unchanged, 1 when nothing was installed (the artifact in service stays).
pub fn run(args: Args) -> anyhow::Result<()> {
    let minisign_key = match (args.minisign_key, &args.minisign_key_file) {
        (Some(key), _) => key,
        (None, Some(file)) => key_from_file(file)?,
        (None, None) => anyhow::bail!("set --minisign-key or --minisign-key-file"),
    };
    let source = ArtifactSource {
        url: args.url,
        minisign_key,
        signature_url: args.signature_url,
        ca_file: args.ca_file,
        max_bytes: args.max_bytes,
        timeout_secs: args.timeout_secs,
    };
    let outcome = replica::fetch_artifact(&source, &args.artifact, args.state_dir.as_deref())
        .with_context(|| {
            format!(
                "nothing installed at {}; the artifact in service stays",
                args.artifact.display()
            )
        })?;
    match outcome {
        ArtifactOutcome::Installed { stats, signed_at } => println!(
            "installed {}: {} domain rules, {} IP rules, {} bytes, signed at {signed_at}",
            args.artifact.display(),
            stats.domain_rules,
            stats.ip_rules,
            stats.bytes
        ),
        ArtifactOutcome::Unchanged => println!("unchanged {}", args.artifact.display()),
    }
    Ok(())
}

/// The key line of a minisign `.pub` file (the line after the comment).
fn key_from_file(file: &std::path::Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .map(str::to_string)
        .with_context(|| format!("{}: no minisign public key line", file.display()))
}
