//! Metrics endpoint and query log, end to end: real queries over loopback,
//! a real scrape of `/metrics` parsed as OpenMetrics text, real log files.

mod exposition;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_e2e::client::{self, QueryOptions};
use parapet_e2e::{Parapet, Upstream};
use parapet_resolver::{ClientAddresses, ClientFormat};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use exposition::Exposition;

const WAIT: Duration = Duration::from_secs(10);

/// `GET /metrics` over a plain TCP connection: (content type, parsed body).
async fn scrape(addr: SocketAddr) -> Result<(String, Exposition)> {
    let mut stream = TcpStream::connect(addr)
        .await
        .context("connect to /metrics")?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: parapet\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut response))
        .await
        .context("scrape timed out")??;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("no end of headers")?;
    ensure!(head.starts_with("HTTP/1.1 200"), "scrape failed: {head}");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .context("no content type")?;
    let parsed = Exposition::parse(body).map_err(anyhow::Error::msg)?;
    Ok((content_type, parsed))
}

/// Scrape until `total` queries have been counted and every counted block
/// also has its trigger and category counted (the metrics observer records
/// the query first, the block after, and runs after the answer is sent),
/// then return the scrape.
async fn scrape_after(addr: SocketAddr, total: f64) -> Result<Exposition> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, e) = scrape(addr).await?;
        let counted = e.sum("parapet_queries_total", &[]);
        let blocked = e.sum("parapet_queries_total", &[("outcome", "blocked")]);
        let settled = e.sum("parapet_blocks_by_trigger_total", &[]) == blocked
            && e.sum("parapet_blocks_by_category_total", &[]) == blocked;
        if counted >= total && settled {
            ensure!(
                counted == total,
                "{counted} queries counted, expected {total}"
            );
            return Ok(e);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("only {counted} of {total} queries counted within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Another client: 127.0.0.2, outside `allow = ["127.0.0.1/32"]`.
fn stranger() -> QueryOptions {
    QueryOptions {
        bind: Some("127.0.0.2:0".parse().expect("address")),
        ..QueryOptions::default()
    }
}

fn metrics_addr(parapet: &Parapet) -> Result<SocketAddr> {
    parapet
        .server()
        .metrics_addr()
        .context("metrics endpoint not started")
}

#[tokio::test]
async fn metrics_count_blocked_forwarded_and_refused_queries() -> Result<()> {
    let upstream = Upstream::start().await;
    let parapet = Parapet::builder(upstream.addr())
        .section("access", "allow = [\"127.0.0.1/32\"]\nrate_limit_qps = 0")
        .start()
        .await?;
    let addr = metrics_addr(&parapet)?;

    let (content_type, before) = scrape(addr).await?;
    ensure!(
        content_type.starts_with("application/openmetrics-text"),
        "content type {content_type}"
    );
    ensure!(before.sum("parapet_queries_total", &[]) == 0.0);
    // The list in service: 2 phishing + 1 malware + 1 allow domain rules, 2 IP rules.
    ensure!(before.get("parapet_list_rules", &[("kind", "domain")]) == Some(4.0));
    ensure!(before.get("parapet_list_rules", &[("kind", "ip")]) == Some(2.0));
    let built = before
        .get("parapet_list_built_timestamp_seconds", &[])
        .context("build time")?;
    ensure!(built > 1.7e9, "build time {built}");
    let age = before.get("parapet_list_age_seconds", &[]).context("age")?;
    ensure!((0.0..600.0).contains(&age), "age {age}");

    let blocked = parapet.query("phishing.example.", RecordType::A).await?;
    ensure!(client::addresses(&blocked) == ["192.0.2.53"], "{blocked:?}");
    let forwarded = parapet.query("www.example.", RecordType::A).await?;
    ensure!(
        client::addresses(&forwarded) == ["192.0.2.10"],
        "{forwarded:?}"
    );
    let refused = parapet
        .query_with("www.example.", RecordType::A, &stranger())
        .await?;
    ensure!(client::rcode(&refused) == ResponseCode::Refused);
    let again = parapet.query("www.example.", RecordType::A).await?;
    parapet.query("www.example.", RecordType::A).await?;
    ensure!(client::addresses(&again) == ["192.0.2.10"]);
    let over_tcp = parapet.query_tcp("malware.test.", RecordType::A).await?;
    ensure!(client::addresses(&over_tcp) == ["192.0.2.53"]);

    let after = scrape_after(addr, 6.0).await?;
    let q = |protocol: &str, outcome: &str| {
        after.get(
            "parapet_queries_total",
            &[("protocol", protocol), ("outcome", outcome)],
        )
    };
    ensure!(
        q("udp", "blocked") == Some(1.0),
        "udp blocked {:?}",
        q("udp", "blocked")
    );
    // The first www.example lookup went upstream, the next two were cache hits.
    ensure!(
        q("udp", "forwarded") == Some(1.0),
        "{:?}",
        q("udp", "forwarded")
    );
    ensure!(q("udp", "cached") == Some(2.0), "{:?}", q("udp", "cached"));
    ensure!(q("udp", "refused") == Some(1.0));
    ensure!(q("tcp", "blocked") == Some(1.0));
    ensure!(q("tcp", "forwarded") == Some(0.0));
    ensure!(
        q("https", "servfail") == Some(0.0),
        "every series exists from the start"
    );
    ensure!(after.get("parapet_blocks_by_trigger_total", &[("trigger", "name")]) == Some(2.0));
    ensure!(after.get("parapet_blocks_by_trigger_total", &[("trigger", "cname")]) == Some(0.0));
    ensure!(
        after.get(
            "parapet_blocks_by_category_total",
            &[("category", "phishing")]
        ) == Some(1.0)
    );
    ensure!(
        after.get(
            "parapet_blocks_by_category_total",
            &[("category", "malware")]
        ) == Some(1.0)
    );
    // The first www.example lookup went upstream, the next two came from the cache.
    ensure!(after.get("parapet_cache_misses_total", &[]) == Some(1.0));
    ensure!(after.get("parapet_cache_hits_total", &[]) == Some(2.0));
    // Only the lookup that asked the upstream is in the latency histogram.
    ensure!(after.get("parapet_upstream_latency_seconds_count", &[]) == Some(1.0));
    ensure!(after.get("parapet_upstream_latency_seconds_bucket", &[("le", "+Inf")]) == Some(1.0));
    ensure!(upstream.queries() >= 1);
    ensure!(after.sum("parapet_upstream_failures_total", &[]) == 0.0);
    ensure!(after.get("parapet_reloads_total", &[("result", "ok")]) == Some(0.0));
    // No query name or client address in any label.
    for (_, labels) in after.samples.keys() {
        for value in labels.values() {
            ensure!(
                !value.contains("example") && !value.contains("127.0.0"),
                "label {value}"
            );
        }
    }
    parapet.stop().await
}

#[tokio::test]
async fn metrics_count_cname_and_answer_ip_blocks_and_reloads() -> Result<()> {
    let upstream = Upstream::start().await;
    let parapet = Parapet::start(upstream.addr()).await?;
    let addr = metrics_addr(&parapet)?;

    parapet.query("cloaked.example.", RecordType::A).await?;
    parapet.query("flux.example.", RecordType::A).await?;
    parapet
        .query("safe.phishing.example.", RecordType::A)
        .await?;
    let e = scrape_after(addr, 3.0).await?;
    ensure!(e.get("parapet_blocks_by_trigger_total", &[("trigger", "cname")]) == Some(1.0));
    ensure!(e.get("parapet_blocks_by_trigger_total", &[("trigger", "ip")]) == Some(1.0));
    ensure!(
        e.get(
            "parapet_queries_total",
            &[("protocol", "udp"), ("outcome", "allowed_by_exception")]
        ) == Some(1.0)
    );
    // The IP list has no category.
    ensure!(e.get("parapet_blocks_by_category_total", &[("category", "none")]) == Some(1.0));

    // A good reload, then a refused one: counted, gauges follow the good one.
    parapet.replace_file("malware.txt", "malware.test\nnewthreat.example\n")?;
    parapet.wait_reload(WAIT, |s| s.generation >= 2).await?;
    parapet.replace_file("ips.txt", "this is not an address\n")?;
    parapet.wait_reload(WAIT, |s| s.failures >= 1).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, e) = scrape(addr).await?;
        let ok = e.get("parapet_reloads_total", &[("result", "ok")]);
        let failed = e.get("parapet_reloads_total", &[("result", "failed")]);
        let rules = e.get("parapet_list_rules", &[("kind", "domain")]);
        if ok == Some(1.0) && failed == Some(1.0) && rules == Some(5.0) {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("reloads ok {ok:?} failed {failed:?}, domain rules {rules:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    parapet.stop().await
}

/// Start parapet with `[query_log]` writing `query.log` in a directory
/// that outlives it, send a forwarded and a blocked query, stop it (which
/// flushes the log) and return the log's lines as JSON.
async fn logged_lines(section: &str) -> Result<Vec<Value>> {
    let upstream = Upstream::start().await;
    let logs = tempfile::tempdir()?;
    let path = logs.path().join("query.log");
    let parapet = Parapet::builder(upstream.addr())
        .section(
            "query_log",
            &format!(
                "enabled = true\npath = {:?}\n{section}",
                path.display().to_string()
            ),
        )
        .start()
        .await?;
    parapet.query("www.example.", RecordType::A).await?;
    // The repeat is a cache hit.
    parapet.query("www.example.", RecordType::A).await?;
    parapet
        .query("login-bank.example.", RecordType::AAAA)
        .await?;
    parapet.stop().await?;
    let text = std::fs::read_to_string(&path).context("read query log")?;
    text.lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {l}")))
        .collect()
}

#[tokio::test]
async fn query_log_blocks_mode_writes_only_the_blocked_query() -> Result<()> {
    let lines = logged_lines("mode = \"blocks\"\nclient_addresses = \"truncated\"").await?;
    ensure!(lines.len() == 1, "{lines:?}");
    let line = &lines[0];
    ensure!(line["name"] == "login-bank.example", "{line}");
    ensure!(line["type"] == "AAAA", "{line}");
    ensure!(line["outcome"] == "blocked", "{line}");
    ensure!(line["trigger"] == "name", "{line}");
    ensure!(line["client"] == "127.0.0.0/24", "{line}");
    ensure!(line["protocol"] == "udp", "{line}");
    ensure!(line["rule"] == "login-bank.example", "{line}");
    ensure!(line["source"].is_string(), "{line}");
    ensure!(line["category"] == "phishing", "{line}");
    let time = line["time"].as_str().context("time")?;
    ensure!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
    Ok(())
}

#[tokio::test]
async fn query_log_all_mode_writes_every_query() -> Result<()> {
    let key = "0123456789abcdef-e2e";
    let lines = logged_lines(&format!(
        "mode = \"all\"\nclient_addresses = \"hashed\"\nhash_key = \"{key}\""
    ))
    .await?;
    ensure!(lines.len() == 3, "{lines:?}");
    let forwarded = &lines[0];
    ensure!(forwarded["name"] == "www.example", "{forwarded}");
    ensure!(forwarded["outcome"] == "forwarded", "{forwarded}");
    ensure!(
        forwarded["upstream_ms"]
            .as_f64()
            .is_some_and(|ms| ms >= 0.0),
        "{forwarded}"
    );
    ensure!(forwarded.get("rule").is_none(), "{forwarded}");
    // A cache hit has its own outcome and no upstream time.
    let cached = &lines[1];
    ensure!(cached["name"] == "www.example", "{cached}");
    ensure!(cached["outcome"] == "cached", "{cached}");
    ensure!(cached.get("upstream_ms").is_none(), "{cached}");
    ensure!(lines[2]["outcome"] == "blocked", "{}", lines[2]);
    // Hashed: the client is logged as the keyed hash of its address (not
    // the address, not an unkeyed digest), the same for every query.
    let hash = forwarded["client"].as_str().context("client hash")?;
    let keyed = |key: &[u8]| {
        ClientFormat::new(ClientAddresses::Hashed, Some(key))
            .ok()
            .and_then(|f| f.format([127, 0, 0, 1].into()))
    };
    ensure!(keyed(key.as_bytes()).as_deref() == Some(hash), "{hash}");
    ensure!(keyed(b"").as_deref() != Some(hash), "{hash}");
    ensure!(lines[2]["client"] == hash);
    Ok(())
}

#[tokio::test]
async fn query_log_is_off_by_default() -> Result<()> {
    let upstream = Upstream::start().await;
    let parapet = Parapet::start(upstream.addr()).await?;
    ensure!(!parapet.server().query_log().is_enabled());
    parapet.query("phishing.example.", RecordType::A).await?;
    for entry in std::fs::read_dir(parapet.dir())? {
        let name = entry?.file_name();
        ensure!(
            !name.to_string_lossy().contains("log"),
            "unexpected file {name:?}"
        );
    }
    parapet.stop().await
}

/// A hickory resolver asking parapet over DoT (`path` = None) or DoH,
/// trusting `root` for `dns.example.org`.
fn encrypted_client(
    addr: SocketAddr,
    path: Option<&str>,
    root: &[u8],
) -> Result<hickory_resolver::Resolver<hickory_resolver::net::runtime::TokioRuntimeProvider>> {
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(root.to_vec()))?;
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut conn = match path {
        None => ConnectionConfig::tls(Arc::from("dns.example.org")),
        Some(p) => ConnectionConfig::https(Arc::from("dns.example.org"), Some(Arc::from(p))),
    };
    conn.port = addr.port();
    let mut builder = hickory_resolver::Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![NameServerConfig::new(addr.ip(), true, vec![conn])]),
        Default::default(),
    )
    .with_tls_config(tls);
    builder.options_mut().cache_size = 0;
    builder.options_mut().attempts = 1;
    Ok(builder.build()?)
}

