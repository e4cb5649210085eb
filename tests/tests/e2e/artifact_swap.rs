//! The compiled list in service (`[blocklist] path`) while its file is
//! overwritten in place (what `cp` does), truncated, and replaced by rename,
//! under continuous UDP query load: the server never dies (a mapped file
//! would SIGBUS it) and every answer is the old or the new list's verdict.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::{Context, anyhow};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_blocklist::{CompileOptions, Compiler, Format, SourceSpec};
use parapet_e2e::client::{self, QueryOptions, addresses, rcode};
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::{Parapet, Upstream};

/// Operations on the file in all.
const OPERATIONS: usize = 100;

/// An artifact blocking `name`, padded well past 4 KB.
fn artifact(name: &str) -> Vec<u8> {
    let mut text = format!("{name}\n");
    for i in 0..2000 {
        text.push_str(&format!("filler{i}.example\n"));
    }
    let mut spec = SourceSpec::new("swap.txt");
    spec.format = Some(Format::Domains);
    let mut c = Compiler::new(CompileOptions::default());
    c.add_reader(&spec, text.as_bytes()).expect("compiles");
    let bytes = c.to_bytes().expect("artifact");
    assert!(bytes.len() > 8192);
    bytes
}

/// The answers either list may give: (name, [old list's, new list's]).
const VERDICTS: [(&str, [&str; 2]); 2] = [
    ("phishing.example.", [SINKHOLE_V4, "192.0.2.66"]),
    ("newthreat.example.", ["192.0.2.100", SINKHOLE_V4]),
];

/// Query both names until `stop`; count answers; return the first bad one.
async fn load(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let opts = QueryOptions::default();
    while !stop.load(Ordering::SeqCst) {
        for (name, ok) in VERDICTS {
            let msg = client::query(addr, name, RecordType::A, &opts)
                .await
                .with_context(|| format!("{name}: no usable answer"))?;
            let got = addresses(&msg);
            if rcode(&msg) != ResponseCode::NoError
                || got.len() != 1
                || !ok.contains(&got[0].as_str())
            {
                return Err(anyhow!(
                    "{name}: {:?} {got:?} is neither list's verdict",
                    rcode(&msg)
                ));
            }
            answered.fetch_add(1, Ordering::SeqCst);
        }
    }
    Ok(())
}

/// Wait until the load has answered `more` further queries.
async fn answered_more(answered: &AtomicU64, more: u64) -> anyhow::Result<()> {
    let target = answered.load(Ordering::SeqCst) + more;
    parapet_e2e::parapet::eventually(
        WAIT,
        || async { answered.load(Ordering::SeqCst) },
        |n| *n >= target,
    )
    .await
    .map(|_| ())
}

#[tokio::test]
async fn list_file_rewritten_truncated_and_renamed_under_load() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let lists = [artifact("phishing.example"), artifact("newthreat.example")];
    let p = Parapet::builder(up.addr())
        .section("blocklist", "path = \"list.pbl\"")
        .file("list.pbl", &lists[0])
        .start()
        .await?;
    let path = p.path("list.pbl");
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let queries = tokio::spawn(load(p.addr(), stop.clone(), answered.clone()));
    for op in 0..OPERATIONS {
        let contents = &lists[(op / 3 + 1) % 2];
        match op % 3 {
            // `cp` over the file: truncate, then write in place.
            0 => std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&path)?
                .write_all(contents)?,
            1 => std::fs::OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(4096)?,
            _ => {
                let before = p.reload().status().generation;
                p.replace_file("list.pbl", contents)?;
                p.wait_reload(WAIT, |s| s.generation > before).await?;
            }
        }
        answered_more(&answered, 2).await?;
        if queries.is_finished() {
            break;
        }
    }
    stop.store(true, Ordering::SeqCst);
    queries.await??;
    // The reloader still works: a list published by rename goes into service.
    let before = p.reload().status().generation;
    p.replace_file("list.pbl", &lists[1])?;
    p.wait_reload(WAIT, |s| s.generation > before).await?;
    let msg = p.query("newthreat.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec!["192.0.2.66"]);
    Ok(())
}
