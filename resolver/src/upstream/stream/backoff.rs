//! Reconnect backoff: after a failed connect, wait before trying again,
//! twice as long after each further failure, so that a dead upstream is
//! not hammered; queries in the meantime fail at once.

use std::time::{Duration, Instant};

/// The reconnect state of one upstream.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
    until: Option<Instant>,
}

impl Backoff {
    /// No failures yet; the first failure waits `min`, each further one
    /// twice as long, up to `max`.
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            failures: 0,
            until: None,
        }
    }

    /// How long until the next connect may be tried, if it must wait.
    pub(crate) fn remaining(&self, now: Instant) -> Option<Duration> {
        self.until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// A connect failed: wait before the next.
    pub(crate) fn failed(&mut self, now: Instant) -> Duration {
        let shift = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let wait = self.min.saturating_mul(1 << shift).min(self.max);
        self.until = Some(now + wait);
        wait
    }

    /// A connect succeeded: forget the failures.
    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
        self.until = None;
    }

    /// Note how a connect to `addr` went; its error as the query's.
    pub(crate) fn record<T>(
        &mut self,
        addr: std::net::SocketAddr,
        result: std::io::Result<T>,
    ) -> Result<T, crate::upstream::ExchangeError> {
        match result {
            Ok(t) => {
                self.succeeded();
                Ok(t)
            }
            Err(e) => {
                let wait = self.failed(Instant::now());
                tracing::debug!(upstream = %addr, error = %e, ?wait, "upstream connect failed");
                Err(crate::upstream::ExchangeError::Connect(e))
            }
        }
    }

    /// The error a query gets while the backoff lasts.
    pub(crate) fn refusal(
        &self,
        addr: std::net::SocketAddr,
        now: Instant,
    ) -> Option<std::io::Error> {
        self.remaining(now).map(|left| {
            std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                format!(
                    "{addr}: {} failed connect(s), next attempt in {} ms",
                    self.failures,
                    left.as_millis()
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_maximum_and_reset_on_success() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(350));
        let t = Instant::now();
        assert_eq!(b.remaining(t), None);
        assert_eq!(b.failed(t), ms(100));
        assert_eq!(b.failed(t), ms(200));
        assert_eq!(b.failed(t), ms(350));
        assert_eq!(b.failed(t), ms(350));
        assert_eq!(b.remaining(t), Some(ms(350)));
        assert!(b.refusal("127.0.0.1:53".parse().unwrap(), t).is_some());
        assert_eq!(b.remaining(t + ms(350)), None);
        b.succeeded();
        assert_eq!(b.remaining(t), None);
        assert_eq!(b.failed(t), ms(100));
    }
}
