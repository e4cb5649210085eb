//! Look-alikes of protected domains: a queried name whose
//! registrable domain is not a protected or allowed one but imitates one.
//!
//! Classes caught: confusable characters and digit/letter swaps (through
//! [`fold`] skeletons, `xn--` labels decoded), one edit on the protected
//! label (insertion, omission, replacement, transposition, repetition, vowel
//! swap, bit flip), hyphenation, the label under another public suffix, the
//! domain flattened (`gov-uk.com`, `gm.ail.com`) or inside another domain's
//! subdomains (`gmail.com.evil.net`), and the label joined to lure words
//! (`gmail-login.com`).
//!
//! Everything is precomputed at start and reload into an immutable
//! [`Detector`]: skeletons of the protected names, a SymSpell-style deletion
//! neighbourhood for one-edit matches, and a first test ([`prefilter`]) that
//! rules out almost every other name in one pass over its bytes. A check is
//! that pass and, for the few names it lets through, a handful of hash
//! probes on stack buffers: no allocation (except decoding an `xn--`
//! label), no lock.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod defaults;
pub mod fold;
mod prefilter;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use ahash::RandomState;

use fold::{Folded, within_one_edit};
use prefilter::Prefilter;

/// Shortest skeleton matched one edit away (shorter labels are common
/// words: one edit from `live` is `love`, `life`, `hive`).
const MIN_EDIT_LEN: usize = 5;

/// Shortest skeleton matched with an edit of its first letter.
const MIN_FIRST_EDIT_LEN: usize = 7;

/// How a name imitates a protected domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Same skeleton: confusable characters, digit swaps, hyphens, or the
    /// label under another suffix, or the domain flattened.
    Skeleton,
    /// One edit away from the protected label.
    OneEdit,
    /// The protected label joined to lure words by hyphens.
    Lure,
    /// The protected domain inside another domain's subdomains.
    Subdomain,
}

impl Class {
    /// How the name imitates, in plain words (`parapet-blocklist check`).
    pub fn describe(self) -> &'static str {
        match self {
            Class::Skeleton => "same letters under confusables, hyphens or another suffix",
            Class::OneEdit => "one letter away",
            Class::Lure => "joined to lure words",
            Class::Subdomain => "inside another domain's subdomains",
        }
    }
}

/// A look-alike: which protected domain it imitates, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'a> {
    /// The protected domain imitated (as configured).
    pub imitates: &'a str,
    /// How.
    pub class: Class,
}

/// What a skeleton key stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The label before the public suffix (`gmail`).
    Label,
    /// The labels with some or all of the suffix (`gmailcom`).
    Flat,
}

/// The precomputed look-alike check for one protected and allowed set.
#[derive(Debug, Default)]
pub struct Detector {
    /// Protected domains, lower-case ASCII.
    protected: Vec<String>,
    /// Protected and allowed domains: a name at or under one is trusted.
    trusted: HashSet<Box<[u8]>, RandomState>,
    /// Fewest and most labels of a `trusted` domain.
    trusted_labels: (usize, usize),
    /// Labels allowed under every suffix (`google.*`).
    allowed_labels: HashSet<Box<[u8]>, RandomState>,
    /// Skeleton → (protected index, kind).
    exact: HashMap<Box<[u8]>, (u16, Kind), RandomState>,
    /// Skeleton or one deletion of a label skeleton → protected indices.
    deletions: HashMap<Box<[u8]>, Vec<u16>, RandomState>,
    /// Light skeleton ([`Folded::light`]) of each protected label.
    labels: Vec<Box<[u8]>>,
    /// Lure words.
    lures: HashSet<&'static [u8], RandomState>,
    /// The first test of every name.
    prefilter: Prefilter,
}

/// Why a protected or allowed entry was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DetectorError {
    /// Not a domain name this check can use.
    #[error("{0:?} is not a domain name (expected e.g. \"gmail.com\")")]
    BadName(String),
    /// More protected domains than the index holds.
    #[error("too many protected domains (at most 10000)")]
    TooMany,
    /// A protected entry that is itself a public suffix (`com`, `co.uk`).
    #[error(
        "{0:?} is a public suffix, where anyone registers names, not a domain to protect \
         (name a registrable domain, e.g. \"example.co.uk\")"
    )]
    PublicSuffix(String),
}

