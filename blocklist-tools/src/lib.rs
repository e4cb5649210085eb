//! parapet-blocklist: real blocklists in, one compiled artifact out, one-pass lookup.
//!
//! Data flow: list files ([`format`]) → rules → [`Compiler`] → `.pbl`
//! artifact → [`Blocklist`] (read into owned memory) → [`Verdict`].
//!
//! Private modules: `name` (normalisation, public-suffix guard), `rule`
//! (rule model, packed decisions), `compile` (precedence, artifact bytes),
//! `artifact` (layout, verification), `iprange` (overlap resolution),
//! `hash` (the key hash), `filter` (Bloom filter over the keys and their parents),
//! `index` (hash index over the domain keys beside the FST), `walk` (FST steps), `matcher` (lookups),
//! `scoped` (exceptions that cancel their own source's blocks only), `report`
//! (when a source is not a list).
//!
//! ```
//! use parapet_blocklist::{Blocklist, CompileOptions, Compiler, Format, SourceSpec, Verdict};
//! # fn main() -> Result<(), parapet_blocklist::Error> {
//! let mut spec = SourceSpec::new("phishing.txt");
//! spec.format = Some(Format::Adblock);
//! let mut compiler = Compiler::new(CompileOptions::default());
//! compiler.add_reader(&spec, "||evil.example^\n@@||ok.evil.example^\n".as_bytes())?;
//! let list = Blocklist::from_bytes(compiler.to_bytes()?)?;
//! assert!(list.check_name("www.Evil.Example.").is_block());
//! assert!(matches!(list.check_name("ok.evil.example"), Verdict::Allow(_)));
//! assert_eq!(list.check_name("notevil.example"), Verdict::None);
//! # Ok(())
//! # }
//! ```
//!
//! THIS FILE IS THE PUBLIC CONTRACT other crates build against. Keep these
//! names and signatures; internals live in the private modules.
#![deny(missing_docs)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The input formats and their parsers.
pub mod format;

mod artifact;
mod compile;
mod filter;
mod hash;
mod index;
mod iprange;
mod matcher;
mod name;
mod report;
mod rule;
mod scoped;
mod walk;

/// Feed configuration and updates.
pub mod feed;

/// Look-alikes of protected domains: names that imitate a trusted domain
/// before any list knows them.
pub mod lookalike;

pub use format::Format;

/// Where the real test and benchmark data lives: `$PARAPET_DATA`, default
/// `../shared/data` relative to the workspace root.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("PARAPET_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    }
}

/// What a rule does when it is the most specific one covering a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Block the name or address.
    Block,
    /// An exception: let the name through even if a less specific rule
    /// blocks it. An exception inside a list cancels that list's own blocks
    /// only; a source marked `allow` (an allowlist) allows across sources.
    Allow,
}

/// Which names or addresses a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The name and every name under it (hosts, domain lists, `||name^`).
    Subtree,
    /// The name only (RPZ `name CNAME .`, sources declared exact).
    Exact,
    /// Names under the name, not the name itself (RPZ `*.name CNAME .`).
    Below,
    /// An IP address or CIDR range.
    Ip,
}

/// A reference to the rule that decided a lookup. Cheap to copy; resolve it
/// with [`Blocklist::rule_info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleRef {
    /// Packed rule value as stored in the artifact (source index, scope, action).
    pub(crate) value: u64,
    /// For name rules: how many trailing labels of the query the rule covers.
    /// For IP rules: index of the range.
    pub(crate) pos: u32,
}

impl RuleRef {
    /// Whether the rule blocks or allows.
    pub fn action(&self) -> Action {
        rule::action(self.value as u32)
    }
    /// The rule's scope.
    pub fn scope(&self) -> Scope {
        rule::scope(self.value as u32)
    }
}

/// The outcome of a lookup: no rule, a blocking rule, or an allow exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No rule covers the name or address.
    None,
    /// The most specific covering rule blocks.
    Block(RuleRef),
    /// No block survives and an exception decided: an allowlist's rule (see
    /// [`Blocklist::allows_across_sources`]), or a list's own exception
    /// that cancelled that list's block.
    Allow(RuleRef),
}

impl Verdict {
    fn from_rule(rule: RuleRef) -> Verdict {
        match rule.action() {
            Action::Block => Verdict::Block(rule),
            Action::Allow => Verdict::Allow(rule),
        }
    }
    /// The deciding rule, if any.
    pub fn rule(&self) -> Option<RuleRef> {
        match self {
            Verdict::None => None,
            Verdict::Block(r) | Verdict::Allow(r) => Some(*r),
        }
    }
    /// True for [`Verdict::Block`].
    pub fn is_block(&self) -> bool {
        matches!(self, Verdict::Block(_))
    }
}

/// The source and category of a rule: cheap, borrowed from the artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo<'a> {
    /// Source name (config feed name or file name).
    pub name: &'a str,
    /// Optional category such as `phishing` or `malware`.
    pub category: Option<&'a str>,
}

