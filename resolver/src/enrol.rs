//! The `parapet token …` and `parapet profile …` verbs: enrol a phone in a
//! few commands (make a token, store its hash, hand out a profile).

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::Subcommand;

use crate::{
    profile::{self, Protocol, Target},
    transport::tokens,
};

/// `parapet token …`
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a new random token; print it, and append its hash to FILE when
    /// `--file` is given (the running server picks it up at once).
    New {
        /// A label for logs and for revoking, e.g. `alice-phone`.
        #[arg(long)]
        label: Option<String>,
        /// The `[access] tokens_file` to append to.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Print the SHA-256 line to store for an existing token.
    Hash {
        /// The token.
        token: String,
    },
    /// Remove tokens from FILE by label or by the token itself.
    Revoke {
        /// The `[access] tokens_file`.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// A label given at `token new`, or the token.
        what: String,
    },
}

/// `parapet profile …`
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Write an Apple configuration profile (.mobileconfig) for iPhone, iPad, Mac.
    Apple {
        /// The resolver's public name, e.g. dns.example.org.
        #[arg(long)]
        host: String,
        /// The device's or group's token.
        #[arg(long)]
        token: Option<String>,
        /// Use DNS over TLS (port 853) instead of DNS over HTTPS.
        #[arg(long)]
        dot: bool,
        /// Where to write the profile (default: standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the Android "Private DNS" hostname with step-by-step words.
    Android {
        /// The resolver's public name, e.g. dns.example.org.
        #[arg(long)]
        host: String,
        /// The device's or group's token.
        #[arg(long)]
        token: Option<String>,
    },
}

/// Exit code for bad arguments (as `parapet`'s config errors).
const EXIT_USAGE: u8 = 2;
/// Exit code for I/O failures.
const EXIT_IO: u8 = 1;

/// Print `text`; a closed stdout is reported (exit 1), not a panic.
fn print(text: &str) -> ExitCode {
    match crate::stdout::print(text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::stdout::failed(&e),
    }
}

impl TokenCommand {
    /// Run the verb.
    pub(crate) fn run(self) -> ExitCode {
        match self {
            TokenCommand::New { label, file } => {
                let token = tokens::generate();
                let line = hash_line(&token, label.as_deref());
                if let Some(file) = &file
                    && let Err(e) = append_line(file, &line)
                {
                    eprintln!("Error: {}: {e}", file.display());
                    return ExitCode::from(EXIT_IO);
                }
                let rest = match file {
                    Some(f) => format!("hash appended to {}\n", f.display()),
                    None => format!("add to [access] tokens or the tokens file:\n{line}\n"),
                };
                print(&format!("token: {token}\n{rest}"))
            }
            TokenCommand::Hash { token } => {
                if !tokens::is_valid_token(&token) {
                    eprintln!("Error: a token is 1-63 letters, digits, '-' or '_'");
                    return ExitCode::from(EXIT_USAGE);
                }
                print(&format!("{}\n", tokens::hash_token(&token)))
            }
            TokenCommand::Revoke { file, what } => match revoke(&file, &what) {
                Ok(0) => {
                    eprintln!(
                        "Error: no token labelled or equal to {what:?} in {}",
                        file.display()
                    );
                    ExitCode::from(EXIT_USAGE)
                }
                Ok(n) => print(&format!("revoked {n} token(s) in {}\n", file.display())),
                Err(e) => {
                    eprintln!("Error: {}: {e}", file.display());
                    ExitCode::from(EXIT_IO)
                }
            },
        }
    }
}

