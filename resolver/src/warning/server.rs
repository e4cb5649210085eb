//! The HTTP/1.1 server behind the sinkhole addresses, with limits.
//!
//! Limits, so the page cannot be used to exhaust the resolver: at most
//! `max_connections` connections at once and `max_connections_per_client`
//! from one client (a [connection table](crate::conntable): when full, the
//! connection idle longest, from the client holding most, is closed to make
//! room), request headers within `header_timeout_secs` and 16 KiB, one
//! request per connection, and a hard deadline per connection.

use crate::lookalike::SharedLookalikes;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parapet_blocklist::Verdict;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::answer_blocks::AnswerBlock;
use super::config::WarningPageConfig;
use super::host::Host;
use super::notice::{self, Generic};
use super::{page, tls_reset};
use crate::conntable::{ConnTable, Slot};
use crate::list::SharedBlocklist;
use crate::listen::BindOptions;
use crate::metrics::{Listener, Metrics, WarningView};
use crate::net::http::{Ended, Http};
use crate::status::Board;

/// Largest request head read (hyper's minimum buffer).
const MAX_BUF_SIZE: usize = 16 * 1024;
/// Longest a connection may live, whatever the client does.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(20);
/// How long connections in flight may take to finish after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

pub use crate::listen::BindError;

/// The bound sockets of the warning page: HTTP, and the TLS port that is
/// reset. Bind first (start-up errors surface before serving), then
/// [`serve`].
#[derive(Debug)]
pub struct WarningListeners {
    http: Vec<std::net::TcpListener>,
    tls: Vec<std::net::TcpListener>,
}

impl WarningListeners {
    /// Bind the addresses of `config` (see [`WarningPageConfig::listen_addrs`]
    /// and [`WarningPageConfig::tls_listen_addrs`]). `sinkholes` are the
    /// configured sinkhole addresses, used when the config names none. Port
    /// 0 binds a free port; learn it with [`WarningListeners::http_addrs`].
    ///
    /// # Errors
    /// An explicitly configured address that cannot be bound. A default
    /// address (derived from the sinkholes) that cannot be bound, e.g. port
    /// 80 without the privilege, is skipped with a warning: the resolver
    /// still protects, blocked sites just show a connection error.
    pub fn bind(
        config: &WarningPageConfig,
        sinkholes: &[std::net::IpAddr],
    ) -> Result<Self, BindError> {
        Self::bind_with(config, sinkholes, BindOptions::default())
    }

    /// [`WarningListeners::bind`] with `[server] freebind` and the like.
    ///
    /// # Errors
    /// As [`WarningListeners::bind`].
    pub fn bind_with(
        config: &WarningPageConfig,
        sinkholes: &[std::net::IpAddr],
        opts: BindOptions,
    ) -> Result<Self, BindError> {
        let (http_addrs, explicit) = config.listen_addrs(sinkholes);
        if http_addrs.is_empty() && !explicit {
            tracing::info!(
                "warning page off: the sinkhole address reaches nothing; set block.sinkhole_ipv4 \
                 to this machine's address, or set warning_page.listen"
            );
        }
        let http = bind_all(
            "warning_page.listen",
            http_addrs,
            explicit,
            opts,
            "blocked sites show a connection error instead",
        )?;
        let (tls_addrs, explicit) = config.tls_listen_addrs(sinkholes);
        let tls = bind_all(
            "warning_page.tls_listen",
            tls_addrs,
            explicit,
            opts,
            "https:// visits to blocked sites may hang instead of failing at once",
        )?;
        Ok(WarningListeners { http, tls })
    }

    /// True when nothing is bound (the page is off).
    pub fn is_empty(&self) -> bool {
        self.http.is_empty() && self.tls.is_empty()
    }

