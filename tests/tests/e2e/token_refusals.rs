//! DoH requests refused for their token (HTTP 403/404) leave a trace:
//! `parapet_token_refusals_total` by reason, and a query-log line with the
//! reason when the log records refusals; the presented token is written
//! nowhere.

use anyhow::{Context, Result, ensure};
use parapet_e2e::parapet::WAIT;
use parapet_e2e::{Upstream, eventually};
use parapet_resolver::transport::tokens::hash_token;
use serde_json::Value;

use super::transport::{Cert, TOKEN, doh_addr, encrypted, get, http1};

/// The value of one exported series; `None` when it is not exported.
fn series(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
}

fn refusals(text: &str, reason: &str) -> Result<f64> {
    let name = format!("parapet_token_refusals_total{{reason=\"{reason}\"}}");
    series(text, &name).with_context(|| format!("{name} not exported:\n{text}"))
}

#[tokio::test]
async fn refused_tokens_are_counted_by_reason_and_logged_without_the_token() -> Result<()> {
    const GUESSED: &str = "mallory-guess-42";
    let up = Upstream::start().await;
    let cert = Cert::new();
    let logs = tempfile::tempdir()?;
    let log_path = logs.path().join("queries.log");
    let p = encrypted(up.addr(), &cert)
        .section(
            "query_log",
            &format!(
                "enabled = true\nmode = \"all\"\npath = {:?}\nclient_addresses = \"full\"",
                log_path.display().to_string()
            ),
        )
        .start()
        .await?;
    let roots = [&cert.der[..]];
    let doh = doh_addr(&p);
    let status = |path: String| async move {
        http1(doh, &roots, &get(&path, "www.example."), b"")
            .await
            .map(|r| r.0)
    };
    ensure!(status(format!("/dns-query/{TOKEN}")).await? == 200);

    // Revoke alice's token; wait until the listener refuses it.
    p.replace_file("tokens", format!("{} bob\n", hash_token("bob-2")))?;
    eventually(
        WAIT,
        || async { status(format!("/dns-query/{TOKEN}")).await.ok() },
        |code| *code == Some(403),
    )
    .await?;
    let before = p.server().metrics().encode();

    // Five refused requests: two unknown, two revoked, one malformed path.
    ensure!(status(format!("/dns-query/{GUESSED}")).await? == 403);
    ensure!(status("/dns-query/no.dots.allowed".to_string()).await? == 403);
    ensure!(status(format!("/dns-query/{TOKEN}")).await? == 403);
    ensure!(status(format!("/dns-query/{}", TOKEN.to_uppercase())).await? == 403);
    ensure!(status(format!("/dns-query/{GUESSED}/extra")).await? == 404);

    let after = p.server().metrics().encode();
    let moved = |reason: &str| -> Result<f64> {
        Ok(refusals(&after, reason)? - refusals(&before, reason)?)
    };
    // `no.dots.allowed` is not token-shaped: malformed, as is the extra segment.
    ensure!(
        moved("unknown")? == 1.0,
        "unknown moved {}",
        moved("unknown")?
    );
    ensure!(
        moved("revoked")? == 2.0,
        "revoked moved {}",
        moved("revoked")?
    );
    ensure!(
        moved("malformed")? == 2.0,
        "malformed moved {}",
        moved("malformed")?
    );
    // A refusal before the query path is not a DNS query outcome.
    ensure!(
        series(
            &after,
            "parapet_queries_total{protocol=\"https\",outcome=\"refused\"}"
        ) == Some(0.0)
    );
    let revoked_total = refusals(&after, "revoked")?;

    p.stop().await?;
    let text = std::fs::read_to_string(&log_path).context("read query log")?;
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {l}")))
        .collect::<Result<_>>()?;
    let refused = |reason: &str| {
        lines
            .iter()
            .filter(|l| l["outcome"] == "refused" && l["reason"] == reason)
            .count()
    };
    ensure!(refused("unknown") == 1, "{text}");
    ensure!(refused("malformed") == 2, "{text}");
    // Every revoked refusal, also those seen while waiting for the revoke.
    ensure!(refused("revoked") as f64 == revoked_total, "{text}");
    let line = lines
        .iter()
        .find(|l| l["reason"] == "unknown")
        .context("unknown line")?;
    ensure!(line["protocol"] == "https", "{line}");
    ensure!(line["client"] == "127.0.0.1", "{line}");
    let lower = text.to_ascii_lowercase();
    for secret in [TOKEN, GUESSED, "no.dots.allowed"] {
        ensure!(
            !lower.contains(&secret.to_ascii_lowercase()),
            "{secret} in {text}"
        );
    }
    Ok(())
}
