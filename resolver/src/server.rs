//! The server: load the list, bind the listeners, register them with
//! hickory's `Server`, start the reloader, and shut down gracefully.
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

use hickory_server::Server;
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
/// Outgoing buffer per TCP connection, in responses.
const TCP_RESPONSE_BUFFER: usize = 64;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The list could not be loaded at start.
    #[error("cannot load the blocklist: {0}")]
    List(#[from] ReloadError),
    /// The handler could not be built.
    #[error(transparent)]
    Handler(#[from] HandlerError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A warning page listener could not be bound.
    #[error(transparent)]
    Warning(#[from] crate::warning::BindError),
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
        let config = self.config;
        let list = reload::initial(&config.blocklist).await?;
        // Metrics and the query log: the handler reports every query to them.
        let metrics = Arc::new(Metrics::new());
        let mut handler = Handler::new(&config, list.clone())?.with_metrics(Arc::clone(&metrics));
        // The query log's writer stops after the listeners have drained.
        let log_stop = CancellationToken::new();
        let (query_log, log_writer) =
            QueryLog::start(&config.query_log, Arc::clone(&metrics), log_stop.clone())
                .map_err(ServerError::QueryLog)?;
        if query_log.is_enabled() {
            handler = handler.with_observer(Arc::new(query_log.clone()));
        }
        // Further observers (tests).
        for o in self.observers {
            handler = handler.with_observer(o);
        }

        let mut server = Server::new(handler.clone());
        let mut udp_addrs = Vec::new();
        let mut tcp_addrs = Vec::new();
        // UDP is served by crate::udp (one socket per core, blocked-name fast
        // path); TCP by hickory's Server.
        let mut udp_tasks = tokio::task::JoinSet::new();
        for &addr in &config.server.listen {
            let (udp, tcp) = bind_pair(addr).await?;
            let (u, t) = (local(&udp[0], addr)?, local_tcp(&tcp, addr)?);
            for socket in udp {
                udp_tasks.spawn(udp::serve(socket, handler.clone(), shutdown.clone()));
            }
            server.register_listener(tcp, config.server.tcp_timeout(), TCP_RESPONSE_BUFFER);
            info!("listening on UDP {u}");
            info!("listening on TCP {t}");
            udp_addrs.push(u);
            tcp_addrs.push(t);
        }

        // DoT / DoH: same handler, own listeners (crate::transport).
        let mut transport_settings = config.transport_settings();
        transport_settings.refusals =
            crate::transport::Refusals::new(Arc::clone(&metrics), query_log.clone());
        let transport =
            crate::transport::start(&transport_settings, handler.clone(), shutdown.clone()).await?;

        // Warning page: where the sinkhole answers send browsers.
        let warning = crate::warning::WarningListeners::bind(
            &config.warning_page,
            &config.block.sinkhole_addrs(),
        )?;
        let warning_addrs = warning.http_addrs();
        let warning_task = tokio::spawn(crate::warning::serve(
            warning,
            config.warning_page.clone(),
            list.clone(),
            Some(Arc::clone(&metrics)),
            shutdown.clone(),
        ));

        let reload = reload::spawn(config.blocklist.clone(), list.clone(), shutdown.clone());
        metrics::list::follow_reloads(&reload, list, Arc::clone(&metrics), shutdown.clone());
        let metrics_addr = if config.metrics.enabled {
            let addr = config.metrics.listen;
            let bound = metrics::http::start(addr, Arc::clone(&metrics), shutdown.clone())
                .await
                .map_err(|source| ServerError::Bind { addr, source })?;
            Some(bound)
        } else {
            None
        };

        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        let task = tokio::spawn(async move {
            let early = tokio::select! {
                _ = shutdown.cancelled() => None,
                r = server.block_until_done() => Some(r),
            };
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
            let result = match early {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) => Err(ServerError::Serve(e.to_string())),
                None => {
                    info!("shutting down");
                    let drain = async {
                        while udp_tasks.join_next().await.is_some() {}
                        server.shutdown_gracefully().await
                    };
                    match tokio::time::timeout(SHUTDOWN_GRACE, drain).await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(ServerError::Serve(e.to_string())),
                        Err(_) => {
                            warn!("in-flight queries did not finish within {SHUTDOWN_GRACE:?}");
                            Ok(())
                        }
                    }
                }
            };
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
/// SIGHUP reloads the list.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), ServerError> {
    let server = ServerBuilder::new(config).start(shutdown.clone()).await?;
    spawn_signal_handler(
        shutdown,
        server.reload().clone(),
        server.query_log().clone(),
    );
    server.wait().await
}

/// SIGTERM/SIGINT → cancel `shutdown`; SIGHUP → reload the list and
/// reopen the query log (for logrotate).
pub fn spawn_signal_handler(
    shutdown: CancellationToken,
    reload: ReloadHandle,
    query_log: QueryLog,
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
                }
            }
        }
    });
}

/// Bind UDP (one `SO_REUSEPORT` socket per core, see [`udp::bind`]) and TCP
/// on the same address; with port 0, on the same free port.
async fn bind_pair(addr: SocketAddr) -> Result<(Vec<UdpSocket>, TcpListener), ServerError> {
    let bind_err = |source| ServerError::Bind { addr, source };
    let tries = if addr.port() == 0 { 20 } else { 1 };
    let mut last = None;
    for _ in 0..tries {
        let udp = udp::bind(addr, udp::socket_count()).map_err(bind_err)?;
        let port_addr = udp[0].local_addr().map_err(bind_err)?;
        match TcpListener::bind(port_addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(bind_err(
        last.unwrap_or_else(|| std::io::Error::other("no free port")),
    ))
}

fn local(s: &UdpSocket, addr: SocketAddr) -> Result<SocketAddr, ServerError> {
    s.local_addr()
        .map_err(|source| ServerError::Bind { addr, source })
}

fn local_tcp(s: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, ServerError> {
    s.local_addr()
        .map_err(|source| ServerError::Bind { addr, source })
}
