//! Certificates: renewal, start-up checks, config keys and key/certificate fit.

use super::*;

#[tokio::test]
async fn renewed_certificate_is_served_to_new_handshakes_and_old_connections_continue() {
    let f = start(true, Limits::default()).await;
    let old = f.cert.der().to_vec();
    let mut existing = tls_connect(f.dot, HOST, &[&old], &[dot::ALPN_DOT])
        .await
        .unwrap();
    assert!(first_a(&dot_ask(&mut existing, 1, "a.test.").await).is_some());

    let renewed = TestCert::new(&[HOST, "*.dns.example.org"]);
    replace_pair(f.dir.path(), &renewed);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        // Trust both, and look at what the server presents.
        let s = tls_connect(f.doh, HOST, &[&old, renewed.der()], &[b"h2"])
            .await
            .unwrap();
        let presented = s.get_ref().1.peer_certificates().unwrap()[0].to_vec();
        if presented == renewed.der() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "renewal not picked up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A client that trusts only the new certificate now connects over DoT too.
    let mut fresh = tls_connect(f.dot, HOST, &[renewed.der()], &[dot::ALPN_DOT])
        .await
        .unwrap();
    assert!(first_a(&dot_ask(&mut fresh, 2, "b.test.").await).is_some());
    assert_eq!(f.certs.current().cert[0].as_ref(), renewed.der());
    // The connection made before the renewal still works.
    assert!(first_a(&dot_ask(&mut existing, 3, "c.test.").await).is_some());
}

/// Swap in a new pair the way certbot does: write elsewhere, rename over.
fn replace_pair(dir: &Path, cert: &TestCert) {
    let staging = dir.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let (c, k) = write_pair(&staging, cert);
    std::fs::rename(k, dir.join("key.pem")).unwrap();
    std::fs::rename(c, dir.join("cert.pem")).unwrap();
}

#[tokio::test]
async fn start_binds_listeners_from_settings_and_needs_a_certificate() {
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let settings = crate::transport::Settings {
        tls_listen: vec!["127.0.0.1:0".parse().unwrap()],
        https_listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    };
    let tasks = crate::net::TaskTracker::new();
    let tokens = Arc::new(Tokens::new(&[hash_token("alice")], None).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new(&[HOST, "*.dns.example.org"]);
    let (c, k) = write_pair(dir.path(), &cert);
    let loaded = Arc::new(certs::ReloadingCert::open(&c, &k).unwrap());
    let start = |cert| {
        let stub = Stub { open: false };
        let tokens = Arc::clone(&tokens);
        crate::transport::start(&settings, cert, tokens, stub, shutdown.clone(), &tasks)
    };
    let err = start(None).await.unwrap_err();
    assert!(
        matches!(err, crate::transport::TransportError::NoCertificate),
        "{err}"
    );
    let running = start(Some(loaded)).await.unwrap();
    assert_eq!((running.tls_addrs.len(), running.https_addrs.len()), (1, 1));
    let mut s = tls_connect(
        running.tls_addrs[0],
        &format!("alice.{HOST}"),
        &[cert.der()],
        &[dot::ALPN_DOT],
    )
    .await
    .unwrap();
    assert!(first_a(&dot_ask(&mut s, 1, "a.test.").await).is_some());
    let (code, _, _) = http1(
        running.https_addrs[0],
        &[cert.der()],
        "GET /dns-query/bob?dns=AAAA HTTP/1.1",
        b"",
    )
    .await;
    assert_eq!(code, 403);
}

#[test]
fn config_keys_for_tokens_and_upstream_ca_are_validated_with_their_paths() {
    use crate::{config::ConfigError, preflight::from_toml_str};
    let dir = tempfile::tempdir().unwrap();
    let up = "[upstream]\nservers = [\"127.0.0.1:5300\"]\n";
    let base = format!("{up}[access]\n");
    let issues = |text: &str| match from_toml_str(text, dir.path()) {
        Err(ConfigError::Invalid { issues, .. }) => {
            issues.iter().map(|i| i.to_string()).collect::<Vec<_>>()
        }
        other => panic!("expected issues, got {other:?}"),
    };
    let bad = issues(&format!("{base}tokens = [\"x\", \"alice\"]\n"));
    assert!(bad[0].starts_with("access.tokens[0]:"), "{bad:?}");
    let bad = issues(&format!("{base}tokens_file = \"missing\"\n"));
    assert!(bad[0].starts_with("access.tokens_file:"), "{bad:?}");
    let bad = issues(&format!("{up}ca_file = \"nope.pem\"\n"));
    assert!(bad[0].starts_with("upstream.ca_file:"), "{bad:?}");

    std::fs::write(
        dir.path().join("tokens"),
        format!("{} alice\n", hash_token("alice")),
    )
    .unwrap();
    let c = from_toml_str(
        &format!(
            "{base}tokens = [\"{}\"]\ntokens_file = \"tokens\"\n",
            hash_token("bob")
        ),
        dir.path(),
    )
    .unwrap()
    .0;
    let tokens = Tokens::new(&c.access.tokens, c.access.tokens_file.as_deref()).unwrap();
    assert!(tokens.check("alice").is_some() && tokens.check("bob").is_some());
}

#[test]
fn check_config_reports_a_key_that_does_not_fit_the_certificate() {
    use crate::{config::ConfigError, preflight::from_toml_str};
    let dir = tempfile::tempdir().unwrap();
    let a = TestCert::new(&[HOST]);
    let b = TestCert::new(&[HOST]);
    std::fs::write(dir.path().join("cert.pem"), a.cert_pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), b.key_pem()).unwrap();
    let text = "[server]\ntls_listen = [\"127.0.0.1:0\"]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n\
                [upstream]\nservers = [\"127.0.0.1:5300\"]\n";
    match from_toml_str(text, dir.path()) {
        Err(ConfigError::Invalid { issues, .. }) => {
            let text: Vec<_> = issues.iter().map(|i| i.to_string()).collect();
            assert!(
                text.iter()
                    .any(|i| i.starts_with("server.tls_key:") && i.contains("does not fit")),
                "{text:?}"
            );
        }
        other => panic!("expected issues, got {other:?}"),
    }
    std::fs::write(dir.path().join("key.pem"), a.key_pem()).unwrap();
    assert!(from_toml_str(text, dir.path()).is_ok());
}
