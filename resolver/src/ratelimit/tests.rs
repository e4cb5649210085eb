use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

/// A clock the test moves by hand (milliseconds).
#[derive(Debug, Clone, Default)]
struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

fn limiter(qps: u32, burst: u32, slip: u32) -> (RateLimiter, ManualClock) {
    let clock = ManualClock::default();
    let rl = RateLimiter::new(qps, burst, 24, 56)
        .with_slip(slip)
        .with_clock(Box::new(clock.clone()));
    (rl, clock)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn passes(rl: &RateLimiter, client: &str, n: usize) -> usize {
    (0..n)
        .filter(|_| rl.check(ip(client)) == Limit::Pass)
        .count()
}

#[test]
fn burst_then_limited_and_refilled_at_the_rate() {
    let (rl, clock) = limiter(10, 5, 0);
    assert_eq!(passes(&rl, "192.0.2.1", 8), 5, "the burst, no more");
    clock.advance(99);
    assert_eq!(passes(&rl, "192.0.2.1", 3), 0, "under one token refilled");
    clock.advance(1);
    assert_eq!(
        passes(&rl, "192.0.2.1", 3),
        1,
        "100 ms at 10 qps: one token"
    );
    clock.advance(300);
    assert_eq!(passes(&rl, "192.0.2.1", 5), 3, "300 ms: three");
}

#[test]
fn refill_is_capped_at_the_burst() {
    let (rl, clock) = limiter(100, 4, 0);
    assert_eq!(passes(&rl, "192.0.2.1", 4), 4);
    clock.advance(3_600_000);
    assert_eq!(
        passes(&rl, "192.0.2.1", 10),
        4,
        "an idle hour refills the burst only"
    );
}

#[test]
fn every_nth_limited_answer_slips_the_others_drop() {
    let (rl, _) = limiter(1, 1, 3);
    assert_eq!(rl.check(ip("192.0.2.1")), Limit::Pass);
    let got: Vec<Limit> = (0..6).map(|_| rl.check(ip("192.0.2.1"))).collect();
    use Limit::{Drop, Slip};
    assert_eq!(got, [Slip, Drop, Drop, Slip, Drop, Drop]);
    let (never, _) = limiter(1, 1, 0);
    never.check(ip("192.0.2.1"));
    assert!(
        (0..5).all(|_| never.check(ip("192.0.2.1")) == Drop),
        "slip 0 drops all"
    );
}

#[test]
fn public_clients_share_their_network_local_clients_do_not() {
    let (rl, _) = limiter(1, 2, 2);
    assert_eq!(passes(&rl, "192.0.2.1", 3), 2);
    assert_eq!(
        passes(&rl, "192.0.2.200", 1),
        0,
        "same public /24 shares the bucket"
    );
    assert_eq!(passes(&rl, "198.51.100.1", 1), 1, "another /24 has its own");
    for (a, b) in [
        ("192.168.1.10", "192.168.1.11"),
        ("10.0.0.1", "10.0.0.2"),
        ("172.16.5.1", "172.16.5.2"),
        ("100.64.0.1", "100.64.0.2"),
        ("127.0.0.7", "127.0.0.8"),
        ("169.254.1.1", "169.254.1.2"),
        ("fd00::1", "fd00::2"),
        ("fe80::1", "fe80::2"),
    ] {
        assert_eq!(passes(&rl, a, 3), 2, "{a}");
        assert_eq!(
            passes(&rl, b, 2),
            2,
            "{b} beside {a} has a bucket of its own"
        );
    }
}

#[test]
fn ipv6_grouped_by_56() {
    let (rl, _) = limiter(1, 1, 0);
    assert_eq!(passes(&rl, "2001:db8:0:100::1", 1), 1);
    assert_eq!(passes(&rl, "2001:db8:0:1ff::2", 1), 0);
    assert_eq!(passes(&rl, "2001:db8:0:200::1", 1), 1);
}

#[test]
fn mapped_addresses_are_their_ipv4_address() {
    let (rl, _) = limiter(1, 2, 0);
    assert_eq!(passes(&rl, "::ffff:127.0.0.7", 2), 2);
    assert_eq!(
        passes(&rl, "127.0.0.7", 1),
        0,
        "the same client as plain IPv4"
    );
    assert_eq!(
        passes(&rl, "::ffff:127.0.0.8", 2),
        2,
        "a mapped loopback neighbour is a client of its own, not one /56"
    );
    assert_eq!(passes(&rl, "::ffff:192.0.2.9", 2), 2);
    assert_eq!(passes(&rl, "192.0.2.10", 1), 0, "mapped public: its /24");
}

#[test]
fn refusal_limiter_groups_even_local_clients_and_never_slips() {
    let access = crate::config::AccessConfig {
        allow: Vec::new(),
        rate_limit_qps: 0,
        rate_limit_burst: 0,
        rate_limit_ipv4_prefix: 24,
        rate_limit_ipv6_prefix: 56,
        rate_limit_slip: 2,
        tokens: Vec::new(),
        tokens_file: None,
    };
    let rl = RateLimiter::for_refusals(&access);
    let burst = REFUSED_BURST as usize;
    assert_eq!(passes(&rl, "127.0.0.2", burst), burst);
    assert_eq!(rl.check(ip("127.0.0.3")), Limit::Drop, "same /24");
    assert_eq!(rl.check(ip("127.0.0.3")), Limit::Drop);
}

#[test]
fn idle_full_buckets_are_pruned_busy_ones_kept() {
    let (mut rl, clock) = limiter(10, 2, 0);
    rl.prune_at = 8;
    // One client empties its bucket; many others take one token each.
    assert_eq!(passes(&rl, "192.0.2.1", 3), 2);
    for i in 0..200u32 {
        rl.check(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i)));
    }
    let before = rl.buckets();
    assert!(before > 8, "{before}");
    // After a second every bucket is full again: all prunable.
    clock.advance(1000);
    for i in 0..200u32 {
        rl.check(IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000 + i)));
    }
    let after = rl.buckets();
    assert!(
        after < before + 100,
        "idle buckets pruned: {before} -> {after}"
    );
    // A bucket that is still empty is never pruned: its client stays limited.
    let (mut rl, clock) = limiter(1, 2, 0);
    rl.prune_at = 0;
    assert_eq!(passes(&rl, "192.0.2.1", 3), 2);
    clock.advance(100);
    for i in 0..50u32 {
        rl.check(IpAddr::from(std::net::Ipv4Addr::from(
            0x0a00_0000 + (i << 8),
        )));
    }
    assert_eq!(
        passes(&rl, "192.0.2.1", 1),
        0,
        "its empty bucket survived pruning"
    );
}
