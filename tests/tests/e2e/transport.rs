//! DNS over TLS and HTTPS end to end: parapet's DoT and DoH listeners in
//! front of the real query path and the test upstream, certificates made
//! here with rcgen, clients: hickory, raw rustls, kdig, curl.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use base64::Engine as _;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use parapet_e2e::client::{addresses, rcode};
use parapet_e2e::parapet::{SINKHOLE_V4, WAIT};
use parapet_e2e::tools::require_tool;
use parapet_e2e::{Parapet, ParapetBuilder, Upstream, eventually};
use parapet_resolver::profile::{self, APPLE_DNS_PAYLOAD, Target};
use parapet_resolver::transport::tokens::hash_token;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub(crate) const HOST: &str = "dns.example.org";
pub(crate) const TOKEN: &str = "alice-7f3a";
pub(crate) const ALLOWED: &str = "192.0.2.10"; // www.example in the test zone

/// A certificate for `HOST` and `*.HOST`, and its key.
pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    cert_pem: String,
    key_pem: String,
}

impl Cert {
    pub(crate) fn new() -> Cert {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec![HOST.into(), format!("*.{HOST}")])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        Cert {
            der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// parapet with DoT and DoH on ephemeral ports, `cert`, and a tokens file
/// holding `TOKEN`'s hash.
pub(crate) fn encrypted(upstream: SocketAddr, cert: &Cert) -> ParapetBuilder {
    Parapet::builder(upstream)
        .file("cert.pem", &cert.cert_pem)
        .file("key.pem", &cert.key_pem)
        .file("tokens", format!("{} alice phone\n", hash_token(TOKEN)))
        .section(
            "server",
            "listen = [\"127.0.0.1:0\"]\ntls_listen = [\"127.0.0.1:0\"]\n\
             https_listen = [\"127.0.0.1:0\"]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"",
        )
        .section(
            "access",
            "allow = [\"127.0.0.0/8\"]\nrate_limit_qps = 0\ntokens_file = \"tokens\"",
        )
}

/// Like [`encrypted`], but loopback is *not* an allowed network: only
/// token-carrying queries are served.
pub(crate) fn tokens_only(upstream: SocketAddr, cert: &Cert) -> ParapetBuilder {
    encrypted(upstream, cert).section(
        "access",
        "allow = [\"10.0.0.0/8\"]\nrate_limit_qps = 0\ntokens_file = \"tokens\"",
    )
}

pub(crate) fn dot_addr(p: &Parapet) -> SocketAddr {
    p.server().tls_addrs()[0]
}

pub(crate) fn doh_addr(p: &Parapet) -> SocketAddr {
    p.server().https_addrs()[0]
}

pub(crate) fn tls_client(roots: &[&[u8]], alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut store = rustls::RootCertStore::empty();
    for der in roots {
        store.add(CertificateDer::from(der.to_vec())).expect("root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(store)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

pub(crate) async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    roots: &[&[u8]],
    alpn: &[&[u8]],
) -> Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_owned())?;
    let connector = TlsConnector::from(Arc::new(tls_client(roots, alpn)));
    Ok(tokio::time::timeout(WAIT, connector.connect(name, tcp))
        .await
        .map_err(|_| anyhow!("TLS handshake with {addr} timed out"))??)
}

pub(crate) fn query_bytes(name: &str, rtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(0, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
    m.to_vec().expect("encode")
}

/// One A query for `name` over an open framed DNS stream (DoT, or plain TCP).
pub(crate) async fn dot_ask<S>(s: &mut S, name: &str) -> Result<Message>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    s.write_all(&framed(&query_bytes(name, RecordType::A))?)
        .await?;
    read_framed(s).await
}

/// `message` with the two-byte length that frames it on a stream.
pub(crate) fn framed(message: &[u8]) -> Result<Vec<u8>> {
    let mut frame = u16::try_from(message.len())?.to_be_bytes().to_vec();
    frame.extend_from_slice(message);
    Ok(frame)
}

/// The next framed message on a stream (DoT, or plain TCP), waited for
/// until [`WAIT`].
pub(crate) async fn read_framed<S>(s: &mut S) -> Result<Message>
where
    S: tokio::io::AsyncRead + Unpin,
{
    let answer = tokio::time::timeout(WAIT, async {
        let len = s.read_u16().await?;
        let mut buf = vec![0; usize::from(len)];
        s.read_exact(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    })
    .await
    .map_err(|_| anyhow!("no answer within {WAIT:?}"))??;
    Ok(Message::from_vec(&answer)?)
}

#[tokio::test]
async fn token_devices_behind_one_address_are_never_rate_limited() -> Result<()> {
    let up = Upstream::start().await;
    let cert = Cert::new();
    let bob = "bob-0c1d";
    let tokens = format!(
        "{} alice phone\n{} bob phone\n",
        hash_token(TOKEN),
        hash_token(bob)
    );
    let p = encrypted(up.addr(), &cert)
        .file("tokens", tokens)
        .section(
            "access",
            "allow = [\"10.0.0.0/8\"]\nrate_limit_qps = 1\nrate_limit_burst = 3\ntokens_file = \"tokens\"",
        )
        .start()
        .await?;
    let roots = [&cert.der[..]];
    // Both phones connect from 127.0.0.1, as phones behind one carrier NAT.
    let mut alice =
        tls_connect(dot_addr(&p), &format!("{TOKEN}.{HOST}"), &roots, &[b"dot"]).await?;
    // A burst of 3 at 1 a second limits UDP only: a stream's address is
    // not spoofed, so ten queries in a row are all answered.
    for i in 0..10 {
        let answer = dot_ask(&mut alice, "www.example.").await?;
        assert_eq!(addresses(&answer), [ALLOWED], "query {i}");
    }
    let mut bob = tls_connect(dot_addr(&p), &format!("{bob}.{HOST}"), &roots, &[b"dot"]).await?;
    let answer = dot_ask(&mut bob, "www.example.").await?;
    assert_eq!(
        addresses(&answer),
        [ALLOWED],
        "bob behind the same address too"
    );
    Ok(())
}

/// One HTTP/1.1 request over TLS: (status, headers lower-cased, body).
pub(crate) async fn http1(
    addr: SocketAddr,
    roots: &[&[u8]],
    head: &str,
    body: &[u8],
) -> Result<(u16, Vec<(String, String)>, Vec<u8>)> {
    let mut s = tls_connect(addr, HOST, roots, &[b"http/1.1"]).await?;
    let mut req = format!("{head}\r\nHost: {HOST}\r\nConnection: close\r\n");
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await?;
    s.write_all(body).await?;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut raw))
        .await
        .map_err(|_| anyhow!("no HTTP answer within {WAIT:?}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("incomplete HTTP head")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .context("status line")?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok((status, headers, raw[split + 4..].to_vec()))
}

pub(crate) fn get(path: &str, name: &str) -> String {
    let q =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(query_bytes(name, RecordType::A));
    format!("GET {path}?dns={q} HTTP/1.1")
}

/// Ask `name` (type A) with a DoH GET on `/dns-query` over HTTP/1.1 without
/// a token; the HTTP status must be 200. The decoded DNS answer.
async fn doh_ask(p: &Parapet, roots: &[&[u8]], name: &str) -> Result<Message> {
    let (code, _, body) = http1(doh_addr(p), roots, &get("/dns-query", name), b"").await?;
    assert_eq!(code, 200, "DoH GET for {name}");
    Ok(Message::from_vec(&body)?)
}

/// A hickory resolver asking `addr` over DoT (`path` None) or DoH (`path`).
fn hickory(
    addr: SocketAddr,
    path: Option<&str>,
    root: &[u8],
) -> hickory_resolver::Resolver<hickory_resolver::net::runtime::TokioRuntimeProvider> {
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    let mut conn = match path {
        None => ConnectionConfig::tls(Arc::from(HOST)),
        Some(p) => ConnectionConfig::https(Arc::from(HOST), Some(Arc::from(p))),
    };
    conn.port = addr.port();
    let servers = vec![NameServerConfig::new(addr.ip(), true, vec![conn])];
    let mut builder = hickory_resolver::Resolver::builder_with_config(
        ResolverConfig::from_name_servers(servers),
        Default::default(),
    )
    .with_tls_config(tls_client(&[root], &[]));
    builder.options_mut().cache_size = 0;
    builder.options_mut().attempts = 1;
    builder.build().expect("resolver")
}

async fn hickory_addresses(
    r: &hickory_resolver::Resolver<hickory_resolver::net::runtime::TokioRuntimeProvider>,
    name: &str,
) -> Result<Vec<String>> {
    let lookup = tokio::time::timeout(WAIT, r.lookup(name, RecordType::A))
        .await
        .map_err(|_| anyhow!("{name}: no answer within {WAIT:?}"))??;
    Ok(addresses(lookup.message()))
}

async fn run(cmd: &str, args: &[String]) -> Result<String> {
    let out = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(cmd)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| anyhow!("{cmd} did not finish within {WAIT:?}"))??;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[tokio::test]
async fn hickory_over_dot_and_doh_gets_sinkhole_and_upstream_answers_and_refusals_without_a_token()
-> Result<()> {
    let up = Upstream::start().await;
    let cert = Cert::new();
    let p = encrypted(up.addr(), &cert).start().await?;
    // hickory's DoT sends no SNI: served as a loopback address.
    for (addr, path) in [
        (dot_addr(&p), None),
        (doh_addr(&p), Some("/dns-query")),
        (doh_addr(&p), Some("/dns-query/alice-7f3a")),
    ] {
        let r = hickory(addr, path, &cert.der);
        assert_eq!(
            hickory_addresses(&r, "phishing.example.").await?,
            [SINKHOLE_V4],
            "{path:?}"
        );
        assert_eq!(
            hickory_addresses(&r, "www.example.").await?,
            [ALLOWED],
            "{path:?}"
        );
    }
    // Where only tokens are let in: hickory's DoT (no SNI, so no token) and
    // DoH without a token in the path are refused; DoH with one is served.
    let p = tokens_only(up.addr(), &cert).start().await?;
    for (addr, path, served) in [
        (dot_addr(&p), None, false),
        (doh_addr(&p), Some("/dns-query"), false),
        (doh_addr(&p), Some("/dns-query/alice-7f3a"), true),
    ] {
        let r = hickory(addr, path, &cert.der);
        match hickory_addresses(&r, "www.example.").await {
            Ok(got) => assert!(served && got == [ALLOWED], "{path:?}: {got:?}"),
            Err(e) => assert!(
                !served && e.to_string().contains("Refused"),
                "{path:?}: {e}"
            ),
        }
    }
    Ok(())
}

#[tokio::test]
async fn kdig_over_tls_and_https_and_curl_post() -> Result<()> {
    let up = Upstream::start().await;
    let cert = Cert::new();
    let p = tokens_only(up.addr(), &cert).start().await?;
    let ca = p.path("cert.pem").display().to_string();
    if require_tool("kdig", "kdig_over_tls_and_https_and_curl_post") {
        let dot = dot_addr(&p);
        let doh = doh_addr(&p);
        let cases = [
            (dot, format!("+tls-hostname={TOKEN}.{HOST}"), None),
            (doh, format!("+https=/dns-query/{TOKEN}"), Some(HOST)),
            (
                doh,
                format!("+https=/dns-query/{TOKEN} +https-get"),
                Some(HOST),
            ),
        ];
        for (addr, how, hostname) in cases {
            for (name, want) in [("phishing.example", SINKHOLE_V4), ("www.example", ALLOWED)] {
                let mut args = vec![
                    format!("@{}", addr.ip()),
                    "-p".into(),
                    addr.port().to_string(),
                    format!("+tls-ca={ca}"),
                    "+short".into(),
                    name.into(),
                    "A".into(),
                ];
                args.extend(how.split(' ').map(str::to_owned));
                if let Some(h) = hostname {
                    args.push(format!("+tls-hostname={h}"));
                }
                let out = run("kdig", &args).await?;
                assert_eq!(out.trim(), want, "kdig {args:?}");
            }
        }
        // Without a token, from a network that is not allowed: REFUSED.
        let out = run(
            "kdig",
            &[
                format!("@{}", dot.ip()),
                "-p".into(),
                dot.port().to_string(),
                format!("+tls-ca={ca}"),
                format!("+tls-hostname={HOST}"),
                "www.example".into(),
            ],
        )
        .await?;
        assert!(out.contains("status: REFUSED"), "{out}");
    }
    if require_tool("curl", "kdig_over_tls_and_https_and_curl_post") {
        let port = doh_addr(&p).port();
        for (name, want) in [
            ("phishing.example.", SINKHOLE_V4),
            ("www.example.", ALLOWED),
        ] {
            let q = p.path("q.bin");
            let a = p.path("a.bin");
            std::fs::write(&q, query_bytes(name, RecordType::A))?;
            let out = curl_post(
                &ca,
                port,
                &format!("/dns-query/{TOKEN}"),
                "application/dns-message",
                &q,
                &a,
                "%{http_code} %{http_version} %{content_type}",
            )
            .await?;
            assert_eq!(out.trim(), "200 2 application/dns-message", "{out}");
            let msg = Message::from_vec(&std::fs::read(&a)?)?;
            assert_eq!(addresses(&msg), [want], "{name}");
        }
        // Refused POSTs get their status over HTTP/2, not a reset stream
        // (curl's "Stream error in the HTTP/2 framing layer"): the body is
        // read before the answer. Ten times each: the reset was a race.
        let q = p.path("q.bin");
        let big = p.path("big.bin");
        std::fs::write(&big, vec![0u8; 70_000])?;
        let dns = "application/dns-message";
        let token = format!("/dns-query/{TOKEN}");
        for (path, content_type, body, want) in [
            ("/dns-query/mallory", dns, &q, "403 2"),
            ("/nope", dns, &q, "404 2"),
            (token.as_str(), "text/plain", &q, "415 2"),
            (token.as_str(), dns, &big, "413 2"),
        ] {
            for _ in 0..10 {
                let out = curl_post(
                    &ca,
                    port,
                    path,
                    content_type,
                    body,
                    Path::new("/dev/null"),
                    "%{http_code} %{http_version}",
                )
                .await?;
                assert_eq!(out.trim(), want, "POST {path} as {content_type}: {out}");
            }
        }
    }
    Ok(())
}

/// `curl --http2` POSTing the file `body` as `content_type` to
/// `https://HOST:port/path` on loopback, trusting `ca`, the answer's body
/// to `out`; returns what `-w write_out` prints.
async fn curl_post(
    ca: &str,
    port: u16,
    path: &str,
    content_type: &str,
    body: &Path,
    out: &Path,
    write_out: &str,
) -> Result<String> {
    run(
        "curl",
        &[
            "-sS".into(),
            "--http2".into(),
            "--cacert".into(),
            ca.into(),
            "--resolve".into(),
            format!("{HOST}:{port}:127.0.0.1"),
            "-H".into(),
            format!("content-type: {content_type}"),
            "--data-binary".into(),
            format!("@{}", body.display()),
            "-o".into(),
            out.display().to_string(),
            "-w".into(),
            write_out.into(),
            format!("https://{HOST}:{port}{path}"),
        ],
    )
    .await
}

#[tokio::test]
async fn tokens_valid_missing_unknown_and_revoked_live() -> Result<()> {
    let up = Upstream::start().await;
    let cert = Cert::new();
    let p = tokens_only(up.addr(), &cert).start().await?;
    let roots = [&cert.der[..]];
    let doh = doh_addr(&p);

    // Plain DNS from loopback is outside `allow`: refused.
    assert_eq!(
        rcode(&p.query("www.example.", RecordType::A).await?),
        ResponseCode::Refused
    );

    // DoH: valid token answered; missing → REFUSED by the access stage; unknown → 403.
    let (code, _, body) = http1(
        doh,
        &roots,
        &get(&format!("/dns-query/{TOKEN}"), "phishing.example."),
        b"",
    )
    .await?;
    assert_eq!(code, 200);
    assert_eq!(addresses(&Message::from_vec(&body)?), [SINKHOLE_V4]);
    let (code, _, body) = http1(doh, &roots, &get("/dns-query", "www.example."), b"").await?;
    assert_eq!(code, 200);
    assert_eq!(rcode(&Message::from_vec(&body)?), ResponseCode::Refused);
    let (code, _, _) = http1(doh, &roots, &get("/dns-query/mallory", "www.example."), b"").await?;
    assert_eq!(code, 403);

    // DoT: token in the server name answered, unknown or missing refused.
    let mut alice =
        tls_connect(dot_addr(&p), &format!("{TOKEN}.{HOST}"), &roots, &[b"dot"]).await?;
    assert_eq!(
        addresses(&dot_ask(&mut alice, "www.example.").await?),
        [ALLOWED]
    );
    for sni in [format!("mallory.{HOST}"), HOST.to_string()] {
        let mut s = tls_connect(dot_addr(&p), &sni, &roots, &[b"dot"]).await?;
        assert_eq!(
            rcode(&dot_ask(&mut s, "www.example.").await?),
            ResponseCode::Refused,
            "{sni}"
        );
    }

    // Revoke by rewriting the watched file: no restart, open connections too.
    p.replace_file("tokens", format!("{} bob\n", hash_token("bob-2")))?;
    eventually(
        WAIT,
        || async {
            http1(
                doh,
                &roots,
                &get(&format!("/dns-query/{TOKEN}"), "www.example."),
                b"",
            )
            .await
            .map(|r| r.0)
            .ok()
        },
        |code| *code == Some(403),
    )
    .await?;
    assert_eq!(
        rcode(&dot_ask(&mut alice, "www.example.").await?),
        ResponseCode::Refused
    );
    let (code, _, body) = http1(doh, &roots, &get("/dns-query/bob-2", "www.example."), b"").await?;
    assert_eq!(
        (code, addresses(&Message::from_vec(&body)?)),
        (200, vec![ALLOWED.to_string()])
    );
    Ok(())
}

/// Swap in a renewed pair the way certbot does (write elsewhere, rename).
fn renew(dir: &Path, cert: &Cert) -> Result<()> {
    std::fs::write(dir.join(".key.new"), &cert.key_pem)?;
    std::fs::write(dir.join(".cert.new"), &cert.cert_pem)?;
    std::fs::rename(dir.join(".key.new"), dir.join("key.pem"))?;
    std::fs::rename(dir.join(".cert.new"), dir.join("cert.pem"))?;
    Ok(())
}

#[tokio::test]
async fn renewed_certificate_reaches_new_handshakes_while_open_connections_continue() -> Result<()>
{
    let up = Upstream::start().await;
    let old = Cert::new();
    let p = encrypted(up.addr(), &old).start().await?;
    let mut before = tls_connect(dot_addr(&p), HOST, &[&old.der], &[b"dot"]).await?;
    assert_eq!(
        addresses(&dot_ask(&mut before, "www.example.").await?),
        [ALLOWED]
    );

    let new = Cert::new();
    renew(p.dir(), &new)?;
    for addr in [dot_addr(&p), doh_addr(&p)] {
        let presented = eventually(
            WAIT,
            || async {
                let s = tls_connect(addr, HOST, &[&old.der, &new.der], &[b"dot", b"h2"])
                    .await
                    .ok()?;
                Some(s.get_ref().1.peer_certificates()?.first()?.to_vec())
            },
            |der| der.as_deref() == Some(&new.der[..]),
        )
        .await?;
        assert_eq!(presented.as_deref(), Some(&new.der[..]));
    }
    let mut after = tls_connect(dot_addr(&p), HOST, &[&new.der], &[b"dot"]).await?;
    assert_eq!(
        addresses(&dot_ask(&mut after, "phishing.example.").await?),
        [SINKHOLE_V4]
    );
    // The connection made with the old certificate keeps working.
    assert_eq!(
        addresses(&dot_ask(&mut before, "phishing.example.").await?),
        [SINKHOLE_V4]
    );
    Ok(())
}

#[tokio::test]
async fn malformed_doh_and_stalled_handshakes_do_not_block_other_clients() -> Result<()> {
    let up = Upstream::start().await;
    let cert = Cert::new();
    let p = encrypted(up.addr(), &cert).start().await?;
    let roots = [&cert.der[..]];
    let (dot, doh) = (dot_addr(&p), doh_addr(&p));

    // Clients that connect and never say anything (no TLS handshake).
    let mut stalled = Vec::new();
    for addr in [dot, doh] {
        for _ in 0..32 {
            stalled.push(TcpStream::connect(addr).await?);
        }
    }
    // A slowloris: TLS done, half an HTTP request head, then silence.
    let mut slow = tls_connect(doh, HOST, &roots, &[b"http/1.1"]).await?;
    slow.write_all(b"POST /dns-query HTTP/1.1\r\nHost: x\r\n")
        .await?;

    // Hostile DoH requests get the right errors...
    let q = query_bytes("www.example.", RecordType::A);
    let dns = "Content-Type: application/dns-message";
    let cases: Vec<(String, Vec<u8>, u16)> = vec![
        ("GET /dns-query HTTP/1.1".into(), vec![], 400),
        ("GET /dns-query?dns=*** HTTP/1.1".into(), vec![], 400),
        (
            format!("POST /dns-query HTTP/1.1\r\n{dns}"),
            b"\x01\x02garbage".to_vec(),
            400,
        ),
        (
            format!("POST /dns-query HTTP/1.1\r\n{dns}"),
            vec![0; 70_000],
            413,
        ),
        (
            "POST /dns-query HTTP/1.1\r\nContent-Type: application/json".into(),
            q.clone(),
            415,
        ),
        ("DELETE /dns-query HTTP/1.1".into(), vec![], 405),
        ("GET /admin HTTP/1.1".into(), vec![], 404),
    ];
    for (head, body, want) in cases {
        let (code, _, _) = http1(doh, &roots, &head, &body).await?;
        assert_eq!(code, want, "{head}");
    }
    // ...and everyone else is served meanwhile, within bounded time.
    let (code, headers, body) = http1(
        doh,
        &roots,
        &format!("POST /dns-query HTTP/1.1\r\n{dns}"),
        &q,
    )
    .await?;
    assert_eq!(code, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "cache-control" && v.starts_with("max-age="))
    );
    assert_eq!(addresses(&Message::from_vec(&body)?), [ALLOWED]);
    let mut s = tls_connect(dot, HOST, &roots, &[b"dot"]).await?;
    assert_eq!(
        addresses(&dot_ask(&mut s, "phishing.example.").await?),
        [SINKHOLE_V4]
    );
    assert_eq!(
        addresses(&p.query("www.example.", RecordType::A).await?),
        [ALLOWED]
    );

    // The server drops the stalled connections itself (handshake/request
    // timeouts), so they cannot pile up.
    for mut tcp in stalled {
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(WAIT + WAIT, async {
            while !matches!(tcp.read(&mut buf).await, Ok(0) | Err(_)) {}
        })
        .await;
        assert!(closed.is_ok(), "a never-completing handshake was kept open");
    }
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(WAIT + WAIT, slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "a slowloris request head was kept open");
    Ok(())
}

#[tokio::test]
async fn upstream_over_tls_and_https_to_a_parapet_in_front_of_the_zone() -> Result<()> {
    let zone = Upstream::start().await;
    let cert = Cert::new();
    // The "upstream": parapet with DoT/DoH in front of the zone, blocking nothing.
    let inner = encrypted(zone.addr(), &cert)
        .section(
            "upstream",
            &format!(
                "servers = [\"{}\"]\ntimeout_ms = 1000\ncache_size = 0",
                zone.addr()
            ),
        )
        .file("phishing.txt", "")
        .file("malware.txt", "")
        .file("ips.txt", "")
        .start()
        .await?;
    let (dot, doh) = (dot_addr(&inner), doh_addr(&inner));
    for server in [
        format!("tls://{dot}#{HOST}"),
        format!("https://{doh}/dns-query#{HOST}"),
    ] {
        let outer = Parapet::builder(zone.addr())
            .file("upstream-ca.pem", &cert.cert_pem)
            .section(
                "upstream",
                &format!(
                    "servers = [\"{server}\"]\ntimeout_ms = 3000\nca_file = \"upstream-ca.pem\""
                ),
            )
            .start()
            .await?;
        let before = zone.queries();
        assert_eq!(
            addresses(&outer.query("www.example.", RecordType::A).await?),
            [ALLOWED],
            "{server}"
        );
        assert_eq!(
            addresses(&outer.query("phishing.example.", RecordType::A).await?),
            [SINKHOLE_V4],
            "{server}"
        );
        assert!(
            zone.queries() > before,
            "{server}: the answer came through the encrypted upstream"
        );
    }
    Ok(())
}

#[tokio::test]
async fn apple_profile_and_android_words_name_the_server() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("staff.mobileconfig");
    for dot in [false, true] {
        let code = parapet_resolver::ProfileCommand::Apple {
            host: HOST.into(),
            token: Some(TOKEN.into()),
            dot,
            output: Some(out.clone()),
        }
        .run();
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        let top = plist::Value::from_file(&out)?
            .into_dictionary()
            .context("top-level dict")?;
        assert_eq!(
            top.get("PayloadType").and_then(|v| v.as_string()),
            Some("Configuration")
        );
        let payload = top
            .get("PayloadContent")
            .and_then(|v| v.as_array())
            .and_then(|a| a.first())
            .and_then(|v| v.as_dictionary())
            .context("PayloadContent[0]")?;
        assert_eq!(
            payload.get("PayloadType").and_then(|v| v.as_string()),
            Some(APPLE_DNS_PAYLOAD)
        );
        let settings = payload
            .get("DNSSettings")
            .and_then(|v| v.as_dictionary())
            .context("DNSSettings")?;
        let get = |k: &str| settings.get(k).and_then(|v| v.as_string());
        if dot {
            assert_eq!(get("DNSProtocol"), Some("TLS"));
            assert_eq!(get("ServerName"), Some("alice-7f3a.dns.example.org"));
        } else {
            assert_eq!(get("DNSProtocol"), Some("HTTPS"));
            assert_eq!(
                get("ServerURL"),
                Some("https://dns.example.org/dns-query/alice-7f3a")
            );
        }
    }
    let words = profile::android_instructions(&Target::new(HOST, Some(TOKEN))?);
    assert!(
        words.contains("Private DNS hostname: alice-7f3a.dns.example.org"),
        "{words}"
    );
    Ok(())
}

/// The value of the sample line `name{labels}` in Prometheus text; panics
/// when the series is missing (a missing series is not a zero).
pub(crate) fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

#[tokio::test]
async fn encrypted_queries_show_in_metrics_by_transport() -> Result<()> {
    let up = Upstream::start().await;
    let cert = Cert::new();
    let p = encrypted(up.addr(), &cert).start().await?;
    let roots = [&cert.der[..]];
    let mut s = tls_connect(dot_addr(&p), HOST, &roots, &[b"dot"]).await?;
    assert_eq!(
        addresses(&dot_ask(&mut s, "phishing.example.").await?),
        [SINKHOLE_V4]
    );
    doh_ask(&p, &roots, "www.example.").await?;
    let text = p.server().metrics().encode();
    for series in [
        "parapet_queries_total{protocol=\"tls\",outcome=\"blocked\"}",
        "parapet_queries_total{protocol=\"https\",outcome=\"forwarded\"}",
    ] {
        assert_eq!(sample(&text, series), 1.0, "{series}\n{text}");
    }
    Ok(())
}

#[tokio::test]
async fn a_udp_answer_is_served_over_dot_and_doh_from_the_shared_cache() -> Result<()> {
    let up = Upstream::start().await;
    let cert = Cert::new();
    let p = encrypted(up.addr(), &cert).start().await?;
    let roots = [&cert.der[..]];
    // The DoT and DoH queries below carry no EDNS: ask UDP the same way.
    let no_edns = parapet_e2e::client::QueryOptions::without_edns();
    let udp = p
        .query_with("www.example.", RecordType::A, &no_edns)
        .await?;
    assert_eq!(addresses(&udp), [ALLOWED]);
    let sent = up.queries();
    let same = |m: &Message| {
        let records = |m: &Message| {
            m.answers
                .iter()
                .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
                .collect::<Vec<_>>()
        };
        assert_eq!(rcode(m), rcode(&udp));
        assert_eq!(records(m), records(&udp));
        assert!(m.answers[0].ttl <= udp.answers[0].ttl);
        assert!(!m.metadata.truncation);
        assert!(m.edns.is_none());
        assert_eq!(m.metadata.id, 0, "ID as asked");
    };
    let mut dot = tls_connect(dot_addr(&p), HOST, &roots, &[b"dot"]).await?;
    same(&dot_ask(&mut dot, "www.example.").await?);
    let doh = doh_ask(&p, &roots, "WWW.Example.").await?;
    same(&doh);
    assert_eq!(
        doh.queries[0].name().to_ascii(),
        "WWW.Example.",
        "case as sent"
    );
    assert_eq!(
        up.queries(),
        sent,
        "DoT and DoH repeats of a UDP answer stay local"
    );
    // And the other way: first over DoT, then UDP and DoH from the cache.
    let first = dot_ask(&mut dot, "mail.example.").await?;
    assert_eq!(addresses(&first), ["192.0.2.25"]);
    let sent = up.queries();
    let udp = p
        .query_with("mail.example.", RecordType::A, &no_edns)
        .await?;
    assert_eq!(addresses(&udp), ["192.0.2.25"]);
    let doh_answer = doh_ask(&p, &roots, "mail.example.").await?;
    assert_eq!(addresses(&doh_answer), ["192.0.2.25"]);
    assert_eq!(up.queries(), sent, "repeats of a DoT answer stay local");
    Ok(())
}

#[tokio::test]
async fn cached_answers_are_not_served_to_clients_the_access_stage_refuses() -> Result<()> {
    let up = Upstream::start().await;
    let cert = Cert::new();
    let p = tokens_only(up.addr(), &cert).start().await?;
    let roots = [&cert.der[..]];
    let mut alice =
        tls_connect(dot_addr(&p), &format!("{TOKEN}.{HOST}"), &roots, &[b"dot"]).await?;
    for _ in 0..2 {
        assert_eq!(
            addresses(&dot_ask(&mut alice, "www.example.").await?),
            [ALLOWED]
        );
    }
    // Cached now; without a token loopback is still refused, on every transport.
    let doh_answer = doh_ask(&p, &roots, "www.example.").await?;
    assert_eq!(rcode(&doh_answer), ResponseCode::Refused);
    let mut anonymous = tls_connect(dot_addr(&p), HOST, &roots, &[b"dot"]).await?;
    assert_eq!(
        rcode(&dot_ask(&mut anonymous, "www.example.").await?),
        ResponseCode::Refused
    );
    assert_eq!(
        rcode(&p.query_tcp("www.example.", RecordType::A).await?),
        ResponseCode::Refused
    );
    Ok(())
}
