//! Hot reload: list rewrites picked up without restart; bad lists refused
//! while the old list keeps serving.

use hickory_proto::rr::RecordType;
use parapet_blocklist::{CompileOptions, Compiler, SourceSpec};
use parapet_e2e::client::addresses;
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::{Parapet, Upstream, lists};

#[tokio::test]
async fn rewriting_the_list_blocks_a_new_name_without_restart() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query("newthreat.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec!["192.0.2.100"]);
    let before = p.reload().status();
    p.replace_file(
        "phishing.txt",
        format!("{}0.0.0.0 newthreat.example\n", lists::PHISHING),
    )?;
    p.wait_reload(WAIT, |s| s.generation > before.generation)
        .await?;
    let msg = p.query("newthreat.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4], "old rules still there");
    Ok(())
}

#[tokio::test]
async fn in_place_edit_is_picked_up_too() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let before = p.reload().status();
    // An editor-style in-place write, not a rename.
    std::fs::write(
        p.path("malware.txt"),
        format!("{}newthreat.example\n", lists::MALWARE),
    )?;
    p.wait_reload(WAIT, |s| s.generation > before.generation)
        .await?;
    let msg = p.query("newthreat.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    Ok(())
}

#[tokio::test]
async fn garbage_source_is_refused_and_old_list_keeps_serving() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let before = p.reload().status();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    p.replace_file("malware.txt", garbage)?;
    let after = p
        .wait_reload(WAIT, |s| s.failures > before.failures)
        .await?;
    assert_eq!(after.generation, before.generation);
    let msg = p.query("malware.test.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4], "old list still serving");
    Ok(())
}

#[tokio::test]
async fn source_truncated_in_place_is_refused_until_written_back() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);

    // Truncated to nothing in place, as the first step of a non-atomic
    // rewrite (or a `> phishing.txt` by mistake).
    let before = p.reload().status();
    std::fs::File::create(p.path("phishing.txt"))?;
    let after = p
        .wait_reload(WAIT, |s| s.failures > before.failures)
        .await?;
    assert_eq!(
        after.generation, before.generation,
        "the emptied list was served"
    );
    for name in ["phishing.example.", "login-bank.example."] {
        let msg = p.query(name, RecordType::A).await?;
        assert_eq!(addresses(&msg), vec![SINKHOLE_V4], "{name} still blocked");
    }

    // Written back with its rules and one more: taken.
    std::fs::write(
        p.path("phishing.txt"),
        format!("{}0.0.0.0 newthreat.example\n", lists::PHISHING),
    )?;
    p.wait_reload(WAIT, |s| s.generation > after.generation)
        .await?;
    for name in ["newthreat.example.", "phishing.example."] {
        let msg = p.query(name, RecordType::A).await?;
        assert_eq!(addresses(&msg), vec![SINKHOLE_V4], "{name} blocked");
    }
    Ok(())
}

/// Compile `text` (hosts format) to an artifact at `path`.
fn compile_artifact(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let src = path.with_extension("src.txt");
    std::fs::write(&src, text)?;
    let mut c = Compiler::new(CompileOptions::default());
    let mut spec = SourceSpec::new(&src);
    spec.category = Some("phishing".into());
    c.add_source(&spec)?;
    c.write_file(path)?;
    Ok(())
}

/// parapet serving a compiled artifact that lists phishing.example: the
/// directory (kept alive), the artifact's path and the server.
async fn serving_artifact(
    up: &Upstream,
) -> anyhow::Result<(tempfile::TempDir, std::path::PathBuf, Parapet)> {
    let dir = tempfile::tempdir()?;
    let pbl = dir.path().join("list.pbl");
    compile_artifact(&pbl, "0.0.0.0 phishing.example\n")?;
    let p = Parapet::builder(up.addr())
        .section("blocklist", &format!("path = \"{}\"", pbl.display()))
        .start()
        .await?;
    Ok((dir, pbl, p))
}

#[tokio::test]
async fn artifact_reload_and_corrupt_artifact_refused() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let (dir, pbl, p) = serving_artifact(&up).await?;
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);

    // A corrupt artifact (published atomically, as a bad download would be).
    let before = p.reload().status();
    let mut bytes = std::fs::read(&pbl)?;
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    let tmp = dir.path().join("list.pbl.tmp");
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, &pbl)?;
    let after = p
        .wait_reload(WAIT, |s| s.failures > before.failures)
        .await?;
    assert_eq!(after.generation, before.generation);
    let msg = p.query("phishing.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4], "old list still serving");

    // A good new artifact is taken.
    compile_artifact(
        &pbl,
        "0.0.0.0 phishing.example\n0.0.0.0 newthreat.example\n",
    )?;
    p.wait_reload(WAIT, |s| s.generation > after.generation)
        .await?;
    let msg = p.query("newthreat.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    Ok(())
}

#[tokio::test]
async fn trigger_reloads_without_file_change() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let p = Parapet::builder(up.addr())
        .section(
            "blocklist",
            &format!("{}\nwatch = false", lists::SOURCES_SECTION),
        )
        .start()
        .await?;
    let before = p.reload().status();
    std::fs::write(p.path("malware.txt"), "newthreat.example\n")?;
    p.reload().trigger(); // what SIGHUP does
    p.wait_reload(WAIT, |s| s.generation > before.generation)
        .await?;
    let msg = p.query("newthreat.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    Ok(())
}

/// `artifact` with its format version replaced by `version` and the
/// checksum recomputed, so that only the version is wrong.
fn with_version(artifact: &[u8], version: u32) -> Vec<u8> {
    let mut bytes = artifact.to_vec();
    bytes[8..12].copy_from_slice(&version.to_le_bytes());
    let body = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// Publish `bytes` at `path` atomically, as the updater does.
fn publish(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[tokio::test]
async fn artifact_of_another_format_version_is_refused_by_live_reload() -> anyhow::Result<()> {
    let up = Upstream::start().await;
    let (dir, pbl, p) = serving_artifact(&up).await?;
    // The next list (it adds newthreat.example), compiled by this build.
    let next = dir.path().join("next.pbl");
    compile_artifact(
        &next,
        "0.0.0.0 phishing.example\n0.0.0.0 newthreat.example\n",
    )?;
    let next = std::fs::read(&next)?;
    let ours = u32::from_le_bytes(next[8..12].try_into()?);
    for version in [ours + 1, ours - 1] {
        let before = p.reload().status();
        publish(&pbl, &with_version(&next, version))?;
        let after = p
            .wait_reload(WAIT, |s| s.failures > before.failures)
            .await?;
        assert_eq!(after.generation, before.generation, "version {version}");
        let msg = p.query("newthreat.example.", RecordType::A).await?;
        assert_eq!(
            addresses(&msg),
            vec!["192.0.2.100"],
            "version {version} not served"
        );
        let msg = p.query("phishing.example.", RecordType::A).await?;
        assert_eq!(addresses(&msg), vec![SINKHOLE_V4], "old list still serving");
    }
    // The same bytes with this build's version (checksum recomputed the
    // same way) are taken: only the version was refused.
    let before = p.reload().status();
    publish(&pbl, &with_version(&next, ours))?;
    p.wait_reload(WAIT, |s| s.generation > before.generation)
        .await?;
    let msg = p.query("newthreat.example.", RecordType::A).await?;
    assert_eq!(addresses(&msg), vec![SINKHOLE_V4]);
    Ok(())
}
