//! The loaded list: [`Blocklist`] answers lookups, [`Stats`] describes it.

use std::net::IpAddr;
use std::path::Path;

use crate::compile::Compiler;
use crate::error::Error;
use crate::rule::{self, Action, Scope};
use crate::source::{CompileOptions, SourceReport, SourceSpec};
use crate::verdict::{RuleInfo, RuleRef, SourceInfo, Verdict};
use crate::{matcher, name};

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
        Ok((list, compiler.reports().to_vec()))
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
