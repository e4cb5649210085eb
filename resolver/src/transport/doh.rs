//! DNS over HTTPS (RFC 8484) on HTTP/2 and HTTP/1.1 (chosen by ALPN).
//!
//! Endpoints: `/dns-query` and, for [token](super::tokens) access,
//! `/dns-query/<token>`. `GET ?dns=<base64url>` and `POST` with
//! `content-type: application/dns-message`. Errors:
//! 404 other paths, 403 unknown or revoked token, 405 other methods,
//! 415 wrong content type, 400 missing/undecodable `dns` parameter or a body
//! that is not a DNS query, 413 a body over 64 KiB, 408 a body that does not
//! arrive within the request timeout. Answers carry
//! `cache-control: max-age=<smallest TTL>`.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, Response, StatusCode,
    body::Incoming,
    header::{self, HeaderValue},
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tokio::{net::TcpListener, sync::Notify, time::timeout};
use tokio_util::sync::CancellationToken;

use super::{
    limits::{Limits, MAX_DOH_BODY, accept_bounded},
    refusals::Refusals,
    sni,
    tokens::Tokens,
};
use crate::access::{ClientAuth, Context};
use crate::conntable::Slot;
use crate::event::Protocol;
use crate::handler::{DnsService, ExchangeError};
use crate::metrics::TokenRefusal;
use crate::net::http::{Ended, Http};

/// The ALPN ids offered by the DoH listener, preferred first.
pub const ALPN_DOH: &[&[u8]] = &[b"h2", b"http/1.1"];
/// The DoH endpoint path (RFC 8484 §3 suggests it; clients default to it).
pub const DOH_PATH: &str = "/dns-query";
/// The DoH media type.
pub const DNS_MESSAGE: &str = "application/dns-message";

/// Serve DoH on `listener` until `shutdown` is cancelled; requests refused
/// for their token are recorded in `refusals`.
pub async fn serve<H>(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    handler: H,
    tokens: Arc<Tokens>,
    refusals: Refusals,
    limits: Limits,
    shutdown: CancellationToken,
) where
    H: DnsService,
{
    let mut http = crate::net::http::builder(true, limits.request_timeout);
    http.http1().max_buf_size(MAX_DOH_BODY + 16 * 1024);
    http.http2()
        .max_concurrent_streams(u32::try_from(limits.max_in_flight).unwrap_or(64))
        .max_header_list_size(16 * 1024)
        .max_pending_accept_reset_streams(32)
        .keep_alive_interval(Some(limits.idle_timeout))
        .keep_alive_timeout(limits.request_timeout);
    let http = Arc::new(http);
    let stop = shutdown.clone();
    accept_bounded("DoH", listener, &limits, stop, |tcp, src, slot| {
        let endpoint = Endpoint {
            handler: handler.clone(),
            tokens: Arc::clone(&tokens),
            refusals: refusals.clone(),
            limits: limits.clone(),
            src,
            slot: Arc::clone(&slot),
        };
        let tls = Arc::clone(&tls);
        let http = Arc::clone(&http);
        let shutdown = shutdown.clone();
        // A client off the allow-list must show a valid token in the path
        // within the grace, or it is closed (see `accept_bounded`).
        async move { serve_connection(endpoint, &tls, tcp, &http, &shutdown).await }
    })
    .await;
}

/// TLS handshake, then HTTP until the client closes, the connection stays
/// idle, or `shutdown`.
async fn serve_connection<H: DnsService>(
    endpoint: Endpoint<H>,
    tls: &Arc<ServerConfig>,
    tcp: tokio::net::TcpStream,
    http: &Http,
    shutdown: &CancellationToken,
) {
    let src = endpoint.src;
    let limits = endpoint.limits.clone();
    // A name the certificate does not cover is a sinkholed https:// visit:
    // reset at once (see `sni`).
    // A handshake in progress is abandoned on shutdown, as DoT's is.
    let handshake = timeout(limits.handshake_timeout, sni::accept(tls, tcp));
    let handshake = tokio::select! {
        h = handshake => h,
        () = shutdown.cancelled() => return,
    };
    let tls = match handshake {
        Ok(Ok(sni::Accepted::Tls(tls))) => *tls,
        Ok(Ok(sni::Accepted::Reset(name))) => {
            tracing::debug!(client = %src, %name, "DoH: TLS for another name reset");
            return;
        }
        Ok(Err(error)) => {
            tracing::debug!(client = %src, %error, "DoH handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(client = %src, "DoH handshake timed out");
            return;
        }
    };
    let activity = Arc::new(Activity::default());
    let endpoint = Arc::new(endpoint);
    let service = {
        let activity = Arc::clone(&activity);
        service_fn(move |request| {
            let endpoint = Arc::clone(&endpoint);
            let activity = Arc::clone(&activity);
            async move {
                let _busy = activity.start();
                let _slot_busy = endpoint.slot.busy();
                Ok::<_, Infallible>(endpoint.respond(request).await)
            }
        })
    };
    // Close connections that stay idle; stop them on shutdown.
    let stop = async {
        tokio::select! {
            () = activity.idle_for(limits.idle_timeout) => "idle",
            () = shutdown.cancelled() => "shutdown",
        }
    };
    let io = TokioIo::new(tls);
    let never = std::future::pending();
    let grace = limits.request_timeout;
    match crate::net::http::serve_connection(http, io, service, stop, never, grace).await {
        Ended::Closed(Err(error)) => {
            tracing::debug!(client = %src, %error, "DoH connection ended");
        }
        Ended::Stopped(reason) => {
            tracing::debug!(client = %src, reason, "closed DoH connection");
        }
        Ended::Closed(Ok(())) | Ended::Aborted => {}
    }
}

/// Requests in flight on one connection, to tell an idle connection.
#[derive(Default)]
struct Activity {
    busy: AtomicUsize,
    changed: Notify,
}

struct Busy<'a>(&'a Activity);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_waiters();
    }
}

