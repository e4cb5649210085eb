//! Bounded connections: floods of idle connections from one address (or
//! many) on plain TCP, DoT and the warning page never lock out a client
//! that asks; the tokens file fails closed. Clients connect from chosen
//! loopback addresses (127.0.0.2, 127.0.0.3, …) to tell them apart.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use futures_util::future::join_all;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use parapet_e2e::client::addresses;
use parapet_e2e::parapet::WAIT;
use parapet_e2e::{Blackhole, Parapet, Upstream, eventually};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::transport::{
    ALLOWED, Cert, HOST, TOKEN, doh_addr, dot_addr, dot_ask as ask, encrypted, framed, get, http1,
    query_bytes, read_framed, sample, tls_client, tokens_only,
};

/// More connections than `[server] max_connections` (1024) by default.
const FLOOD: usize = 1100;
/// Descriptors the flood tests need together (they run in parallel in one
/// process, which holds both ends of each connection): ~2,300 for the
/// many-address TCP test, ~1,200 for each of the three one-address tests,
/// plus the other tests' sockets.
const FD_NEEDED: u64 = 8192;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// Let this test process hold a flood's file descriptors (both ends of
/// every connection live here): raise the soft limit towards the hard one.
fn raise_fd_limit(needed: u64) -> Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        if limit.rlim_cur < needed {
            limit.rlim_cur = needed.min(limit.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
        }
    }
    anyhow::ensure!(
        limit.rlim_cur >= needed,
        "RLIMIT_NOFILE hard limit {} is below the {needed} this test needs",
        limit.rlim_max
    );
    Ok(())
}

/// A TCP connection from `src` (any port) to `to`.
async fn connect_from(src: IpAddr, to: SocketAddr) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(src, 0))?;
    let tcp = tokio::time::timeout(WAIT, socket.connect(to))
        .await
        .map_err(|_| anyhow!("connect {src} -> {to} timed out"))??;
    Ok(tcp)
}

/// `n` connections from `src` to `to`, left idle.
async fn flood(src: IpAddr, to: SocketAddr, n: usize) -> Result<Vec<TcpStream>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(connect_from(src, to).await?);
    }
    Ok(conns)
}

/// A TLS connection from `src` with server name `sni` (DoT ALPN).
async fn dot_from(
    src: IpAddr,
    to: SocketAddr,
    sni: &str,
    cert: &Cert,
) -> Result<TlsStream<TcpStream>> {
    let tcp = connect_from(src, to).await?;
    tls_over(tcp, sni, cert).await
}

async fn tls_over(tcp: TcpStream, sni: &str, cert: &Cert) -> Result<TlsStream<TcpStream>> {
    let connector = TlsConnector::from(Arc::new(tls_client(&[&cert.der], &[b"dot"])));
    let name = ServerName::try_from(sni.to_owned())?;
    Ok(tokio::time::timeout(WAIT, connector.connect(name, tcp))
        .await
        .map_err(|_| anyhow!("TLS handshake timed out"))??)
}

fn metric(p: &Parapet, series: &str) -> f64 {
    sample(&p.server().metrics().encode(), series)
}

#[tokio::test]
async fn idle_dot_flood_from_one_address_leaves_room_for_a_token_client() -> Result<()> {
    raise_fd_limit(FD_NEEDED)?;
    let up = Upstream::start().await;
    let cert = Cert::new();
    // Loopback is not allowed: only token clients are served.
    let p = tokens_only(up.addr(), &cert).start().await?;
    let dot = dot_addr(&p);
    // 127.0.0.2 opens more connections than the whole table holds and
    // completes TLS on every one it can, without a token.
    let tcp = flood(ip("127.0.0.2"), dot, FLOOD).await?;
    let handshakes = join_all(tcp.into_iter().map(|t| tls_over(t, HOST, &cert))).await;
    let idle: Vec<_> = handshakes.into_iter().filter_map(Result::ok).collect();
    // A token client from elsewhere is answered at once.
    let started = Instant::now();
    let mut alice = dot_from(ip("127.0.0.3"), dot, &format!("{TOKEN}.{HOST}"), &cert).await?;
    let answer = ask(&mut alice, "www.example.").await?;
    eprintln!(
        "token client answered in {:?} beside {} idle TLS connections kept by the flood",
        started.elapsed(),
        idle.len()
    );
    assert_eq!(addresses(&answer), [ALLOWED]);
    let evicted = metric(
        &p,
        "parapet_connections_closed_total{listener=\"dns\",reason=\"evicted\"}",
    );
    assert!(evicted >= (FLOOD - 64) as f64, "evicted {evicted}");
    // The flood's survivors are untrusted: closed once the grace is over;
    // the token client stays.
    eventually(
        WAIT,
        || async { metric(&p, "parapet_connections_open{listener=\"dns\"}") },
        |open| *open == 1.0,
    )
    .await?;
    assert_eq!(
        addresses(&ask(&mut alice, "www.example.").await?),
        [ALLOWED]
    );
    drop(idle);
    Ok(())
}

