//! Benchmark support: real data from `../shared/data`, a seeded Zipf-skewed
//! query mix, and the baselines the lookup path is measured against.
#![warn(missing_docs)]

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The large real domain list (1.16M names).
pub const MALTRAIL: &str = "domains/maltrail_domains.txt.gz";
/// Real benign query names, ranked by popularity.
pub const UMBRELLA: &str = "benign/umbrella_top100k.txt.gz";

/// Read a list (gzip or not) into its non-empty, non-comment lines.
pub fn read_lines(path: &Path) -> std::io::Result<Vec<String>> {
    let mut raw = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut raw)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut text)?;
        raw = text;
    }
    Ok(String::from_utf8_lossy(&raw)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Sampler of ranks 0..n with probability proportional to 1/(rank+1)^s.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// A Zipf distribution over `n` ranks with exponent `s`.
    pub fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let cdf = (0..n)
            .map(|k| {
                acc += 1.0 / ((k + 1) as f64).powf(s);
                acc
            })
            .collect();
        Zipf { cdf }
    }
    /// Draw a rank.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = self.cdf.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        self.cdf
            .partition_point(|c| *c < x)
            .min(self.cdf.len().saturating_sub(1))
    }
}

/// A realistic, seeded query mix: `benign_share` of the queries are benign
/// names drawn Zipf-skewed by popularity rank; the rest are listed names and
/// subdomains of listed names (half each), drawn uniformly.
pub fn query_mix(
    benign: &[String],
    listed: &[String],
    n: usize,
    benign_share: f64,
    seed: u64,
) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let zipf = Zipf::new(benign.len(), 1.0);
    (0..n)
        .map(|_| {
            if rng.random::<f64>() < benign_share || listed.is_empty() {
                benign[zipf.sample(&mut rng)].clone()
            } else {
                let name = &listed[rng.random_range(0..listed.len())];
                if rng.random::<bool>() {
                    name.clone()
                } else {
                    format!("www.{name}")
                }
            }
        })
        .collect()
}

/// Baseline: an ahash `HashSet<String>` of names, walked suffix by suffix
/// (subtree rules only, no allow or exact scopes). Queries must already be
/// lowercase without a trailing dot.
pub struct AhashSuffixSet {
    set: ahash::AHashSet<String>,
}

impl AhashSuffixSet {
    /// Build from normalised names.
    pub fn new(names: &[String]) -> Self {
        AhashSuffixSet {
            set: names.iter().cloned().collect(),
        }
    }
    /// True when the name or one of its parents is in the set.
    pub fn contains(&self, name: &str) -> bool {
        let mut rest = name;
        loop {
            if self.set.contains(rest) {
                return true;
            }
            match rest.find('.') {
                Some(i) => rest = &rest[i + 1..],
                None => return false,
            }
        }
    }
}

/// Baseline in the style of hickory-server's blocklist store: a std
/// `HashMap` keyed by owned lowercase names; each lookup builds an owned
/// lowercase name per suffix it tries.
pub struct OwnedNameMap {
    map: HashMap<String, ()>,
}

impl OwnedNameMap {
    /// Build from names.
    pub fn new(names: &[String]) -> Self {
        OwnedNameMap {
            map: names.iter().map(|n| (n.to_ascii_lowercase(), ())).collect(),
        }
    }
    /// True when the name or one of its parents is a key.
    pub fn contains(&self, name: &str) -> bool {
        let mut rest = name;
        loop {
            let owned = rest.to_ascii_lowercase();
            if self.map.contains_key(&owned) {
                return true;
            }
            match rest.find('.') {
                Some(i) => rest = &rest[i + 1..],
                None => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_walk_suffixes() {
        let names = vec!["evil.example".to_string()];
        let a = AhashSuffixSet::new(&names);
        let h = OwnedNameMap::new(&names);
        for (q, want) in [
            ("evil.example", true),
            ("www.evil.example", true),
            ("notevil.example", false),
        ] {
            assert_eq!(a.contains(q), want, "{q}");
            assert_eq!(h.contains(q), want, "{q}");
        }
    }

    #[test]
    fn zipf_prefers_low_ranks_and_is_seeded() {
        let benign: Vec<String> = (0..1000).map(|i| format!("n{i}.example")).collect();
        let listed = vec!["evil.example".to_string()];
        let a = query_mix(&benign, &listed, 5000, 0.9, 7);
        assert_eq!(a, query_mix(&benign, &listed, 5000, 0.9, 7));
        let top = a.iter().filter(|q| *q == "n0.example").count();
        let mid = a.iter().filter(|q| *q == "n500.example").count();
        assert!(top > 10 * mid.max(1), "{top} {mid}");
        let listed_share = a.iter().filter(|q| q.ends_with("evil.example")).count();
        assert!((300..700).contains(&listed_share), "{listed_share}");
    }
}