impl Activity {
    fn start(&self) -> Busy<'_> {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_waiters();
        Busy(self)
    }

    /// Completes once no request has been in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.busy.load(Ordering::Acquire) == 0 {
                if timeout(idle, changed).await.is_err() {
                    return;
                }
            } else {
                changed.await;
            }
        }
    }
}

struct Endpoint<H> {
    handler: H,
    tokens: Arc<Tokens>,
    refusals: Refusals,
    limits: Limits,
    src: SocketAddr,
    slot: Arc<Slot>,
}

type HttpResponse = Response<Full<Bytes>>;

impl<H: DnsService> Endpoint<H> {
    async fn respond(&self, request: Request<Incoming>) -> HttpResponse {
        let (parts, body) = request.into_parts();
        let mut body = Some(body);
        let response = self.respond_to(&parts, &mut body).await;
        if let Some(mut unread) = body {
            // Answered before the body was read (a refused token, another
            // path or method, a wrong content type, a declared length over
            // the limit): read it first, so that the stream ends cleanly.
            // Left unread, HTTP/2 resets the stream after the response, and
            // clients such as curl then report a framing error instead of
            // the status.
            let _ = timeout(self.limits.request_timeout, discard(&mut unread)).await;
        }
        response
    }

    /// The response to a request; `body` is taken when it is read.
    async fn respond_to(
        &self,
        request: &hyper::http::request::Parts,
        body: &mut Option<Incoming>,
    ) -> HttpResponse {
        let path = request.uri.path();
        let auth = match token_in_path(path) {
            Some(Some(token)) => match self.tokens.check(token) {
                Some(label) => {
                    self.slot.trust();
                    ClientAuth::Token(label)
                }
                None => {
                    self.refusals.record(self.src, self.tokens.refusal(token));
                    return status(StatusCode::FORBIDDEN, "unknown or revoked token");
                }
            },
            Some(None) => ClientAuth::Address,
            None => {
                if path.starts_with(DOH_PATH) && path[DOH_PATH.len()..].starts_with('/') {
                    // `/dns-query/` with no token, or more than one segment.
                    self.refusals.record(self.src, TokenRefusal::Malformed);
                }
                return status(StatusCode::NOT_FOUND, "not a DoH endpoint; use /dns-query");
            }
        };
        let query = match request.method {
            Method::GET => match dns_param(request.uri.query()) {
                Ok(query) => query,
                Err(why) => return status(StatusCode::BAD_REQUEST, why),
            },
            Method::POST => match self.read_body(&request.headers, body).await {
                Ok(query) => query,
                Err(response) => return response,
            },
            _ => {
                let mut response = status(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST");
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
                return response;
            }
        };
        let context = Context {
            client: self.src,
            protocol: Protocol::Https,
            auth,
        };
        match self.handler.answer(query, context).await {
            Ok(answer) => {
                let max_age = min_ttl(&answer).unwrap_or(0);
                let mut response = Response::new(Full::new(Bytes::from(answer)));
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(DNS_MESSAGE));
                if let Ok(v) = HeaderValue::from_str(&format!("max-age={max_age}")) {
                    headers.insert(header::CACHE_CONTROL, v);
                }
                response
            }
            Err(ExchangeError::Malformed(why)) => {
                tracing::debug!(client = %self.src, why, "DoH body is not a DNS query");
                self.handler
                    .undecodable(&Context::new(self.src, Protocol::Https));
                status(StatusCode::BAD_REQUEST, "not a DNS query")
            }
            Err(ExchangeError::NoAnswer) => status(StatusCode::INTERNAL_SERVER_ERROR, "no answer"),
        }
    }

