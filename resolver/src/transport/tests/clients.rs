//! Real clients against the listeners: kdig, curl (when installed) and hickory.

use super::*;

/// The path of an external tool, or `None` (after printing `SKIPPED`) when
/// it is absent and `PARAPET_REQUIRE_TOOLS` is unset.
fn tool(name: &str) -> Option<std::path::PathBuf> {
    parapet_test_support::tool(name, "transport::tests")
}

async fn run(cmd: &std::path::Path, args: &[String]) -> String {
    let out = tokio::time::timeout(
        DEADLINE,
        tokio::process::Command::new(cmd)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("tool finished within the deadline")
    .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test]
async fn kdig_over_tls_and_https_and_curl_over_http2() {
    let f = start(false, Limits::default()).await;
    let ca = f.dir.path().join("cert.pem").display().to_string();
    if let Some(kdig) = tool("kdig") {
        for (transport, sni, want) in [
            (format!("+tls-hostname=alice.{HOST}"), "alice", "192.0.2.1"),
            (format!("+tls-hostname={HOST}"), "none", "REFUSED"),
            ("+https=/dns-query/alice".to_string(), "doh", "192.0.2.1"),
        ] {
            let port = if sni == "doh" {
                f.doh.port()
            } else {
                f.dot.port()
            };
            let mut args = vec![
                "@127.0.0.1".to_string(),
                "-p".into(),
                port.to_string(),
                format!("+tls-ca={ca}"),
                transport.clone(),
                "a.test".into(),
                "A".into(),
            ];
            if sni == "doh" {
                args.push(format!("+tls-hostname={HOST}"));
            }
            let out = run(&kdig, &args).await;
            assert!(out.contains(want), "{transport}: {out}");
        }
    }
    if let Some(curl) = tool("curl") {
        let q = f.dir.path().join("q.bin");
        std::fs::write(&q, query(0, "a.test.")).unwrap();
        let a = f.dir.path().join("a.bin");
        let port = f.doh.port();
        let out = run(
            &curl,
            &[
                "-sS".into(),
                "--http2".into(),
                "--cacert".into(),
                ca.clone(),
                "--resolve".into(),
                format!("{HOST}:{port}:127.0.0.1"),
                "-H".into(),
                "content-type: application/dns-message".into(),
                "--data-binary".into(),
                format!("@{}", q.display()),
                "-o".into(),
                a.display().to_string(),
                "-w".into(),
                "%{http_code} %{http_version}".into(),
                format!("https://{HOST}:{port}/dns-query/alice"),
            ],
        )
        .await;
        assert_eq!(out.trim(), "200 2", "{out}");
        let m = Message::from_vec(&std::fs::read(&a).unwrap()).unwrap();
        assert_eq!(first_a(&m), Some([192, 0, 2, 1].into()));
    }
}

/// A hickory resolver that asks `addr` over DoT (`path` None) or DoH.
fn hickory_client(
    addr: SocketAddr,
    server_name: &str,
    path: Option<&str>,
    root: &[u8],
) -> hickory_resolver::Resolver<hickory_resolver::net::runtime::TokioRuntimeProvider> {
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    let mut conn = match path {
        None => ConnectionConfig::tls(Arc::from(server_name)),
        Some(p) => ConnectionConfig::https(Arc::from(server_name), Some(Arc::from(p))),
    };
    conn.port = addr.port();
    let config =
        ResolverConfig::from_name_servers(vec![NameServerConfig::new(addr.ip(), true, vec![conn])]);
    let mut store = rustls::RootCertStore::empty();
    store.add(CertificateDer::from(root.to_vec())).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(certs::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let mut builder = hickory_resolver::Resolver::builder_with_config(config, Default::default())
        .with_tls_config(tls);
    builder.options_mut().cache_size = 0;
    builder.build().unwrap()
}

/// hickory's own DoT client sends no SNI (hickory-net `tls.rs` turns it
/// off), so it cannot carry a token: it is served under the address list.
/// Its DoH client carries the token in the path.
#[tokio::test]
async fn hickory_client_over_dot_and_doh() {
    let open = start(true, Limits::default()).await;
    let closed = start(false, Limits::default()).await;
    for (f, addr, path, want) in [
        (&open, open.dot, None, Some([192, 0, 2, 1].into())),
        (&closed, closed.dot, None, None),
        (
            &closed,
            closed.doh,
            Some("/dns-query/alice"),
            Some([192, 0, 2, 1].into()),
        ),
        (&closed, closed.doh, Some("/dns-query"), None),
    ] {
        let client = hickory_client(addr, HOST, path, f.cert.der());
        let got = tokio::time::timeout(DEADLINE, client.lookup("a.test.", RecordType::A))
            .await
            .expect("answer within the deadline");
        match (got, want) {
            (Ok(lookup), Some(ip)) => assert_eq!(first_a(lookup.message()), Some(ip), "{path:?}"),
            (Err(e), None) => assert!(e.to_string().contains("Refused"), "{path:?}: {e}"),
            (got, _) => panic!("{path:?}: {:?}", got.map(|l| l.message().clone())),
        }
    }
}
