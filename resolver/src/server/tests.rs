use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::*;
use crate::transport::testutil::{TestCert, write_pair};

const DEADLINE: Duration = Duration::from_secs(30);

/// Graceful shutdown waits for every listener: once `wait` returns, the
/// task tracker is empty and no TCP, DoT, DoH, metrics or warning-page port
/// accepts any more, even with connections left open across the stop.
#[tokio::test]
async fn a_stopped_server_has_ended_every_listener_task_and_closed_its_ports() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_pair(dir.path(), &TestCert::new(&["dns.example.org"]));
    let text = "[server]\nlisten = [\"127.0.0.1:0\"]\ntls_listen = [\"127.0.0.1:0\"]\n\
                https_listen = [\"127.0.0.1:0\"]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n\
                [upstream]\nservers = [\"127.0.0.1:5300\"]\n\
                [metrics]\nlisten = \"127.0.0.1:0\"\n\
                [warning_page]\nlisten = [\"127.0.0.1:0\"]\n";
    let config = crate::config::from_toml_str(text, dir.path()).expect("config");
    let shutdown = CancellationToken::new();
    let server = ServerBuilder::new(config)
        .start(shutdown.clone())
        .await
        .expect("server starts");
    let mut ports: Vec<SocketAddr> = server.tcp_addrs().to_vec();
    ports.extend(server.tls_addrs());
    ports.extend(server.https_addrs());
    ports.extend(server.metrics_addr());
    ports.extend(server.warning_page_addrs());
    assert_eq!(ports.len(), 5, "{ports:?}");
    // Connections held open across the stop, one per listener.
    let mut open = Vec::new();
    for addr in &ports {
        open.push(
            TcpStream::connect(addr)
                .await
                .expect("accepting while serving"),
        );
    }
    let tasks = server.tasks().clone();
    assert!(tasks.is_closed() && !tasks.is_empty());

    shutdown.cancel();
    tokio::time::timeout(DEADLINE, server.wait())
        .await
        .expect("stops within the deadline")
        .expect("stops cleanly");
    assert!(
        tasks.is_empty(),
        "{} listener tasks still running",
        tasks.len()
    );
    for addr in &ports {
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "{addr} still accepts after the server stopped"
        );
    }
    drop(open);
}

fn query(id: u16, name: &str) -> Vec<u8> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_ascii(name).expect("name"),
        RecordType::A,
    ));
    m.to_vec().expect("encodes")
}

/// With no UDP permit left, a query that needs the full handler is dropped
/// and counted, while a blocked name is still answered by the fast path.
#[tokio::test]
async fn with_the_udp_bound_reached_queries_are_dropped_and_counted_but_blocks_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("list.txt"), "evil.example\n").expect("list");
    let text = "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"127.0.0.1:9\"]\n\
                [blocklist]\nsources = [\"list.txt\"]\n[access]\nrate_limit_qps = 0\n\
                [metrics]\nenabled = false\n";
    let config = crate::config::from_toml_str(text, dir.path()).expect("config");
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let server = ServerBuilder::new(config)
        .max_udp_in_flight(0)
        .start(shutdown.clone())
        .await
        .expect("server starts");
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    socket
        .connect(server.udp_addrs()[0])
        .await
        .expect("connect");

    socket.send(&query(1, "fine.example.")).await.expect("send");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !server
        .metrics()
        .encode()
        .contains("parapet_udp_dropped_total 1")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the query was not dropped and counted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    socket
        .send(&query(2, "www.evil.example."))
        .await
        .expect("send");
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(DEADLINE, socket.recv(&mut buf))
        .await
        .expect("the blocked name is answered")
        .expect("recv");
    let answer = hickory_proto::op::Message::from_vec(&buf[..n]).expect("an answer");
    assert_eq!(answer.metadata.id, 2, "only the blocked name is answered");
    assert!(!answer.answers.is_empty(), "{answer:?}");
}