#[tokio::test]
async fn metrics_label_dot_and_doh_queries_by_protocol() -> Result<()> {
    let key = rcgen::KeyPair::generate()?;
    let cert = rcgen::CertificateParams::new(vec!["dns.example.org".into()])?.self_signed(&key)?;
    let upstream = Upstream::start().await;
    let parapet = Parapet::builder(upstream.addr())
        .file("cert.pem", cert.pem())
        .file("key.pem", key.serialize_pem())
        .section(
            "server",
            "listen = [\"127.0.0.1:0\"]\ntls_listen = [\"127.0.0.1:0\"]\n\
             https_listen = [\"127.0.0.1:0\"]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"",
        )
        .start()
        .await?;
    let dot = encrypted_client(parapet.server().tls_addrs()[0], None, cert.der())?;
    let doh = encrypted_client(
        parapet.server().https_addrs()[0],
        Some("/dns-query"),
        cert.der(),
    )?;
    let blocked =
        tokio::time::timeout(WAIT, dot.lookup("phishing.example.", RecordType::A)).await??;
    ensure!(client::addresses(blocked.message()) == ["192.0.2.53"]);
    let forwarded = tokio::time::timeout(WAIT, doh.lookup("www.example.", RecordType::A)).await??;
    ensure!(client::addresses(forwarded.message()) == ["192.0.2.10"]);

    let e = scrape_after(metrics_addr(&parapet)?, 2.0).await?;
    let q = |protocol: &str, outcome: &str| {
        e.get(
            "parapet_queries_total",
            &[("protocol", protocol), ("outcome", outcome)],
        )
    };
    ensure!(
        q("tls", "blocked") == Some(1.0),
        "tls blocked {:?}",
        q("tls", "blocked")
    );
    ensure!(
        q("https", "forwarded") == Some(1.0),
        "https forwarded {:?}",
        q("https", "forwarded")
    );
    parapet.stop().await
}

