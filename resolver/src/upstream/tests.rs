//! Choosing, retrying and giving up, against real UDP servers on loopback.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use super::*;

/// A query for `www.example.` A IN.
fn query() -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
    q
}

/// A server answering every query with `rcode`, counting them.
fn server(rcode: u8) -> (SocketAddr, Arc<AtomicU64>) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = socket.local_addr().expect("addr");
    let count = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut a = buf[..n].to_vec();
            a[2] |= 0x80;
            a[3] = (a[3] & 0xf0) | rcode;
            let _ = socket.send_to(&a, from);
        }
    });
    (addr, count)
}

fn upstreams(servers: &[SocketAddr], extra: &str) -> Upstreams {
    let list: Vec<String> = servers.iter().map(|s| format!("\"{s}\"")).collect();
    let toml = format!(
        "[upstream]\nservers = [{}]\ntimeout_ms = 1000\n{extra}",
        list.join(", ")
    );
    let config = crate::config::from_toml_str(&toml, Path::new(".")).expect("config");
    Upstreams::new(&config.upstream, Arc::default()).expect("upstreams")
}

#[tokio::test]
async fn a_servfail_is_retried_on_the_other_upstream_whose_answer_is_used() {
    let (failing, failed) = server(2);
    let (good, answered) = server(0);
    let u = upstreams(&[failing, good], "");
    for _ in 0..5 {
        let a = u.exchange(&query()).await.expect("an answer");
        assert_eq!(wire::rcode(&a.bytes), 0);
        assert!(!a.trusted);
    }
    assert_eq!(answered.load(Ordering::SeqCst), 5);
    assert!(
        failed.load(Ordering::SeqCst) >= 1,
        "tried first, in config order"
    );
}

#[tokio::test]
async fn when_every_attempt_fails_the_last_refusal_is_returned() {
    let (failing, failed) = server(5);
    let u = upstreams(&[failing], &format!("trusted = [\"{failing}\"]"));
    let a = u.exchange(&query()).await.expect("the refusal");
    assert_eq!(wire::rcode(&a.bytes), 5);
    assert!(a.trusted, "marked trusted in the config");
    assert_eq!(failed.load(Ordering::SeqCst), 2, "attempts = 2 by default");
}

#[tokio::test]
async fn silence_is_a_timeout_after_the_deadline() {
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let u = upstreams(&[silent.local_addr().expect("addr")], "");
    let started = Instant::now();
    let e = u.exchange(&query()).await.expect_err("no answer");
    assert!(matches!(e, ExchangeError::Timeout), "{e}");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "the whole deadline"
    );
    let open = u.open_sockets();
    assert!(
        (1..=2).contains(&open),
        "one pool socket per attempt at most: {open}"
    );
}
