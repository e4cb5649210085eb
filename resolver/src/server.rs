//! The server: load the list, bind the listeners and serve them (UDP:
//! [`crate::udp`]; TCP, DoT, DoH: [`crate::transport`], in one
//! [connection table](crate::conntable)), start the reloader, and shut down
//! gracefully.
//!
//! ```no_run
//! # async fn demo(config: parapet_resolver::config::Config) -> Result<(), parapet_resolver::server::ServerError> {
//! use tokio_util::sync::CancellationToken;
//! let shutdown = CancellationToken::new();
//! let server = parapet_resolver::server::ServerBuilder::new(config)
//!     .start(shutdown.clone())
//!     .await?;
//! println!("UDP on {:?}", server.udp_addrs());
//! shutdown.cancel();
//! server.wait().await
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;
use crate::handler::{Handler, HandlerError, Observer};
use crate::metrics::{self, Metrics};
use crate::querylog::QueryLog;
use crate::reload::{self, ReloadError, ReloadHandle};
use crate::udp;

/// How long in-flight queries get to finish on shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The list could not be loaded at start.
    #[error("cannot load the blocklist: {0}")]
    List(#[from] ReloadError),
    /// The handler could not be built.
    #[error(transparent)]
    Handler(#[from] HandlerError),
    /// A listener could not be bound (the error names the key and the fix).
    #[error(transparent)]
    Bind(#[from] crate::listen::BindError),
    /// The query log could not be opened.
    #[error("cannot open the query log: {0}")]
    QueryLog(std::io::Error),
    /// The DoT/DoH listeners could not start.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    /// A listener failed while serving.
    #[error("listener failed: {0}")]
    Serve(String),
}

/// Sets up a server from a validated [`Config`].
pub struct ServerBuilder {
    config: Config,
    observers: Vec<Arc<dyn Observer>>,
}

impl ServerBuilder {
    /// A builder for `config`.
    pub fn new(config: Config) -> Self {
        ServerBuilder {
            config,
            observers: Vec::new(),
        }
    }

    /// Add an observer of finished queries (metrics, query log, tests).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Load the list, bind every listener and start serving. Returns once
    /// the sockets are bound and the list is live. Serving stops when
    /// `shutdown` is cancelled.
    pub async fn start(self, shutdown: CancellationToken) -> Result<RunningServer, ServerError> {
        let mut config = self.config;
        fit_connection_caps(&mut config);
        let bind = config.bind_options();
        let list = reload::initial(&config.blocklist).await?;
        // Metrics and the query log: the handler reports every query to them.
        let metrics = Arc::new(
            Metrics::new()
                .with_feed_file(metrics::feed_file::default_path(&config.blocklist.source)),
        );
        let mut handler = Handler::new(&config, list.clone())?.with_metrics(Arc::clone(&metrics));
        // The query log's writer stops after the listeners have drained.
        let log_stop = CancellationToken::new();
        let (query_log, log_writer) =
            QueryLog::start(&config.query_log, Arc::clone(&metrics), log_stop.clone())
                .map_err(ServerError::QueryLog)?;
        if query_log.is_enabled() {
            handler = handler.with_observer(Arc::new(query_log.clone()));
        }
        // Recent blocked names for the status page (only with the query log).
        let recent = Arc::new(crate::status::Recent::new(&config.query_log));
        if recent.keeps_names() {
            handler = handler.with_observer(recent.clone());
        }
        // Further observers (tests).
        for o in self.observers {
            handler = handler.with_observer(o);
        }

        let mut udp_addrs = Vec::new();
        let mut tcp_addrs = Vec::new();
        // UDP is served by crate::udp (one socket per core, blocked-name fast
        // path); TCP by crate::transport::tcp, in one connection table with
        // DoT and DoH (crate::conntable).
        let mut transport_settings = config.transport_settings();
        transport_settings.refusals =
            crate::transport::Refusals::new(Arc::clone(&metrics), query_log.clone());
        let conns = Arc::clone(&transport_settings.limits.connections);
        conns.set_metrics(Arc::clone(&metrics), metrics::Listener::Dns);
        let tcp_limits = crate::transport::Limits {
            idle_timeout: config.server.tcp_timeout(),
            ..transport_settings.limits.clone()
        };
        let mut udp_tasks = tokio::task::JoinSet::new();
        for &addr in &config.server.listen {
            let (udp, tcp) = bind_pair(addr, bind)?;
            let (u, t) = (
                local(udp[0].local_addr(), addr)?,
                local(tcp.local_addr(), addr)?,
            );
            for socket in udp {
                udp_tasks.spawn(udp::serve(socket, handler.clone(), shutdown.clone()));
            }
            udp_tasks.spawn(crate::transport::tcp::serve(
                tcp,
                handler.clone(),
                tcp_limits.clone(),
                shutdown.clone(),
            ));
            info!("listening on UDP {u}");
            info!("listening on TCP {t}");
            udp_addrs.push(u);
            tcp_addrs.push(t);
        }

        // DoT / DoH: same handler, own listeners (crate::transport).
        let transport =
            crate::transport::start(&transport_settings, handler.clone(), shutdown.clone()).await?;
        transport.tokens.set_metrics(Arc::clone(&metrics));

        // Warning page: where the sinkhole answers send browsers.
        let warning = crate::warning::WarningListeners::bind_with(
            &config.warning_page,
            &config.block.sinkhole_addrs(),
            bind,
        )?;
        let warning_addrs = warning.http_addrs();
        let warning_task = tokio::spawn(crate::warning::serve_with_lookalikes(
            warning,
            config.warning_page.clone(),
            list.clone(),
            Some(handler.lookalikes().clone()),
            Some(Arc::clone(&metrics)),
            Arc::new(crate::status::Board::new(
                &config,
                list.clone(),
                recent,
                crate::status::Today::start(Arc::clone(&metrics), shutdown.clone()),
            )),
            shutdown.clone(),
        ));

        let reload = reload::spawn(config.blocklist.clone(), list.clone(), shutdown.clone());
        metrics::list::follow_reloads(&reload, list, Arc::clone(&metrics), shutdown.clone());
        let metrics_addr = if config.metrics.enabled {
            let addr = config.metrics.listen;
            let bound = metrics::http::start(addr, bind, Arc::clone(&metrics), shutdown.clone())?;
            Some(bound)
        } else {
            None
        };

        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        let task = tokio::spawn(async move {
            shutdown.cancelled().await;
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
            info!("shutting down");
            // Listeners stop on the token; open TCP and DoT connections
            // answer the queries they have in flight, then close.
            let drain = async {
                while udp_tasks.join_next().await.is_some() {}
                conns.drained().await;
            };
            if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
                warn!("in-flight queries did not finish within {SHUTDOWN_GRACE:?}");
            }
            let result = Ok(());
            // The warning page stops on the same token and bounds its own drain.
            if let Ok(Ok(Err(e))) = tokio::time::timeout(SHUTDOWN_GRACE, warning_task).await {
                warn!("warning page stopped with an error: {e}");
            }
            // No more queries: let the query log write what is queued.
            log_stop.cancel();
            if let Some(writer) = log_writer {
                let _ = writer.await;
            }
            result
        });
        Ok(RunningServer {
            udp_addrs,
            tcp_addrs,
            warning_addrs,
            transport,
            handler,
            reload,
            metrics,
            metrics_addr,
            query_log,
            task,
        })
    }
}

/// A started server.
#[derive(Debug)]
pub struct RunningServer {
    udp_addrs: Vec<SocketAddr>,
    tcp_addrs: Vec<SocketAddr>,
    warning_addrs: Vec<SocketAddr>,
    transport: crate::transport::Running,
    handler: Handler,
    reload: ReloadHandle,
    metrics: Arc<Metrics>,
    metrics_addr: Option<SocketAddr>,
    query_log: QueryLog,
    task: JoinHandle<Result<(), ServerError>>,
}

impl RunningServer {
    /// Bound UDP addresses, in `server.listen` order (port 0 resolved).
    pub fn udp_addrs(&self) -> &[SocketAddr] {
        &self.udp_addrs
    }

    /// Bound TCP addresses (same ports as UDP).
    pub fn tcp_addrs(&self) -> &[SocketAddr] {
        &self.tcp_addrs
    }

    /// Bound warning page (HTTP) addresses; empty when the page is off.
    pub fn warning_page_addrs(&self) -> &[SocketAddr] {
        &self.warning_addrs
    }

    /// Bound DoT addresses.
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.transport.tls_addrs
    }

    /// Bound DoH addresses.
    pub fn https_addrs(&self) -> &[SocketAddr] {
        &self.transport.https_addrs
    }

    /// The request handler (e.g. to call it in-process).
    pub fn handler(&self) -> &Handler {
        &self.handler
    }

    /// Reload control and counters.
    pub fn reload(&self) -> &ReloadHandle {
        &self.reload
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Where `/metrics` is served (port 0 resolved); `None` when
    /// `[metrics] enabled = false`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The query log (disabled unless `[query_log] enabled`).
    pub fn query_log(&self) -> &QueryLog {
        &self.query_log
    }

    /// Wait until the server has stopped (after the shutdown token is
    /// cancelled, or a listener failed).
    pub async fn wait(self) -> Result<(), ServerError> {
        self.task
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))?
    }
}

