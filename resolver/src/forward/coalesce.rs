//! Concurrent forwards of one question share one upstream exchange.
//!
//! The first forward of a key starts a *flight* and does the exchange;
//! forwards of the same key that arrive while it runs wait for its result
//! instead of asking the upstream again. The flight is gone as soon as its
//! result is out, so a later forward asks afresh (the answer cache, not
//! this, serves repeats). When the first forward is dropped before it
//! finishes (its client went away), its followers ask themselves.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use hickory_proto::rr::{Name, RecordType};
use tokio::sync::watch;

use super::answer::{DnssecFlags, ForwardError, Upstream};

/// What makes two forwards the same: the lower-cased name, type, DO and
/// CD (the class is always IN here).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    name: Name,
    qtype: RecordType,
    flags: DnssecFlags,
}

impl Key {
    /// The key of a forward.
    pub(super) fn new(name: &Name, qtype: RecordType, flags: DnssecFlags) -> Key {
        let mut name = name.to_lowercase();
        name.set_fqdn(true);
        Key { name, qtype, flags }
    }
}

type Shared = Result<Arc<Upstream>, Arc<ForwardError>>;

/// The flights in the air.
#[derive(Debug, Default)]
pub(super) struct Flights {
    running: Mutex<HashMap<Key, watch::Receiver<Option<Shared>>>>,
}

/// Ends a flight when its leader finishes or is dropped.
struct Landing<'a> {
    flights: &'a Flights,
    key: Key,
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        if let Ok(mut running) = self.flights.running.lock() {
            running.remove(&self.key);
        }
    }
}

impl Flights {
    /// Run `lookup` for `key`, or wait for the flight already running it
    /// (calling `joined` then).
    pub(super) async fn run<F, Fut>(
        &self,
        key: Key,
        lookup: F,
        joined: impl FnOnce(),
    ) -> Result<Upstream, ForwardError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Upstream, ForwardError>>,
    {
        let (leader, follower) = {
            let Ok(mut running) = self.running.lock() else {
                return lookup().await;
            };
            match running.get(&key) {
                Some(rx) => (None, Some(rx.clone())),
                None => {
                    let (tx, rx) = watch::channel(None);
                    running.insert(key.clone(), rx);
                    (Some(tx), None)
                }
            }
        };
        if let Some(mut rx) = follower {
            joined();
            let shared = rx
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|v| v.clone());
            return match shared {
                Some(Ok(upstream)) => Ok((*upstream).clone()),
                Some(Err(e)) => Err(ForwardError::Shared(e)),
                // The leader was dropped: ask ourselves.
                None => lookup().await,
            };
        }
        let landing = Landing { flights: self, key };
        let result = lookup().await;
        drop(landing);
        let Some(tx) = leader else {
            return result;
        };
        if tx.receiver_count() == 0 {
            // Nobody joined (the table's own receiver is gone with the
            // flight): no copy to share.
            return result;
        }
        let shared: Shared = result.map(Arc::new).map_err(Arc::new);
        let _ = tx.send(Some(shared.clone()));
        match shared {
            Ok(upstream) => Ok(Arc::unwrap_or_clone(upstream)),
            Err(e) => Err(ForwardError::Shared(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn key(name: &str, dnssec_ok: bool) -> Key {
        let flags = DnssecFlags {
            dnssec_ok,
            checking_disabled: false,
        };
        Key::new(&Name::from_str(name).expect("name"), RecordType::A, flags)
    }

    #[tokio::test]
    async fn concurrent_identical_forwards_share_one_lookup() {
        let flights = Flights::default();
        let lookups = AtomicUsize::new(0);
        let joined = AtomicUsize::new(0);
        let (open, gate) = watch::channel(false);
        let run = |name: &'static str, dnssec_ok: bool| {
            let mut gate = gate.clone();
            let (flights, lookups, joined) = (&flights, &lookups, &joined);
            async move {
                flights
                    .run(
                        key(name, dnssec_ok),
                        || async move {
                            lookups.fetch_add(1, Ordering::SeqCst);
                            let _ = gate.wait_for(|o| *o).await;
                            Ok(Upstream::default())
                        },
                        || {
                            joined.fetch_add(1, Ordering::SeqCst);
                        },
                    )
                    .await
            }
        };
        let all = futures_util::future::join_all(
            (0..8)
                .map(|i| {
                    run(
                        if i % 2 == 0 {
                            "a.example."
                        } else {
                            "A.Example."
                        },
                        false,
                    )
                })
                .chain([run("a.example.", true), run("b.example.", false)]),
        );
        let release = async {
            while joined.load(Ordering::SeqCst) < 7 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let _ = open.send(true);
        };
        let (results, ()) = tokio::join!(all, release);
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(lookups.load(Ordering::SeqCst), 3, "one per name and DO");
        assert_eq!(joined.load(Ordering::SeqCst), 7);
        assert!(flights.running.lock().expect("lock").is_empty(), "landed");
    }
}
