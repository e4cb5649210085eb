//! Feeds: lists fetched from a URL or path by `parapet-blocklist update`.

use std::path::PathBuf;

/// One `[[feeds]]` entry of the parapet config file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Feed name, recorded as the source of its rules.
    pub name: String,
    /// HTTP(S) URL to download from (exclusive with `path`).
    pub url: Option<String>,
    /// Local file to read (exclusive with `url`).
    pub path: Option<PathBuf>,
    /// List format; detected when absent.
    pub format: Option<String>,
    /// Category such as `phishing` or `malware`.
    pub category: Option<String>,
    /// `"exact"` to make every domain rule exact; default covers subdomains.
    #[serde(rename = "match")]
    pub match_mode: Option<String>,
    /// Rules of this feed are allow exceptions.
    #[serde(default)]
    pub allow: bool,
    /// Pinned SHA-256 (hex) of the downloaded body.
    pub sha256: Option<String>,
    /// minisign public key (base64) that must have signed the body.
    pub minisign_key: Option<String>,
    /// URL of the detached minisign signature (default: `url` + `.minisig`).
    pub signature_url: Option<String>,
}