/// Everything known about a rule, for explaining a block. Allocates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The rule as text: `evil.example`, `*.evil.example`, `=evil.example`
    /// (exact), `192.0.2.0/24`.
    pub pattern: String,
    /// Block or allow.
    pub action: Action,
    /// Scope of the rule.
    pub scope: Scope,
    /// Source name.
    pub source: String,
    /// Category, if the source has one.
    pub category: Option<String>,
}

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

/// Collects rules from sources and writes a `.pbl` artifact.
#[derive(Debug)]
pub struct Compiler {
    state: compile::State,
}

impl Compiler {
    /// A new, empty compiler.
    pub fn new(options: CompileOptions) -> Self {
        Compiler {
            state: compile::State::new(options),
        }
    }
    /// Read and parse one source file. Bad lines are counted in the report;
    /// only an unreadable file is an error.
    pub fn add_source(&mut self, spec: &SourceSpec) -> Result<&SourceReport, Error> {
        self.state.add_source(spec)
    }
    /// Parse a source from a reader (`spec.path` is only used for messages).
    pub fn add_reader(
        &mut self,
        spec: &SourceSpec,
        reader: impl std::io::BufRead,
    ) -> Result<&SourceReport, Error> {
        self.state.add_reader(spec, reader)
    }
    /// Reports for all sources added so far.
    pub fn reports(&self) -> &[SourceReport] {
        self.state.reports()
    }
    /// Build the artifact in memory.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        self.state.to_bytes()
    }
    /// Build the artifact and publish it atomically at `path` (temp file in
    /// the same directory, fsync, rename).
    pub fn write_file(&self, path: &Path) -> Result<(), Error> {
        self.state.write_file(path)
    }
}

/// Counts and provenance from an artifact's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Domain rules (block + allow).
    pub domain_rules: u64,
    /// IP ranges.
    pub ip_rules: u64,
    /// Allow rules among them.
    pub allow_rules: u64,
    /// Size of the artifact in bytes.
    pub bytes: u64,
    /// Bytes of the domain sections: the FST, its filter, its hash index
    /// (value table included).
    pub fst_bytes: u64,
    /// See [`Stats::fst_bytes`].
    pub filter_bytes: u64,
    /// See [`Stats::fst_bytes`].
    pub index_bytes: u64,
    /// Build time, seconds since the Unix epoch.
    pub built_at: u64,
    /// Sources: name, category, SHA-256 of the raw input (hex), rules taken.
    pub sources: Vec<(String, Option<String>, String, u64)>,
}

/// A loaded, verified, immutable compiled blocklist. Lookups do not
/// allocate, lock or make system calls.
#[derive(Debug)]
pub struct Blocklist {
    inner: matcher::Loaded,
}

/// The verdict of a name lookup's (decision, depth of the key that held it).
#[inline]
fn verdict(found: Option<(u32, u32)>) -> Verdict {
    match found {
        Some((d, depth)) => Verdict::from_rule(RuleRef {
            value: u64::from(d),
            pos: depth.saturating_sub(rule::up(d)),
        }),
        None => Verdict::None,
    }
}

