//! Listener tests: real DoT and DoH over loopback TLS with certificates
//! made here, in front of a small stand-in handler. (The full query path
//! through parapet's handler is tested end to end in `tests/`.)

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use hickory_server::{
    net::runtime::Time,
    proto::{
        op::{Message, Metadata, OpCode, Query, ResponseCode},
        rr::{Name, RData, Record, RecordType, rdata::A},
    },
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
    zone_handler::MessageResponseBuilder,
};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{TlsConnector, client::TlsStream};
use tokio_util::sync::CancellationToken;

use super::{
    ClientAuth, Limits, Tokens, certs, current_auth, doh, dot,
    testutil::{TestCert, write_pair},
    tokens::hash_token,
};

const HOST: &str = "dns.example.org";
const DEADLINE: Duration = Duration::from_secs(10);

/// Answers every A query with 192.0.2.1 (TTL 300); when `open` is false it
/// plays an address allow-list that admits nobody, so only token-
/// authenticated requests get an answer and the rest get REFUSED.
#[derive(Clone)]
struct Stub {
    open: bool,
}

#[async_trait::async_trait]
impl RequestHandler for Stub {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let mut meta = Metadata::response_from_request(&request.metadata);
        let admitted = self.open || matches!(current_auth(), ClientAuth::Token(_));
        let name = request
            .queries
            .queries()
            .first()
            .map(|q| Name::from(q.name()));
        let (Some(name), true) = (name, admitted) else {
            meta.response_code = ResponseCode::Refused;
            return response
                .send_response(builder.build_no_records(meta))
                .await
                .unwrap();
        };
        let record = Record::from_rdata(name, 300, RData::A(A::new(192, 0, 2, 1)));
        response
            .send_response(builder.build(meta, [&record], [], [], []))
            .await
            .unwrap()
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    cert: TestCert,
    tokens: Arc<Tokens>,
    certs: Arc<certs::ReloadingCert>,
    dot: SocketAddr,
    doh: SocketAddr,
    shutdown: CancellationToken,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Limits short enough that stalled connections are closed well within
/// [`DEADLINE`], and long enough that the well-behaved clients these tests
/// assert on (which are subject to them too) finish their TLS handshake and
/// request on a loaded machine.
fn short_limits() -> Limits {
    Limits {
        handshake_timeout: Duration::from_secs(3),
        idle_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(3),
        ..Limits::default()
    }
}

async fn start(open: bool, limits: Limits) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new(&[HOST, "*.dns.example.org"]);
    let (c, k) = write_pair(dir.path(), &cert);
    let tokens_file = dir.path().join("tokens");
    std::fs::write(&tokens_file, format!("{} alice\n", hash_token("alice"))).unwrap();
    let tokens = Arc::new(Tokens::new(&[], Some(&tokens_file)).unwrap());
    let certs = Arc::new(certs::ReloadingCert::open(&c, &k).unwrap());
    let shutdown = CancellationToken::new();

