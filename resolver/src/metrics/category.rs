//! The `category` label of `parapet_blocks_by_category_total`, with bounded
//! cardinality.
//!
//! Categories come from the list's sources (a handful: `phishing`, `malware`,
//! …). They are learnt when a list is loaded, at most [`MAX_CATEGORIES`] over
//! the life of the process; a block whose category is unknown, malformed or
//! over the cap is counted as `other`, a block from a source without a
//! category as `none`. Counting a block is a lock-free table load, a short
//! scan and an atomic increment: no allocation.

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use prometheus_client::metrics::{counter::Counter, family::Family};

use super::label::CategoryLabels;

/// At most this many distinct categories get their own label value.
pub const MAX_CATEGORIES: usize = 32;
/// Longest category accepted as a label value.
const MAX_CATEGORY_LEN: usize = 40;
/// Label for blocks by a rule whose source has no category.
pub const NONE: &str = "none";
/// Label for categories that are unknown, malformed or over the cap.
pub const OTHER: &str = "other";

/// Known categories and their pre-created counters.
#[derive(Debug)]
pub(crate) struct Categories {
    family: Family<CategoryLabels, Counter>,
    table: ArcSwap<Vec<(&'static str, Counter)>>,
    none: Counter,
    other: Counter,
    learning: Mutex<()>,
}

impl Categories {
    /// An empty table; `none` and `other` exist from the start.
    pub(crate) fn new() -> Self {
        let family = Family::<CategoryLabels, Counter>::default();
        let none = family
            .get_or_create(&CategoryLabels { category: NONE })
            .clone();
        let other = family
            .get_or_create(&CategoryLabels { category: OTHER })
            .clone();
        Categories {
            family,
            table: ArcSwap::from_pointee(Vec::new()),
            none,
            other,
            learning: Mutex::new(()),
        }
    }

    /// The family to register.
    pub(crate) fn family(&self) -> Family<CategoryLabels, Counter> {
        self.family.clone()
    }

    /// Give each new, well-formed category its own label value, up to
    /// [`MAX_CATEGORIES`]. Called on list load, off the query path.
    pub(crate) fn learn<'a>(&self, categories: impl IntoIterator<Item = &'a str>) {
        let _guard = self.learning.lock().unwrap_or_else(PoisonError::into_inner);
        let mut table = Vec::clone(&self.table.load());
        let before = table.len();
        for category in categories {
            if table.len() >= MAX_CATEGORIES {
                break;
            }
            let Some(label) = label_value(category) else {
                continue;
            };
            if label == NONE || label == OTHER || table.iter().any(|(known, _)| *known == label) {
                continue;
            }
            // Leaked once per distinct category, at most MAX_CATEGORIES times
            // per process: the label must outlive the registry.
            let label: &'static str = Box::leak(label.into_boxed_str());
            let counter = self
                .family
                .get_or_create(&CategoryLabels { category: label })
                .clone();
            table.push((label, counter));
        }
        if table.len() != before {
            self.table.store(Arc::new(table));
        }
    }

    /// Count one block by a rule of `category`.
    pub(crate) fn inc(&self, category: Option<&str>) {
        let Some(category) = category else {
            self.none.inc();
            return;
        };
        let table = self.table.load();
        match table
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(category))
        {
            Some((_, counter)) => counter.inc(),
            None => self.other.inc(),
        };
    }
}

/// The label value for a category: lower case `[a-z0-9_-]`, 1 to 40 bytes;
/// anything else is `None` (counted as `other`).
fn label_value(category: &str) -> Option<String> {
    let ok = !category.is_empty()
        && category.len() <= MAX_CATEGORY_LEN
        && category
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then(|| category.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(categories: &Categories, label: &'static str) -> u64 {
        categories
            .family
            .get(&CategoryLabels { category: label })
            .map_or(0, |c| c.get())
    }

    #[test]
    fn learnt_categories_count_separately_and_ignore_case() {
        let c = Categories::new();
        c.learn(["phishing", "Malware"]);
        c.inc(Some("phishing"));
        c.inc(Some("MALWARE"));
        c.inc(Some("malware"));
        c.inc(Some("scam"));
        c.inc(None);
        assert_eq!(value(&c, "phishing"), 1);
        assert_eq!(value(&c, "malware"), 2);
        assert_eq!(value(&c, OTHER), 1);
        assert_eq!(value(&c, NONE), 1);
        assert_eq!(value(&c, "scam"), 0);
    }

    #[test]
    fn malformed_and_excess_categories_become_other() {
        let c = Categories::new();
        let many: Vec<String> = (0..MAX_CATEGORIES + 10).map(|i| format!("c{i}")).collect();
        c.learn(["bad\"label", "with space", ""]);
        c.learn(many.iter().map(String::as_str));
        c.learn(["phishing"]);
        assert_eq!(c.table.load().len(), MAX_CATEGORIES);
        // Over the cap: no series of its own, bounded cardinality.
        let excess: &'static str = Box::leak(many[MAX_CATEGORIES].clone().into_boxed_str());
        assert!(c.family.get(&CategoryLabels { category: excess }).is_none());
        assert!(
            c.family
                .get(&CategoryLabels {
                    category: "phishing"
                })
                .is_none()
        );
        c.inc(Some("bad\"label"));
        c.inc(Some("phishing"));
        c.inc(Some(&many[MAX_CATEGORIES]));
        c.inc(Some("c0"));
        assert_eq!(value(&c, OTHER), 3);
        assert_eq!(value(&c, "c0"), 1);
    }

    #[test]
    fn relearning_keeps_counts() {
        let c = Categories::new();
        c.learn(["malware"]);
        c.inc(Some("malware"));
        c.learn(["malware", "phishing"]);
        c.inc(Some("malware"));
        assert_eq!(value(&c, "malware"), 2);
        assert_eq!(c.table.load().len(), 2);
    }
}