impl Blocklist {
    /// Read a `.pbl` file into memory and verify it (magic, version,
    /// checksum). The file is not kept open or mapped: changing it later does
    /// not affect the returned list.
    pub fn open(path: &Path) -> Result<Blocklist, Error> {
        Ok(Blocklist {
            inner: matcher::Loaded::open(path)?,
        })
    }
    /// Verify and use an artifact held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Blocklist, Error> {
        Ok(Blocklist {
            inner: matcher::Loaded::from_bytes(bytes)?,
        })
    }
    /// Compile raw list sources in memory and load the result.
    pub fn compile(
        sources: &[SourceSpec],
        options: CompileOptions,
    ) -> Result<(Blocklist, Vec<SourceReport>), Error> {
        let mut compiler = Compiler::new(options);
        for spec in sources {
            compiler.add_source(spec)?;
        }
        let list = Blocklist::from_bytes(compiler.to_bytes()?)?;
        Ok((list, compiler.state.reports().to_vec()))
    }
    /// Look up a name given as text: any case, with or without trailing dot.
    ///
    /// ASCII names (the normal case, A-labels included) are looked up without
    /// allocating; a Unicode name is first converted to its A-label form.
    pub fn check_name(&self, name: &str) -> Verdict {
        if let Some(found) = self.inner.lookup_text(name.as_bytes()) {
            return verdict(found);
        }
        match idna::domain_to_ascii(name) {
            Ok(ascii) => verdict(self.inner.lookup_text(ascii.as_bytes()).flatten()),
            Err(_) => Verdict::None,
        }
    }
    /// Look up a name given as wire-format labels (left to right, e.g. from
    /// hickory's `Name::iter()`), any case.
    pub fn check_labels<'a, I>(&self, labels: I) -> Verdict
    where
        I: DoubleEndedIterator<Item = &'a [u8]>,
    {
        verdict(self.inner.lookup_labels(labels))
    }
    /// Look up an address against the IP rules.
    pub fn check_ip(&self, ip: IpAddr) -> Verdict {
        match self.inner.lookup_ip(ip) {
            Some((d, pos)) => Verdict::from_rule(RuleRef {
                value: u64::from(d),
                pos,
            }),
            None => Verdict::None,
        }
    }
    /// Source and category of a rule, without allocating.
    pub fn source_of(&self, rule: RuleRef) -> SourceInfo<'_> {
        match self
            .inner
            .layout
            .sources
            .get(rule::source(rule.value as u32))
        {
            Some(s) => SourceInfo {
                name: &s.name,
                category: s.category.as_deref(),
            },
            None => SourceInfo {
                name: "?",
                category: None,
            },
        }
    }
    /// True for an allow rule from a source marked `allow` (an allowlist):
    /// the only kind of exception that overrides other sources' blocks, and
    /// the only one under which a resolver may skip inspecting the answer.
    /// An exception inside a block list only cancels that list's own blocks.
    pub fn allows_across_sources(&self, rule: RuleRef) -> bool {
        rule.action() == Action::Allow
            && self
                .inner
                .layout
                .sources
                .get(rule::source(rule.value as u32))
                .is_some_and(|s| s.allow)
    }
    /// Full description of the rule that decided a lookup of `query` (the
    /// name or IP text that was looked up).
    pub fn rule_info(&self, rule: RuleRef, query: &str) -> RuleInfo {
        let scope = rule.scope();
        let pattern = if scope == Scope::Ip {
            let prefix = rule::prefix(rule.value as u32);
            match self
                .inner
                .range_start(rule.pos)
                .and_then(|ip| ipnet::IpNet::new(ip, prefix).ok())
            {
                Some(net) if net.prefix_len() == net.max_prefix_len() => net.addr().to_string(),
                Some(net) => net.trunc().to_string(),
                None => query.to_string(),
            }
        } else {
            let q = name::normalize_query(query);
            let mut labels: Vec<&str> = q
                .rsplit('.')
                .filter(|l| !l.is_empty())
                .take(rule.pos as usize)
                .collect();
            labels.reverse();
            let name = labels.join(".");
            match scope {
                Scope::Exact => format!("={name}"),
                Scope::Below => format!("*.{name}"),
                _ => name,
            }
        };
        let source = self.source_of(rule);
        RuleInfo {
            pattern,
            action: rule.action(),
            scope,
            source: source.name.to_string(),
            category: source.category.map(str::to_string),
        }
    }
    /// Header counts and sources.
    pub fn stats(&self) -> Stats {
        let layout = &self.inner.layout;
        Stats {
            domain_rules: layout.counts.domain_rules,
            ip_rules: layout.counts.ip_rules,
            allow_rules: layout.counts.allow_rules,
            bytes: self.inner.len() as u64,
            fst_bytes: layout.fst.len() as u64,
            filter_bytes: layout.filter.len() as u64,
            index_bytes: (layout.values.len() + layout.index.len()) as u64,
            built_at: layout.counts.built_at,
            sources: layout
                .sources
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        s.category.clone(),
                        hex::encode(s.sha256),
                        s.rules,
                    )
                })
                .collect(),
        }
    }
}

/// Errors of the toolkit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A source spec or format name was not understood.
    #[error("{0}")]
    Usage(String),
    /// The artifact was refused.
    #[error("{path}: not a usable parapet blocklist: {kind}")]
    Artifact {
        /// The file (empty for in-memory bytes).
        path: PathBuf,
        /// What check failed.
        kind: ArtifactError,
    },
}

/// Why an artifact was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The file is shorter than its header or its declared sections.
    #[error("truncated: {got} bytes, need {need}; rebuild it with `parapet-blocklist compile`")]
    Truncated {
        /// Bytes present.
        got: u64,
        /// Bytes needed.
        need: u64,
    },
    /// Wrong magic bytes: not a `.pbl` file.
    #[error("bad magic: this is not a .pbl file")]
    BadMagic,
    /// Format version this build does not read.
    #[error(
        "format version {got} is not supported (this build reads {expected}); upgrade parapet or recompile"
    )]
    Version {
        /// Version this build reads.
        expected: u32,
        /// Version in the file.
        got: u32,
    },
    /// The checksum does not match: the file is corrupt.
    #[error(
        "checksum mismatch (expected {expected:08x}, got {got:08x}): the file is corrupt; recompile or re-download it"
    )]
    Checksum {
        /// Stored checksum.
        expected: u32,
        /// Computed checksum.
        got: u32,
    },
    /// A section is inconsistent (bad offsets, invalid FST, unsorted ranges).
    #[error("corrupt {0}")]
    Corrupt(&'static str),
}
