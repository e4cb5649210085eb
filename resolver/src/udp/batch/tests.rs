//! Batches over real loopback sockets, with `recvmmsg`/`sendmmsg` and with
//! the portable fallback.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

use super::{BATCH, RECEIVE_BUFFER, Received, Replies};

const WAIT: Duration = Duration::from_secs(5);

async fn socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.expect("bind")
}

/// Send `count` datagrams (`"<sender>:<i>"`) from each of `senders` to `to`.
async fn send_from(senders: &[UdpSocket], to: SocketAddr, count: usize) {
    for i in 0..count {
        for (s, sender) in senders.iter().enumerate() {
            sender
                .send_to(format!("{s}:{i}").as_bytes(), to)
                .await
                .expect("send");
        }
    }
}

/// Receive until `want` datagrams arrived; returns each as (text, source)
/// and the size of every batch.
async fn drain(
    received: &mut Received,
    socket: &UdpSocket,
    want: usize,
) -> (Vec<(String, SocketAddr)>, Vec<usize>) {
    let mut got = Vec::new();
    let mut batches = Vec::new();
    while got.len() < want {
        let n = tokio::time::timeout(WAIT, received.recv(socket))
            .await
            .expect("datagrams arrive in time")
            .expect("receive works");
        assert_eq!(received.iter().count(), n, "every datagram has a source");
        batches.push(n);
        for (bytes, src, _) in received.iter() {
            got.push((String::from_utf8_lossy(bytes).into_owned(), src));
        }
    }
    (got, batches)
}

async fn receives_queued_datagrams_in_batches(mut received: Received) {
    let server = socket().await;
    let to = server.local_addr().expect("addr");
    let senders = [socket().await, socket().await, socket().await];
    // Loopback delivers each send before it returns: all 3 × 40 are queued.
    send_from(&senders, to, 40).await;
    let (got, batches) = drain(&mut received, &server, 120).await;
    assert_eq!(got.len(), 120);
    assert!(batches.iter().all(|&n| n <= BATCH), "{batches:?}");
    assert_eq!(batches[0], BATCH, "a full batch at once: {batches:?}");
    let distinct: HashSet<_> = got.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(distinct.len(), 120, "no datagram lost or repeated");
    for (text, src) in &got {
        let s: usize = text
            .split(':')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("tag");
        assert_eq!(*src, senders[s].local_addr().expect("addr"), "{text}");
    }
}

#[tokio::test]
async fn mmsg_receives_queued_datagrams_in_batches() {
    receives_queued_datagrams_in_batches(Received::new()).await;
}

#[tokio::test]
async fn portable_receives_queued_datagrams_in_batches() {
    receives_queued_datagrams_in_batches(Received::portable()).await;
}

async fn long_and_empty_datagrams(mut received: Received) {
    let server = socket().await;
    let to = server.local_addr().expect("addr");
    let client = socket().await;
    client.send_to(&[], to).await.expect("send");
    client.send_to(&[7; 9000], to).await.expect("send");
    client.send_to(b"after", to).await.expect("send");
    let mut lens = Vec::new();
    while lens.len() < 3 {
        tokio::time::timeout(WAIT, received.recv(&server))
            .await
            .expect("in time")
            .expect("receive works");
        lens.extend(received.iter().map(|(b, _, _)| b.len()));
    }
    // Too long: cut to the buffer (it then fails to parse as DNS).
    assert_eq!(lens, vec![0, RECEIVE_BUFFER, 5]);
}

#[tokio::test]
async fn mmsg_keeps_long_and_empty_datagrams_apart() {
    long_and_empty_datagrams(Received::new()).await;
}

#[tokio::test]
async fn portable_keeps_long_and_empty_datagrams_apart() {
    long_and_empty_datagrams(Received::portable()).await;
}

async fn sends_each_reply_to_its_client(mut replies: Replies) {
    let batched = replies.batched();
    let server = socket().await;
    let clients = [socket().await, socket().await, socket().await];
    // More than one batch's worth, and an unsendable one in the middle.
    let mut expected = Vec::new();
    for i in 0..(BATCH + 8) {
        let c = i % clients.len();
        let buf = replies.next_buffer();
        assert!(buf.is_empty(), "buffers come back empty");
        buf.extend_from_slice(format!("reply {i}").as_bytes());
        replies.queue(clients[c].local_addr().expect("addr"), None);
        expected.push((c, format!("reply {i}")));
        if i == 5 {
            // Port 0 cannot be sent to: dropped, the rest still go.
            replies.next_buffer().extend_from_slice(b"nowhere");
            replies.queue("127.0.0.1:0".parse().expect("addr"), None);
        }
    }
    assert_eq!(replies.len(), BATCH + 9);
    replies.flush(&server).await;
    assert_eq!(replies.len(), 0);
    assert_eq!(
        replies.batched(),
        batched,
        "one bad address keeps batching on"
    );
    let mut buf = [0u8; 64];
    for (c, text) in expected {
        let (len, from) = tokio::time::timeout(WAIT, clients[c].recv_from(&mut buf))
            .await
            .expect("reply arrives in time")
            .expect("receive");
        assert_eq!(&buf[..len], text.as_bytes(), "replies in order per client");
        assert_eq!(from, server.local_addr().expect("addr"));
    }
    // Reused afterwards.
    replies.next_buffer().extend_from_slice(b"again");
    replies.queue(clients[0].local_addr().expect("addr"), None);
    replies.flush(&server).await;
    let (len, _) = tokio::time::timeout(WAIT, clients[0].recv_from(&mut buf))
        .await
        .expect("in time")
        .expect("receive");
    assert_eq!(&buf[..len], b"again");
}