impl Detector {
    /// The detector for the default set plus `protect`, trusting `allow`.
    /// Entries are domain names in any case, Unicode or A-labels; an allow
    /// entry `label.*` allows the label under every suffix.
    ///
    /// A `protect` entry that is itself a known public suffix (`com`,
    /// `co.uk`, `github.io`) is refused ([`DetectorError::PublicSuffix`]):
    /// other people register names under it, so "imitates com" would flag
    /// unrelated sites (`c0m.net`). Whether a suffix has a single owner
    /// worth protecting whole cannot be told from the list, so the ones
    /// that do are vetted into [`defaults::PROTECT`] (`gov.uk`, the GOV.UK
    /// sign-in) and may also be named in `protect`, a no-op.
    pub fn new(protect: &[String], allow: &[String]) -> Result<Self, DetectorError> {
        let mut d = Detector {
            lures: defaults::LURES.iter().map(|w| w.as_bytes()).collect(),
            ..Detector::default()
        };
        let defaults = defaults::PROTECT.iter().map(|s| (s.to_string(), true));
        let protect = protect.iter().map(|s| (s.clone(), false));
        for (entry, default) in defaults.chain(protect) {
            let domain = normalise(&entry)?;
            if !default
                && is_public_suffix(&domain)
                && !defaults::PROTECT.contains(&domain.as_str())
            {
                return Err(DetectorError::PublicSuffix(entry));
            }
            if !d.protected.contains(&domain) {
                d.add_protected(domain)?;
            }
        }
        let allow_defaults = defaults::ALLOW.iter().map(|s| s.to_string());
        for entry in allow_defaults.chain(allow.iter().cloned()) {
            match entry.strip_suffix(".*") {
                Some(label) => {
                    let label = normalise(label)?;
                    d.allowed_labels.insert(label.into_bytes().into());
                }
                None => d.trust(&normalise(&entry)?),
            }
        }
        Ok(d)
    }

    /// The protected domains, defaults first.
    pub fn protected(&self) -> &[String] {
        &self.protected
    }

    fn add_protected(&mut self, domain: String) -> Result<(), DetectorError> {
        let index = u16::try_from(self.protected.len())
            .ok()
            .filter(|&i| i < 10_000)
            .ok_or(DetectorError::TooMany)?;
        let suffix_len = psl::suffix(domain.as_bytes()).map_or(0, |s| s.as_bytes().len());
        let label_end = domain.len().saturating_sub(suffix_len + 1);
        let mut key = Folded::default();
        if suffix_len < domain.len() && label_end > 0 {
            key.push_text(&domain.as_bytes()[..label_end]);
            self.add_key(key.as_bytes(), index, Kind::Label);
        }
        // The label with ever more of the suffix: gmailcom, partyexampleorguk
        // (a domain that is itself a suffix, gov.uk, only whole).
        let partial_from = if label_end == 0 {
            domain.len()
        } else {
            label_end + 1
        };
        for (i, b) in domain.bytes().enumerate().skip(partial_from) {
            if b == b'.' {
                key.clear();
                key.push_text(&domain.as_bytes()[..i]);
                self.add_key(key.as_bytes(), index, Kind::Flat);
            }
        }
        key.clear();
        key.push_text(domain.as_bytes());
        self.add_key(key.as_bytes(), index, Kind::Flat);
        // One edit away: on the label, or the whole name when it has none.
        let mut light = Folded::light();
        if label_end == 0 || suffix_len >= domain.len() {
            light.push_text(domain.as_bytes());
        } else {
            light.push_text(&domain.as_bytes()[..label_end]);
        }
        let label: Box<[u8]> = light.as_bytes().into();
        if label.len() >= MIN_EDIT_LEN {
            self.add_deletions(&label, index);
        }
        self.labels.push(label);
        self.trust(&domain);
        self.protected.push(domain);
        Ok(())
    }

    fn add_key(&mut self, key: &[u8], index: u16, kind: Kind) {
        if key.len() < 2 {
            return;
        }
        if !self.exact.contains_key(key) {
            self.prefilter.add_key(key);
            self.exact.insert(key.into(), (index, kind));
        }
    }

    fn add_deletions(&mut self, label: &[u8], index: u16) {
        self.prefilter
            .add_edit_label(label, label.len() < MIN_FIRST_EDIT_LEN);
        let mut variants = vec![label.to_vec()];
        for i in 0..label.len() {
            let mut v = label.to_vec();
            v.remove(i);
            variants.push(v);
        }
        for v in variants {
            let entry = self.deletions.entry(v.into()).or_default();
            if !entry.contains(&index) {
                entry.push(index);
            }
        }
    }

