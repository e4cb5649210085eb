//! [`RawConfig`] → [`Config`]: typed values, resolved paths, every problem
//! reported with its key path.
//!
//! Values only: nothing here reads a file. Whether the files a config
//! names exist and load (certificates, token files, CA roots, lists) is
//! [`crate::preflight`]'s job, which `check-config` and start-up share.
//! One function per section, each in the module named after it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use super::raw::RawConfig;
use super::{Config, ConfigIssue};

mod access;
mod block;
mod lists;
mod private_answers;
mod server;
mod upstream;

pub use upstream::parse_upstream;

/// Collects issues while converting.
pub(super) struct Issues(pub(super) Vec<ConfigIssue>);

impl Issues {
    pub(super) fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            key: key.into(),
            message: message.into(),
        });
    }
}

/// Resolves the paths a config names against its directory.
pub(super) struct Resolve<'a>(&'a Path);

impl Resolve<'_> {
    /// `p` itself when absolute, else under the config's directory.
    pub(super) fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.0.join(p)
        }
    }
}

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

/// A value above 0 (`default` when unset).
fn positive(is: &mut Issues, key: &str, v: Option<u64>, default: u64) -> u64 {
    match v {
        Some(0) => {
            is.push(key, "must be above 0");
            default
        }
        Some(v) => v,
        None => default,
    }
}

/// A count above 0 that fits in `usize` (`default` when unset).
fn count(is: &mut Issues, key: &str, v: Option<u64>, default: usize) -> usize {
    let v = positive(is, key, v, default as u64);
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Listen addresses; IPv4-mapped IPv6 is refused (IPv6 listeners are
/// IPv6-only).
fn socket_addrs(is: &mut Issues, key: &str, raw: Vec<String>) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        match s.parse::<SocketAddr>() {
            Ok(SocketAddr::V6(a)) if a.ip().to_ipv4_mapped().is_some() => is.push(
                format!("{key}[{i}]"),
                format!("{s:?}: write IPv4 addresses as IPv4 (IPv6 listeners are IPv6-only)"),
            ),
            Ok(a) => out.push(a),
            Err(_) => is.push(
                format!("{key}[{i}]"),
                format!("{s:?} is not an address:port (e.g. \"127.0.0.1:53\", \"[::1]:53\")"),
            ),
        }
    }
    out
}

/// A CIDR network, or a single address as its /32 or /128.
fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}