#[tokio::test]
async fn mmsg_sends_each_reply_to_its_client() {
    let replies = Replies::new();
    assert_eq!(replies.batched(), cfg!(target_os = "linux"));
    sends_each_reply_to_its_client(replies).await;
}

#[tokio::test]
async fn portable_sends_each_reply_to_its_client() {
    sends_each_reply_to_its_client(Replies::portable()).await;
}

#[tokio::test]
async fn unqueued_buffer_is_not_sent() {
    let server = socket().await;
    let client = socket().await;
    let mut replies = Replies::new();
    replies.next_buffer().extend_from_slice(b"draft");
    replies.next_buffer().extend_from_slice(b"real");
    replies.queue(client.local_addr().expect("addr"), None);
    replies.flush(&server).await;
    let mut buf = [0u8; 16];
    let (len, _) = tokio::time::timeout(WAIT, client.recv_from(&mut buf))
        .await
        .expect("in time")
        .expect("receive");
    assert_eq!(&buf[..len], b"real");
}

/// A socket bound as the listener binds a wildcard, and a client
/// *connected* to `to`: it only takes datagrams whose source is `to`, as a
/// stub resolver does.
#[cfg(target_os = "linux")]
async fn wildcard_and_client(wildcard: &str, to: std::net::IpAddr) -> (UdpSocket, UdpSocket) {
    let mut server = crate::listen::udp(
        "server.listen",
        wildcard.parse().expect("addr"),
        1,
        crate::listen::BindOptions::default(),
    )
    .expect("bind the wildcard");
    let server = server.remove(0);
    let port = server.local_addr().expect("addr").port();
    let client = UdpSocket::bind(SocketAddr::new(
        if to.is_ipv4() {
            "127.0.0.1".parse().expect("ip")
        } else {
            "::1".parse().expect("ip")
        },
        0,
    ))
    .await
    .expect("client");
    client
        .connect(SocketAddr::new(to, port))
        .await
        .expect("connect");
    (server, client)
}

/// Replies from a wildcard socket leave from the address the query went
/// to: 127.0.0.2, not the kernel's choice for a reply to 127.0.0.1 (a
/// client connected to 127.0.0.2 would drop that). Both ways out: the
/// batch (`sendmmsg`) and one reply at a time (the handler's tasks).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn wildcard_replies_leave_from_the_address_asked() {
    use super::Local;
    let cases = [
        (
            "0.0.0.0:0",
            "127.0.0.2",
            Some(Local::V4("127.0.0.2".parse().unwrap())),
        ),
        // Dual-stack: an IPv4 client of an IPv6 wildcard.
        (
            "[::]:0",
            "127.0.0.2",
            Some(Local::V4("127.0.0.2".parse().unwrap())),
        ),
        ("[::]:0", "::1", None),
    ];
    for (wildcard, to, want) in cases {
        let to: std::net::IpAddr = to.parse().expect("ip");
        let (server, client) = wildcard_and_client(wildcard, to).await;
        let mut received = Received::new();
        let mut replies = Replies::new();
        for way in ["batch", "one"] {
            client.send(way.as_bytes()).await.expect("send");
            let n = tokio::time::timeout(WAIT, received.recv(&server))
                .await
                .expect("query arrives")
                .expect("receive");
            assert_eq!(n, 1);
            let (bytes, src, local) = received.iter().next().expect("one datagram");
            assert_eq!(bytes, way.as_bytes());
            match want {
                Some(want) => assert_eq!(local, Some(want), "{wildcard} to {to}"),
                None => assert!(
                    matches!(local, Some(Local::V6(ip, _)) if ip == to),
                    "{wildcard} to {to}: {local:?}"
                ),
            }
            if way == "batch" {
                replies.next_buffer().extend_from_slice(b"reply");
                replies.queue(src, local);
                replies.flush(&server).await;
            } else {
                super::send_one(&server, b"reply", src, local)
                    .await
                    .expect("send");
            }
            let mut buf = [0u8; 16];
            let len = tokio::time::timeout(WAIT, client.recv(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("{wildcard} to {to}, {way}: no reply from {to}"))
                .expect("receive");
            assert_eq!(&buf[..len], b"reply");
        }
    }
}
