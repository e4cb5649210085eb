//! Which upstream a query goes to: the fastest healthy one by smoothed
//! round-trip time, as Unbound's infrastructure cache chooses.
//!
//! Every upstream keeps a smoothed RTT (SRTT, 7/8 old + 1/8 new, as BIND
//! and Unbound) and a count of consecutive failures (no answer by the
//! query's deadline, or unreachable). A failing upstream is held down for
//! a back-off that doubles with each failure (1 s up to 64 s): while held
//! it is chosen only when every upstream is held, and then the one whose
//! hold ends first (a probe). When its hold ends it is tried again; one
//! answer clears its failures. An upstream never measured starts at
//! [`UNKNOWN_RTT`], so a measured fast one is preferred; a small share of
//! queries ([`EXPLORE_ONE_IN`]) go to a random other upstream so that
//! every SRTT stays current.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// SRTT of an upstream not measured yet (Unbound starts at 376 ms).
pub const UNKNOWN_RTT: Duration = Duration::from_millis(100);
/// One query in this many goes to a random upstream, to keep measuring.
pub const EXPLORE_ONE_IN: u32 = 32;
/// First hold-down after a failure; doubles per further failure.
const HOLD_BASE: Duration = Duration::from_secs(1);
/// Longest hold-down.
const HOLD_MAX: Duration = Duration::from_secs(64);
/// Shortest time before a query is retried (the retry timer), and the
/// multiple of SRTT it waits beyond that.
/// 400 ms, about Unbound's first timeout for a server it does not know:
/// an upstream recursive resolver's cache misses take that long, and a
/// shorter timer would double their queries.
pub const MIN_RETRY: Duration = Duration::from_millis(400);
const RETRY_SRTT_FACTOR: u32 = 4;

/// What is known of one upstream's latency and health.
#[derive(Debug)]
pub struct Health {
    srtt_us: AtomicU32,
    failures: AtomicU32,
    /// Held down until this many ms after the table's epoch.
    held_until_ms: AtomicU64,
}

/// The health of every upstream, in config order.
#[derive(Debug)]
pub struct Table {
    epoch: Instant,
    health: Box<[Health]>,
}

