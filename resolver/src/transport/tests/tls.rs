//! DoT: pipelined queries, tokens in the server name.

use super::*;

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
