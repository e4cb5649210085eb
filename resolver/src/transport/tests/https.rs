//! DoH: GET and POST, HTTP errors, tokens in the path, idle connections.

use super::*;

#[tokio::test]
async fn doh_answers_get_and_post_with_cache_control() {
    let f = start(true, Limits::default()).await;
    let roots = [f.cert.der()];
    let q = query(0, "a.test.");
    let get = format!("GET /dns-query?dns={} HTTP/1.1", b64url(&q));
    let post = "POST /dns-query HTTP/1.1\r\nContent-Type: application/dns-message";
    for (head, body) in [(get.as_str(), &[][..]), (post, &q[..])] {
        let (code, headers, body) = http1(f.doh, &roots, head, body).await;
        assert_eq!(code, 200, "{head}");
        assert_eq!(header(&headers, "content-type"), Some(doh::DNS_MESSAGE));
        assert_eq!(header(&headers, "cache-control"), Some("max-age=300"));
        assert_eq!(
            first_a(&Message::from_vec(&body).unwrap()),
            Some([192, 0, 2, 1].into())
        );
    }
}

#[tokio::test]
async fn doh_bad_requests_get_the_right_http_errors() {
    let f = start(true, Limits::default()).await;
    let roots = [f.cert.der()];
    let q = query(0, "a.test.");
    let big = vec![0u8; 70_000];
    let cases: Vec<(String, Vec<u8>, u16)> = vec![
        ("GET /dns-query HTTP/1.1".into(), vec![], 400),
        ("GET /dns-query?dns=%%%% HTTP/1.1".into(), vec![], 400),
        (
            format!("GET /dns-query?dns={} HTTP/1.1", b64url(b"short")),
            vec![],
            400,
        ),
        (
            "POST /dns-query HTTP/1.1\r\nContent-Type: text/plain".into(),
            q.clone(),
            415,
        ),
        ("POST /dns-query HTTP/1.1".into(), q.clone(), 415),
        (
            "POST /dns-query HTTP/1.1\r\nContent-Type: application/dns-message".into(),
            big,
            413,
        ),
        (
            "POST /dns-query HTTP/1.1\r\nContent-Type: application/dns-message".into(),
            b"garbage!!!!!!!".to_vec(),
            400,
        ),
        ("PUT /dns-query HTTP/1.1".into(), vec![], 405),
        ("GET /other HTTP/1.1".into(), vec![], 404),
        ("GET /dns-query/a/b HTTP/1.1".into(), vec![], 404),
    ];
    for (head, body, want) in cases {
        let (code, _, _) = http1(f.doh, &roots, &head, &body).await;
        assert_eq!(code, want, "{head}");
    }
    // Still serving afterwards.
    let (code, _, _) = http1(
        f.doh,
        &roots,
        &format!("GET /dns-query?dns={} HTTP/1.1", b64url(&q)),
        b"",
    )
    .await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn doh_path_tokens_valid_missing_unknown_and_revoked() {
    let f = start(false, Limits::default()).await;
    let roots = [f.cert.der()];
    let q = b64url(&query(0, "a.test."));
    let ask = |path: &str| format!("GET {path}?dns={q} HTTP/1.1");
    let (code, _, body) = http1(f.doh, &roots, &ask("/dns-query/alice"), b"").await;
    assert_eq!(code, 200);
    assert!(first_a(&Message::from_vec(&body).unwrap()).is_some());
    // Missing: the address list decides (REFUSED here).
    let (code, _, body) = http1(f.doh, &roots, &ask("/dns-query"), b"").await;
    assert_eq!(code, 200);
    assert_eq!(
        Message::from_vec(&body).unwrap().metadata.response_code,
        ResponseCode::Refused
    );
    let (code, _, _) = http1(f.doh, &roots, &ask("/dns-query/mallory"), b"").await;
    assert_eq!(code, 403);
    // Revoked by editing the watched file: refused without a restart.
    let _watcher = f.tokens.watch().unwrap();
    std::fs::write(
        f.tokens.file().unwrap(),
        format!("{} bob\n", hash_token("bob")),
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (code, _, _) = http1(f.doh, &roots, &ask("/dns-query/alice"), b"").await;
        if code == 403 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "revocation not seen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, _, _) = http1(f.doh, &roots, &ask("/dns-query/bob"), b"").await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn idle_doh_connections_are_closed() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let f = start(true, limits).await;
    let mut s = tls_connect(f.doh, HOST, &[f.cert.der()], &[b"http/1.1"])
        .await
        .unwrap();
    let q = b64url(&query(0, "a.test."));
    s.write_all(format!("GET /dns-query?dns={q} HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // One answer, then nothing: the server closes the keep-alive connection.
    let mut raw = Vec::new();
    let closed = tokio::time::timeout(DEADLINE, s.read_to_end(&mut raw)).await;
    assert!(closed.is_ok(), "idle connection kept open");
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}