    /// The bound HTTP addresses (with the real port when 0 was asked for).
    pub fn http_addrs(&self) -> Vec<SocketAddr> {
        self.http
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The bound addresses that reset TLS connections.
    pub fn tls_addrs(&self) -> Vec<SocketAddr> {
        self.tls
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }
}

/// Bind every address; a failure is an error when `explicit`, else a warning.
fn bind_all(
    key: &'static str,
    addrs: Vec<SocketAddr>,
    explicit: bool,
    opts: BindOptions,
    consequence: &str,
) -> Result<Vec<std::net::TcpListener>, BindError> {
    let mut listeners = Vec::new();
    for addr in addrs {
        match crate::listen::tcp(key, addr, opts) {
            Ok(listener) => listeners.push(listener),
            Err(e) if explicit => return Err(e),
            Err(e) => tracing::warn!("{e}; {consequence}"),
        }
    }
    Ok(listeners)
}

/// Shared by every connection.
struct State {
    config: WarningPageConfig,
    lists: SharedBlocklist,
    /// The look-alike check in service (`None`: not shown).
    lookalikes: Option<SharedLookalikes>,
    metrics: Option<Arc<Metrics>>,
    header_timeout: Duration,
    /// The check and status pages ([`crate::status`]).
    board: Arc<Board>,
}

/// Serve the warning page on `listeners` until `shutdown` is cancelled,
/// looking every request up in the live list `lists` (so a reload changes
/// the page at once), counting each page shown in `metrics`
/// (`parapet_warning_page_views_total`). Returns after the listeners are closed and
/// connections in flight have finished (bounded by a short grace period).
///
/// # Errors
/// A listener that cannot be registered with the tokio runtime.
pub async fn serve(
    listeners: WarningListeners,
    config: WarningPageConfig,
    lists: SharedBlocklist,
    metrics: Option<Arc<Metrics>>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let board = Arc::new(Board::detached(lists.clone()));
    serve_with_lookalikes(listeners, config, lists, None, metrics, board, shutdown).await
}

/// [`serve`], also explaining look-alikes of the protected domains
/// (`lookalikes`: the check in service, swapped on reload), with the check
/// and status pages of `board`.
///
/// # Errors
/// A listener that cannot be registered with the tokio runtime.
pub async fn serve_with_lookalikes(
    listeners: WarningListeners,
    config: WarningPageConfig,
    lists: SharedBlocklist,
    lookalikes: Option<SharedLookalikes>,
    metrics: Option<Arc<Metrics>>,
    board: Arc<Board>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let table = Arc::new(ConnTable::new(
        config.max_connections,
        config.max_connections_per_client,
    ));
    if let Some(metrics) = &metrics {
        table.set_metrics(Arc::clone(metrics), Listener::WarningPage);
    }
    let state = Arc::new(State {
        header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
        config,
        lists,
        lookalikes,
        metrics,
        board,
    });
    let mut tasks = tokio::task::JoinSet::new();
    for listener in listeners.http {
        let listener = TcpListener::from_std(listener)?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!("warning page listening on http://{addr}");
        }
        tasks.spawn(accept_loop(
            listener,
            state.clone(),
            table.clone(),
            shutdown.clone(),
        ));
    }
    for listener in listeners.tls {
        let listener = TcpListener::from_std(listener)?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!("warning page resetting TLS connections on {addr}");
        }
        tasks.spawn(tls_reset::refuse(listener, shutdown.clone()));
    }
    while tasks.join_next().await.is_some() {}
    // Every connection holds a slot: an empty table = all finished.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, table.drained()).await;
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    table: Arc<ConnTable>,
    shutdown: CancellationToken,
) {
    let http = Arc::new(state.http());
    let stop = shutdown.clone();
    // Every visitor is welcome here (phones with tokens come from
    // anywhere): all are trusted alike.
    let admit = |peer: SocketAddr| table.admit(peer.ip(), true);
    crate::net::accept_loop(
        "warning page",
        listener,
        stop,
        admit,
        |stream, peer, slot| {
            serve_connection(
                stream,
                peer,
                state.clone(),
                Arc::clone(&http),
                slot,
                shutdown.clone(),
            )
        },
    )
    .await;
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<State>,
    http: Arc<Http>,
    slot: Slot,
    shutdown: CancellationToken,
) {
    let service_state = state.clone();
    let slot = Arc::new(slot);
    let service_slot = Arc::clone(&slot);
    let service = hyper::service::service_fn(move |request| {
        let _busy = service_slot.busy();
        let response = respond(&request, peer, &service_state);
        async move { Ok::<_, Infallible>(response) }
    });
    let abort = async {
        tokio::select! {
            _ = tokio::time::sleep(CONNECTION_DEADLINE) => {}
            () = slot.evicted() => {}
        }
    };
    let io = TokioIo::new(stream);
    let stop = shutdown.cancelled();
    let ended = crate::net::http::serve_connection(&http, io, service, stop, abort, SHUTDOWN_GRACE);
    if let Ended::Closed(Err(error)) = ended.await {
        tracing::debug!(%error, "warning page: connection ended with an error");
    }
}

