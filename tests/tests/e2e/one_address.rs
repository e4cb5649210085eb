//! The one-address VPS layout (README, "Phones away from home"):
//! `config/vps.toml` with its DoT/DoH lines uncommented, so DoH listens on
//! port 443 of the public address that is also the sinkhole. A DoH client
//! (its name on the certificate, or no name) is served; a browser sent
//! there by a sinkhole answer (any other name) gets a TCP reset at once.
//! `0.0.0.0:P` and `[::]:P` listen together for DoT and DoH.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, anyhow, ensure};
use base64::Engine as _;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use parapet_e2e::client::{addresses, rcode};
use parapet_e2e::parapet::WAIT;
use parapet_e2e::tools::require_tool;
use parapet_e2e::{Parapet, Upstream, http, netns};
use parapet_resolver::ServerBuilder;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

use crate::shipped_configs::{CONFIG_ADDRS, config_dir, install_text};

/// The DoH name in `config/vps.toml`'s certificate paths.
const DOH_NAME: &str = "dns.party.example";
/// The VPS's public address in `config/vps.toml` (sinkhole, warning page).
const PUBLIC: &str = "203.0.113.10";

/// A self-signed certificate for `names`: (DER, cert PEM, key PEM).
fn cert(names: &[&str]) -> (Vec<u8>, String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params")
            .self_signed(&key)
            .expect("cert");
    (cert.der().to_vec(), cert.pem(), key.serialize_pem())
}

/// A TLS handshake with `addr` naming `sni` (`None`: no server name, as
/// clients that connect by IP address).
async fn handshake(addr: SocketAddr, sni: Option<&str>, root: &[u8]) -> std::io::Result<()> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(root.to_vec()))
        .expect("root");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let name = match sni {
        Some(n) => ServerName::try_from(n.to_owned()).expect("name"),
        None => ServerName::IpAddress(addr.ip().into()),
    };
    let tcp = TcpStream::connect(addr).await?;
    let connect = TlsConnector::from(Arc::new(config)).connect(name, tcp);
    tokio::time::timeout(WAIT, connect)
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))?
        .map(drop)
}

#[tokio::test]
async fn doh_resets_tls_for_names_its_certificate_does_not_cover() -> Result<()> {
    let up = Upstream::start().await;
    let (der, cert_pem, key_pem) = cert(&[DOH_NAME, "*.dns.party.example", "127.0.0.1"]);
    let p = Parapet::builder(up.addr())
        .file("cert.pem", cert_pem)
        .file("key.pem", key_pem)
        .section(
            "server",
            "listen = [\"127.0.0.1:0\"]\nhttps_listen = [\"127.0.0.1:0\"]\n\
             tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"",
        )
        .start()
        .await?;
    let doh = p.server().https_addrs()[0];
    for sni in [Some(DOH_NAME), Some("alice-7f3a.dns.party.example"), None] {
        handshake(doh, sni, &der)
            .await
            .map_err(|e| anyhow!("{sni:?} must be served: {e}"))?;
    }
    for sni in [
        "phishing.example",
        "www.bank.example",
        "a.b.dns.party.example",
    ] {
        let error = handshake(doh, Some(sni), &der).await.expect_err(sni);
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::ConnectionReset,
            "{sni}: {error}"
        );
    }
    Ok(())
}

#[test]
fn one_public_address_serves_doh_and_resets_sinkholed_https() {
    let test = "one_address::inside_one_public_address";
    if require_tool("curl", test) && require_tool("kdig", test) {
        netns::run_inside(test, CONFIG_ADDRS, &[]);
    }
}