    /// Check a name given as text (Unicode or A-labels, any case). For
    /// tools and tests; the query path uses [`Detector::check_labels`].
    pub fn check_text(&self, name: &str) -> Option<Hit<'_>> {
        let ascii = idna::domain_to_ascii(name.trim_end_matches('.')).ok()?;
        self.check_labels(ascii.split('.').map(str::as_bytes))
    }

    /// Check a name given as wire labels (any case), most specific first.
    pub fn check_labels<'l>(&self, labels: impl Iterator<Item = &'l [u8]>) -> Option<Hit<'_>> {
        if self.protected.is_empty() {
            return None;
        }
        let mut raw = [0u8; 256];
        let mut len = 0;
        for label in labels {
            if label.is_empty() {
                continue;
            }
            if len > 0 {
                *raw.get_mut(len)? = b'.';
                len += 1;
            }
            raw.get_mut(len..len + label.len())?.copy_from_slice(label);
            len += label.len();
        }
        self.check_raw(&mut raw[..len])
    }

    /// `name`: ASCII labels joined by dots, no trailing dot, any case (the
    /// first test folds case; the rest of the check sees lower case).
    fn check_raw(&self, name: &mut [u8]) -> Option<Hit<'_>> {
        if name.is_empty() || !self.prefilter.may_match(name) {
            return None;
        }
        name.make_ascii_lowercase();
        let name = &*name;
        // Most names the first test lets through are the protected
        // domains' own (mail.google.com): the trust probes come first.
        if self.is_trusted(name) {
            return None;
        }
        self.candidate(name)
    }

    /// [`Detector::check_text`] without the first test (tests hold the
    /// first test to never rejecting what this finds).
    #[cfg(test)]
    fn check_text_unfiltered(&self, name: &str) -> Option<Hit<'_>> {
        let ascii = idna::domain_to_ascii(name.trim_end_matches('.')).ok()?;
        let labels: Vec<&str> = ascii.split('.').filter(|l| !l.is_empty()).collect();
        let name = labels.join(".").to_ascii_lowercase();
        let hit = self.candidate(name.as_bytes())?;
        (!self.is_trusted(name.as_bytes())).then_some(hit)
    }

    /// A look-alike match of `name`, before the trusted and allowed sets.
    fn candidate(&self, name: &[u8]) -> Option<Hit<'_>> {
        let domain = psl::domain(name)?;
        let registrable = domain.as_bytes();
        let suffix_len = domain.suffix().as_bytes().len();
        let label = &registrable[..registrable.len() - suffix_len - 1];
        let prefix = &name[..name.len() - registrable.len()];
        let hit = self
            .label_hit(label)
            .or_else(|| self.flat_hit(name, prefix.is_empty()))
            .or_else(|| label.contains(&b'-').then(|| self.lure(label)).flatten())
            .or_else(|| self.subdomain(prefix))?;
        (!self.allowed_labels.contains(label)).then_some(hit)
    }

    /// The registrable label: same skeleton, or one edit away.
    fn label_hit(&self, label: &[u8]) -> Option<Hit<'_>> {
        let mut folded = Folded::default();
        folded.push_text(label);
        if let Some(hit) = self.exact_hit(folded.as_bytes(), None, Class::Skeleton) {
            return Some(hit);
        }
        // A plain lower-case label is its own light skeleton.
        if label
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return self.one_edit(label);
        }
        let mut light = Folded::light();
        light.push_text(label);
        self.one_edit(light.as_bytes())
    }

    /// The whole name flattened (`gm.ail.com`, `gov-uk.com`); one edit
    /// away only where the protected domain is itself a suffix (`gv.uk`
    /// for gov.uk) and the name has no subdomains (`whole`).
    fn flat_hit(&self, name: &[u8], whole: bool) -> Option<Hit<'_>> {
        let mut flat = Folded::default();
        flat.push_text(name);
        if let Some(hit) = self.exact_hit(flat.as_bytes(), None, Class::Skeleton) {
            return Some(hit);
        }
        if !whole {
            return None;
        }
        flat = Folded::light();
        flat.push_text(name);
        self.one_edit(flat.as_bytes())
    }

    /// Whether `name` is at or under a protected or allowed domain: one
    /// probe per suffix as long as a trusted domain's.
    fn is_trusted(&self, name: &[u8]) -> bool {
        let (fewest, most) = self.trusted_labels;
        let mut end = name.len();
        for labels in 1..=most {
            let start = name[..end]
                .iter()
                .rposition(|&b| b == b'.')
                .map_or(0, |d| d + 1);
            if labels >= fewest && self.trusted.contains(&name[start..]) {
                return true;
            }
            if start == 0 {
                return false;
            }
            end = start - 1;
        }
        false
    }

    fn trust(&mut self, domain: &str) {
        let labels = domain.split('.').count();
        self.trusted_labels = if self.trusted.is_empty() {
            (labels, labels)
        } else {
            (
                self.trusted_labels.0.min(labels),
                self.trusted_labels.1.max(labels),
            )
        };
        self.trusted.insert(domain.as_bytes().into());
    }

    fn exact_hit(&self, skeleton: &[u8], only: Option<Kind>, class: Class) -> Option<Hit<'_>> {
        let &(index, kind) = self.exact.get(skeleton)?;
        if only.is_some_and(|k| k != kind) {
            return None;
        }
        Some(self.hit(index, class))
    }

    fn hit(&self, index: u16, class: Class) -> Hit<'_> {
        Hit {
            imitates: &self.protected[usize::from(index)],
            class,
        }
    }

    /// A protected label skeleton one edit from `skeleton`: probe it and
    /// each of its deletions in the deletion neighbourhood, then confirm.
    fn one_edit(&self, skeleton: &[u8]) -> Option<Hit<'_>> {
        let n = skeleton.len();
        if !self.prefilter.edit_may_skeleton(skeleton) {
            return None;
        }
        let mut probe = [0u8; fold::MAX_FOLDED];
        for skip in (0..=n).rev() {
            let key = if skip == n {
                skeleton
            } else {
                probe[..skip].copy_from_slice(&skeleton[..skip]);
                probe[skip..n - 1].copy_from_slice(&skeleton[skip + 1..]);
                &probe[..n - 1]
            };
            let Some(indices) = self.deletions.get(key) else {
                continue;
            };
            for &index in indices {
                let label = &self.labels[usize::from(index)];
                if first_letter_ok(skeleton, label) && within_one_edit(skeleton, label) {
                    return Some(self.hit(index, Class::OneEdit));
                }
            }
        }
        None
    }

    /// `gmail-login`, `secure-gov-uk`: the label with its lure words taken
    /// out, when at least one was and something is left.
    fn lure(&self, label: &[u8]) -> Option<Hit<'_>> {
        let mut rest = Folded::default();
        let mut removed = false;
        for part in label.split(|&b| b == b'-') {
            if self.lures.contains(part) {
                removed = true;
            } else {
                rest.push_text(part);
            }
        }
        if !removed || rest.as_bytes().is_empty() {
            return None;
        }
        self.exact_hit(rest.as_bytes(), None, Class::Lure)
    }

    /// The protected domain as the last subdomain labels (`prefix` ends
    /// with the dot before the registrable domain), after nothing but lure
    /// words (`login-gmail.com.evil.net`), folded, against the whole-domain
    /// keys. (A protected name further left, `apple.com.w.cdn.example`, is
    /// a CDN's habit.)
    fn subdomain(&self, prefix: &[u8]) -> Option<Hit<'_>> {
        let prefix = prefix.strip_suffix(b".").unwrap_or(prefix);
        let is_sep = |b: &u8| *b == b'.' || *b == b'-';
        let mut folded = Folded::default();
        let mut start = 0;
        for word in prefix.split(is_sep).take(32) {
            folded.clear();
            folded.push_text(&prefix[start..]);
            let hit = self.exact_hit(folded.as_bytes(), Some(Kind::Flat), Class::Subdomain);
            if hit.is_some() || !self.lures.contains(word) {
                return hit;
            }
            start += word.len() + 1;
            if start >= prefix.len() {
                return None;
            }
        }
        None
    }
}

