//! The one HTTP server builder (hyper, through hyper-util's `auto`
//! builder) and the one way a connection is driven to its end: used by DoH
//! ([`crate::transport::doh`]), the metrics endpoint
//! ([`crate::metrics::http`]) and the warning page ([`crate::warning`]).

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::rt::{Read, Write};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::{self, HttpServerConnExec};

/// An HTTP server builder; tune it further with `http1()` / `http2()`.
pub(crate) type Http = auto::Builder<TokioExecutor>;

/// The builder for one listener: HTTP/1.1 only, or (`http2`) HTTP/1.1 and
/// HTTP/2 as the client chooses; request headers must arrive within
/// `header_timeout`.
pub(crate) fn builder(http2: bool, header_timeout: Duration) -> Http {
    let mut http = auto::Builder::new(TokioExecutor::new());
    if http2 {
        http.http2().timer(TokioTimer::new());
    } else {
        http = http.http1_only();
    }
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    http
}

/// How a connection ended.
#[derive(Debug)]
pub(crate) enum Ended<R> {
    /// The client closed it or the exchange finished (`Err`: a protocol or
    /// I/O error, worth a `debug!` at most).
    Closed(Result<(), Box<dyn std::error::Error + Send + Sync>>),
    /// `stop` fired with this reason: the connection was shut down
    /// gracefully (requests in flight answered within the grace).
    Stopped(R),
    /// `abort` fired: the connection was dropped at once.
    Aborted,
}

/// Serve one connection with `service` until it closes; when `stop`
/// completes first, shut it down gracefully and give it `grace` to finish;
/// when `abort` completes first, drop it.
pub(crate) async fn serve_connection<I, S, R>(
    http: &Http,
    io: I,
    service: S,
    stop: impl Future<Output = R>,
    abort: impl Future<Output = ()>,
    grace: Duration,
) -> Ended<R>
where
    I: Read + Write + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>,
    S::Future: Send + 'static,
    TokioExecutor: HttpServerConnExec<S::Future, Full<Bytes>>,
{
    let connection = http.serve_connection(io, service);
    tokio::pin!(connection);
    let reason = tokio::select! {
        result = connection.as_mut() => return Ended::Closed(result),
        () = abort => return Ended::Aborted,
        reason = stop => reason,
    };
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(grace, connection).await;
    Ended::Stopped(reason)
}