#[tokio::test]
#[ignore = "runs inside a network namespace, started by one_public_address_serves_doh_and_resets_sinkholed_https"]
async fn inside_one_public_address() -> Result<()> {
    if !netns::inside() {
        return Ok(());
    }
    let up = Upstream::start().await;
    let etc = tempfile::tempdir()?;
    let (_, cert_pem, key_pem) = cert(&[DOH_NAME, "*.dns.party.example"]);
    let vps = std::fs::read_to_string(config_dir().join("vps.toml"))?;
    let path = install_text(&uncomment_doh(&vps), etc.path(), up.addr())?;
    let ca = etc.path().join("cert.pem");
    std::fs::write(&ca, cert_pem)?;
    std::fs::write(etc.path().join("key.pem"), key_pem)?;
    let config = parapet_resolver::config::load(&path).map_err(|e| anyhow!("{e}"))?;
    ensure!(
        config.server.https_listen.len() == 2,
        "DoH lines not uncommented"
    );
    let shutdown = CancellationToken::new();
    let server = ServerBuilder::new(config)
        .start(shutdown.clone())
        .await
        .map_err(|e| anyhow!("does not start: {e}"))?;
    // DoH and DoT on the IPv4 and the IPv6 wildcard (loopback is served).
    for ip in ["127.0.0.1", "[::1]"] {
        let answer = curl_doh(&ca, ip, "phishing.example.").await?;
        ensure!(addresses(&answer) == [PUBLIC], "DoH {ip}: {answer:?}");
        let dot = kdig_dot(&ca, ip.trim_matches(['[', ']']), "phishing.example").await?;
        ensure!(dot.trim() == PUBLIC, "DoT {ip}: {dot}");
    }
    // Through the public address: answered (REFUSED: not an allowed network).
    let answer = curl_doh(&ca, PUBLIC, "phishing.example.").await?;
    ensure!(rcode(&answer) == ResponseCode::Refused, "{answer:?}");
    // A blocked https:// link: reset at once, not a certificate error.
    let (code, stderr) = curl(&[
        "--resolve",
        &format!("blocked.example:443:{PUBLIC}"),
        "https://blocked.example/",
    ])
    .await?;
    ensure!(
        matches!(code, Some(35 | 56)) && stderr.contains("reset"),
        "want a connection reset, got exit {code:?}: {stderr}"
    );
    // Its http:// link: the warning page.
    let page = format!("{PUBLIC}:80").parse()?;
    let (status, body) = http::get(page, "phishing.example", "/").await?;
    ensure!(
        status == 403 && body.contains("phishing.example"),
        "{status}"
    );
    shutdown.cancel();
    server.wait().await.map_err(|e| anyhow!("{e}"))
}

/// `config/vps.toml` with its commented DoT/DoH lines in force and the
/// certificate paths pointed at the test's files beside it.
fn uncomment_doh(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.strip_prefix("# ") {
            Some(rest)
                if rest.starts_with("tls_listen =") || rest.starts_with("https_listen =") =>
            {
                rest
            }
            Some(rest) if rest.starts_with("tls_cert =") => "tls_cert = \"cert.pem\"",
            Some(rest) if rest.starts_with("tls_key =") => "tls_key = \"key.pem\"",
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Run curl with a deadline: (exit code, stderr).
async fn curl(args: &[&str]) -> Result<(Option<i32>, String)> {
    let out = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new("curl")
            .args(["-sS", "--max-time", "5", "-o", "/dev/null"])
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| anyhow!("curl did not finish within {WAIT:?}"))??;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// A DoH GET for `name` (A) to `DOH_NAME` at `ip`, with curl.
async fn curl_doh(ca: &Path, ip: &str, name: &str) -> Result<Message> {
    let mut query = Message::new(7, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(Name::from_ascii(name)?, RecordType::A));
    let dns = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(query.to_vec()?);
    let out = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "5", "--cacert"])
            .arg(ca)
            .args(["--resolve", &format!("{DOH_NAME}:443:{ip}")])
            .arg(format!("https://{DOH_NAME}/dns-query?dns={dns}"))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| anyhow!("curl did not finish within {WAIT:?}"))??;
    ensure!(
        out.status.success(),
        "DoH via {ip}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(Message::from_vec(&out.stdout)?)
}

/// A DoT query for `name` (A) to `ip` port 853 with kdig; its `+short` output.
async fn kdig_dot(ca: &Path, ip: &str, name: &str) -> Result<String> {
    let out = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new("kdig")
            .arg(format!("@{ip}"))
            .args(["-p", "853", "+tls", "+time=3", "+retry=0", "+short"])
            .arg(format!("+tls-ca={}", ca.display()))
            .arg(format!("+tls-hostname={DOH_NAME}"))
            .arg(name)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| anyhow!("kdig did not finish within {WAIT:?}"))??;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
