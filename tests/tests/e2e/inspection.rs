//! Answer inspection: CNAME targets and answer addresses against the lists.

use std::sync::{Arc, Mutex};

use hickory_proto::rr::RecordType;
use parapet_e2e::client::{addresses, ede};
use parapet_e2e::parapet::{SINKHOLE_V4, SINKHOLE_V6, WAIT};
use parapet_e2e::{Parapet, Upstream, eventually};
use parapet_resolver::event::Trigger;
use parapet_resolver::{Observer, Outcome, QueryEvent};

/// Collects (name, outcome) of finished queries.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Outcome, String)>>);

impl Observer for Recorder {
    fn observe(&self, e: &QueryEvent<'_>) {
        let name = e.name.map(|n| n.to_ascii()).unwrap_or_default();
        let rule = match e.outcome {
            Outcome::Blocked { rule, .. } => e.list.rule_info(rule, &name).pattern,
            _ => String::new(),
        };
        if let Ok(mut v) = self.0.lock() {
            v.push((name, e.outcome, rule));
        }
    }
}

impl Recorder {
    /// The outcome and rule recorded for `name`, waiting for it: observers
    /// run after the answer is sent, so the client can be first.
    async fn outcome_of(&self, name: &str) -> (Outcome, String) {
        let found = eventually(
            WAIT,
            || async {
                let v = self.0.lock().ok()?;
                v.iter()
                    .rev()
                    .find(|(n, _, _)| n == name)
                    .map(|(_, o, r)| (*o, r.clone()))
            },
            Option::is_some,
        )
        .await;
        found
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("{name} not observed within {WAIT:?}"))
    }

    /// Every recorded event once `n` have arrived (within [`WAIT`]).
    async fn wait_for(&self, n: usize) -> Vec<(String, Outcome, String)> {
        let all = || async { self.0.lock().map(|v| v.clone()).unwrap_or_default() };
        eventually(WAIT, all, |v| v.len() >= n)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_into_blocked_name_is_sinkholed() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let rec = Arc::new(Recorder::default());
    let p = Parapet::builder(up.addr())
        .observer(rec.clone())
        .start()
        .await?;
    let msg = p.query("cloaked.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    assert!(
        msg.answers.iter().all(|r| r.record_type() == RecordType::A),
        "no CNAME leaks"
    );
    assert_eq!(ede(&msg).map(|e| e.0), Some(15));
    let (outcome, _) = rec.outcome_of("cloaked.example.").await;
    assert!(
        matches!(
            outcome,
            Outcome::Blocked {
                trigger: Trigger::Cname,
                ..
            }
        ),
        "{outcome:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_with_blocked_ip_is_sinkholed() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let rec = Arc::new(Recorder::default());
    let p = Parapet::builder(up.addr())
        .observer(rec.clone())
        .start()
        .await?;
    let msg = p.query("flux.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    let (outcome, rule) = rec.outcome_of("flux.example.").await;
    assert!(
        matches!(
            outcome,
            Outcome::Blocked {
                trigger: Trigger::Ip,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(rule.contains("203.0.113.66"), "{rule}");
    let msg = p.query("flux6.example.", RecordType::AAAA).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V6]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observer_sees_one_outcome_per_query() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let rec = Arc::new(Recorder::default());
    let p = Parapet::builder(up.addr())
        .observer(rec.clone())
        .start()
        .await?;
    // TCP: no client retransmissions that would count twice.
    p.query_tcp("www.example.", RecordType::A).await?;
    p.query_tcp("phishing.example.", RecordType::A).await?;
    p.query_tcp("safe.phishing.example.", RecordType::A).await?;
    let v = rec.wait_for(3).await;
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(matches!(v[0].1, Outcome::Forwarded { .. }));
    assert!(matches!(
        v[1].1,
        Outcome::Blocked {
            trigger: Trigger::Name,
            ..
        }
    ));
    assert!(matches!(v[2].1, Outcome::AllowedByException { .. }));
    Ok(())
}

/// A CNAME chain whose last name is not listed but whose address is: the
/// answer is sinkholed for A and AAAA alike, no CNAME leaks, and the block
/// is counted under trigger `ip` (observer and metric).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_chain_ending_at_a_listed_ip_is_sinkholed_for_a_and_aaaa() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let rec = Arc::new(Recorder::default());
    let p = Parapet::builder(up.addr())
        .observer(rec.clone())
        .start()
        .await?;
    let metrics = p.server().metrics().clone();
    for (rtype, sinkhole, rule) in [
        (RecordType::A, SINKHOLE_V4, "203.0.113.66"),
        (RecordType::AAAA, SINKHOLE_V6, "2001:db8:bad::"),
    ] {
        let msg = p.query("ipchain.example.", rtype).await?;
        assert_eq!(addresses(&msg), vec![sinkhole], "{rtype}");
        assert!(
            msg.answers.iter().all(|r| r.record_type() == rtype),
            "{rtype}: no CNAME of the chain leaks: {:?}",
            msg.answers
        );
        assert_eq!(ede(&msg).map(|e| e.0), Some(15), "{rtype}");
        let (outcome, matched) = rec.outcome_of("ipchain.example.").await;
        assert!(
            matches!(
                outcome,
                Outcome::Blocked {
                    trigger: Trigger::Ip,
                    ..
                }
            ),
            "{rtype}: {outcome:?}"
        );
        assert!(matched.contains(rule), "{rtype}: {matched}");
        rec.0.lock().map(|mut v| v.clear()).ok();
    }
    let ip_blocks = eventually(
        WAIT,
        || async { metrics.encode() },
        |text| text.contains("parapet_blocks_by_trigger_total{trigger=\"ip\"} 2"),
    )
    .await;
    assert!(ip_blocks.is_ok(), "{ip_blocks:?}");
    let text = metrics.encode();
    assert!(
        text.contains("parapet_blocks_by_trigger_total{trigger=\"cname\"} 0")
            && text.contains("parapet_blocks_by_trigger_total{trigger=\"name\"} 0"),
        "{text}"
    );
    Ok(())
}
