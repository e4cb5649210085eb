//! Resource bounds: stalled handshakes, slow clients, a full connection table.

use super::*;

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
