//! parapet-blocklist: real blocklists in, one compiled artifact out, one-pass lookup.
//!
//! Data flow: list files ([`Format`]) → rules → [`Compiler`] → `.pbl`
//! artifact → [`Blocklist`] (read into owned memory) → [`Verdict`].
//!
//! Modules, bottom up: each imports only from modules before it in this list
//! (no cycles: `scripts/module-cycles.py`); the crate root only declares
//! them and re-exports.
//! - leaves: `rule` ([`Action`], [`Scope`], the packed decision), `error`,
//!   `hash` (the key hash), `name` (normalisation, public-suffix guard),
//!   `walk` (FST steps);
//! - `format` (one line parser per format over `format::line`), `source`
//!   ([`SourceSpec`], [`SourceReport`]), `report` (when a source is not a
//!   list), `verdict` ([`Verdict`], [`RuleRef`]), `filter` (Bloom filter over
//!   the keys and their parents), `index` (hash index beside the FST),
//!   `artifact` (layout, verification), `scoped` (exceptions that cancel
//!   their own source's blocks only), `iprange` (overlap resolution);
//! - `compile` ([`Compiler`]: precedence, artifact bytes), `matcher`
//!   (lookups);
//! - `blocklist` ([`Blocklist`]), then [`feed`] (feed config; with the
//!   `updater` feature, fetching, checking and publishing).
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
//! THE RE-EXPORTS BELOW ARE THE PUBLIC CONTRACT other crates build against.
//! Keep these names and signatures; internals live in the private modules.
//!
//! Features: `updater` (feed fetching and publishing: the HTTP client),
//! `cli` (the `parapet-blocklist` binary; default). The resolver uses
//! neither.
#![deny(missing_docs)]
#![warn(unreachable_pub)]

use std::path::{Path, PathBuf};

mod artifact;
mod blocklist;
mod compile;
mod error;
mod filter;
mod format;
mod hash;
mod index;
mod iprange;
mod matcher;
mod name;
mod report;
mod rule;
mod scoped;
mod source;
mod verdict;
mod walk;

/// Feed configuration and, with the `updater` feature, updates.
pub mod feed;

/// Look-alikes of protected domains: names that imitate a trusted domain
/// before any list knows them.
pub mod lookalike;

pub use blocklist::{Blocklist, Stats};
pub use compile::Compiler;
pub use error::{ArtifactError, Error};
pub use format::{Format, url_host};
pub use rule::{Action, Scope};
pub use source::{CompileOptions, LineError, SourceReport, SourceSpec};
pub use verdict::{RuleInfo, RuleRef, SourceInfo, Verdict};

/// Where the real test and benchmark data lives: `$PARAPET_DATA`, default
/// `../shared/data` relative to the workspace root.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("PARAPET_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    }
}