#[tokio::test]
async fn idle_tcp_flood_from_one_address_leaves_room_for_another() -> Result<()> {
    raise_fd_limit(FD_NEEDED)?;
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let tcp = p.server().tcp_addrs()[0];
    let idle = flood(ip("127.0.0.2"), tcp, FLOOD).await?;
    let started = Instant::now();
    let mut client = connect_from(ip("127.0.0.3"), tcp).await?;
    let answer = ask(&mut client, "www.example.").await?;
    eprintln!(
        "TCP client answered in {:?} beside {} idle connections from one address",
        started.elapsed(),
        idle.len()
    );
    assert_eq!(addresses(&answer), [ALLOWED]);
    let open = metric(&p, "parapet_connections_open{listener=\"dns\"}");
    assert!(open <= 65.0, "one address holds at most 64: {open}");
    Ok(())
}

#[tokio::test]
async fn idle_tcp_floods_from_many_addresses_leave_room_for_another() -> Result<()> {
    raise_fd_limit(FD_NEEDED)?;
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let tcp = p.server().tcp_addrs()[0];
    // 20 allowed addresses, 60 idle connections each (under the 64 per
    // client): more than the table's 1024 in all.
    let mut idle = Vec::new();
    for host in 10..30 {
        idle.extend(flood(ip(&format!("127.0.0.{host}")), tcp, 60).await?);
    }
    let started = Instant::now();
    let mut client = connect_from(ip("127.0.0.3"), tcp).await?;
    let answer = ask(&mut client, "www.example.").await?;
    eprintln!(
        "TCP client answered in {:?} beside {} idle connections",
        started.elapsed(),
        idle.len()
    );
    assert_eq!(addresses(&answer), [ALLOWED]);
    let open = metric(&p, "parapet_connections_open{listener=\"dns\"}");
    assert!(open <= 1024.0, "open {open}");
    let evicted = metric(
        &p,
        "parapet_connections_closed_total{listener=\"dns\",reason=\"evicted\"}",
    );
    assert!(
        evicted >= (idle.len() + 1 - 1024) as f64,
        "evicted {evicted}"
    );
    Ok(())
}

#[tokio::test]
async fn idle_warning_page_flood_from_one_address_leaves_room_for_a_visitor() -> Result<()> {
    raise_fd_limit(FD_NEEDED)?;
    let up = Upstream::start().await;
    let p = Parapet::start(up.addr()).await?;
    let page = p.server().warning_page_addrs()[0];
    let idle = flood(ip("127.0.0.2"), page, FLOOD).await?;
    let started = Instant::now();
    let mut visitor = connect_from(ip("127.0.0.3"), page).await?;
    visitor
        .write_all(b"GET / HTTP/1.1\r\nHost: phishing.example\r\nConnection: close\r\n\r\n")
        .await?;
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, visitor.read_to_end(&mut raw))
        .await
        .map_err(|_| anyhow!("no warning page within {WAIT:?}"))??;
    eprintln!(
        "warning page served in {:?} beside {} idle connections",
        started.elapsed(),
        idle.len()
    );
    let head = String::from_utf8_lossy(&raw);
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let open = metric(&p, "parapet_connections_open{listener=\"warning_page\"}");
    assert!(open <= 32.0, "one address holds at most 32: {open}");
    Ok(())
}

