//! What goes into a compile: sources ([`SourceSpec`]), options, and what
//! each source produced ([`SourceReport`], [`LineError`]).

use std::path::PathBuf;

use crate::error::Error;
use crate::format::Format;

/// A list source: a file and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The file (`.gz` is decompressed).
    pub path: PathBuf,
    /// The format, or `None` to detect it.
    pub format: Option<Format>,
    /// Name recorded with each rule (default: the file name).
    pub name: String,
    /// Optional category recorded with each rule.
    pub category: Option<String>,
    /// Treat every domain rule of this source as exact.
    pub exact: bool,
    /// Every rule of this source is an allow rule (an allowlist file).
    pub allow: bool,
}

impl SourceSpec {
    /// A source read from `path`, format detected, named after the file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        SourceSpec {
            path,
            format: None,
            name,
            category: None,
            exact: false,
            allow: false,
        }
    }
    /// Parse the CLI form `path` or `FORMAT:path`.
    pub fn parse_cli(spec: &str) -> Result<Self, Error> {
        if spec.is_empty() {
            return Err(Error::Usage("empty source".into()));
        }
        if let Some((format, path)) = spec.split_once(':')
            && let Ok(format) = format.parse::<Format>()
        {
            if path.is_empty() {
                return Err(Error::Usage(format!("{spec:?}: no path after the format")));
            }
            return Ok(SourceSpec {
                format: Some(format),
                ..SourceSpec::new(path)
            });
        }
        Ok(SourceSpec::new(spec))
    }
}

/// A skipped input line: where it was and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// The line (truncated to 200 bytes).
    pub text: String,
    /// Why it was skipped.
    pub reason: String,
    /// Refused by policy (a public suffix, a shared host), not malformed.
    pub refused: bool,
}

/// What compiling one source produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceReport {
    /// Source name.
    pub name: String,
    /// Source path.
    pub path: PathBuf,
    /// The detected or named format.
    pub format: Option<Format>,
    /// Domain rules (block and allow) taken from the source.
    pub domain_rules: u64,
    /// IP rules taken from the source.
    pub ip_rules: u64,
    /// Lines skipped as malformed or refused (public suffix).
    pub skipped: u64,
    /// Of the skipped lines, those refused rather than malformed: a rule
    /// for a public suffix, a URL on a shared host. They do not count
    /// against the list in [`SourceReport::refusal`].
    pub refused: u64,
    /// Lines that are not DNS-relevant (e.g. cosmetic Adblock rules), ignored.
    pub ignored: u64,
    /// Exceptions dropped because the source's format was detected, not
    /// named: only a list whose format the config or CLI names may carry
    /// exceptions.
    pub exceptions_dropped: u64,
    /// The first skipped lines (at most 100), with line numbers.
    pub errors: Vec<LineError>,
}

/// Compile options.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Accept rules that cover a whole public suffix (`com`, `github.io`).
    pub force_public_suffix: bool,
}
