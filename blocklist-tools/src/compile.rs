//! The compiler: sources → rules → precedence → artifact bytes.

use std::io::{BufRead, Read, Write};
use std::net::IpAddr;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::artifact::{self, Counts, SourceMeta};
use crate::error::Error;
use crate::format::Format;
use crate::format::{Kind, Parser, is_shared_host};
use crate::iprange::{self, IpRule};
use crate::name::{is_public_suffix, push_reversed};
use crate::rule::{self, RawRule, Target};
use crate::rule::{Action, Scope};
use crate::scoped::Chain;
use crate::source::{CompileOptions, LineError, SourceReport, SourceSpec};
use crate::{filter, hash, index};

/// At most this many skipped lines are kept per source.
const MAX_LINE_ERRORS: usize = 100;
/// Skipped line text is cut to this many bytes.
const MAX_LINE_TEXT: usize = 200;

/// One name rule: its reversed key in the arena and its two decisions.
#[derive(Debug, Clone, Copy)]
struct NameEntry {
    off: u32,
    len: u32,
    /// Decision for the name itself.
    this: u32,
    /// Decision for names below it.
    below: u32,
}

/// Collects rules from sources and writes a `.pbl` artifact.
#[derive(Debug)]
pub struct Compiler {
    state: State,
}

impl Compiler {
    /// A new, empty compiler.
    pub fn new(options: CompileOptions) -> Self {
        Compiler {
            state: State::new(options),
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

/// Everything collected so far.
#[derive(Debug, Default)]
pub(crate) struct State {
    options: CompileOptions,
    sources: Vec<SourceMeta>,
    reports: Vec<SourceReport>,
    arena: Vec<u8>,
    names: Vec<NameEntry>,
    ip4: Vec<IpRule>,
    ip6: Vec<IpRule>,
}

impl State {
    pub(crate) fn new(options: CompileOptions) -> Self {
        State {
            options,
            ..State::default()
        }
    }

    pub(crate) fn reports(&self) -> &[SourceReport] {
        &self.reports
    }

    pub(crate) fn add_source(&mut self, spec: &SourceSpec) -> Result<&SourceReport, Error> {
        let file = std::fs::File::open(&spec.path).map_err(|e| Error::Io {
            path: spec.path.clone(),
            source: e,
        })?;
        self.add_reader(spec, std::io::BufReader::new(file))
    }

    pub(crate) fn add_reader(
        &mut self,
        spec: &SourceSpec,
        mut reader: impl BufRead,
    ) -> Result<&SourceReport, Error> {
        let io = |e| Error::Io {
            path: spec.path.clone(),
            source: e,
        };
        let mut raw = Vec::new();
        reader.read_to_end(&mut raw).map_err(io)?;
        if raw.starts_with(&[0x1f, 0x8b]) {
            let mut text = Vec::with_capacity(raw.len() * 3);
            flate2::read::MultiGzDecoder::new(&raw[..])
                .read_to_end(&mut text)
                .map_err(io)?;
            raw = text;
        }
        let index = self.sources.len();
        if index >= rule::MAX_SOURCES {
            return Err(Error::Usage(format!(
                "too many sources (at most {})",
                rule::MAX_SOURCES
            )));
        }
        let detected = spec.format.is_none();
        let format = spec.format.unwrap_or_else(|| {
            let sample = &raw[..raw.len().min(256 * 1024)];
            Format::detect(&String::from_utf8_lossy(sample))
        });
        let mut report = SourceReport {
            name: spec.name.clone(),
            path: spec.path.clone(),
            format: Some(format),
            ..SourceReport::default()
        };
        let mut parser = Parser::new(format);
        let mut rules = Vec::new();
        for (i, line) in raw.split(|b| *b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let lineno = i as u64 + 1;
            let Ok(text) = std::str::from_utf8(line) else {
                skip(
                    &mut report,
                    lineno,
                    &String::from_utf8_lossy(line),
                    "not valid UTF-8".into(),
                    false,
                );
                continue;
            };
            rules.clear();
            let result = parser.parse_line(text, &mut rules);
            let mut refused = None;
            for r in rules.drain(..) {
                if detected && !spec.allow && r.action == Action::Allow {
                    // A list that did not name its format cannot carry
                    // exceptions: a feed must not turn itself into one.
                    report.exceptions_dropped += 1;
                    continue;
                }
                match self.add_rule(r, spec, format, index as u32) {
                    Ok(true) => report.domain_rules += 1,
                    Ok(false) => report.ip_rules += 1,
                    Err(reason) => {
                        refused.get_or_insert(reason);
                    }
                }
            }
            match (result, refused) {
                (Err(reason), _) => skip(&mut report, lineno, text, reason, false),
                (Ok(_), Some(reason)) => skip(&mut report, lineno, text, reason, true),
                (Ok(Kind::Ignored), None) => report.ignored += 1,
                (Ok(_), None) => {}
            }
        }
        self.sources.push(SourceMeta {
            name: spec.name.clone(),
            category: spec.category.clone(),
            sha256: Sha256::digest(&raw).into(),
            rules: report.domain_rules + report.ip_rules,
            allow: spec.allow,
        });
        self.reports.push(report);
        Ok(&self.reports[index])
    }

    /// Add one rule; Ok(true) for a name rule, Ok(false) for an IP rule;
    /// the reason when the rule is refused (a public suffix, a shared host).
    fn add_rule(
        &mut self,
        mut r: RawRule,
        spec: &SourceSpec,
        format: Format,
        source: u32,
    ) -> Result<bool, String> {
        if spec.allow {
            r.action = Action::Allow;
        }
        if spec.exact && r.scope == Scope::Subtree {
            r.scope = Scope::Exact;
        }
        match r.target {
            Target::Name(name) => {
                if r.scope != Scope::Exact
                    && !self.options.force_public_suffix
                    && is_public_suffix(&name)
                {
                    let what = match r.action {
                        Action::Block => "block",
                        Action::Allow => "allow",
                    };
                    return Err(format!(
                        "{name:?} is a public suffix: this rule would {what} every site under it (use --force-public-suffix to accept)"
                    ));
                }
                if format == Format::Urls && is_shared_host(&name) {
                    return Err(format!(
                        "{name:?} is a shared host (documents, file sharing, link shortener): a URL on it says nothing about the host"
                    ));
                }
                let off =
                    u32::try_from(self.arena.len()).map_err(|_| "too many rules".to_string())?;
                push_reversed(&name, &mut self.arena);
                let d = rule::pack(r.action, r.scope, 0, source);
                let (this, below) = match r.scope {
                    Scope::Exact => (d, 0),
                    Scope::Below => (0, d),
                    _ => (d, d),
                };
                self.names.push(NameEntry {
                    off,
                    len: name.len() as u32,
                    this,
                    below,
                });
                Ok(true)
            }
            Target::Ip(net) => {
                if r.action == Action::Block && too_wide(&net) {
                    return Err(format!(
                        "{net} is too wide: a block of a quarter of all IPv4 addresses, or of all IPv6 global unicast, would send nearly every answer to the warning page"
                    ));
                }
                let prefix = net.prefix_len();
                let d = rule::pack(r.action, Scope::Ip, prefix, source);
                match (net.network(), net.broadcast()) {
                    (IpAddr::V4(s), IpAddr::V4(e)) => self.ip4.push(IpRule {
                        start: u32::from(s).into(),
                        end: u32::from(e).into(),
                        decision: d,
                    }),
                    (s, e) => self.ip6.push(IpRule {
                        start: v6(s),
                        end: v6(e),
                        decision: d,
                    }),
                }
                Ok(false)
            }
        }
    }

    /// The name rules, one per key, each with its verdicts resolved against
    /// the rules of its ancestors (see [`crate::scoped`]), sorted by key;
    /// keys left with no verdict are dropped.
    fn resolved_names(&self) -> Vec<NameEntry> {
        let key = |e: &NameEntry| &self.arena[e.off as usize..(e.off + e.len) as usize];
        let mut entries = self.names.clone();
        // Label by label: a key's descendants directly follow it.
        entries.sort_unstable_by(|a, b| by_label(key(a), key(b)));
        let cross: Vec<bool> = self.sources.iter().map(|s| s.allow).collect();
        let mut ancestors: Vec<(NameEntry, Chain)> = Vec::new();
        let mut out = Vec::with_capacity(entries.len());
        let mut i = 0;
        while i < entries.len() {
            let k = key(&entries[i]);
            let j = i + entries[i..].iter().take_while(|e| key(e) == k).count();
            while let Some((top, _)) = ancestors.last() {
                let t = key(top);
                if k.len() > t.len() && k.starts_with(t) && k[t.len()] == b'.' {
                    break;
                }
                ancestors.pop();
            }
            let depth = k.iter().filter(|b| **b == b'.').count() as u32 + 1;
            let inherited = ancestors.last().map(|(_, c)| c.clone()).unwrap_or_default();
            let (mut this, mut below) = (inherited.clone(), inherited);
            for e in &entries[i..j] {
                this.overlay(e.this, depth);
                below.overlay(e.below, depth);
            }
            let resolve = |c: &Chain| {
                c.decide(&cross)
                    .map_or(0, |x| rule::with_up(x.d, depth - x.depth))
            };
            let (this_d, below_d) = (resolve(&this), resolve(&below));
            if this_d | below_d != 0 {
                out.push(NameEntry {
                    this: this_d,
                    below: below_d,
                    ..entries[i]
                });
            }
            ancestors.push((entries[i], below));
            i = j;
        }
        out.sort_unstable_by(|a, b| key(a).cmp(key(b)));
        out
    }

    /// Build the artifact bytes.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let key = |e: &NameEntry| &self.arena[e.off as usize..(e.off + e.len) as usize];
        let entries = self.resolved_names();
        let mut map = fst::MapBuilder::memory();
        let mut counts = Counts {
            built_at: built_at(),
            ..Counts::default()
        };
        let fst_err =
            |e: fst::Error| Error::Usage(format!("building the domain index failed: {e}"));
        counts.seed = self.seed();
        let mut keys = Vec::with_capacity(entries.len());
        let mut entries_in_filter = Vec::with_capacity(entries.len() * 2);
        let mut last_parent = None;
        for e in &entries {
            let k = key(e);
            let value = (u64::from(e.this) << 32) | u64::from(e.below);
            let h = hash::hash_key(counts.seed, k);
            keys.push((h, value));
            entries_in_filter.push(h);
            // Keys are sorted, so a parent's keys are adjacent: one entry each.
            if let Some(p) = two_labels(k)
                && last_parent != Some(p)
            {
                entries_in_filter.push(filter::parent(hash::hash_key(counts.seed, p)));
                last_parent = Some(p);
            }
            map.insert(k, value).map_err(fst_err)?;
            counts.domain_rules += 1;
            let labels = k.iter().filter(|b| **b == b'.').count() + 1;
            counts.label_mask |= 1 << labels.min(31);
            let is_allow = |d: u32| d & rule::PRESENT != 0 && rule::action(d) == Action::Allow;
            if is_allow(e.this) || is_allow(e.below) {
                counts.allow_rules += 1;
            }
        }
        let fst = map.into_inner().map_err(fst_err)?;
        let cross: Vec<bool> = self.sources.iter().map(|s| s.allow).collect();
        let mut v4 = Vec::new();
        let mut ip_allows = 0;
        for r in iprange::resolve(self.ip4.clone(), &cross) {
            v4.extend_from_slice(&(r.start as u32).to_le_bytes());
            v4.extend_from_slice(&(r.end as u32).to_le_bytes());
            v4.extend_from_slice(&r.decision.to_le_bytes());
            counts.ip_rules += 1;
            ip_allows += u64::from(rule::action(r.decision) == Action::Allow);
        }
        let mut v6 = Vec::new();
        for r in iprange::resolve(self.ip6.clone(), &cross) {
            v6.extend_from_slice(&r.start.to_le_bytes());
            v6.extend_from_slice(&r.end.to_le_bytes());
            v6.extend_from_slice(&r.decision.to_le_bytes());
            counts.ip_rules += 1;
            ip_allows += u64::from(rule::action(r.decision) == Action::Allow);
        }
        counts.allow_rules += ip_allows;
        let filter = filter::build(&entries_in_filter);
        let (values, index) = index::build(&keys);
        let parts = artifact::Parts {
            fst: &fst,
            v4: &v4,
            v6: &v6,
            filter: &filter,
            values: &values,
            index: &index,
        };
        Ok(artifact::write(counts, &self.sources, parts))
    }

    /// The key hash's seed: the first eight bytes of a SHA-256 over the
    /// sources' digests, so the same inputs give the same artifact, and a
    /// name cannot be chosen to collide before its list is compiled.
    fn seed(&self) -> u64 {
        let mut d = Sha256::new();
        for s in &self.sources {
            d.update(s.sha256);
        }
        let digest = d.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }

    /// Write the artifact next to `path` and rename it into place.
    pub(crate) fn write_file(&self, path: &Path) -> Result<(), Error> {
        let bytes = self.to_bytes()?;
        let io = |e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Ok(d) = std::fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }
}

fn v6(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V6(a) => u128::from(a),
        IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
    }
}

/// The first two labels of a reversed key (`com.example` of
/// `com.example.www`); none for a one-label key.
fn two_labels(key: &[u8]) -> Option<&[u8]> {
    let first = key.iter().position(|b| *b == b'.')?;
    let end = key[first + 1..]
        .iter()
        .position(|b| *b == b'.')
        .map_or(key.len(), |i| first + 1 + i);
    Some(&key[..end])
}

/// Byte order with the label separator below every other byte: labels
/// compare one by one, so the keys under a key follow it directly.
fn by_label(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let sep = |x: &u8| if *x == b'.' { 0 } else { *x };
    a.iter().map(sep).cmp(b.iter().map(sep))
}

/// Seconds since the epoch, or `$SOURCE_DATE_EPOCH` for reproducible builds.
fn built_at() -> u64 {
    if let Some(t) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return t;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Count a skipped line (`refused` by policy, else malformed) and keep it
/// among the first ones.
fn skip(report: &mut SourceReport, line: u64, text: &str, reason: String, refused: bool) {
    report.skipped += 1;
    report.refused += u64::from(refused);
    if report.errors.len() < MAX_LINE_ERRORS {
        let mut cut = text.len().min(MAX_LINE_TEXT);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        report.errors.push(LineError {
            line,
            text: printable(&text[..cut]),
            reason: printable(&reason),
            refused,
        });
    }
}

/// `text` with control characters escaped (`\u{1b}`), as it goes into logs
/// and terminals: a hostile list line must not clear a terminal or forge a
/// log line with a carriage return.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped = c.is_control().then(|| c.escape_unicode());
            escaped
                .into_iter()
                .flatten()
                .chain((!c.is_control()).then_some(c))
        })
        .collect()
}

/// Whether an IP block rule covers so much that it can only be a mistake:
/// IPv4 `/0`-`/2` (a quarter of the space or more) and IPv6 `/0`-`/3`
/// (`2000::/3` is all of global unicast). Bogon lists' widest ranges stay
/// in (`224.0.0.0/3`, `fc00::/7`).
fn too_wide(net: &ipnet::IpNet) -> bool {
    match net {
        ipnet::IpNet::V4(n) => n.prefix_len() <= 2,
        ipnet::IpNet::V6(n) => n.prefix_len() <= 3,
    }
}
