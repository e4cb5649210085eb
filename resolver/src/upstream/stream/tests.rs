//! Stream upstreams against scripted servers on loopback: pipelining and
//! out-of-order answers, connection reuse over TCP and TLS, idle closes
//! on either side, backoff, and broken framing.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use super::testserver::{
    DEADLINE, Server, Stream, Tls, answer, assert_answers, big_answer, name_of, query, read_query,
    until, write_frame,
};
use super::{Settings, StreamUpstream};
use crate::upstream::ExchangeError;

/// Answer each query as it comes (one at a time).
async fn echo(mut s: Stream) {
    while let Some(q) = read_query(&mut s).await {
        write_frame(&mut s, &answer(&q)).await;
    }
}

/// Answer concurrently: names starting `slow` wait for a permit of `gate`.
async fn gated(s: Stream, gate: Arc<Semaphore>, seen: Arc<AtomicUsize>) {
    let (mut r, mut w) = tokio::io::split(s);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(a) = rx.recv().await {
            write_frame(&mut w, &a).await;
        }
    });
    while let Some(q) = read_query(&mut r).await {
        seen.fetch_add(1, Ordering::SeqCst);
        let (tx, gate) = (tx.clone(), gate.clone());
        tokio::spawn(async move {
            if name_of(&q).starts_with("slow") {
                let _ = gate.acquire().await.map(|p| p.forget());
            }
            let _ = tx.send(answer(&q));
        });
    }
}

async fn ask(up: &StreamUpstream, id: u16, name: &str) -> Result<Vec<u8>, ExchangeError> {
    tokio::time::timeout(DEADLINE, up.exchange(&query(id, name)))
        .await
        .expect("an answer or an error within the deadline")
}

#[tokio::test]
async fn pipelined_queries_answered_in_reverse_order_each_get_their_own_answer() {
    const N: usize = 8;
    let server = Server::start(None, |mut s, _| async move {
        let mut batch = Vec::new();
        for _ in 0..N {
            batch.push(read_query(&mut s).await.unwrap());
        }
        let mut ids: Vec<_> = batch
            .iter()
            .map(|q| u16::from_be_bytes([q[0], q[1]]))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), N, "IDs on the wire are unique on the connection");
        for q in batch.iter().rev() {
            write_frame(&mut s, &answer(q)).await;
        }
        echo(s).await;
    })
    .await;
    let up = Arc::new(StreamUpstream::tcp(server.addr));
    // Every query carries the same ID of its own: only the wire IDs tell
    // them apart.
    let asks = (0..N).map(|i| {
        let up = up.clone();
        tokio::spawn(async move { ask(&up, 7, &format!("q{i}.test.")).await })
    });
    let answers = futures_join(asks).await;
    for (i, a) in answers.into_iter().enumerate() {
        assert_answers(&a.unwrap(), 7, &format!("q{i}.test."));
    }
    assert_eq!((server.accepted(), up.open_connections()), (1, 1));
}