impl State {
    /// HTTP/1.1, one request per connection, headers within the timeout
    /// and [`MAX_BUF_SIZE`].
    fn http(&self) -> Http {
        let mut http = crate::net::http::builder(false, self.header_timeout);
        http.http1().keep_alive(false).max_buf_size(MAX_BUF_SIZE);
        http
    }
}

/// The response to any request: the check or status page
/// ([`crate::status`]), else the warning or the generic page, 403.
fn respond(request: &Request<Incoming>, peer: SocketAddr, state: &State) -> Response<Full<Bytes>> {
    // An absolute-form request line (`GET http://name/ HTTP/1.1`) names the
    // host; the Host header is then ignored (RFC 9112, section 3.2.2).
    let raw_host = request
        .uri()
        .authority()
        .map(|a| a.as_str().as_bytes())
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .map(HeaderValue::as_bytes)
        });
    let host = Host::parse(raw_host);
    let path = request.uri().path();
    if let Some(shown) = state.board.page(&host, path, peer.ip(), &state.config) {
        let status = StatusCode::from_u16(shown.status).unwrap_or(StatusCode::FORBIDDEN);
        return html(request, state, status, shown.view, &shown.notice);
    }
    let (view, notice) = match &host {
        Host::Name(name) => {
            let lists = state.lists.load();
            match lists.check_name(&name.ascii) {
                Verdict::Block(rule) => {
                    let info = lists.rule_info(rule, &name.ascii);
                    tracing::debug!(host = %name.ascii, rule = %info.pattern, source = %info.source, "warning page shown");
                    (
                        WarningView::Blocked,
                        notice::blocked(name, &info, &state.config),
                    )
                }
                verdict if let Some(block) = answer_block(state, &lists, verdict, &name.ascii) => {
                    tracing::debug!(host = %name.ascii, ?block, "warning page shown (answer block)");
                    (
                        WarningView::Blocked,
                        notice::blocked_by_answer(name, &block, &state.config),
                    )
                }
                Verdict::None
                    if let Some(imitates) = super::explain::imitated(
                        state.lookalikes.as_ref().map(|l| l.load_full()).as_deref(),
                        &name.ascii,
                    ) =>
                {
                    let info = crate::lookalike::config::rule_info(&imitates);
                    (
                        WarningView::Blocked,
                        notice::blocked(name, &info, &state.config),
                    )
                }
                Verdict::Allow(_) | Verdict::None => (
                    WarningView::NotBlocked,
                    notice::generic(Generic::NotBlocked(name), &state.config),
                ),
            }
        }
        Host::Ip(_) => (WarningView::Ip, notice::generic(Generic::Ip, &state.config)),
        Host::Invalid(shown) => (
            WarningView::NoName,
            notice::generic(Generic::Invalid(shown), &state.config),
        ),
        Host::Missing => (
            WarningView::NoName,
            notice::generic(Generic::Missing, &state.config),
        ),
    };
    html(request, state, StatusCode::FORBIDDEN, view, &notice)
}

/// Why `name` was blocked through its answer, when the board's memory of
/// answer blocks has it and the live `lists` still block what the answer
/// held; never for a name an allowlist lets through uninspected (`verdict`
/// is the name's own).
fn answer_block(
    state: &State,
    lists: &parapet_blocklist::Blocklist,
    verdict: Verdict,
    name: &str,
) -> Option<AnswerBlock> {
    if let Verdict::Allow(rule) = verdict
        && lists.allows_across_sources(rule)
    {
        return None;
    }
    state.board.answer_blocks()?.explain(lists, name)
}

/// `notice` as the HTML response, counted as `view`.
fn html(
    request: &Request<Incoming>,
    state: &State,
    status: StatusCode,
    view: WarningView,
    notice: &notice::Notice,
) -> Response<Full<Bytes>> {
    if let Some(metrics) = &state.metrics {
        metrics.record_warning_view(view);
    }
    let html = page::render(notice);
    let length = html.len();
    let body = if request.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(html)
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(csp) = HeaderValue::from_str(&page::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}
