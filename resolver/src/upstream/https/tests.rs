//! DoH upstreams against an HTTP/2 server of the test's own (hyper, over
//! TLS with a test CA, counting its connections), and DoH and DoT
//! upstreams against parapet's own DoH and DoT listeners.

use std::convert::Infallible;
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::{Notify, Semaphore};

use super::{DNS_MESSAGE, HttpsUpstream, Settings};
use crate::upstream::ExchangeError;
use crate::upstream::stream::StreamUpstream;
use crate::upstream::stream::testserver::{
    DEADLINE, Server, Stream, Tls, answer, assert_answers, big_answer, name_of, query, until,
};

const PATH: &str = "/dns-query";

/// What the test's DoH server does.
#[derive(Clone)]
struct Script {
    /// Names starting `slow` wait for a permit.
    gate: Arc<Semaphore>,
    /// Requests received.
    seen: Arc<AtomicUsize>,
    /// Send GOAWAY on the first connection after its first answer.
    goaway: bool,
    /// Connections that have ended.
    ended: Arc<AtomicUsize>,
}

/// Serve one HTTP/2 connection: POST `PATH` with a DNS message whose ID is
/// 0 (else 400); `statusNNN.` names get status NNN, `short.` names a
/// 5-byte body.
impl Default for Script {
    fn default() -> Self {
        Script {
            gate: Arc::new(Semaphore::new(0)),
            seen: Arc::default(),
            goaway: false,
            ended: Arc::default(),
        }
    }
}

async fn serve(s: Stream, n: usize, script: Script) {
    let ended = script.ended.clone();
    serve_h2(s, n, script).await;
    ended.fetch_add(1, Ordering::SeqCst);
}

async fn serve_h2(s: Stream, n: usize, script: Script) {
    let answered = Arc::new(Notify::new());
    let done = answered.clone();
    let sc = script.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (sc, done) = (sc.clone(), done.clone());
        async move {
            let response = respond(req, &sc).await;
            done.notify_one();
            Ok::<_, Infallible>(response)
        }
    });
    let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(s), service);
    tokio::pin!(conn);
    if script.goaway && n == 0 {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = answered.notified() => conn.as_mut().graceful_shutdown(),
        }
    }
    let _ = conn.await;
}

