//! The same answers seen by `dig` (BIND's client), over UDP and TCP.

use hickory_proto::rr::RecordType;
use parapet_e2e::parapet::SINKHOLE_V4;
use parapet_e2e::tools::{dig, require_tool};
use parapet_e2e::{Parapet, Upstream};

#[tokio::test]
async fn dig_sees_sinkhole_ede_and_upstream_answers() -> anyhow::Result<()> {
    if !require_tool("dig", "dig_sees_sinkhole_ede_and_upstream_answers") {
        return Ok(());
    }
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    // Warm nothing: dig talks to parapet directly. Run dig off the runtime.
    let addr = p.addr();
    let out = tokio::task::spawn_blocking(move || dig(addr, &["phishing.example", "A"])).await??;
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains(SINKHOLE_V4), "{out}");
    assert!(out.contains("EDE: 15 (Blocked)"), "{out}");
    let out =
        tokio::task::spawn_blocking(move || dig(addr, &["+tcp", "www.example", "A"])).await??;
    assert!(out.contains("192.0.2.10"), "{out}");
    let out =
        tokio::task::spawn_blocking(move || dig(addr, &["does-not-exist.example", "A"])).await??;
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    assert!(out.contains("SOA"), "{out}");
    let out = tokio::task::spawn_blocking(move || dig(addr, &["cloaked.example", "A"])).await??;
    assert!(out.contains(SINKHOLE_V4), "{out}");
    // hickory's client agrees with dig.
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(parapet_e2e::client::addresses(&msg), vec![SINKHOLE_V4]);
    Ok(())
}
