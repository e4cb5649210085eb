//! `[lookalikes]`: the check of look-alikes of protected domains in service.
//!
//! The detection itself ([`Detector`]: skeletons, the one-edit deletion
//! neighbourhood, lure words) lives in the list toolkit
//! ([`parapet_blocklist::lookalike`]), so that `parapet-blocklist check`
//! shows the same verdicts; this module holds the config section, the
//! action and the detector swapped whole on reload.

pub mod config;
#[cfg(test)]
mod tests;

pub use config::{LookalikeAction, LookalikeConfig, Lookalikes, SharedLookalikes};
pub use parapet_blocklist::lookalike::{Class, Detector, DetectorError, Hit, defaults, fold};