    /// The body of a POST, taken from `body` once the headers allow it.
    async fn read_body(
        &self,
        headers: &hyper::HeaderMap,
        body: &mut Option<Incoming>,
    ) -> Result<Vec<u8>, HttpResponse> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim);
        if !content_type.is_some_and(|t| t.eq_ignore_ascii_case(DNS_MESSAGE)) {
            return Err(status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content-type must be application/dns-message",
            ));
        }
        let too_large = || {
            status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "a DNS message is at most 65535 bytes",
            )
        };
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_DOH_BODY as u64) {
            return Err(too_large());
        }
        let Some(mut unread) = body.take() else {
            return Err(status(StatusCode::BAD_REQUEST, "body could not be read"));
        };
        let read = async {
            let mut bytes = Vec::new();
            while let Some(frame) = unread.frame().await {
                let Ok(frame) = frame else {
                    return Err(status(StatusCode::BAD_REQUEST, "body could not be read"));
                };
                if let Ok(data) = frame.into_data() {
                    if bytes.len() + data.len() > MAX_DOH_BODY {
                        discard(&mut unread).await;
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&data);
                }
            }
            Ok(bytes)
        };
        match timeout(self.limits.request_timeout, read).await {
            Ok(read) => read,
            Err(_) => Err(status(StatusCode::REQUEST_TIMEOUT, "body too slow")),
        }
    }
}

/// Most bytes of a refused request's body read and dropped before the
/// response (a client that sends more gets its stream reset).
const MAX_DISCARD: usize = 4 * MAX_DOH_BODY;

/// Read and drop what is left of `body`, up to [`MAX_DISCARD`] bytes.
async fn discard(body: &mut Incoming) {
    let mut seen = 0;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map_or(0, Bytes::len);
        if seen > MAX_DISCARD {
            return;
        }
    }
}

/// `Some(None)` for `/dns-query`, `Some(Some(token))` for
/// `/dns-query/<token>`, `None` for any other path.
pub fn token_in_path(path: &str) -> Option<Option<&str>> {
    let rest = path.strip_prefix(DOH_PATH)?;
    if rest.is_empty() {
        return Some(None);
    }
    let token = rest.strip_prefix('/')?;
    (!token.is_empty() && !token.contains('/')).then_some(Some(token))
}

/// The DNS query in a GET request's `dns` parameter (base64url; RFC 8484
/// says without padding, padding is tolerated).
///
/// # Errors
/// Why the parameter is missing or undecodable (the text of the 400).
pub fn dns_param(query: Option<&str>) -> Result<Vec<u8>, &'static str> {
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let value = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("dns="))
        .ok_or("missing dns parameter")?;
    if value.is_empty() || value.len() > MAX_DOH_BODY * 4 / 3 + 4 {
        return Err("dns parameter empty or too long");
    }
    ENGINE
        .decode(value)
        .map_err(|_| "dns parameter is not base64url")
}

/// The smallest TTL in the answer and authority sections (for HTTP caching,
/// RFC 8484 §5.1), or `None` when there is no record or no parse.
pub fn min_ttl(answer: &[u8]) -> Option<u32> {
    let message = hickory_proto::op::Message::from_vec(answer).ok()?;
    message
        .answers
        .iter()
        .chain(message.authorities.iter())
        .map(|r| r.ttl)
        .min()
}

fn status(code: StatusCode, text: &'static str) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_select_the_endpoint_and_token() {
        assert_eq!(token_in_path("/dns-query"), Some(None));
        assert_eq!(token_in_path("/dns-query/abc"), Some(Some("abc")));
        assert_eq!(token_in_path("/dns-query/"), None);
        assert_eq!(token_in_path("/dns-query/a/b"), None);
        assert_eq!(token_in_path("/dns-queryx"), None);
        assert_eq!(token_in_path("/"), None);
    }

    #[test]
    fn dns_parameter_is_base64url_with_or_without_padding() {
        assert_eq!(dns_param(Some("dns=AAEC")).unwrap(), vec![0, 1, 2]);
        assert_eq!(dns_param(Some("x=1&dns=AAE")).unwrap(), vec![0, 1]);
        assert_eq!(dns_param(Some("dns=AAE=")).unwrap(), vec![0, 1]);
        assert_eq!(dns_param(Some("dns=-_8")).unwrap(), vec![0xfb, 0xff]);
        assert!(dns_param(None).is_err());
        assert!(dns_param(Some("dns=")).is_err());
        assert!(dns_param(Some("dns=!!!")).is_err());
        assert!(dns_param(Some("name=x")).is_err());
    }
}