/// Whether an edit may touch the first letter of `label`. Any other edit
/// of the first letter of a short label makes common words and other real
/// services of prefixed names (g+mail: `ymail`, `email`, `mail`; a letter
/// before it, h+icloud: Huawei's `hicloud`): not counted. The first two
/// letters swapped (`mgail`, `ogogle`) keep every letter and are counted.
fn first_letter_ok(skeleton: &[u8], label: &[u8]) -> bool {
    if label.len() >= MIN_FIRST_EDIT_LEN || label.first() == skeleton.first() {
        return true;
    }
    matches!((skeleton, label), ([a, b, rest @ ..], [c, d, tail @ ..]) if a == d && b == c && rest == tail)
}

/// Whether `domain` (lower-case ASCII) is itself a suffix in the public
/// suffix list.
fn is_public_suffix(domain: &str) -> bool {
    psl::suffix(domain.as_bytes())
        .is_some_and(|s| s.is_known() && s.as_bytes() == domain.as_bytes())
}

/// A protected or allowed entry as lower-case ASCII (A-labels).
fn normalise(entry: &str) -> Result<String, DetectorError> {
    let trimmed = entry.trim().trim_end_matches('.');
    let bad = || DetectorError::BadName(entry.to_string());
    if trimmed.is_empty() || trimmed.contains(['/', ':', ' ', '*', '@']) {
        return Err(bad());
    }
    let ascii = idna::domain_to_ascii(trimmed).map_err(|_| bad())?;
    if ascii.split('.').any(str::is_empty) {
        return Err(bad());
    }
    Ok(ascii)
}
