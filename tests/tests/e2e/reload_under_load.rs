//! Reload under load: while UDP and TCP clients query without pause, the
//! `[blocklist] sources` lists are rewritten again and again. Every answer
//! carries the old or the new verdict: never SERVFAIL, a timeout or a
//! malformed reply.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_e2e::client::{addresses, rcode};
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::{Parapet, Upstream, eventually, lists};

/// List rewrites, alternating between the two verdicts of `TOGGLED`.
const REWRITES: usize = 8;
/// Clients per transport, each querying in a loop.
const CLIENTS: usize = 2;
/// Blocked after odd rewrites, forwarded (A 192.0.2.100) after even ones.
const TOGGLED: &str = "newthreat.example.";
const FORWARDED: &str = "192.0.2.100";

/// What one client saw: answers per verdict, and every bad reply.
#[derive(Debug, Default)]
struct Seen {
    blocked: u64,
    forwarded: u64,
    bad: Vec<String>,
}

/// The expected addresses for each name the clients ask; `TOGGLED` may
/// carry either verdict.
fn check(name: &str, got: anyhow::Result<hickory_proto::op::Message>, seen: &mut Seen) {
    let msg = match got {
        Ok(msg) => msg,
        Err(e) => return seen.bad.push(format!("{name}: {e:#}")),
    };
    let addrs = addresses(&msg);
    if rcode(&msg) != ResponseCode::NoError {
        return seen.bad.push(format!("{name}: {:?}", rcode(&msg)));
    }
    match (name, addrs.first().map(String::as_str)) {
        (TOGGLED, Some(SINKHOLE_V4)) if addrs.len() == 1 => seen.blocked += 1,
        (TOGGLED, Some(FORWARDED)) if addrs.len() == 1 => seen.forwarded += 1,
        ("phishing.example.", Some(SINKHOLE_V4)) | ("www.example.", Some("192.0.2.10"))
            if addrs.len() == 1 => {}
        _ => seen.bad.push(format!("{name}: {addrs:?}")),
    }
}

/// Query without pause over UDP or TCP until `stop` is set.
async fn client(p: Arc<Parapet>, tcp: bool, stop: Arc<AtomicBool>) -> Seen {
    let mut seen = Seen::default();
    while !stop.load(Ordering::Relaxed) {
        for name in [TOGGLED, "phishing.example.", "www.example."] {
            let got = if tcp {
                p.query_tcp(name, RecordType::A).await
            } else {
                p.query(name, RecordType::A).await
            };
            check(name, got, &mut seen);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_keep_the_old_or_new_verdict_while_lists_are_rewritten() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Arc::new(Parapet::start(up.addr()).await?);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS * 2)
        .map(|i| tokio::spawn(client(p.clone(), i % 2 == 1, stop.clone())))
        .collect();

    for rewrite in 1..=REWRITES {
        let blocked = rewrite % 2 == 1;
        let malware = if blocked {
            format!("{}newthreat.example\n", lists::MALWARE)
        } else {
            lists::MALWARE.to_string()
        };
        let before = p.reload().status();
        p.replace_file("malware.txt", malware)?;
        p.wait_reload(WAIT, |s| s.generation > before.generation)
            .await?;
        // The new verdict is served before the next rewrite.
        let want = if blocked { SINKHOLE_V4 } else { FORWARDED };
        eventually(
            WAIT,
            || async {
                p.query(TOGGLED, RecordType::A)
                    .await
                    .map(|m| addresses(&m))
                    .unwrap_or_default()
            },
            |addrs| addrs == &[want],
        )
        .await?;
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = Seen::default();
    for c in clients {
        let seen = tokio::time::timeout(WAIT, c).await??;
        total.blocked += seen.blocked;
        total.forwarded += seen.forwarded;
        total.bad.extend(seen.bad);
    }
    assert!(
        total.bad.is_empty(),
        "bad replies under reload: {:#?}",
        total.bad
    );
    assert!(
        total.blocked > 0 && total.forwarded > 0,
        "the clients saw one verdict only: {total:?}"
    );
    assert_eq!(p.reload().status().failures, 0);
    eprintln!(
        "reload under load: {REWRITES} rewrites, {} blocked and {} forwarded answers",
        total.blocked, total.forwarded
    );
    Ok(())
}
