//! Preflight: everything a validated [`Config`] names on disk, loaded once
//! before serving.
//!
//! [`crate::config`] checks values only; this step reads the files: the
//! lists (`blocklist.path`, `blocklist.sources`), the DoT/DoH certificate
//! and key (loaded and matched), the access tokens (inline entries and
//! `tokens_file`) and the upstream CA roots (`upstream.ca_file`). Every
//! problem is a [`ConfigIssue`] naming its key, as value problems are, and
//! all of them are reported at once, with any invalid values
//! ([`config::check_file`] keeps a config whose values are partly invalid).
//! `parapet check-config` runs [`load`], start-up
//! ([`crate::server::ServerBuilder::start`]) runs [`check`] and serves with
//! what it loaded ([`Preflight`]), so each file is read once.

use std::path::Path;
use std::sync::Arc;

use crate::config::{self, Config, ConfigError, ConfigIssue, ListSource};
use crate::transport::certs::{CertError, ReloadingCert};
use crate::transport::tokens::{ENTRY_HELP, TokenError, Tokens};

/// What preflight loaded, for the server to serve with.
#[derive(Debug)]
pub struct Preflight {
    /// The DoT/DoH certificate, when `server.tls_cert` and `tls_key` are set.
    pub cert: Option<Arc<ReloadingCert>>,
    /// The access tokens ([`Tokens::disabled`] when none are configured).
    pub tokens: Arc<Tokens>,
}

/// Read and check every file `config` names.
///
/// # Errors
/// [`ConfigError::Invalid`] with one issue per file that is missing,
/// unreadable or malformed, each naming its key.
pub(crate) fn check(config: &Config) -> Result<Preflight, ConfigError> {
    let mut issues = Vec::new();
    let loaded = files(config, &mut issues);
    if issues.is_empty() {
        return Ok(loaded);
    }
    let origin = config
        .source_file
        .as_deref()
        .map_or_else(|| "<string>".to_string(), |p| p.display().to_string());
    Err(ConfigError::Invalid { origin, issues })
}

/// Read a config file, check its values and the files it names: what
/// `check-config` runs. Every problem is reported at once.
///
/// # Errors
/// The file cannot be read or parsed, a value is invalid, or a file it
/// names does not load.
pub fn load(path: &Path) -> Result<(Config, Preflight), ConfigError> {
    finish(config::check_file(path)?)
}

/// [`load`] for config text (tests, benches); relative paths are resolved
/// against `base_dir`.
///
/// # Errors
/// As [`load`].
pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<(Config, Preflight), ConfigError> {
    finish(config::check_str(text, base_dir)?)
}

/// The files of a checked config, its value issues and theirs together.
fn finish(checked: config::Checked) -> Result<(Config, Preflight), ConfigError> {
    let config::Checked {
        config,
        mut issues,
        origin,
    } = checked;
    let loaded = files(&config, &mut issues);
    if !issues.is_empty() {
        return Err(ConfigError::Invalid { origin, issues });
    }
    Ok((config, loaded))
}

/// Every file `config` names, read and checked; a problem is pushed to
/// `issues` (what was loaded is then incomplete).
fn files(config: &Config, issues: &mut Vec<ConfigIssue>) -> Preflight {
    list_files(&config.blocklist.source, issues);
    let cert = certificate(config, issues);
    let tokens = tokens(config, issues);
    ca_roots(config, issues);
    Preflight {
        cert: cert.map(Arc::new),
        tokens: Arc::new(tokens.unwrap_or_else(Tokens::disabled)),
    }
}

fn push(issues: &mut Vec<ConfigIssue>, key: impl Into<String>, message: impl Into<String>) {
    issues.push(ConfigIssue {
        key: key.into(),
        message: message.into(),
    });
}

/// A readable regular file at `path`, else an issue for `key`; `true` when
/// it is one.
fn check_file(issues: &mut Vec<ConfigIssue>, key: &str, path: &Path) -> bool {
    let problem = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => match std::fs::File::open(path) {
            Ok(_) => return true,
            Err(e) => format!("{} cannot be read: {e}", path.display()),
        },
        Ok(_) => format!("{} is not a file", path.display()),
        Err(e) => format!("{}: {e}", path.display()),
    };
    push(issues, key, problem);
    false
}

/// `blocklist.path` or each of `blocklist.sources` (their contents are
/// compiled by [`crate::reload`], which reports bad lines).
fn list_files(source: &ListSource, issues: &mut Vec<ConfigIssue>) {
    match source {
        // Not there yet is fine: the first feed update publishes it
        // (parapet serves DNS without protection until then).
        ListSource::Artifact(path) if crate::reload::is_missing(path) => {}
        ListSource::Artifact(path) => {
            check_file(issues, "blocklist.path", path);
        }
        ListSource::Sources(specs) => {
            for (i, spec) in specs.iter().enumerate() {
                check_file(issues, &format!("blocklist.sources[{i}]"), &spec.path);
            }
        }
        ListSource::Empty => {}
    }
}

/// `server.tls_cert` and `server.tls_key`: both files, then the pair loaded
/// (PEM, and a key that fits the certificate).
fn certificate(config: &Config, issues: &mut Vec<ConfigIssue>) -> Option<ReloadingCert> {
    let (cert, key) = (&config.server.tls_cert, &config.server.tls_key);
    let cert_ok = cert
        .as_deref()
        .is_some_and(|p| check_file(issues, "server.tls_cert", p));
    let key_ok = key
        .as_deref()
        .is_some_and(|p| check_file(issues, "server.tls_key", p));
    let (Some(cert), Some(key), true, true) = (cert, key, cert_ok, key_ok) else {
        return None;
    };
    let (key, message) = match ReloadingCert::open(cert, key) {
        Ok(loaded) => return Some(loaded),
        Err(CertError::Cert { path, reason }) => {
            ("server.tls_cert", format!("{}: {reason}", path.display()))
        }
        Err(CertError::Key { path, reason }) => {
            ("server.tls_key", format!("{}: {reason}", path.display()))
        }
        Err(CertError::Mismatch { path, reason }) => (
            "server.tls_key",
            format!("{} does not fit server.tls_cert: {reason}", path.display()),
        ),
    };
    push(issues, key, message);
    None
}

/// `access.tokens` and `access.tokens_file`: every entry a hash.
fn tokens(config: &Config, issues: &mut Vec<ConfigIssue>) -> Option<Tokens> {
    let access = &config.access;
    if access.tokens.is_empty() && access.tokens_file.is_none() {
        return None;
    }
    let (key, message) = match Tokens::new(&access.tokens, access.tokens_file.as_deref()) {
        Ok(tokens) => return Some(tokens),
        Err(TokenError::Entry { place, entry }) => (place, format!("{entry:?} {ENTRY_HELP}")),
        Err(TokenError::Read { path, source }) => (
            "access.tokens_file".to_string(),
            format!("{}: {source}", path.display()),
        ),
    };
    push(issues, key, message);
    None
}

/// `upstream.ca_file`: a readable file with at least one CA certificate.
fn ca_roots(config: &Config, issues: &mut Vec<ConfigIssue>) {
    if let Some(ca) = &config.upstream.ca_file
        && check_file(issues, "upstream.ca_file", ca)
        && let Err(e) = crate::upstream::load_roots(ca)
    {
        push(issues, "upstream.ca_file", e);
    }
}

#[cfg(test)]
mod tests;