impl ProfileCommand {
    /// Run the verb.
    pub fn run(self) -> ExitCode {
        let (host, token) = match &self {
            ProfileCommand::Apple { host, token, .. } | ProfileCommand::Android { host, token } => {
                (host, token)
            }
        };
        let target = match Target::new(host, token.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("Error: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        };
        match self {
            ProfileCommand::Apple { dot, output, .. } => {
                let protocol = if dot { Protocol::Tls } else { Protocol::Https };
                let written = match &output {
                    Some(path) => fs::File::create(path)
                        .map_err(|e| e.to_string())
                        .and_then(|f| {
                            profile::write_apple(&target, protocol, f).map_err(|e| e.to_string())
                        }),
                    None => profile::write_apple(&target, protocol, std::io::stdout())
                        .map_err(|e| e.to_string()),
                };
                if let Err(e) = written {
                    eprintln!("Error: {e}");
                    return ExitCode::from(EXIT_IO);
                }
                if let Some(path) = output {
                    eprintln!(
                        "wrote {}: send it to the device (AirDrop, mail, MDM), open it, then Settings > General > VPN & Device Management > install",
                        path.display()
                    );
                }
                ExitCode::SUCCESS
            }
            ProfileCommand::Android { .. } => print(&profile::android_instructions(&target)),
        }
    }
}

/// `<sha256-hex> [label]`, the line stored for `token`.
fn hash_line(token: &str, label: Option<&str>) -> String {
    match label.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => format!("{} {l}", tokens::hash_token(token)),
        None => tokens::hash_token(token),
    }
}

fn append_line(file: &Path, line: &str) -> std::io::Result<()> {
    let existing = fs::read_to_string(file).unwrap_or_default();
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    replace(file, &text)
}

/// Remove the lines whose label is `what` or whose hash is that of `what`;
/// returns how many were removed. The file is replaced atomically.
fn revoke(file: &Path, what: &str) -> std::io::Result<usize> {
    let text = fs::read_to_string(file)?;
    let hash = tokens::hash_token(what);
    let mut removed = 0;
    let kept: String = text
        .lines()
        .filter(|line| {
            let entry = line.split('#').next().unwrap_or("").trim();
            let mut parts = entry.splitn(2, char::is_whitespace);
            let h = parts.next().unwrap_or("");
            let label = parts.next().unwrap_or("").trim();
            let hit = !h.is_empty() && (h.eq_ignore_ascii_case(&hash) || label == what);
            removed += usize::from(hit);
            !hit
        })
        .map(|l| format!("{l}\n"))
        .collect();
    if removed > 0 {
        replace(file, &kept)?;
    }
    Ok(removed)
}

/// Write `text` next to `file` and rename it over, so the server's watcher
/// never sees half a file. The new file keeps the old one's mode, owner and
/// group (a file readable only by the server's group stays so); a file that
/// did not exist yet is created with the default mode (umask).
fn replace(file: &Path, text: &str) -> std::io::Result<()> {
    let tmp = file.with_extension("parapet-tmp");
    let old = fs::metadata(file).ok();
    let _ = fs::remove_file(&tmp);
    let written = write_like(&tmp, old.as_ref(), text).and_then(|()| fs::rename(&tmp, file));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Create `path` holding `text`, with the owner, group and mode of `like`.
fn write_like(path: &Path, like: Option<&fs::Metadata>, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    if let Some(old) = like {
        // Owner first: changing it may clear mode bits.
        std::os::unix::fs::fchown(&f, Some(old.uid()), Some(old.gid()))?;
        f.set_permissions(fs::Permissions::from_mode(old.mode() & 0o7777))?;
    }
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tokens::Tokens;

    #[test]
    fn new_tokens_are_appended_and_revoked_by_label_or_token() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        fs::write(&file, "# staff phones").unwrap();
        append_line(&file, &hash_line("tok-a", Some("alice phone"))).unwrap();
        append_line(&file, &hash_line("tok-b", Some("bob"))).unwrap();
        append_line(&file, &hash_line("tok-c", None)).unwrap();
        let tokens = Tokens::new(&[], Some(&file)).unwrap();
        assert_eq!(tokens.current().len(), 3);
        assert_eq!(tokens.check("tok-a").as_deref(), Some("alice phone"));

        assert_eq!(revoke(&file, "alice phone").unwrap(), 1);
        assert_eq!(revoke(&file, "tok-c").unwrap(), 1);
        assert_eq!(revoke(&file, "nobody").unwrap(), 0);
        tokens.reload().unwrap();
        assert!(tokens.check("tok-a").is_none() && tokens.check("tok-c").is_none());
        assert!(tokens.check("tok-b").is_some());
        assert!(
            fs::read_to_string(&file)
                .unwrap()
                .starts_with("# staff phones\n")
        );
    }

    #[test]
    fn rewriting_keeps_the_mode_of_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        fs::write(&file, format!("{}\n", hash_line("tok-a", Some("a")))).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        append_line(&file, &hash_line("tok-b", Some("b"))).unwrap();
        let mode = |f: &Path| fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o640, "token new");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(revoke(&file, "a").unwrap(), 1);
        assert_eq!(mode(&file), 0o600, "token revoke");
        assert!(!file.with_extension("parapet-tmp").exists());
    }
}