async fn respond(req: Request<Incoming>, script: &Script) -> Response<Full<Bytes>> {
    let status = |code: u16| {
        Response::builder()
            .status(code)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let typed =
        req.headers().get("content-type").map(|v| v.as_bytes()) == Some(DNS_MESSAGE.as_bytes());
    if req.method() != Method::POST || req.uri().path() != PATH || !typed {
        return status(400);
    }
    let body = req.into_body().collect().await.unwrap().to_bytes();
    script.seen.fetch_add(1, Ordering::SeqCst);
    if body.len() < 12 || body[..2] != [0, 0] {
        return status(400);
    }
    let name = name_of(&body);
    if let Some(code) = name.strip_prefix("status").and_then(|n| n.get(..3)) {
        return status(code.parse().unwrap());
    }
    if name.starts_with("slow") {
        let _ = script.gate.acquire().await.map(|p| p.forget());
    }
    let payload = if name.starts_with("short") {
        vec![0; 5]
    } else if name.starts_with("big") {
        big_answer(&body, 2500)
    } else {
        answer(&body)
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", DNS_MESSAGE)
        .body(Full::new(Bytes::from(payload)))
        .unwrap()
}

async fn doh_server(tls: &Tls, script: Script) -> Server {
    Server::start(Some(tls.server.clone()), move |s, n| {
        serve(s, n, script.clone())
    })
    .await
}

fn upstream(server: &Server, tls: &Tls) -> HttpsUpstream {
    HttpsUpstream::new(server.addr, Tls::server_name(), PATH, tls.client.clone())
}

async fn ask(up: &HttpsUpstream, id: u16, name: &str) -> Result<Vec<u8>, ExchangeError> {
    tokio::time::timeout(DEADLINE, up.exchange(&query(id, name)))
        .await
        .expect("an answer or an error within the deadline")
}

#[tokio::test]
async fn doh_queries_share_one_http2_connection() {
    let tls = Tls::new(&[b"h2"]);
    let server = doh_server(&tls, Script::default()).await;
    let up = Arc::new(upstream(&server, &tls));
    for i in 0..100 {
        let name = format!("seq{i}.test.");
        assert_answers(&ask(&up, i + 1, &name).await.unwrap(), i + 1, &name);
    }
    let asks: Vec<_> = (0..50u16)
        .map(|i| {
            let up = up.clone();
            tokio::spawn(async move { (i, ask(&up, i, &format!("par{i}.test.")).await) })
        })
        .collect();
    for a in asks {
        let (i, a) = a.await.unwrap();
        assert_answers(&a.unwrap(), i, &format!("par{i}.test."));
    }
    assert_eq!(server.accepted(), 1, "connections accepted by the upstream");
    assert_eq!(up.open_connections(), 1);
}

#[tokio::test]
async fn a_slow_doh_query_does_not_hold_a_fast_one() {
    let tls = Tls::new(&[b"h2"]);
    let script = Script::default();
    let server = doh_server(&tls, script.clone()).await;
    let up = Arc::new(upstream(&server, &tls));
    let slow = {
        let up = up.clone();
        tokio::spawn(async move { ask(&up, 1, "slow.test.").await })
    };
    until("the slow query reaches the server", || {
        script.seen.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_answers(&ask(&up, 2, "fast.test.").await.unwrap(), 2, "fast.test.");
    assert!(!slow.is_finished());
    script.gate.add_permits(1);
    assert_answers(&slow.await.unwrap().unwrap(), 1, "slow.test.");
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn error_statuses_and_bad_bodies_are_reported_and_the_connection_kept() {
    let tls = Tls::new(&[b"h2"]);
    let server = doh_server(&tls, Script::default()).await;
    let up = upstream(&server, &tls);
    let err = ask(&up, 1, "status503.test.").await.unwrap_err();
    assert!(matches!(err, ExchangeError::Http(503)), "{err}");
    let err = ask(&up, 1, "short.test.").await.unwrap_err();
    assert!(matches!(err, ExchangeError::Malformed(_)), "{err}");
    assert_answers(&ask(&up, 2, "ok.test.").await.unwrap(), 2, "ok.test.");
    let big = ask(&up, 3, "big.test.").await.unwrap();
    let m = hickory_proto::op::Message::from_vec(&big).unwrap();
    assert_eq!(
        (m.metadata.id, m.answers.len()),
        (3, 2500),
        "{} bytes",
        big.len()
    );
    assert_eq!(server.accepted(), 1);
}

#[test]
fn doh_upstreams_and_their_exchanges_can_move_between_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let tls = crate::upstream::stream::client_config(None).unwrap();
    let name = rustls_pki_types::ServerName::try_from("dns.example").unwrap();
    let up = HttpsUpstream::new("127.0.0.1:443".parse().unwrap(), name, PATH, tls);
    send_sync(&up);
    send(up.exchange(&[]));
}

#[tokio::test]
async fn after_goaway_the_next_query_opens_a_new_connection() {
    let tls = Tls::new(&[b"h2"]);
    let script = Script {
        goaway: true,
        ..Script::default()
    };
    let server = doh_server(&tls, script).await;
    let up = upstream(&server, &tls);
    assert_answers(&ask(&up, 1, "a.test.").await.unwrap(), 1, "a.test.");
    for i in 2..6 {
        assert_answers(&ask(&up, i, "b.test.").await.unwrap(), i, "b.test.");
    }
    assert_eq!(server.accepted(), 2);
    until("the old connection is gone", || up.open_connections() == 1).await;
}

#[tokio::test]
async fn an_idle_doh_connection_is_closed_and_reopened_on_demand() {
    let tls = Tls::new(&[b"h2"]);
    let script = Script::default();
    let server = doh_server(&tls, script.clone()).await;
    let settings = Settings {
        idle_timeout: Duration::from_millis(200),
        ..Settings::default()
    };
    let up = upstream(&server, &tls).with_settings(settings);
    assert_answers(&ask(&up, 1, "a.test.").await.unwrap(), 1, "a.test.");
    until("the idle connection is closed", || {
        up.open_connections() == 0
    })
    .await;
    assert_answers(&ask(&up, 2, "b.test.").await.unwrap(), 2, "b.test.");
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn an_untrusted_doh_upstream_backs_off() {
    let tls = Tls::new(&[b"h2"]);
    let other = Tls::new(&[b"h2"]);
    let server = doh_server(&tls, Script::default()).await;
    let up = upstream(&server, &other);
    for i in 0..10 {
        let err = ask(&up, i, "a.test.").await.unwrap_err();
        assert!(matches!(err, ExchangeError::Connect(_)), "{err}");
    }
    assert_eq!(server.accepted(), 1, "no connect during the backoff");
}

#[tokio::test]
async fn a_server_that_does_not_agree_on_http2_is_refused() {
    // A TLS server without ALPN: the handshake succeeds, h2 is not agreed.
    let tls = Tls::new(&[]);
    let server = doh_server(&tls, Script::default()).await;
    let err = ask(&upstream(&server, &tls), 1, "a.test.")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExchangeError::Connect(e) if e.to_string().contains("HTTP/2")),
        "{err}"
    );
}

#[test]
fn request_uris_carry_the_name_and_a_port_other_than_443() {
    use rustls_pki_types::ServerName;
    let name = |s: &str| ServerName::try_from(s.to_owned()).unwrap();
    let uri = |n: &str, port, path| super::uri(&name(n), port, path);
    assert_eq!(
        uri("dns.example", 443, "/dns-query").unwrap(),
        "https://dns.example/dns-query"
    );
    assert_eq!(
        uri("dns.example", 8443, "/q").unwrap(),
        "https://dns.example:8443/q"
    );
    assert_eq!(uri("::1", 443, "/q").unwrap(), "https://[::1]/q");
    assert!(uri("dns.example", 443, "dns-query").is_err());
}

/// Answers every query with one A record, as any upstream would.
#[derive(Clone)]
struct Echo;

impl crate::handler::DnsService for Echo {
    async fn answer(
        &self,
        query: Vec<u8>,
        _: crate::access::Context,
    ) -> Result<Vec<u8>, crate::handler::ExchangeError> {
        Ok(answer(&query))
    }
}

#[tokio::test]
async fn parapets_own_doh_and_dot_listeners_serve_these_upstreams() {
    use crate::transport::{Limits, Refusals, Tokens, dot};
    use tokio::net::TcpListener;
    let tls = Tls::new(crate::transport::doh::ALPN_DOH);
    let dot_tls = Tls::new(&[dot::ALPN_DOT]);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let tokens = Arc::new(Tokens::new(&[], None).unwrap());
    let (doh_l, dot_l) = (
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    );
    let (doh_addr, dot_addr) = (doh_l.local_addr().unwrap(), dot_l.local_addr().unwrap());
    tokio::spawn(crate::transport::doh::serve(
        doh_l,
        tls.server.clone(),
        Echo,
        tokens.clone(),
        Refusals::default(),
        Limits::default(),
        shutdown.clone(),
    ));
    tokio::spawn(dot::serve(
        dot_l,
        dot_tls.server.clone(),
        Echo,
        tokens,
        Limits::default(),
        shutdown.clone(),
    ));
    let doh = Arc::new(HttpsUpstream::new(
        doh_addr,
        Tls::server_name(),
        PATH,
        tls.client.clone(),
    ));
    let dot = Arc::new(StreamUpstream::tls(
        dot_addr,
        Tls::server_name(),
        dot_tls.client.clone(),
    ));
    let asks: Vec<_> = (0..20u16)
        .map(|i| {
            let (doh, dot) = (doh.clone(), dot.clone());
            tokio::spawn(async move {
                let name = format!("n{i}.test.");
                let q = query(i, &name);
                let a = tokio::time::timeout(DEADLINE, doh.exchange(&q))
                    .await
                    .unwrap();
                assert_answers(&a.unwrap(), i, &name);
                let a = tokio::time::timeout(DEADLINE, dot.exchange(&q))
                    .await
                    .unwrap();
                assert_answers(&a.unwrap(), i, &name);
            })
        })
        .collect();
    for a in asks {
        a.await.unwrap();
    }
    assert_eq!((doh.open_connections(), dot.open_connections()), (1, 1));
}
