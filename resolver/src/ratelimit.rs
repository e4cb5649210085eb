//! Per-client rate limiting: a token bucket per client network (/24 for
//! IPv4, /56 for IPv6 by default), so one host or one flood source cannot
//! starve the others. A device that presented an access token (DoT/DoH)
//! has a bucket of its own instead: phones behind one carrier's NAT share
//! addresses, not a bucket.
//!
//! The table is sharded behind small mutexes (held for a few nanoseconds,
//! never across an await) and pruned of idle buckets as it grows.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use ahash::RandomState;

use crate::config::AccessConfig;
use crate::transport::tokens::ClientAuth;

const SHARDS: usize = 16;
/// Prune a shard when it holds more buckets than this.
const PRUNE_AT: usize = 4096;

/// Token buckets keyed by client network.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    v4_prefix: u8,
    v6_prefix: u8,
    shards: Vec<Mutex<HashMap<Key, Bucket>>>,
    started: Instant,
    /// Hashes token labels into [`Key::Device`].
    devices: RandomState,
}

/// A client network, or a device known by its token's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    V4(u32),
    V6(u128),
    Device(u64),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// Seconds since `started` at the last refill.
    at: f64,
}

impl RateLimiter {
    /// A limiter from `[access]`; `None` when `rate_limit_qps` is 0.
    pub fn from_config(access: &AccessConfig) -> Option<Self> {
        (access.rate_limit_qps > 0).then(|| {
            Self::new(
                access.rate_limit_qps,
                access.rate_limit_burst,
                access.rate_limit_ipv4_prefix,
                access.rate_limit_ipv6_prefix,
            )
        })
    }

    /// `qps` sustained, `burst` at once, clients grouped by the prefixes.
    pub fn new(qps: u32, burst: u32, v4_prefix: u8, v6_prefix: u8) -> Self {
        RateLimiter {
            rate: f64::from(qps),
            burst: f64::from(burst.max(1)),
            v4_prefix: v4_prefix.min(32),
            v6_prefix: v6_prefix.min(128),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            started: Instant::now(),
            devices: RandomState::new(),
        }
    }

    fn key(&self, ip: IpAddr) -> Key {
        match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.v4_prefix))
                    .unwrap_or(0);
                Key::V4(u32::from(v4) & mask)
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.v6_prefix))
                    .unwrap_or(0);
                Key::V6(u128::from(v6) & mask)
            }
        }
    }

    /// Take one token for `ip`'s network; false when the bucket is empty.
    pub fn check(&self, ip: IpAddr) -> bool {
        self.take(self.key(ip))
    }

    /// Take one token for the client of a request: its device's bucket when
    /// it was authenticated by an access token, else its network's.
    pub fn check_client(&self, ip: IpAddr, auth: &ClientAuth) -> bool {
        match auth {
            ClientAuth::Token(label) => self.take(Key::Device(self.devices.hash_one(&**label))),
            ClientAuth::Address => self.check(ip),
        }
    }

    fn take(&self, key: Key) -> bool {
        let now = self.started.elapsed().as_secs_f64();
        let folded = match key {
            Key::V4(x) => u64::from(x),
            Key::V6(x) => (x >> 64) as u64 ^ x as u64,
            Key::Device(x) => x,
        };
        let shard =
            &self.shards[(folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % SHARDS];
        let Ok(mut map) = shard.lock() else {
            // A poisoned shard means a panic elsewhere; fail open rather than
            // refusing every client in it.
            return true;
        };
        if map.len() > PRUNE_AT {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| b.tokens + (now - b.at) * rate < burst);
        }
        let bucket = map.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        bucket.tokens = (bucket.tokens + (now - bucket.at) * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused_per_network() {
        let rl = RateLimiter::new(1, 5, 24, 56);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let same_net: IpAddr = "192.0.2.200".parse().expect("ip");
        let other: IpAddr = "198.51.100.1".parse().expect("ip");
        for _ in 0..5 {
            assert!(rl.check(a));
        }
        assert!(!rl.check(a));
        assert!(!rl.check(same_net), "same /24 shares the bucket");
        assert!(rl.check(other), "another network has its own bucket");
    }

    #[test]
    fn token_clients_have_a_bucket_per_device_apart_from_their_network() {
        let rl = RateLimiter::new(1, 2, 24, 56);
        let nat: IpAddr = "198.51.100.7".parse().expect("ip");
        let alice = ClientAuth::Token("alice phone".into());
        let bob = ClientAuth::Token("bob phone".into());
        for _ in 0..2 {
            assert!(rl.check_client(nat, &alice));
        }
        assert!(!rl.check_client(nat, &alice), "alice's bucket is empty");
        assert!(
            rl.check_client(nat, &bob),
            "bob behind the same NAT has his own"
        );
        assert!(
            rl.check_client(nat, &ClientAuth::Address),
            "the network's bucket is apart from its devices'"
        );
        assert!(rl.check(nat));
        assert!(
            !rl.check_client(nat, &ClientAuth::Address),
            "and it empties too"
        );
    }

    #[test]
    fn ipv6_grouped_by_56() {
        let rl = RateLimiter::new(1, 1, 24, 56);
        assert!(rl.check("2001:db8:0:100::1".parse().expect("ip")));
        assert!(!rl.check("2001:db8:0:1ff::2".parse().expect("ip")));
        assert!(rl.check("2001:db8:0:200::1".parse().expect("ip")));
    }
}
