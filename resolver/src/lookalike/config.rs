//! `[lookalikes]`: the protected and allowed sets and what to do with a
//! look-alike; the detector built from them, swapped whole on reload.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use parapet_blocklist::lookalike::{Detector, DetectorError, Hit};

/// What a look-alike gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LookalikeAction {
    /// Answered like a blocked name (category `lookalike`). The default.
    #[default]
    Block,
    /// Forwarded, but counted and query-logged (a trial period).
    Log,
    /// Not checked at all.
    Off,
}

/// `[lookalikes]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLookalikes {
    /// Registrable domains added to the default protected set.
    pub protect: Option<Vec<String>>,
    /// Known legitimate neighbours (`domain`, or `label.*` for every suffix).
    pub allow: Option<Vec<String>>,
    /// `block`, `log` or `off`.
    pub action: Option<String>,
}

/// `[lookalikes]`, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LookalikeConfig {
    /// Added to [`parapet_blocklist::lookalike::defaults::PROTECT`].
    pub protect: Vec<String>,
    /// Added to [`parapet_blocklist::lookalike::defaults::ALLOW`].
    pub allow: Vec<String>,
    /// Default `block`.
    pub action: LookalikeAction,
}

impl RawLookalikes {
    /// The checked section and its problems as (key, message).
    pub fn validate(self) -> (LookalikeConfig, Vec<(String, String)>) {
        let mut issues = Vec::new();
        let action = match self.action.as_deref() {
            None | Some("block") => LookalikeAction::Block,
            Some("log") => LookalikeAction::Log,
            Some("off") => LookalikeAction::Off,
            Some(other) => {
                issues.push((
                    "lookalikes.action".to_string(),
                    format!("{other:?} is not one of \"block\", \"log\", \"off\""),
                ));
                LookalikeAction::Block
            }
        };
        let protect = self.protect.unwrap_or_default();
        let allow = self.allow.unwrap_or_default();
        for (key, list) in [("protect", &protect), ("allow", &allow)] {
            for (i, entry) in list.iter().enumerate() {
                let result = match entry.strip_suffix(".*") {
                    Some(label) if key == "allow" => Detector::new(&[], &[format!("{label}.*")]),
                    _ => Detector::new(std::slice::from_ref(entry), &[]),
                };
                if let Err(e) = result {
                    issues.push((format!("lookalikes.{key}[{i}]"), e.to_string()));
                }
            }
        }
        let config = LookalikeConfig {
            protect,
            allow,
            action,
        };
        (config, issues)
    }
}

/// The look-alike check in service: a detector and its action.
#[derive(Debug)]
pub struct Lookalikes {
    detector: Detector,
    action: LookalikeAction,
    /// Distinct for every check built in this process: answer-cache
    /// entries are tied to the check they passed ([`Lookalikes::generation`]).
    generation: u64,
}

/// The generation of the next check built.
static NEXT_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The check in service, swapped whole when the config is reloaded.
pub type SharedLookalikes = Arc<ArcSwap<Lookalikes>>;

impl Lookalikes {
    /// The check `config` asks for.
    pub fn new(config: &LookalikeConfig) -> Result<Self, DetectorError> {
        let detector = match config.action {
            LookalikeAction::Off => Detector::default(),
            _ => Detector::new(&config.protect, &config.allow)?,
        };
        Ok(Lookalikes {
            detector,
            action: config.action,
            generation: next_generation(),
        })
    }

    /// A shared handle on the check for `config` (the default check when
    /// the config is somehow refused: it was validated before).
    pub fn shared(config: &LookalikeConfig) -> SharedLookalikes {
        let lookalikes = Lookalikes::new(config).unwrap_or_else(|e| {
            tracing::error!(error = %e, "[lookalikes] refused; the default set protects");
            Lookalikes::new(&LookalikeConfig::default()).unwrap_or_else(|_| Lookalikes {
                detector: Detector::default(),
                action: LookalikeAction::Off,
                generation: next_generation(),
            })
        });
        Arc::new(ArcSwap::from_pointee(lookalikes))
    }

    /// This check's generation: an answer cached under another check (the
    /// config was reloaded since) is not served.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The configured action.
    pub fn action(&self) -> LookalikeAction {
        self.action
    }

    /// The detector.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Check a name given as wire labels, most specific first.
    pub fn check<'l>(&self, labels: impl Iterator<Item = &'l [u8]>) -> Option<Hit<'_>> {
        match self.action {
            LookalikeAction::Off => None,
            _ => self.detector.check_labels(labels),
        }
    }
}

/// The category of a look-alike block (metrics, query log, warning page).
pub const LOOKALIKE_CATEGORY: &str = "lookalike";

/// The rule shown for a look-alike (warning page, `parapet explain`): the
/// imitated domain as the pattern, source `lookalikes`.
pub fn rule_info(imitates: &str) -> parapet_blocklist::RuleInfo {
    parapet_blocklist::RuleInfo {
        pattern: imitates.to_string(),
        action: parapet_blocklist::Action::Block,
        scope: parapet_blocklist::Scope::Exact,
        source: "lookalikes".to_string(),
        category: Some(LOOKALIKE_CATEGORY.to_string()),
    }
}

/// The EDE 15 text of a blocked look-alike.
pub fn ede_text(imitates: &str) -> String {
    format!("Blocked: lookalike (imitates {imitates})")
}
