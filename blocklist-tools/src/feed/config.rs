//! The `[[feeds]]` entries of the parapet config file: what the resolver
//! validates and the updater reads.

use std::path::PathBuf;

use crate::format::Format;

/// Largest feed body accepted, after decompression: 64 MiB. The biggest
/// public feeds are a few tens of MB; anything larger is a mistake or an attack.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Time allowed for one download, from connecting to the last body byte: 60 s.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// A feed whose rule count falls by more than this share (percent) since its
/// last good copy is refused unless forced: 50. A feed that suddenly loses
/// most of its rules is more likely broken than cleaned up.
pub const DEFAULT_MAX_DROP_PERCENT: u8 = 50;

/// One `[[feeds]]` entry of the parapet config file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Feed name, recorded as the source of its rules. Letters, digits, `.`,
    /// `_` and `-`; it also names the feed's state files.
    pub name: String,
    /// HTTP(S) URL to download from (exclusive with `path`).
    pub url: Option<String>,
    /// Local file to read (exclusive with `url`); relative to the config file.
    pub path: Option<PathBuf>,
    /// List format; detected when absent.
    pub format: Option<String>,
    /// Category such as `phishing` or `malware`.
    pub category: Option<String>,
    /// `"exact"` to make every domain rule exact; default (`"subtree"`)
    /// covers subdomains.
    #[serde(rename = "match")]
    pub match_mode: Option<String>,
    /// Rules of this feed are allow exceptions.
    #[serde(default)]
    pub allow: bool,
    /// Pinned SHA-256 (hex) of the body as served; any other body is refused.
    pub sha256: Option<String>,
    /// minisign public key (the base64 line of a `.pub` file) that must have
    /// signed the body; an unsigned or badly signed body is refused.
    pub minisign_key: Option<String>,
    /// URL of the detached minisign signature (default: `url` + `.minisig`;
    /// for `path` feeds the signature is always `path` + `.minisig`).
    pub signature_url: Option<String>,
    /// PEM file of the CA certificates trusted for this feed's `https://`
    /// URLs, in place of the public roots (a feed server with a private CA);
    /// relative to the config file.
    pub ca_file: Option<PathBuf>,
    /// Largest body accepted, in bytes (default [`DEFAULT_MAX_BYTES`]).
    pub max_bytes: Option<u64>,
    /// Download timeout in seconds (default [`DEFAULT_TIMEOUT_SECS`]).
    pub timeout_secs: Option<u64>,
    /// Largest accepted fall of the rule count, in percent of the last good
    /// copy (default [`DEFAULT_MAX_DROP_PERCENT`]); a fall to zero is always
    /// refused unless forced.
    pub max_drop_percent: Option<u8>,
    /// Accept this feed even when its rule count falls beyond
    /// `max_drop_percent` (verification failures are never forced).
    #[serde(default)]
    pub force: bool,
}

impl FeedConfig {
    /// Check the entry on its own: name, exactly one of `url`/`path`, format,
    /// match mode, pin, key and limits. The message names the key at fault.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && !self.name.starts_with('.')
            && self.name.len() <= 100
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !name_ok {
            return Err(format!(
                "name: {:?} must be 1-100 letters, digits, '.', '_' or '-', not starting with '.'",
                self.name
            ));
        }
        match (&self.url, &self.path) {
            (Some(_), Some(_)) => return Err("set either url or path, not both".into()),
            (None, None) => return Err("set url or path".into()),
            (Some(url), None) => {
                check_url("url", url)?;
                if !is_https(url) && self.sha256.is_none() && self.minisign_key.is_none() {
                    return Err(format!(
                        "url: {url:?} is plain http:// with neither sha256 nor minisign_key: \
                         anyone on the path could change the list; use https:// or pin it"
                    ));
                }
            }
            (None, Some(_)) => {
                if self.signature_url.is_some() {
                    return Err("signature_url: only for url feeds; a path feed's signature is path + \".minisig\"".into());
                }
                if self.ca_file.is_some() {
                    return Err("ca_file: only for url feeds".into());
                }
            }
        }
        if let Some(url) = &self.signature_url {
            check_url("signature_url", url)?;
            if self.minisign_key.is_none() {
                return Err(
                    "signature_url: set minisign_key too, or the signature is not checked".into(),
                );
            }
            if self.is_https() && !is_https(url) {
                return Err(format!(
                    "signature_url: {url:?} is http:// while url is https:// (an https feed never fetches over http)"
                ));
            }
        }
        if let Some(format) = &self.format {
            format
                .parse::<Format>()
                .map_err(|e| format!("format: {e}"))?;
        }
        match self.match_mode.as_deref() {
            None | Some("exact") | Some("subtree") => {}
            Some(other) => return Err(format!("match: {other:?} is not \"exact\" or \"subtree\"")),
        }
        if let Some(pin) = &self.sha256
            && (pin.len() != 64 || hex::decode(pin).is_err())
        {
            return Err(format!("sha256: {pin:?} is not 64 hex digits"));
        }
        if let Some(key) = &self.minisign_key {
            minisign_verify::PublicKey::from_base64(key.trim())
                .map_err(|e| format!("minisign_key: not a minisign public key: {e}"))?;
        }
        if self.max_bytes == Some(0) {
            return Err("max_bytes: must be more than 0".into());
        }
        if self.timeout_secs == Some(0) {
            return Err("timeout_secs: must be more than 0".into());
        }
        if self.max_drop_percent.is_some_and(|p| p > 100) {
            return Err("max_drop_percent: must be 0 to 100".into());
        }
        Ok(())
    }

    /// The list format, when named (`validate` has checked it).
    pub fn list_format(&self) -> Option<Format> {
        self.format.as_deref().and_then(|f| f.parse().ok())
    }

    /// Whether every domain rule of this feed is exact.
    pub fn is_exact(&self) -> bool {
        self.match_mode.as_deref() == Some("exact")
    }

    /// The size cap in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES)
    }

    /// The download timeout.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }

    /// The largest accepted fall of the rule count, in percent.
    pub fn max_drop_percent(&self) -> u8 {
        self.max_drop_percent.unwrap_or(DEFAULT_MAX_DROP_PERCENT)
    }

    /// Whether the feed is fetched over `https://` (and so never over
    /// `http://`, redirects included).
    pub fn is_https(&self) -> bool {
        self.url.as_deref().is_some_and(is_https)
    }

    /// The feed's file name: the last segment of its URL's path (query and
    /// fragment removed) or of its local path; `None` when empty (a URL
    /// ending in `/`). A signature's `file:` must name it.
    pub fn file_name(&self) -> Option<String> {
        let name = match (&self.url, &self.path) {
            (Some(url), _) => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let path = rest.split(['?', '#']).next().unwrap_or("");
                match path.split_once('/') {
                    Some((_, path)) => path.rsplit('/').next().unwrap_or("").to_string(),
                    None => String::new(),
                }
            }
            (None, Some(path)) => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            (None, None) => String::new(),
        };
        (!name.is_empty()).then_some(name)
    }

    /// Where the feed comes from, as text (the URL or the path).
    pub fn origin(&self) -> String {
        match (&self.url, &self.path) {
            (Some(url), _) => url.clone(),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => String::new(),
        }
    }
}

fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

fn check_url(key: &str, url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        Ok(())
    } else {
        Err(format!("{key}: {url:?} is not an http:// or https:// URL"))
    }
}
