//! Rate-limited logging of upstream failures: a failing upstream is seen
//! at the default log level (WARN), but as at most one line per interval,
//! each telling how many failures it stands for, so that a dead upstream
//! under load does not flood the log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often an upstream failure is logged at most.
pub(super) const INTERVAL: Duration = Duration::from_secs(10);

/// When the last line was written and how many failures went unlogged
/// since.
#[derive(Debug)]
pub(super) struct FailureLog {
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last: Option<Instant>,
    suppressed: u64,
}

impl FailureLog {
    /// At most one line per `interval`.
    pub(super) fn new(interval: Duration) -> Self {
        FailureLog {
            interval,
            state: Mutex::new(State::default()),
        }
    }

    /// Note one failure at `now`: `Some(n)` when a line is due now, `n`
    /// being the failures left unlogged since the previous line; `None`
    /// when this one is counted and not logged.
    pub(super) fn note(&self, now: Instant) -> Option<u64> {
        let Ok(mut state) = self.state.lock() else {
            return None;
        };
        let due = state
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if due {
            state.last = Some(now);
            Some(std::mem::take(&mut state.suppressed))
        } else {
            state.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_it_stands_for() {
        let log = FailureLog::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(log.note(t0), Some(0), "the first failure is logged");
        for s in 1..10 {
            assert_eq!(log.note(t0 + Duration::from_secs(s)), None, "{s} s");
        }
        assert_eq!(
            log.note(t0 + Duration::from_secs(10)),
            Some(9),
            "the next line counts the nine unlogged"
        );
        assert_eq!(log.note(t0 + Duration::from_secs(11)), None);
        assert_eq!(log.note(t0 + Duration::from_secs(25)), Some(1));
    }
}