#[tokio::test]
async fn a_removed_tokens_file_revokes_every_token_until_it_is_back() -> Result<()> {
    let up = Upstream::start().await;
    let cert = Cert::new();
    let p = tokens_only(up.addr(), &cert).start().await?;
    let roots = [&cert.der[..]];
    let doh = doh_addr(&p);
    let status = |token: &'static str| {
        let path = format!("/dns-query/{token}");
        async move {
            http1(doh, &roots, &get(&path, "www.example."), b"")
                .await
                .map(|r| r.0)
                .ok()
        }
    };
    assert_eq!(status(TOKEN).await, Some(200));
    assert_eq!(status("bob-revoked").await, Some(403));
    let file = p.path("tokens");
    let text = std::fs::read_to_string(&file).context("tokens")?;
    std::fs::remove_file(&file)?;
    eventually(WAIT, || status(TOKEN), |code| *code == Some(403)).await?;
    assert_eq!(status("bob-revoked").await, Some(403));
    assert!(metric(&p, "parapet_tokens_file_errors_total") >= 1.0);
    assert_eq!(metric(&p, "parapet_tokens_valid"), 0.0);
    // Restored (written aside, renamed in): the token works again.
    let aside = p.path("tokens.new");
    std::fs::write(&aside, text)?;
    std::fs::rename(&aside, &file)?;
    eventually(WAIT, || status(TOKEN), |code| *code == Some(200)).await?;
    assert_eq!(status("bob-revoked").await, Some(403));
    assert_eq!(metric(&p, "parapet_tokens_valid"), 1.0);
    Ok(())
}

#[tokio::test]
async fn tokenless_dot_off_the_allow_list_is_refused_then_closed_allowed_stays() -> Result<()> {
    let up = Upstream::start().await;
    let cert = Cert::new();
    let p = encrypted(up.addr(), &cert)
        .section(
            "access",
            "allow = [\"127.0.0.4/32\"]\nrate_limit_qps = 0\ntokens_file = \"tokens\"",
        )
        .start()
        .await?;
    let mut allowed = dot_from(ip("127.0.0.4"), dot_addr(&p), HOST, &cert).await?;
    let mut stranger = dot_from(ip("127.0.0.2"), dot_addr(&p), HOST, &cert).await?;
    let refused = ask(&mut stranger, "www.example.").await?;
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    // The stranger's connection is closed after the grace...
    let mut buf = [0u8; 1];
    let end = tokio::time::timeout(WAIT, stranger.read(&mut buf)).await;
    assert!(matches!(end, Ok(Ok(0) | Err(_))), "still open: {end:?}");
    assert_eq!(
        metric(
            &p,
            "parapet_connections_closed_total{listener=\"dns\",reason=\"untrusted\"}"
        ),
        1.0
    );
    // ...while the allowed client's, as old, still answers.
    assert_eq!(
        addresses(&ask(&mut allowed, "www.example.").await?),
        [ALLOWED]
    );
    Ok(())
}

#[tokio::test]
async fn queries_on_one_tcp_connection_are_answered_concurrently() -> Result<()> {
    // The upstream never answers: a forwarded query waits for its timeout,
    // a blocked one is answered at once.
    let down = Blackhole::start().await;
    let p = Parapet::start(down.addr()).await?;
    let mut s = connect_from(ip("127.0.0.5"), p.server().tcp_addrs()[0]).await?;
    for name in ["www.example.", "phishing.example."] {
        s.write_all(&framed(&query_bytes(name, RecordType::A))?)
            .await?;
    }
    let mut first_name = None;
    let mut codes = Vec::new();
    for _ in 0..2 {
        let m = read_framed(&mut s).await?;
        let name = m.queries.first().map(|q| q.name().to_ascii());
        first_name.get_or_insert(name);
        codes.push(m.metadata.response_code);
    }
    // The blocked name did not wait behind the forwarded one.
    assert_eq!(first_name, Some(Some("phishing.example.".to_string())));
    assert_eq!(codes, [ResponseCode::NoError, ResponseCode::ServFail]);
    Ok(())
}
