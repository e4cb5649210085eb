//! Per-client rate limiting in the tradition of response rate limiting
//! (RRL, as in BIND and Knot): a token bucket per client, and over the
//! limit the answer is dropped, with every Nth one sent truncated (TC=1,
//! "slipped") so that a real client retries over TCP, which is not
//! limited. A limited client is never REFUSED: REFUSED sends clients to
//! their second, unprotected resolver.
//!
//! Clients in private and loopback ranges (RFC 1918, 100.64/10, 127/8,
//! 169.254/16, ::1, fc00::/7, fe80::/10: the home LAN, where a router may
//! forward for every device) have a bucket per address; everyone else is
//! grouped per network (/24 for IPv4, /56 for IPv6 by default), so one
//! spoofed flood source cannot use many addresses to multiply its rate.
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, as a dual-stack socket
//! reports IPv4 clients) are treated as the IPv4 address they carry.
//!
//! The table is sharded behind small mutexes (held for a few nanoseconds,
//! never across an await) and pruned of full (idle) buckets as it grows.
//! Time comes from a [`Clock`], so tests drive refill and pruning exactly.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::AccessConfig;
use crate::metrics::{Metrics, RateLimitAction, RateLimitReason};

const SHARDS: usize = 16;
/// Prune a shard when it holds more buckets than this.
const PRUNE_AT: usize = 4096;
/// Sustained refusals per second to one network outside `[access] allow`.
pub const REFUSED_QPS: u32 = 5;
/// Burst of refusals to one network outside `[access] allow`.
pub const REFUSED_BURST: u32 = 20;

/// A monotonic time source: time elapsed since some fixed start.
pub(crate) trait Clock: Send + Sync + std::fmt::Debug {
    /// Time since the clock's start; never decreases.
    fn elapsed(&self) -> Duration;
}

/// The system's monotonic clock.
#[derive(Debug)]
pub(crate) struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// What to do with one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// Within the limit: answer it.
    Pass,
    /// Over the limit: send nothing.
    Drop,
    /// Over the limit: send a truncated empty answer (TC=1), so a real
    /// client retries over TCP.
    Slip,
}

/// Token buckets keyed by client address or network.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    /// Every `slip`th limited answer is slipped; 0 = always drop.
    slip: u32,
    v4_prefix: u8,
    v6_prefix: u8,
    /// Private and loopback clients get a bucket per address.
    per_address_local: bool,
    prune_at: usize,
    shards: Vec<Mutex<HashMap<Key, Bucket>>>,
    clock: Box<dyn Clock>,
}

/// A client address or network (IPv4 in the low 32 bits of `V4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    V4(u32),
    V6(u128),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// Seconds since the clock's start at the last refill.
    at: f64,
    /// Limited answers so far (which of them slip).
    limited: u32,
}

impl RateLimiter {
    /// The client limiter from `[access]`; `None` when `rate_limit_qps` is 0.
    pub(crate) fn from_config(access: &AccessConfig) -> Option<Self> {
        (access.rate_limit_qps > 0).then(|| {
            Self::new(
                access.rate_limit_qps,
                access.rate_limit_burst,
                access.rate_limit_ipv4_prefix,
                access.rate_limit_ipv6_prefix,
            )
            .with_slip(access.rate_limit_slip)
        })
    }

    /// The limiter of REFUSED answers to clients outside `[access] allow`:
    /// [`REFUSED_QPS`] per network (every client grouped by the configured
    /// prefixes), dropped beyond, never slipped.
    pub(crate) fn for_refusals(access: &AccessConfig) -> Self {
        let mut rl = Self::new(
            REFUSED_QPS,
            REFUSED_BURST,
            access.rate_limit_ipv4_prefix,
            access.rate_limit_ipv6_prefix,
        )
        .with_slip(0);
        rl.per_address_local = false;
        rl
    }

    /// `qps` sustained, `burst` at once, per address for private and
    /// loopback clients and per network (the prefixes) for the others;
    /// every other limited answer slips (see [`Self::with_slip`]).
    pub(crate) fn new(qps: u32, burst: u32, v4_prefix: u8, v6_prefix: u8) -> Self {
        RateLimiter {
            rate: f64::from(qps),
            burst: f64::from(burst.max(1)),
            slip: 2,
            v4_prefix: v4_prefix.min(32),
            v6_prefix: v6_prefix.min(128),
            per_address_local: true,
            prune_at: PRUNE_AT,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            clock: Box::new(SystemClock::default()),
        }
    }

