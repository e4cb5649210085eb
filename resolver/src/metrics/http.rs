//! The Prometheus scrape endpoint: `GET /metrics` on `[metrics] listen`.
//!
//! HTTP/1.1 only (what Prometheus speaks). `GET`/`HEAD /metrics` answers the
//! OpenMetrics text exposition; any other path is 404, any other method on
//! `/metrics` 405. At most [`MAX_CONNECTIONS`] connections are served at once
//! (further ones are closed at once), headers must arrive within
//! [`HEADER_TIMEOUT`], and a connection lives at most [`CONNECTION_LIFETIME`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::net::http::{Ended, serve_connection};

use super::{CONTENT_TYPE as METRICS_CONTENT_TYPE, Metrics};

/// Default `[metrics] listen`: loopback only, Prometheus' conventional
/// port for DNS exporters (CoreDNS uses 9153).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9153";
/// Connections served at once; a scraper needs one.
pub const MAX_CONNECTIONS: usize = 16;
/// Time allowed for a client to send its request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a single connection (with keep-alive) is kept.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

/// Bind `addr` (port 0 picks a free port; see [`crate::listen`]), log
/// `metrics listening on http://ADDR/metrics` and serve on a task of
/// `tasks` until `shutdown`. Returns the bound address.
///
/// # Errors
/// The address cannot be bound; the error names `metrics.listen`.
pub fn start(
    addr: SocketAddr,
    opts: crate::listen::BindOptions,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    tasks: &crate::net::TaskTracker,
) -> Result<SocketAddr, crate::listen::BindError> {
    const KEY: &str = "metrics.listen";
    let listener = crate::listen::tokio_tcp(KEY, addr, opts)?;
    let bound = listener
        .local_addr()
        .map_err(|source| crate::listen::BindError::new(KEY, addr, source))?;
    info!("metrics listening on http://{bound}/metrics");
    tasks.spawn(serve(listener, metrics, shutdown));
    Ok(bound)
}

/// Serve `/metrics` on `listener` until `shutdown` is cancelled; returns
/// once the listener is closed and its connections have finished.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let http = Arc::new(crate::net::http::builder(false, HEADER_TIMEOUT));
    let admit = |_| Arc::clone(&permits).try_acquire_owned().ok();
    let stop = shutdown.clone();
    crate::net::accept_loop(
        "metrics endpoint",
        listener,
        stop,
        admit,
        |stream, peer, permit| {
            let metrics = Arc::clone(&metrics);
            let http = Arc::clone(&http);
            let shutdown = shutdown.clone();
            async move {
                let service = service_fn(move |request| {
                    let metrics = Arc::clone(&metrics);
                    async move { Ok::<_, Infallible>(respond(&request, &metrics)) }
                });
                let lifetime = tokio::time::sleep(CONNECTION_LIFETIME);
                let stop = shutdown.cancelled();
                let io = TokioIo::new(stream);
                let ended =
                    serve_connection(&http, io, service, stop, lifetime, HEADER_TIMEOUT).await;
                if let Ended::Closed(Err(error)) = ended {
                    debug!(%peer, %error, "metrics endpoint: connection error");
                }
                drop(permit);
            }
        },
    )
    .await;
}

/// The response to one request.
fn respond(request: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    if request.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found; metrics are at /metrics\n",
        );
    }
    match *request.method() {
        Method::GET | Method::HEAD => {
            let mut response = Response::new(Full::new(Bytes::from(metrics.encode())));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
            response
        }
        _ => {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        }
    }
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Send a raw HTTP/1.1 request and read the whole response.
    async fn get(addr: std::net::SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("write request");
        let mut response = String::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            stream.read_to_string(&mut response),
        )
        .await
        .expect("response within 10 s")
        .expect("read response");
        response
    }

    async fn start() -> (std::net::SocketAddr, Arc<Metrics>, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let metrics = Arc::new(Metrics::new());
        let shutdown = CancellationToken::new();
        tokio::spawn(serve(listener, Arc::clone(&metrics), shutdown.clone()));
        (addr, metrics, shutdown)
    }

    #[tokio::test]
    async fn get_metrics_returns_the_exposition() {
        let (addr, metrics, shutdown) = start().await;
        metrics.record_query(
            super::super::Protocol::Tcp,
            super::super::OutcomeKind::Refused,
        );
        let response = get(
            addr,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response
                .to_ascii_lowercase()
                .contains("content-type: application/openmetrics-text; version=1.0.0"),
            "{response}"
        );
        assert!(
            response.contains("parapet_queries_total{protocol=\"tcp\",outcome=\"refused\"} 1"),
            "{response}"
        );
        assert!(response.ends_with("# EOF\n"), "{response}");
        shutdown.cancel();
    }

    #[tokio::test]
    async fn other_paths_are_404_and_other_methods_405() {
        let (addr, _metrics, shutdown) = start().await;
        let response = get(
            addr,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 404"), "{response}");
        let response = get(
            addr,
            "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 405"), "{response}");
        shutdown.cancel();
    }

    #[tokio::test]
    async fn garbage_request_gets_an_error_not_a_crash() {
        let (addr, _metrics, shutdown) = start().await;
        let response = get(addr, "\x16\x03\x01 not http at all\r\n\r\n").await;
        assert!(
            response.is_empty() || response.starts_with("HTTP/1.1 400"),
            "{response}"
        );
        // Still serving afterwards.
        let response = get(
            addr,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        shutdown.cancel();
    }
}