impl Table {
    /// A table for `n` upstreams, none measured.
    pub fn new(n: usize) -> Table {
        Table {
            epoch: Instant::now(),
            health: (0..n)
                .map(|_| Health {
                    srtt_us: AtomicU32::new(0),
                    failures: AtomicU32::new(0),
                    held_until_ms: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The upstream for the next attempt, not one of `tried` unless every
    /// upstream was (then any). `explore` picks a random candidate
    /// instead of the best (the caller decides how often).
    pub fn pick(&self, tried: &[usize], explore: bool) -> usize {
        let n = self.health.len();
        let fresh = |i: &usize| !tried.contains(i);
        let any_fresh = (0..n).any(|i| fresh(&i));
        let candidates = || (0..n).filter(move |i| !any_fresh || fresh(i));
        let now = self.now_ms();
        if explore {
            let healthy: Vec<usize> = candidates().filter(|&i| !self.held(i, now)).collect();
            if !healthy.is_empty() {
                return healthy[rand::random_range(0..healthy.len())];
            }
        }
        let best_healthy = candidates()
            .filter(|&i| !self.held(i, now))
            .min_by_key(|&i| self.srtt(i));
        best_healthy.unwrap_or_else(|| {
            candidates()
                .min_by_key(|&i| self.health[i].held_until_ms.load(Ordering::Relaxed))
                .unwrap_or(0)
        })
    }

    fn held(&self, i: usize, now_ms: u64) -> bool {
        self.health[i].held_until_ms.load(Ordering::Relaxed) > now_ms
    }

    /// Upstream `i` answered after `rtt`.
    pub fn answered(&self, i: usize, rtt: Duration) {
        let h = &self.health[i];
        let sample = micros(rtt);
        // Lost races are fine: one sample more or less.
        let old = h.srtt_us.load(Ordering::Relaxed);
        // 0: never measured.
        let new = if h.failures.load(Ordering::Relaxed) > 0 || old == 0 {
            sample
        } else {
            ((u64::from(old) * 7 + u64::from(sample)) / 8) as u32
        };
        h.srtt_us.store(new.max(1), Ordering::Relaxed);
        h.failures.store(0, Ordering::Relaxed);
        h.held_until_ms.store(0, Ordering::Relaxed);
    }

    /// Upstream `i` gave no answer in time, or could not be reached.
    pub fn failed(&self, i: usize) {
        let h = &self.health[i];
        let failures = h.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let hold = HOLD_BASE
            .saturating_mul(1 << (failures - 1).min(6))
            .min(HOLD_MAX);
        let until = self.now_ms() + u64::try_from(hold.as_millis()).unwrap_or(u64::MAX);
        h.held_until_ms.store(until, Ordering::Relaxed);
    }

    /// How long to wait for upstream `i` before retrying: a multiple of
    /// its SRTT, at least [`MIN_RETRY`].
    pub fn retry_after(&self, i: usize) -> Duration {
        (self.srtt(i) * RETRY_SRTT_FACTOR).max(MIN_RETRY)
    }

    /// The SRTT of upstream `i` ([`UNKNOWN_RTT`] before its first answer).
    fn srtt(&self, i: usize) -> Duration {
        match self.health[i].srtt_us.load(Ordering::Relaxed) {
            0 => UNKNOWN_RTT,
            us => Duration::from_micros(us.into()),
        }
    }

    /// The SRTT of upstream `i`, and whether it is held down now.
    pub fn state(&self, i: usize) -> (Duration, bool) {
        (self.srtt(i), self.held(i, self.now_ms()))
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fastest_is_picked_and_a_failing_one_is_held_down_until_it_answers() {
        let t = Table::new(3);
        t.answered(0, Duration::from_millis(30));
        t.answered(1, Duration::from_millis(2));
        t.answered(2, Duration::from_millis(10));
        assert_eq!(t.pick(&[], false), 1, "lowest SRTT");
        assert_eq!(t.pick(&[1], false), 2, "the retry goes elsewhere");
        t.failed(1);
        assert!(t.state(1).1, "held down after a timeout");
        assert_eq!(t.pick(&[], false), 2, "a held upstream is avoided");
        t.answered(1, Duration::from_millis(2));
        assert_eq!(t.pick(&[], false), 1, "one answer clears the hold");
    }

    #[test]
    fn when_every_upstream_is_held_the_one_released_first_is_probed() {
        let t = Table::new(2);
        t.failed(0);
        t.failed(0);
        t.failed(1);
        assert_eq!(t.pick(&[], false), 1, "shorter hold");
        assert_eq!(t.pick(&[1], false), 0, "the retry still goes somewhere");
        let single = Table::new(1);
        single.failed(0);
        assert_eq!(single.pick(&[0], false), 0, "alone: the same one again");
    }

    #[test]
    fn srtt_is_smoothed_and_the_retry_timer_follows_it() {
        let t = Table::new(1);
        t.answered(0, Duration::from_millis(80));
        assert_eq!(
            t.state(0).0,
            Duration::from_millis(80),
            "first sample taken whole"
        );
        t.answered(0, Duration::from_millis(240));
        assert_eq!(t.state(0).0, Duration::from_millis(100));
        assert_eq!(t.retry_after(0), MIN_RETRY);
        t.answered(0, Duration::from_millis(900));
        assert_eq!(t.state(0).0, Duration::from_millis(200));
        assert_eq!(t.retry_after(0), Duration::from_millis(800));
        t.answered(0, Duration::from_micros(100));
        for _ in 0..100 {
            t.answered(0, Duration::from_micros(100));
        }
        assert_eq!(t.retry_after(0), MIN_RETRY);
    }

    #[test]
    fn exploring_picks_every_healthy_upstream_sometimes() {
        let t = Table::new(3);
        for i in 0..3 {
            t.answered(i, Duration::from_millis(1 + i as u64));
        }
        t.failed(2);
        let mut seen = [0; 3];
        for _ in 0..300 {
            seen[t.pick(&[], true)] += 1;
        }
        assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
        assert_eq!(seen[2], 0, "not a held one: {seen:?}");
    }
}