/// Serve `config` until `shutdown` is cancelled or SIGTERM/SIGINT arrives;
/// SIGHUP reloads the list and the config's `[lookalikes]`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), ServerError> {
    let source_file = config.source_file.clone();
    let server = ServerBuilder::new(config).start(shutdown.clone()).await?;
    let lookalikes = source_file.map(|p| (p, server.handler().lookalikes().clone()));
    spawn_signal_handler(
        shutdown,
        server.reload().clone(),
        server.query_log().clone(),
        lookalikes,
    );
    server.wait().await
}

/// SIGTERM/SIGINT → cancel `shutdown`; SIGHUP → reload the list, reopen
/// the query log (for logrotate) and re-read `[lookalikes]` from the config
/// file (`lookalikes`: the file and the check in service).
pub fn spawn_signal_handler(
    shutdown: CancellationToken,
    reload: ReloadHandle,
    query_log: QueryLog,
    lookalikes: Option<(std::path::PathBuf, crate::lookalike::SharedLookalikes)>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            warn!("cannot install signal handlers");
            return;
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = term.recv() => { info!("SIGTERM received"); shutdown.cancel(); break }
                _ = int.recv() => { info!("SIGINT received"); shutdown.cancel(); break }
                _ = hup.recv() => {
                    info!("SIGHUP received: reloading the list, reopening the query log");
                    reload.trigger();
                    query_log.reopen();
                    if let Some((path, shared)) = &lookalikes {
                        crate::lookalike::config::reload(path, shared);
                    }
                }
            }
        }
    });
}