async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for t in tasks.collect::<Vec<_>>() {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_slow_query_does_not_hold_a_fast_one_on_the_same_connection() {
    let gate = Arc::new(Semaphore::new(0));
    let seen = Arc::new(AtomicUsize::new(0));
    let (g, s2) = (gate.clone(), seen.clone());
    let server = Server::start(None, move |s, _| gated(s, g.clone(), s2.clone())).await;
    let up = Arc::new(StreamUpstream::tcp(server.addr));
    let slow = {
        let up = up.clone();
        tokio::spawn(async move { ask(&up, 1, "slow.test.").await })
    };
    until("the slow query reaches the server", || {
        seen.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_answers(&ask(&up, 2, "fast.test.").await.unwrap(), 2, "fast.test.");
    assert!(!slow.is_finished(), "the slow answer is still held");
    gate.add_permits(1);
    assert_answers(&slow.await.unwrap().unwrap(), 1, "slow.test.");
    assert_eq!(server.accepted(), 1);
}

/// 100 queries one after another and 50 at once share one connection.
async fn one_connection_for_150_queries(up: StreamUpstream, server: &Server) {
    let up = Arc::new(up);
    for i in 0..100 {
        let name = format!("seq{i}.test.");
        assert_answers(&ask(&up, i, &name).await.unwrap(), i, &name);
    }
    let asks = (0..50u16).map(|i| {
        let up = up.clone();
        tokio::spawn(async move { (i, ask(&up, i, &format!("par{i}.test.")).await) })
    });
    for (i, a) in futures_join(asks).await {
        assert_answers(&a.unwrap(), i, &format!("par{i}.test."));
    }
    assert_eq!(server.accepted(), 1, "connections accepted by the upstream");
    assert_eq!(up.open_connections(), 1);
}

#[tokio::test]
async fn tcp_queries_reuse_one_connection() {
    let server = Server::start(None, |s, _| echo(s)).await;
    one_connection_for_150_queries(StreamUpstream::tcp(server.addr), &server).await;
}

#[tokio::test]
async fn tls_queries_reuse_one_connection() {
    let tls = Tls::new(&[b"dot"]);
    let gate = Arc::new(Semaphore::new(0));
    let seen = Arc::new(AtomicUsize::new(0));
    let server = Server::start(Some(tls.server.clone()), move |s, _| {
        gated(s, gate.clone(), seen.clone())
    })
    .await;
    let up = StreamUpstream::tls(server.addr, Tls::server_name(), tls.client.clone());
    one_connection_for_150_queries(up, &server).await;
}

#[tokio::test]
async fn a_connection_the_server_closed_when_idle_is_replaced() {
    let server = Server::start(None, |mut s, _| async move {
        let q = read_query(&mut s).await.unwrap();
        write_frame(&mut s, &answer(&q)).await;
    })
    .await;
    let up = StreamUpstream::tcp(server.addr);
    assert_answers(&ask(&up, 1, "a.test.").await.unwrap(), 1, "a.test.");
    until("the client sees the close", || up.open_connections() == 0).await;
    assert_answers(&ask(&up, 2, "b.test.").await.unwrap(), 2, "b.test.");
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn a_query_met_by_a_close_is_retried_once_on_a_new_connection() {
    let server = Server::start(None, |mut s, n| async move {
        if n == 0 {
            // Closes with the query unanswered (as at its idle timeout).
            read_query(&mut s).await;
        } else {
            echo(s).await;
        }
    })
    .await;
    let up = StreamUpstream::tcp(server.addr);
    assert_answers(&ask(&up, 3, "a.test.").await.unwrap(), 3, "a.test.");
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn the_client_closes_a_connection_idle_past_its_timeout() {
    let ended = Arc::new(AtomicUsize::new(0));
    let e = ended.clone();
    let server = Server::start(None, move |s, _| {
        let e = e.clone();
        async move {
            echo(s).await;
            e.fetch_add(1, Ordering::SeqCst);
        }
    })
    .await;
    let settings = Settings {
        idle_timeout: Duration::from_millis(200),
        ..Settings::default()
    };
    let up = StreamUpstream::tcp(server.addr).with_settings(settings);
    assert_answers(&ask(&up, 1, "a.test.").await.unwrap(), 1, "a.test.");
    until("the idle connection is closed", || {
        up.open_connections() == 0
    })
    .await;
    until("the server sees it end", || {
        ended.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_answers(&ask(&up, 2, "b.test.").await.unwrap(), 2, "b.test.");
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn a_failed_handshake_starts_a_backoff_that_fails_queries_without_connecting() {
    let tls = Tls::new(&[b"dot"]);
    let untrusted = Tls::new(&[b"dot"]);
    let server = Server::start(Some(tls.server.clone()), |s, _| echo(s)).await;
    let up = StreamUpstream::tls(server.addr, Tls::server_name(), untrusted.client.clone());
    let first = ask(&up, 1, "a.test.").await.unwrap_err();
    assert!(matches!(first, ExchangeError::Connect(_)), "{first}");
    for i in 0..20 {
        let err = ask(&up, i, "a.test.").await.unwrap_err();
        assert!(
            matches!(&err, ExchangeError::Connect(e) if e.to_string().contains("next attempt")),
            "{err}"
        );
    }
    assert_eq!(server.accepted(), 1, "no connect during the backoff");
}

#[tokio::test]
async fn a_dead_upstream_is_tried_again_after_its_backoff() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let settings = Settings {
        backoff_min: Duration::from_millis(50),
        ..Settings::default()
    };
    let up = StreamUpstream::tcp(addr).with_settings(settings);
    assert!(matches!(
        ask(&up, 1, "a.test.").await,
        Err(ExchangeError::Connect(_))
    ));
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(echo(Box::new(tcp)));
        }
    });
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match ask(&up, 2, "b.test.").await {
            Ok(a) => break assert_answers(&a, 2, "b.test."),
            Err(ExchangeError::Connect(_)) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "never reconnected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn malformed_framing_fails_every_query_on_the_connection() {
    let server = Server::start(None, |mut s, n| async move {
        if n == 0 {
            read_query(&mut s).await;
            read_query(&mut s).await;
            // A 3-byte frame cannot hold a DNS header.
            let _ = tokio::io::AsyncWriteExt::write_all(&mut s, &[0, 3, 1, 2, 3]).await;
            read_query(&mut s).await;
        } else {
            echo(s).await;
        }
    })
    .await;
    let up = Arc::new(StreamUpstream::tcp(server.addr));
    let asks = (0..2u16).map(|i| {
        let up = up.clone();
        tokio::spawn(async move { ask(&up, i, "a.test.").await })
    });
    for a in futures_join(asks).await {
        assert!(matches!(a, Err(ExchangeError::Malformed(_))), "{a:?}");
    }
    until("the broken connection is closed", || {
        up.open_connections() == 0
    })
    .await;
    assert_answers(&ask(&up, 5, "b.test.").await.unwrap(), 5, "b.test.");
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn a_frame_cut_short_closes_the_connection_and_is_retried_once() {
    let server = Server::start(None, |mut s, _| async move {
        read_query(&mut s).await;
        // Claims the largest frame, sends 100 bytes of it, closes.
        let mut bytes = vec![0xff, 0xff];
        bytes.extend([0u8; 100]);
        let _ = tokio::io::AsyncWriteExt::write_all(&mut s, &bytes).await;
    })
    .await;
    let up = StreamUpstream::tcp(server.addr);
    let err = ask(&up, 1, "a.test.").await.unwrap_err();
    assert!(matches!(err, ExchangeError::Closed), "{err}");
    assert_eq!(
        server.accepted(),
        2,
        "one retry on a new connection, no more"
    );
}

#[tokio::test]
async fn answers_to_other_questions_or_ids_are_not_taken() {
    let server = Server::start(None, |mut s, _| async move {
        while let Some(q) = read_query(&mut s).await {
            // First an answer under an ID not in flight: dropped.
            let mut stray = answer(&q);
            stray[0] ^= 0xff;
            write_frame(&mut s, &stray).await;
            if name_of(&q) == "wrong.test." {
                write_frame(
                    &mut s,
                    &answer(&super::testserver::query(
                        u16::from_be_bytes([q[0], q[1]]),
                        "other.test.",
                    )),
                )
                .await;
            } else {
                write_frame(&mut s, &answer(&q)).await;
            }
        }
    })
    .await;
    let up = StreamUpstream::tcp(server.addr);
    assert_answers(&ask(&up, 1, "right.test.").await.unwrap(), 1, "right.test.");
    let err = ask(&up, 2, "wrong.test.").await.unwrap_err();
    assert!(matches!(err, ExchangeError::Malformed(_)), "{err}");
    assert_answers(&ask(&up, 3, "again.test.").await.unwrap(), 3, "again.test.");
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn a_full_connection_opens_another_up_to_the_bound() {
    let gate = Arc::new(Semaphore::new(0));
    let seen = Arc::new(AtomicUsize::new(0));
    let (g, s2) = (gate.clone(), seen.clone());
    let server = Server::start(None, move |s, _| gated(s, g.clone(), s2.clone())).await;
    let settings = Settings {
        max_in_flight: 2,
        max_connections: 2,
        ..Settings::default()
    };
    let up = Arc::new(StreamUpstream::tcp(server.addr).with_settings(settings));
    let asks: Vec<_> = (0..6u16)
        .map(|i| {
            let up = up.clone();
            tokio::spawn(async move { (i, ask(&up, i, &format!("slow{i}.test.")).await) })
        })
        .collect();
    until("two full connections", || seen.load(Ordering::SeqCst) == 4).await;
    assert_eq!((server.accepted(), up.open_connections()), (2, 2));
    gate.add_permits(6);
    for (i, a) in futures_join(asks.into_iter()).await {
        assert_answers(&a.unwrap(), i, &format!("slow{i}.test."));
    }
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn a_malformed_query_is_refused_without_connecting() {
    let server = Server::start(None, |s, _| echo(s)).await;
    let up = StreamUpstream::tcp(server.addr);
    let err = up.exchange(&[0; 5]).await.unwrap_err();
    assert!(matches!(err, ExchangeError::Malformed(_)), "{err}");
    assert_eq!(server.accepted(), 0);
}

#[tokio::test]
async fn answers_near_the_64_kib_frame_limit_come_whole_over_tls() {
    let tls = Tls::new(&[b"dot"]);
    let server = Server::start(Some(tls.server.clone()), |mut s, _| async move {
        while let Some(q) = read_query(&mut s).await {
            write_frame(&mut s, &big_answer(&q, 2500)).await;
        }
    })
    .await;
    let up = StreamUpstream::tls(server.addr, Tls::server_name(), tls.client.clone());
    for id in 1..4 {
        let a = ask(&up, id, "big.test.").await.unwrap();
        assert!(a.len() > 55_000, "{} bytes", a.len());
        let m = hickory_proto::op::Message::from_vec(&a).unwrap();
        assert_eq!((m.metadata.id, m.answers.len()), (id, 2500));
    }
}

#[test]
fn upstreams_and_their_exchanges_can_move_between_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let up = StreamUpstream::tcp("127.0.0.1:9".parse().unwrap());
    send_sync(&up);
    send(up.exchange(&[]));
}

#[tokio::test]
async fn dropping_the_upstream_closes_its_connections() {
    let ended = Arc::new(AtomicUsize::new(0));
    let e = ended.clone();
    let server = Server::start(None, move |s, _| {
        let e = e.clone();
        async move {
            echo(s).await;
            e.fetch_add(1, Ordering::SeqCst);
        }
    })
    .await;
    let up = StreamUpstream::tcp(server.addr);
    assert_answers(&ask(&up, 1, "a.test.").await.unwrap(), 1, "a.test.");
    drop(up);
    until("the server sees the connection end", || {
        ended.load(Ordering::SeqCst) == 1
    })
    .await;
}