    /// Slip every `slip`th limited answer (the first, then every `slip`th
    /// after it); 0 drops them all.
    pub(crate) fn with_slip(mut self, slip: u32) -> Self {
        self.slip = slip;
        self
    }

    /// Take time from `clock` instead of the system's (tests drive time).
    #[cfg(test)]
    pub(crate) fn with_clock(mut self, clock: Box<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn key(&self, ip: IpAddr) -> Key {
        let ip = unmapped(ip);
        let local = self.per_address_local && is_local(ip);
        match ip {
            IpAddr::V4(v4) => {
                let prefix = if local { 32 } else { self.v4_prefix };
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                Key::V4(u32::from(v4) & mask)
            }
            IpAddr::V6(v6) => {
                let prefix = if local { 128 } else { self.v6_prefix };
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                Key::V6(u128::from(v6) & mask)
            }
        }
    }

    /// Take one token for `ip`'s bucket: [`Limit::Pass`] when there was
    /// one, else whether to drop or slip this answer.
    pub(crate) fn check(&self, ip: IpAddr) -> Limit {
        let key = self.key(ip);
        let now = self.clock.elapsed().as_secs_f64();
        let folded = match key {
            Key::V4(x) => u64::from(x),
            Key::V6(x) => (x >> 64) as u64 ^ x as u64,
        };
        let shard =
            &self.shards[(folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % SHARDS];
        let Ok(mut map) = shard.lock() else {
            // A poisoned shard means a panic elsewhere; fail open rather than
            // dropping every client in it.
            return Limit::Pass;
        };
        if map.len() > self.prune_at {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| b.tokens + (now - b.at) * rate < burst);
        }
        let bucket = map.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
            limited: 0,
        });
        bucket.tokens = (bucket.tokens + (now - bucket.at) * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Limit::Pass;
        }
        let slip = self.slip > 0 && bucket.limited % self.slip == 0;
        bucket.limited = bucket.limited.wrapping_add(1);
        if slip { Limit::Slip } else { Limit::Drop }
    }

    /// Buckets held (for tests of pruning).
    #[cfg(test)]
    fn buckets(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |m| m.len()))
            .sum()
    }
}

/// The limits on UDP answers of one handler: the client rate (optional)
/// and the rate of REFUSED answers to clients outside `[access] allow`
/// (always on: a refusal is an answer to a spoofable address too).
#[derive(Debug)]
pub(crate) struct UdpLimits {
    clients: Option<RateLimiter>,
    refusals: RateLimiter,
}

impl UdpLimits {
    /// The limits `[access]` configures.
    pub(crate) fn from_config(access: &AccessConfig) -> Self {
        UdpLimits {
            clients: RateLimiter::from_config(access),
            refusals: RateLimiter::for_refusals(access),
        }
    }

    /// Take a token for a UDP query from `ip`, counting a drop or slip in
    /// `metrics`.
    pub(crate) fn check_client(&self, ip: IpAddr, metrics: Option<&Metrics>) -> Limit {
        match &self.clients {
            Some(rl) => record(rl.check(ip), RateLimitReason::Rate, metrics),
            None => Limit::Pass,
        }
    }

    /// Take a token for a REFUSED answer over UDP to `ip` (a client not
    /// allowed), counting a drop in `metrics`.
    pub(crate) fn check_refusal(&self, ip: IpAddr, metrics: Option<&Metrics>) -> Limit {
        record(self.refusals.check(ip), RateLimitReason::Refused, metrics)
    }
}

fn record(limit: Limit, reason: RateLimitReason, metrics: Option<&Metrics>) -> Limit {
    if let Some(m) = metrics {
        match limit {
            Limit::Pass => {}
            Limit::Drop => m.record_ratelimit(RateLimitAction::Drop, reason),
            Limit::Slip => m.record_ratelimit(RateLimitAction::Slip, reason),
        }
    }
    limit
}

/// `ip`, or the IPv4 address an IPv4-mapped IPv6 address carries.
pub(crate) fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is a loopback, private (RFC 1918, shared 100.64/10, ULA)
/// or link-local address: a client on the local network. Mapped IPv4
/// addresses count as IPv4.
pub(crate) fn is_local(ip: IpAddr) -> bool {
    match unmapped(ip) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests;