    let dot_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let doh_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dot_addr = dot_listener.local_addr().unwrap();
    let doh_addr = doh_listener.local_addr().unwrap();
    let dot_tls = Arc::new(certs::server_config(certs.clone(), &[dot::ALPN_DOT]).unwrap());
    let doh_tls = Arc::new(certs::server_config(certs.clone(), doh::ALPN_DOH).unwrap());
    let handler = Stub { open };
    tokio::spawn(dot::serve(
        dot_listener,
        dot_tls,
        handler.clone(),
        tokens.clone(),
        limits.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(doh::serve(
        doh_listener,
        doh_tls,
        handler,
        tokens.clone(),
        super::Refusals::default(),
        limits,
        shutdown.clone(),
    ));
    Fixture {
        dir,
        cert,
        tokens,
        certs,
        dot: dot_addr,
        doh: doh_addr,
        shutdown,
    }
}

fn connector(roots: &[&[u8]], alpn: &[&[u8]]) -> TlsConnector {
    let mut store = rustls::RootCertStore::empty();
    for der in roots {
        store.add(CertificateDer::from(der.to_vec())).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(certs::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    roots: &[&[u8]],
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    tokio::time::timeout(DEADLINE, connector(roots, alpn).connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))?
}

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::new(
        id,
        hickory_server::proto::op::MessageType::Query,
        OpCode::Query,
    );
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

/// Ask `name` over DoT and return the answer, checked to be the answer to
/// this question (same ID and name), not merely some answer of the stub.
async fn dot_ask(stream: &mut TlsStream<TcpStream>, id: u16, name: &str) -> Message {
    let q = query(id, name);
    let mut frame = (q.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&q);
    stream.write_all(&frame).await.unwrap();
    let m = read_frame(stream).await;
    assert_eq!(m.metadata.id, id, "answer to another query");
    let asked = m.queries.first().map(|q| q.name().to_ascii());
    assert_eq!(asked.as_deref(), Some(name), "answer to another name");
    m
}

/// One length-prefixed DNS message from a DoT stream, within [`DEADLINE`].
async fn read_frame(stream: &mut TlsStream<TcpStream>) -> Message {
    let answer = tokio::time::timeout(DEADLINE, async {
        let len = stream.read_u16().await.unwrap();
        let mut buf = vec![0; usize::from(len)];
        stream.read_exact(&mut buf).await.unwrap();
        buf
    })
    .await
    .expect("DoT answer within the deadline");
    Message::from_vec(&answer).unwrap()
}

fn first_a(m: &Message) -> Option<std::net::Ipv4Addr> {
    m.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some(a.0),
        _ => None,
    })
}

/// A raw HTTP/1.1 exchange over TLS: (status, lower-cased headers, body).
async fn http1(
    addr: SocketAddr,
    roots: &[&[u8]],
    head: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = tls_connect(addr, HOST, roots, &[b"http/1.1"])
        .await
        .unwrap();
    let mut req = format!("{head}\r\nHost: {HOST}\r\nConnection: close\r\n");
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut raw))
        .await
        .expect("HTTP answer within the deadline")
        .ok();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn dot_answers_pipelined_queries() {
    let f = start(true, Limits::default()).await;
    let mut s = tls_connect(f.dot, HOST, &[f.cert.der()], &[dot::ALPN_DOT])
        .await
        .unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(dot::ALPN_DOT));
    // Two queries written back to back; both answered, matched by ID.
    let mut frames = Vec::new();
    for (id, name) in [(1u16, "a.test."), (2, "b.test.")] {
        let q = query(id, name);
        frames.extend_from_slice(&(q.len() as u16).to_be_bytes());
        frames.extend_from_slice(&q);
    }
    s.write_all(&frames).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let m = read_frame(&mut s).await;
        assert_eq!(first_a(&m), Some([192, 0, 2, 1].into()));
        let name = if m.metadata.id == 1 {
            "a.test."
        } else {
            "b.test."
        };
        assert_eq!(m.answers[0].name.to_ascii(), name, "answer matched by ID");
        ids.push(m.metadata.id);
    }
    ids.sort();
    assert_eq!(ids, [1, 2]);
    // Garbage gets FORMERR and the connection keeps working.
    s.write_all(&[0, 4, 0xab, 0xcd, 0, 0]).await.unwrap();
    let m = read_frame(&mut s).await;
    assert_eq!(
        (m.metadata.id, m.metadata.response_code),
        (0xabcd, ResponseCode::FormErr)
    );
    assert_eq!(
        first_a(&dot_ask(&mut s, 3, "c.test.").await),
        Some([192, 0, 2, 1].into())
    );
}

