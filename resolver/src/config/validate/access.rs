//! `[access]`: who is served and how fast.

use super::values::parse_net;
use crate::config::issue::{Issues, Resolve};
use crate::config::raw::RawAccess;
use crate::config::types::{
    AccessConfig, DEFAULT_ACCESS_ALLOW, DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_IPV4_PREFIX,
    DEFAULT_RATE_LIMIT_IPV6_PREFIX, DEFAULT_RATE_LIMIT_QPS, DEFAULT_RATE_LIMIT_SLIP,
};

/// `[access]` (the tokens themselves are read and checked by
/// [`crate::preflight`]).
pub(super) fn access(is: &mut Issues, raw: RawAccess, resolve: &Resolve<'_>) -> AccessConfig {
    let allow_raw = raw
        .allow
        .unwrap_or_else(|| DEFAULT_ACCESS_ALLOW.iter().map(|s| s.to_string()).collect());
    let mut allow = Vec::new();
    for (i, s) in allow_raw.iter().enumerate() {
        match parse_net(s) {
            Some(n) => allow.push(n),
            None => is.push(
                format!("access.allow[{i}]"),
                format!("{s:?} is not an IP address or CIDR network"),
            ),
        }
    }
    let v4p = prefix(
        is,
        "access.rate_limit_ipv4_prefix",
        raw.rate_limit_ipv4_prefix,
        DEFAULT_RATE_LIMIT_IPV4_PREFIX,
        32,
    );
    let v6p = prefix(
        is,
        "access.rate_limit_ipv6_prefix",
        raw.rate_limit_ipv6_prefix,
        DEFAULT_RATE_LIMIT_IPV6_PREFIX,
        128,
    );
    let qps = raw.rate_limit_qps.unwrap_or(DEFAULT_RATE_LIMIT_QPS);
    let burst = raw
        .rate_limit_burst
        .unwrap_or(DEFAULT_RATE_LIMIT_BURST.max(qps));
    if qps > 0 && burst == 0 {
        is.push(
            "access.rate_limit_burst",
            "must be at least 1 when rate limiting is on",
        );
    }
    AccessConfig {
        allow,
        tokens: raw.tokens.unwrap_or_default(),
        tokens_file: raw.tokens_file.map(|p| resolve.path(&p)),
        rate_limit_qps: qps,
        rate_limit_burst: burst,
        rate_limit_slip: raw.rate_limit_slip.unwrap_or(DEFAULT_RATE_LIMIT_SLIP),
        rate_limit_ipv4_prefix: v4p,
        rate_limit_ipv6_prefix: v6p,
    }
}

/// A prefix length of at most `max` (`default` when unset); a longer one
/// is an issue, and `max` is used.
fn prefix(is: &mut Issues, key: &str, raw: Option<u8>, default: u8, max: u8) -> u8 {
    let len = raw.unwrap_or(default);
    if len > max {
        is.push(key, format!("{len} is above {max}"));
    }
    len.min(max)
}
