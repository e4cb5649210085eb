//! Listener tests: real DoT and DoH over loopback TLS with certificates
//! made here, in front of a small stand-in handler. (The full query path
//! through parapet's handler is tested end to end in `tests/`.) This file
//! holds the stand-in and the clients; the tests are split by subject.

mod certificates;
mod https;
mod limits;
mod tls;

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use hickory_server::proto::{
    op::{Message, MessageType, Metadata, OpCode, Query, ResponseCode},
    rr::{Name, RData, Record, RecordType, rdata::A},
};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{TlsConnector, client::TlsStream};
use tokio_util::sync::CancellationToken;

use crate::access::Context;
use crate::handler::{DnsService, ExchangeError};

use super::{
    Limits, Tokens, certs, doh, dot,
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

impl DnsService for Stub {
    async fn answer(&self, query: Vec<u8>, context: Context) -> Result<Vec<u8>, ExchangeError> {
        let request =
            Message::from_vec(&query).map_err(|e| ExchangeError::Malformed(e.to_string()))?;
        let mut response = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
        response.metadata = Metadata::response_from_request(&request.metadata);
        response.queries = request.queries.clone();
        let admitted = self.open || context.auth.is_token();
        let name = request.queries.first().map(|q| q.name().clone());
        match (name, admitted) {
            (Some(name), true) => {
                let record = Record::from_rdata(name, 300, RData::A(A::new(192, 0, 2, 1)));
                response.add_answer(record);
            }
            _ => response.metadata.response_code = ResponseCode::Refused,
        }
        Ok(response.to_vec().unwrap())
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