/// Raise the descriptor limit for the connection caps; lower caps that
/// still do not fit (see [`crate::fdlimit`]).
fn fit_connection_caps(config: &mut Config) {
    let (dns, page) = (
        config.server.max_connections,
        config.warning_page.max_connections,
    );
    let wanted = (dns + page) as u64 + crate::fdlimit::RESERVE;
    let available = match crate::fdlimit::raise_to(wanted) {
        Ok(n) => n,
        Err(error) => {
            warn!(%error, "cannot read the file descriptor limit");
            return;
        }
    };
    let (fit_dns, fit_page) = crate::fdlimit::fit(dns, page, available);
    if (fit_dns, fit_page) != (dns, page) {
        warn!(
            "only {available} file descriptors (LimitNOFILE / ulimit -n): server.max_connections \
             lowered from {dns} to {fit_dns}, warning_page.max_connections from {page} to {fit_page}"
        );
        config.server.max_connections = fit_dns;
        config.server.max_connections_per_client =
            config.server.max_connections_per_client.min(fit_dns);
        config.warning_page.max_connections = fit_page;
        config.warning_page.max_connections_per_client =
            config.warning_page.max_connections_per_client.min(fit_page);
    }
}

/// Bind UDP (one `SO_REUSEPORT` socket per core, see [`udp::socket_count`])
/// and TCP on the same address; with port 0, on the same free port.
fn bind_pair(
    addr: SocketAddr,
    opts: crate::listen::BindOptions,
) -> Result<(Vec<UdpSocket>, TcpListener), ServerError> {
    const KEY: &str = "server.listen";
    let tries = if addr.port() == 0 { 20 } else { 1 };
    let mut last = None;
    for _ in 0..tries {
        let udp = crate::listen::udp(KEY, addr, udp::socket_count(), opts)?;
        let port_addr = local(udp[0].local_addr(), addr)?;
        match crate::listen::tokio_tcp(KEY, port_addr, opts) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| {
            crate::listen::BindError::new(KEY, addr, std::io::Error::other("no free port"))
        })
        .into())
}

/// The bound address of a listener for `server.listen` entry `addr`.
fn local(bound: std::io::Result<SocketAddr>, addr: SocketAddr) -> Result<SocketAddr, ServerError> {
    bound.map_err(|source| crate::listen::BindError::new("server.listen", addr, source).into())
}