/// Packets that do not decode (a compression loop, a 64-byte label) are
/// answered FORMERR and counted, over UDP and TCP: a flood of them shows in
/// `parapet_queries_total{outcome="formerr"}`.
#[tokio::test]
async fn undecodable_queries_are_counted_as_formerr() -> Result<()> {
    let upstream = Upstream::start().await;
    let parapet = Parapet::start(upstream.addr()).await?;
    let addr = metrics_addr(&parapet)?;
    let header = |id: u8| vec![0, id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    // The name is a pointer to itself (offset 12).
    let mut pointer_loop = header(1);
    pointer_loop.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    let mut long_label = header(2);
    long_label.push(64);
    long_label.extend_from_slice(&[b'a'; 64]);
    long_label.extend_from_slice(&[0, 0, 1, 0, 1]);
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let mut buf = [0u8; 512];
    for packet in [&pointer_loop, &long_label] {
        udp.send_to(packet, parapet.addr()).await?;
        let (len, _) = tokio::time::timeout(WAIT, udp.recv_from(&mut buf))
            .await
            .context("no FORMERR over UDP")??;
        ensure!(
            len >= 4 && buf[3] & 0x0f == 1,
            "not FORMERR: {:?}",
            &buf[..len]
        );
    }
    let mut tcp = TcpStream::connect(parapet.addr()).await?;
    tcp.write_all(&(pointer_loop.len() as u16).to_be_bytes())
        .await?;
    tcp.write_all(&pointer_loop).await?;
    let mut len = [0u8; 2];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut len))
        .await
        .context("no FORMERR over TCP")??;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, e) = scrape(addr).await?;
        let udp = e.get(
            "parapet_queries_total",
            &[("protocol", "udp"), ("outcome", "formerr")],
        );
        let tcp = e.get(
            "parapet_queries_total",
            &[("protocol", "tcp"), ("outcome", "formerr")],
        );
        if udp == Some(2.0) && tcp == Some(1.0) {
            return Ok(());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "formerr counted: udp {udp:?}, tcp {tcp:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