#[tokio::test]
async fn dot_token_in_server_name_admits_and_revocation_applies_to_open_connections() {
    let f = start(false, Limits::default()).await;
    let roots = [f.cert.der()];
    // No token, and an unknown token: judged by the address list (REFUSED here).
    for sni in [HOST, "mallory.dns.example.org"] {
        let mut s = tls_connect(f.dot, sni, &roots, &[dot::ALPN_DOT])
            .await
            .unwrap();
        let m = dot_ask(&mut s, 7, "a.test.").await;
        assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{sni}");
    }
    // A valid token (any case) is admitted.
    let mut s = tls_connect(f.dot, "ALICE.dns.example.org", &roots, &[dot::ALPN_DOT])
        .await
        .unwrap();
    let m = dot_ask(&mut s, 8, "a.test.").await;
    assert_eq!(first_a(&m), Some([192, 0, 2, 1].into()));
    // Revoked while the connection is open: the next query is refused.
    std::fs::write(f.tokens.file().unwrap(), "# nobody\n").unwrap();
    f.tokens.reload().unwrap();
    let m = dot_ask(&mut s, 9, "a.test.").await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[tokio::test]
async fn stalled_handshakes_and_slow_clients_do_not_block_others() {
    let f = start(true, short_limits()).await;
    // Connections that never start (or never finish) a handshake or a request.
    let mut stalled = Vec::new();
    for addr in [f.dot, f.doh] {
        for _ in 0..20 {
            stalled.push(TcpStream::connect(addr).await.unwrap());
        }
    }
    let mut half_http = tls_connect(f.doh, HOST, &[f.cert.der()], &[b"http/1.1"])
        .await
        .unwrap();
    half_http
        .write_all(b"POST /dns-query HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut half_dot = tls_connect(f.dot, HOST, &[f.cert.der()], &[dot::ALPN_DOT])
        .await
        .unwrap();
    half_dot.write_all(&[0, 40, 1, 2]).await.unwrap();

    // Others are served meanwhile.
    let mut s = tls_connect(f.dot, HOST, &[f.cert.der()], &[dot::ALPN_DOT])
        .await
        .unwrap();
    assert!(first_a(&dot_ask(&mut s, 1, "ok.test.").await).is_some());
    let (code, _, _) = http1(
        f.doh,
        &[f.cert.der()],
        &format!(
            "GET /dns-query?dns={} HTTP/1.1",
            b64url(&query(0, "ok.test."))
        ),
        b"",
    )
    .await;
    assert_eq!(code, 200);

    // And the stalled ones are closed by the server within bounded time.
    for mut tcp in stalled {
        let mut buf = [0u8; 1];
        let closed = tokio::time::timeout(DEADLINE, async {
            loop {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "stalled handshake still open");
    }
    for reader in [
        &mut half_http as &mut (dyn tokio::io::AsyncRead + Unpin),
        &mut half_dot,
    ] {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(DEADLINE, reader.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "half-sent request still open");
    }
}

#[tokio::test]
async fn doh_answers_get_and_post_with_cache_control() {
    let f = start(true, Limits::default()).await;
    let roots = [f.cert.der()];
    let q = query(0, "a.test.");
    let get = format!("GET /dns-query?dns={} HTTP/1.1", b64url(&q));
    let post = "POST /dns-query HTTP/1.1\r\nContent-Type: application/dns-message";
    for (head, body) in [(get.as_str(), &[][..]), (post, &q[..])] {
        let (code, headers, body) = http1(f.doh, &roots, head, body).await;
        assert_eq!(code, 200, "{head}");
        assert_eq!(header(&headers, "content-type"), Some(doh::DNS_MESSAGE));
        assert_eq!(header(&headers, "cache-control"), Some("max-age=300"));
        assert_eq!(
            first_a(&Message::from_vec(&body).unwrap()),
            Some([192, 0, 2, 1].into())
        );
    }
}

#[tokio::test]
async fn doh_bad_requests_get_the_right_http_errors() {
    let f = start(true, Limits::default()).await;
    let roots = [f.cert.der()];
    let q = query(0, "a.test.");
    let big = vec![0u8; 70_000];
    let cases: Vec<(String, Vec<u8>, u16)> = vec![
        ("GET /dns-query HTTP/1.1".into(), vec![], 400),
        ("GET /dns-query?dns=%%%% HTTP/1.1".into(), vec![], 400),
        (
            format!("GET /dns-query?dns={} HTTP/1.1", b64url(b"short")),
            vec![],
            400,
        ),
        (
            "POST /dns-query HTTP/1.1\r\nContent-Type: text/plain".into(),
            q.clone(),
            415,
        ),
        ("POST /dns-query HTTP/1.1".into(), q.clone(), 415),
        (
            "POST /dns-query HTTP/1.1\r\nContent-Type: application/dns-message".into(),
            big,
            413,
        ),
        (
            "POST /dns-query HTTP/1.1\r\nContent-Type: application/dns-message".into(),
            b"garbage!!!!!!!".to_vec(),
            400,
        ),
        ("PUT /dns-query HTTP/1.1".into(), vec![], 405),
        ("GET /other HTTP/1.1".into(), vec![], 404),
        ("GET /dns-query/a/b HTTP/1.1".into(), vec![], 404),
    ];
    for (head, body, want) in cases {
        let (code, _, _) = http1(f.doh, &roots, &head, &body).await;
        assert_eq!(code, want, "{head}");
    }
    // Still serving afterwards.
    let (code, _, _) = http1(
        f.doh,
        &roots,
        &format!("GET /dns-query?dns={} HTTP/1.1", b64url(&q)),
        b"",
    )
    .await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn doh_path_tokens_valid_missing_unknown_and_revoked() {
    let f = start(false, Limits::default()).await;
    let roots = [f.cert.der()];
    let q = b64url(&query(0, "a.test."));
    let ask = |path: &str| format!("GET {path}?dns={q} HTTP/1.1");
    let (code, _, body) = http1(f.doh, &roots, &ask("/dns-query/alice"), b"").await;
    assert_eq!(code, 200);
    assert!(first_a(&Message::from_vec(&body).unwrap()).is_some());
    // Missing: the address list decides (REFUSED here).
    let (code, _, body) = http1(f.doh, &roots, &ask("/dns-query"), b"").await;
    assert_eq!(code, 200);
    assert_eq!(
        Message::from_vec(&body).unwrap().metadata.response_code,
        ResponseCode::Refused
    );
    let (code, _, _) = http1(f.doh, &roots, &ask("/dns-query/mallory"), b"").await;
    assert_eq!(code, 403);
    // Revoked by editing the watched file: refused without a restart.
    let _watcher = f.tokens.watch().unwrap();
    std::fs::write(
        f.tokens.file().unwrap(),
        format!("{} bob\n", hash_token("bob")),
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (code, _, _) = http1(f.doh, &roots, &ask("/dns-query/alice"), b"").await;
        if code == 403 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "revocation not seen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, _, _) = http1(f.doh, &roots, &ask("/dns-query/bob"), b"").await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn renewed_certificate_is_served_to_new_handshakes_and_old_connections_continue() {
    let f = start(true, Limits::default()).await;
    let old = f.cert.der().to_vec();
    let mut existing = tls_connect(f.dot, HOST, &[&old], &[dot::ALPN_DOT])
        .await
        .unwrap();
    assert!(first_a(&dot_ask(&mut existing, 1, "a.test.").await).is_some());

    let renewed = TestCert::new(&[HOST, "*.dns.example.org"]);
    replace_pair(f.dir.path(), &renewed);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        // Trust both, and look at what the server presents.
        let s = tls_connect(f.doh, HOST, &[&old, renewed.der()], &[b"h2"])
            .await
            .unwrap();
        let presented = s.get_ref().1.peer_certificates().unwrap()[0].to_vec();
        if presented == renewed.der() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "renewal not picked up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A client that trusts only the new certificate now connects over DoT too.
    let mut fresh = tls_connect(f.dot, HOST, &[renewed.der()], &[dot::ALPN_DOT])
        .await
        .unwrap();
    assert!(first_a(&dot_ask(&mut fresh, 2, "b.test.").await).is_some());
    assert_eq!(f.certs.current().cert[0].as_ref(), renewed.der());
    // The connection made before the renewal still works.
    assert!(first_a(&dot_ask(&mut existing, 3, "c.test.").await).is_some());
}

/// Swap in a new pair the way certbot does: write elsewhere, rename over.
fn replace_pair(dir: &Path, cert: &TestCert) {
    let staging = dir.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let (c, k) = write_pair(&staging, cert);
    std::fs::rename(k, dir.join("key.pem")).unwrap();
    std::fs::rename(c, dir.join("cert.pem")).unwrap();
}

/// The path of an external tool, or `None` (after printing `SKIPPED`) when
/// it is absent and `PARAPET_REQUIRE_TOOLS` is unset.
fn tool(name: &str) -> Option<std::path::PathBuf> {
    parapet_test_support::tool(name, "transport::tests")
}

async fn run(cmd: &std::path::Path, args: &[String]) -> String {
    let out = tokio::time::timeout(
        DEADLINE,
        tokio::process::Command::new(cmd)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("tool finished within the deadline")
    .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test]
async fn kdig_over_tls_and_https_and_curl_over_http2() {
    let f = start(false, Limits::default()).await;
    let ca = f.dir.path().join("cert.pem").display().to_string();
    if let Some(kdig) = tool("kdig") {
        for (transport, sni, want) in [
            (format!("+tls-hostname=alice.{HOST}"), "alice", "192.0.2.1"),
            (format!("+tls-hostname={HOST}"), "none", "REFUSED"),
            ("+https=/dns-query/alice".to_string(), "doh", "192.0.2.1"),
        ] {
            let port = if sni == "doh" {
                f.doh.port()
            } else {
                f.dot.port()
            };
            let mut args = vec![
                "@127.0.0.1".to_string(),
                "-p".into(),
                port.to_string(),
                format!("+tls-ca={ca}"),
                transport.clone(),
                "a.test".into(),
                "A".into(),
            ];
            if sni == "doh" {
                args.push(format!("+tls-hostname={HOST}"));
            }
            let out = run(&kdig, &args).await;
            assert!(out.contains(want), "{transport}: {out}");
        }
    }
    if let Some(curl) = tool("curl") {
        let q = f.dir.path().join("q.bin");
        std::fs::write(&q, query(0, "a.test.")).unwrap();
        let a = f.dir.path().join("a.bin");
        let port = f.doh.port();
        let out = run(
            &curl,
            &[
                "-sS".into(),
                "--http2".into(),
                "--cacert".into(),
                ca.clone(),
                "--resolve".into(),
                format!("{HOST}:{port}:127.0.0.1"),
                "-H".into(),
                "content-type: application/dns-message".into(),
                "--data-binary".into(),
                format!("@{}", q.display()),
                "-o".into(),
                a.display().to_string(),
                "-w".into(),
                "%{http_code} %{http_version}".into(),
                format!("https://{HOST}:{port}/dns-query/alice"),
            ],
        )
        .await;
        assert_eq!(out.trim(), "200 2", "{out}");
        let m = Message::from_vec(&std::fs::read(&a).unwrap()).unwrap();
        assert_eq!(first_a(&m), Some([192, 0, 2, 1].into()));
    }
}

#[tokio::test]
async fn start_binds_listeners_from_settings_and_needs_a_certificate() {
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let settings = super::Settings {
        tls_listen: vec!["127.0.0.1:0".parse().unwrap()],
        https_listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    };
    let tasks = crate::net::TaskTracker::new();
    let tokens = Arc::new(Tokens::new(&[hash_token("alice")], None).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new(&[HOST, "*.dns.example.org"]);
    let (c, k) = write_pair(dir.path(), &cert);
    let loaded = Arc::new(certs::ReloadingCert::open(&c, &k).unwrap());
    let start = |cert| {
        let stub = Stub { open: false };
        let tokens = Arc::clone(&tokens);
        super::start(&settings, cert, tokens, stub, shutdown.clone(), &tasks)
    };
    let err = start(None).await.unwrap_err();
    assert!(matches!(err, super::TransportError::NoCertificate), "{err}");
    let running = start(Some(loaded)).await.unwrap();
    assert_eq!((running.tls_addrs.len(), running.https_addrs.len()), (1, 1));
    let mut s = tls_connect(
        running.tls_addrs[0],
        &format!("alice.{HOST}"),
        &[cert.der()],
        &[dot::ALPN_DOT],
    )
    .await
    .unwrap();
    assert!(first_a(&dot_ask(&mut s, 1, "a.test.").await).is_some());
    let (code, _, _) = http1(
        running.https_addrs[0],
        &[cert.der()],
        "GET /dns-query/bob?dns=AAAA HTTP/1.1",
        b"",
    )
    .await;
    assert_eq!(code, 403);
}

/// A hickory resolver that asks `addr` over DoT (`path` None) or DoH.
fn hickory_client(
    addr: SocketAddr,
    server_name: &str,
    path: Option<&str>,
    root: &[u8],
) -> hickory_resolver::Resolver<hickory_resolver::net::runtime::TokioRuntimeProvider> {
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    let mut conn = match path {
        None => ConnectionConfig::tls(Arc::from(server_name)),
        Some(p) => ConnectionConfig::https(Arc::from(server_name), Some(Arc::from(p))),
    };
    conn.port = addr.port();
    let config =
        ResolverConfig::from_name_servers(vec![NameServerConfig::new(addr.ip(), true, vec![conn])]);
    let mut store = rustls::RootCertStore::empty();
    store.add(CertificateDer::from(root.to_vec())).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(certs::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let mut builder = hickory_resolver::Resolver::builder_with_config(config, Default::default())
        .with_tls_config(tls);
    builder.options_mut().cache_size = 0;
    builder.build().unwrap()
}

/// hickory's own DoT client sends no SNI (hickory-net `tls.rs` turns it
/// off), so it cannot carry a token: it is served under the address list.
/// Its DoH client carries the token in the path.
#[tokio::test]
async fn hickory_client_over_dot_and_doh() {
    let open = start(true, Limits::default()).await;
    let closed = start(false, Limits::default()).await;
    for (f, addr, path, want) in [
        (&open, open.dot, None, Some([192, 0, 2, 1].into())),
        (&closed, closed.dot, None, None),
        (
            &closed,
            closed.doh,
            Some("/dns-query/alice"),
            Some([192, 0, 2, 1].into()),
        ),
        (&closed, closed.doh, Some("/dns-query"), None),
    ] {
        let client = hickory_client(addr, HOST, path, f.cert.der());
        let got = tokio::time::timeout(DEADLINE, client.lookup("a.test.", RecordType::A))
            .await
            .expect("answer within the deadline");
        match (got, want) {
            (Ok(lookup), Some(ip)) => assert_eq!(first_a(lookup.message()), Some(ip), "{path:?}"),
            (Err(e), None) => assert!(e.to_string().contains("Refused"), "{path:?}: {e}"),
            (got, _) => panic!("{path:?}: {:?}", got.map(|l| l.message().clone())),
        }
    }
}

#[test]
fn config_keys_for_tokens_and_upstream_ca_are_validated_with_their_paths() {
    use crate::{config::ConfigError, preflight::from_toml_str};
    let dir = tempfile::tempdir().unwrap();
    let up = "[upstream]\nservers = [\"127.0.0.1:5300\"]\n";
    let base = format!("{up}[access]\n");
    let issues = |text: &str| match from_toml_str(text, dir.path()) {
        Err(ConfigError::Invalid { issues, .. }) => {
            issues.iter().map(|i| i.to_string()).collect::<Vec<_>>()
        }
        other => panic!("expected issues, got {other:?}"),
    };
    let bad = issues(&format!("{base}tokens = [\"x\", \"alice\"]\n"));
    assert!(bad[0].starts_with("access.tokens[0]:"), "{bad:?}");
    let bad = issues(&format!("{base}tokens_file = \"missing\"\n"));
    assert!(bad[0].starts_with("access.tokens_file:"), "{bad:?}");
    let bad = issues(&format!("{up}ca_file = \"nope.pem\"\n"));
    assert!(bad[0].starts_with("upstream.ca_file:"), "{bad:?}");

    std::fs::write(
        dir.path().join("tokens"),
        format!("{} alice\n", hash_token("alice")),
    )
    .unwrap();
    let c = from_toml_str(
        &format!(
            "{base}tokens = [\"{}\"]\ntokens_file = \"tokens\"\n",
            hash_token("bob")
        ),
        dir.path(),
    )
    .unwrap()
    .0;
    let tokens = Tokens::new(&c.access.tokens, c.access.tokens_file.as_deref()).unwrap();
    assert!(tokens.check("alice").is_some() && tokens.check("bob").is_some());
}

#[tokio::test]
async fn a_full_table_closes_idle_connections_to_serve_a_new_client() {
    let limits = Limits {
        connections: Arc::new(crate::conntable::ConnTable::new(2, 2)),
        handshake_timeout: Duration::from_secs(30),
        ..short_limits()
    };
    let f = start(true, limits).await;
    // Two connections that never handshake fill the table...
    let mut a = TcpStream::connect(f.dot).await.unwrap();
    let _b = TcpStream::connect(f.dot).await.unwrap();
    // ...yet a client that asks is served at once (the handshake timeout
    // is far away), and the connection idle longest was closed for it.
    let mut s = tls_connect(f.dot, HOST, &[f.cert.der()], &[dot::ALPN_DOT])
        .await
        .unwrap();
    assert!(first_a(&dot_ask(&mut s, 1, "a.test.").await).is_some());
    let mut buf = [0u8; 1];
    let closed = tokio::time::timeout(DEADLINE, a.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "the oldest idle connection was not closed: {closed:?}"
    );
}

#[tokio::test]
async fn idle_doh_connections_are_closed() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let f = start(true, limits).await;
    let mut s = tls_connect(f.doh, HOST, &[f.cert.der()], &[b"http/1.1"])
        .await
        .unwrap();
    let q = b64url(&query(0, "a.test."));
    s.write_all(format!("GET /dns-query?dns={q} HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // One answer, then nothing: the server closes the keep-alive connection.
    let mut raw = Vec::new();
    let closed = tokio::time::timeout(DEADLINE, s.read_to_end(&mut raw)).await;
    assert!(closed.is_ok(), "idle connection kept open");
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

#[test]
fn check_config_reports_a_key_that_does_not_fit_the_certificate() {
    use crate::{config::ConfigError, preflight::from_toml_str};
    let dir = tempfile::tempdir().unwrap();
    let a = TestCert::new(&[HOST]);
    let b = TestCert::new(&[HOST]);
    std::fs::write(dir.path().join("cert.pem"), a.cert_pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), b.key_pem()).unwrap();
    let text = "[server]\ntls_listen = [\"127.0.0.1:0\"]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n\
                [upstream]\nservers = [\"127.0.0.1:5300\"]\n";
    match from_toml_str(text, dir.path()) {
        Err(ConfigError::Invalid { issues, .. }) => {
            let text: Vec<_> = issues.iter().map(|i| i.to_string()).collect();
            assert!(
                text.iter()
                    .any(|i| i.starts_with("server.tls_key:") && i.contains("does not fit")),
                "{text:?}"
            );
        }
        other => panic!("expected issues, got {other:?}"),
    }
    std::fs::write(dir.path().join("key.pem"), a.key_pem()).unwrap();
    assert!(from_toml_str(text, dir.path()).is_ok());
}
