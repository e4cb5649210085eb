//! The pool against a real UDP server on loopback that the test scripts.

use std::net::UdpSocket as StdSocket;
use std::time::Duration;

use super::*;

/// A query for `name` (uncompressed, lower case as given) A IN, ID 0xabcd.
fn query(name: &str) -> Vec<u8> {
    let mut q = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The answer to `q`: the same bytes with QR set and `marker` appended
/// (an opaque tail the test recognises).
fn answer(q: &[u8], marker: u8) -> Vec<u8> {
    let mut a = q.to_vec();
    a[2] |= 0x80;
    a.push(marker);
    a
}

/// A server thread: for each query, send what `script` makes of it.
fn server(script: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> SocketAddr {
    let socket = StdSocket::bind("127.0.0.1:0").expect("bind");
    let addr = socket.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            for reply in script(&buf[..n]) {
                let _ = socket.send_to(&reply, from);
            }
        }
    });
    addr
}

fn pool(addr: SocketAddr) -> UdpPool {
    UdpPool::new(addr, Arc::new(ClientMetrics::default()))
}

#[tokio::test]
async fn answers_with_the_wrong_id_or_question_are_ignored_and_the_right_one_is_used() {
    let addr = server(|q| {
        let mut wrong_id = answer(q, 1);
        wrong_id[0] ^= 0xff;
        let mut wrong_name = answer(q, 2);
        wrong_name[13] = b'z';
        let mut wrong_type = answer(q, 3);
        let n = wrong_type.len();
        wrong_type[n - 4] = 28;
        vec![wrong_id, wrong_name, wrong_type, answer(q, 9)]
    });
    let pool = pool(addr);
    let q = query("www.example");
    let a = pool.exchange(&q, false).await.expect("answer");
    assert_eq!(a.last(), Some(&9), "the matching answer");
    assert_eq!(a[..2], q[..2], "the caller's ID restored");
}

#[tokio::test]
async fn every_query_gets_a_fresh_random_id_and_sockets_are_shared() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let addr = server(move |q| {
        log.lock()
            .expect("log")
            .push(u16::from_be_bytes([q[0], q[1]]));
        vec![answer(q, 0)]
    });
    let pool = pool(addr);
    let q = query("www.example");
    for _ in 0..200 {
        pool.exchange(&q, false).await.expect("answer");
    }
    let ids = seen.lock().expect("log").clone();
    assert_eq!(ids.len(), 200);
    assert!(!ids.contains(&0xabcd) || ids.iter().filter(|&&i| i == 0xabcd).count() < 3);
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert!(
        distinct.len() > 190,
        "{} distinct IDs of 200",
        distinct.len()
    );
    let open = pool.open_sockets();
    assert!((1..=POOL_SIZE).contains(&open), "{open} sockets");
}

#[tokio::test]
async fn with_exact_case_an_answer_in_another_case_is_ignored() {
    let addr = server(|q| {
        let mut lower = answer(q, 1);
        let end = lower.len() - 5;
        lower[12..end].make_ascii_lowercase();
        vec![lower, answer(q, 9)]
    });
    let pool = pool(addr);
    let q = query("WwW.ExAmPlE");
    let a = pool.exchange(&q, true).await.expect("answer");
    assert_eq!(a.last(), Some(&9), "only the exact echo");
    let a = pool.exchange(&q, false).await.expect("answer");
    assert_eq!(a.last(), Some(&1), "without 0x20 any case matches");
}

#[tokio::test]
async fn sockets_are_renewed_after_their_query_budget_and_stay_bounded() {
    let ports = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let log = Arc::clone(&ports);
    let socket = StdSocket::bind("127.0.0.1:0").expect("bind");
    let addr = socket.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            log.lock().expect("ports").insert(from.port());
            let _ = socket.send_to(&answer(&buf[..n], 0), from);
        }
    });
    let mut pool = pool(addr);
    pool.renew = (8, RENEW_AFTER);
    let q = query("www.example");
    // 1000 queries: each slot's socket is renewed every 8 of its queries.
    for _ in 0..1000 {
        pool.exchange(&q, false).await.expect("answer");
        assert!(pool.open_sockets() <= 2 * POOL_SIZE, "bounded");
    }
    let seen = ports.lock().expect("ports").len();
    assert!(
        seen > 2 * POOL_SIZE,
        "{seen} source ports over 1000 queries"
    );
    assert!(
        pool.open_sockets() <= POOL_SIZE + 1,
        "retired sockets closed"
    );
}

#[tokio::test]
async fn a_closed_port_fails_the_query_as_unreachable_and_drop_closes_every_socket() {
    let closed = StdSocket::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let metrics = Arc::new(ClientMetrics::default());
    let pool = UdpPool::new(addr, Arc::clone(&metrics));
    let q = query("www.example");
    let error = tokio::time::timeout(Duration::from_secs(5), pool.exchange(&q, false))
        .await
        .expect("ICMP port unreachable is reported at once")
        .expect_err("nothing listens");
    assert!(error.is_network(), "{error}");
    assert!(metrics.sockets.load(Ordering::Relaxed) >= 1);
    drop(pool);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while metrics.sockets.load(Ordering::Relaxed) != 0 {
        assert!(std::time::Instant::now() < deadline, "sockets left open");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
