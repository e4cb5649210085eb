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

#[tokio::test]
async fn edns_version_above_zero_gets_badvers() -> anyhow::Result<()> {
    if !require_tool("dig", "edns_version_above_zero_gets_badvers") {
        return Ok(());
    }
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let addr = p.addr();
    // Cache www.example first: a cached answer must not be served either.
    let out = tokio::task::spawn_blocking(move || dig(addr, &["www.example", "A"])).await??;
    assert!(out.contains("status: NOERROR"), "{out}");
    // Blocked and forwarded names alike, over UDP and TCP: BADVERS, and an
    // OPT record of version 0 (what parapet speaks). `+noednsneg` keeps dig
    // from retrying with version 0.
    for (transport, name) in [
        ("+notcp", "phishing.example"),
        ("+notcp", "www.example"),
        ("+tcp", "phishing.example"),
    ] {
        let out = tokio::task::spawn_blocking(move || {
            dig(addr, &[transport, "+edns=1", "+noednsneg", name, "A"])
        })
        .await??;
        assert!(out.contains("status: BADVERS"), "{transport} {name}: {out}");
        assert!(
            out.contains("EDNS: version: 0"),
            "{transport} {name}: {out}"
        );
        assert!(!out.contains(SINKHOLE_V4), "{transport} {name}: {out}");
    }
    // Version 0 is still answered.
    let out = tokio::task::spawn_blocking(move || dig(addr, &["+edns=0", "phishing.example", "A"]))
        .await??;
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains(SINKHOLE_V4), "{out}");
    Ok(())
}
