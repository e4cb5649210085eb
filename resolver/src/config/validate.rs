//! [`RawConfig`] → [`Config`]: typed values, resolved paths, every problem
//! reported with its key path.
//!
//! Values only: nothing here reads a file. Whether the files a config
//! names exist and load (certificates, token files, CA roots, lists) is
//! [`crate::preflight`]'s job, which `check-config` and start-up share.
//! One function per section, each in the module named after it.

use std::path::Path;

use super::issue::{ConfigIssue, Issues, Resolve};
use super::raw::RawConfig;
use super::types::Config;

mod access;
mod block;
mod lists;
mod private_answers;
mod server;
mod upstream;
mod values;

pub use upstream::parse_upstream;

/// Check and convert a raw config; `base_dir` resolves relative paths.
///
/// # Errors
/// Every invalid value, each naming its key.
pub fn validate(raw: RawConfig, base_dir: &Path) -> Result<Config, Vec<ConfigIssue>> {
    let (config, issues) = checked(raw, base_dir);
    if issues.is_empty() {
        Ok(config)
    } else {
        Err(issues)
    }
}

/// [`validate`], keeping the config (invalid values replaced by their
/// defaults) beside the issues.
pub fn checked(raw: RawConfig, base_dir: &Path) -> (Config, Vec<ConfigIssue>) {
    let mut is = Issues(Vec::new());
    let resolve = Resolve(base_dir);
    let server = server::server(&mut is, raw.server, &resolve);
    let upstream = upstream::upstream(&mut is, raw.upstream, &resolve);
    let blocklist = lists::blocklist(&mut is, raw.blocklist, &resolve);
    let block = block::block(&mut is, raw.block);
    let access = access::access(&mut is, raw.access, &resolve);
    let metrics = server::metrics(&mut is, raw.metrics);
    let query_log = super::query_log::validate(raw.query_log, &resolve, &mut is);
    let (lookalikes, issues) = raw.lookalikes.validate();
    for (key, message) in issues {
        is.push(key, message);
    }
    let feeds = lists::feeds(&mut is, raw.feeds, &resolve);
    for (key, message) in raw.warning_page.issues() {
        is.push(key, message);
    }
    // No two listeners on one address and port.
    let listeners = super::overlap::listeners_of(&server, &block, &raw.warning_page, &metrics);
    for (key, message) in super::overlap::find(&listeners) {
        is.push(key, message);
    }
    let config = Config {
        server,
        upstream,
        blocklist,
        block,
        access,
        warning_page: raw.warning_page,
        metrics,
        query_log,
        lookalikes,
        feeds,
        base_dir: base_dir.to_path_buf(),
        source_file: None,
    };
    (config, is.0)
}
