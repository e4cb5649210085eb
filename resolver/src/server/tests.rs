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
