//! The server: load the list, bind the listeners and serve them (UDP:
//! [`crate::udp`]; TCP, DoT, DoH: [`crate::transport`], in one
//! [connection table](crate::conntable)), start the reloader, and shut down
//! gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;
use crate::event::Observer;
use crate::handler::{Handler, HandlerError};
use crate::metrics::{self, Metrics};
use crate::net::inflight::DEFAULT_MAX_UDP_IN_FLIGHT;
use crate::net::{InFlight, TaskTracker, signals};
use crate::querylog::QueryLog;
use crate::reload::{self, ReloadError, ReloadHandle};
use crate::udp;

/// How long in-flight queries get to finish on shutdown.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
    /// A file the config names is missing or does not load (see
    /// [`crate::preflight`]).
    #[error(transparent)]
    Preflight(#[from] crate::config::ConfigError),
    /// A listener failed while serving.
    #[error("listener failed: {0}")]
    Serve(String),
}

/// Sets up a server from a validated [`Config`].
pub struct ServerBuilder {
    config: Config,
    observers: Vec<Arc<dyn Observer>>,
    udp_in_flight: usize,
    loaded: Option<crate::preflight::Preflight>,
}

impl ServerBuilder {
    /// A builder for `config`.
    pub fn new(config: Config) -> Self {
        ServerBuilder {
            config,
            observers: Vec::new(),
            udp_in_flight: DEFAULT_MAX_UDP_IN_FLIGHT,
            loaded: None,
        }
    }

    /// Add an observer of finished queries (metrics, query log, tests).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Bound the UDP queries in flight (default
    /// [`DEFAULT_MAX_UDP_IN_FLIGHT`]; see [`crate::net::inflight`]).
    pub fn max_udp_in_flight(mut self, limit: usize) -> Self {
        self.udp_in_flight = limit;
        self
    }

    /// Serve with what [`crate::preflight::load`] already loaded for this
    /// config, instead of running preflight again at start.
    pub fn preflight(mut self, loaded: crate::preflight::Preflight) -> Self {
        self.loaded = Some(loaded);
        self
    }

    /// Run [preflight](crate::preflight) (unless given), load the list, bind every
    /// listener and start serving. Returns once the sockets are bound and
    /// the list is live. Serving stops when `shutdown` is cancelled; every
    /// listener runs on the server's [task tracker](RunningServer::tasks),
    /// which [`RunningServer::wait`] waits for.
    pub async fn start(self, shutdown: CancellationToken) -> Result<RunningServer, ServerError> {
        // Slightly over 100 lines on purpose: start-up in the order it
        // happens, one call per listener, so that the order is read here.
        let mut config = self.config;
        let loaded = match self.loaded {
            Some(loaded) => loaded,
            None => crate::preflight::check(&config)?,
        };
        fit_connection_caps(&mut config);
        let bind = config.bind_options();
        let list = reload::initial(&config.blocklist).await?;
        // Metrics and the query log: the handler reports every query to them.
        let metrics = Arc::new(
            Metrics::new().with_feed_file(metrics::feed_file::of_source(&config.blocklist.source)),
        );
        // The query log's writer stops after the listeners have drained.
        let log_stop = CancellationToken::new();
        // Names blocked through their answer, for the warning page.
        let answer_blocks = Arc::new(crate::warning::AnswerBlocks::for_ttl(config.block.ttl));
        let (handler, query_log, log_writer, recent) = observed_handler(
            &config,
            &list,
            &metrics,
            self.observers,
            &log_stop,
            &answer_blocks,
        )?;

        // UDP is served by crate::udp (one socket per core, blocked-name fast
        // path); TCP by crate::transport::tcp, in one connection table with
        // DoT and DoH (crate::conntable).
        let mut transport_settings = crate::transport::Settings::from_config(&config);
        transport_settings.refusals =
            crate::transport::Refusals::new(Arc::clone(&metrics), query_log.clone());
        let conns = Arc::clone(&transport_settings.limits.connections);
        conns.set_metrics(Arc::clone(&metrics), metrics::Listener::Dns);
        let tcp_limits = crate::transport::Limits {
            idle_timeout: config.server.tcp_timeout(),
            ..transport_settings.limits.clone()
        };
        // Every listener task; shutdown waits for them all.
        let tasks = TaskTracker::new();
        let dns = DnsListeners {
            handler: &handler,
            tcp_limits,
            in_flight: InFlight::new(self.udp_in_flight, metrics.udp_dropped()),
            tasks: &tasks,
            shutdown: &shutdown,
        };
        let (udp_addrs, tcp_addrs) = dns.start(&config.server.listen, bind)?;

        // DoT / DoH: same handler, own listeners (crate::transport).
        let transport = crate::transport::start(
            &transport_settings,
            loaded.cert,
            loaded.tokens,
            handler.clone(),
            shutdown.clone(),
            &tasks,
        )
        .await?;
        transport.tokens.set_metrics(Arc::clone(&metrics));

        // Warning page: where the sinkhole answers send browsers.
        let warning = crate::warning::WarningListeners::bind_with(
            &config.warning_page,
            &config.block.sinkhole_addrs(),
            bind,
        )?;
        let warning_addrs = warning.http_addrs();
        let warning_task = tasks.spawn(crate::warning::serve_with_lookalikes(
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
                answer_blocks,
            )),
            shutdown.clone(),
        ));

        let reload = reload::spawn(config.blocklist.clone(), list.clone(), shutdown.clone());
        metrics::list::follow_reloads(&reload, list, Arc::clone(&metrics), shutdown.clone());
        let (addr, stop) = (config.metrics.listen, shutdown.clone());
        let metrics_addr = config
            .metrics
            .enabled
            .then(|| metrics::http::start(addr, bind, Arc::clone(&metrics), stop, &tasks))
            .transpose()?;

        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        tasks.close();
        let stop = Stop {
            listeners: tasks.clone(),
            conns,
            warning_task,
            log_stop,
            log_writer,
        };
        let task = tokio::spawn(stop.after(shutdown));
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
            tasks,
            task,
        })
    }
}

/// The handler for `config`, reporting every query to `metrics`, to
/// `answer_blocks` (the warning page's memory of names blocked through
/// their answer), to the query log when it is on (its writer stops on
/// `log_stop`: its task is returned), and to `observers`.
fn observed_handler(
    config: &Config,
    list: &crate::list::SharedBlocklist,
    metrics: &Arc<Metrics>,
    observers: Vec<Arc<dyn Observer>>,
    log_stop: &CancellationToken,
    answer_blocks: &Arc<crate::warning::AnswerBlocks>,
) -> Result<ObservedHandler, ServerError> {
    let mut handler = Handler::new(config, list.clone())?
        .with_metrics(Arc::clone(metrics))
        .with_observer(Arc::clone(answer_blocks) as Arc<dyn Observer>);
    let (query_log, log_writer) =
        QueryLog::start(&config.query_log, Arc::clone(metrics), log_stop.clone())
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
    for o in observers {
        handler = handler.with_observer(o);
    }
    Ok((handler, query_log, log_writer, recent))
}

/// The handler with its observers, the query log, its writer task and the
/// status page's recent blocks.
type ObservedHandler = (
    Handler,
    QueryLog,
    Option<JoinHandle<()>>,
    Arc<crate::status::Recent>,
);

/// What binds and serves the plain DNS listeners (`server.listen`).
struct DnsListeners<'a> {
    handler: &'a Handler,
    tcp_limits: crate::transport::Limits,
    in_flight: InFlight,
    tasks: &'a TaskTracker,
    shutdown: &'a CancellationToken,
}

impl DnsListeners<'_> {
    /// Bind UDP and TCP on each address and serve them on the tracker;
    /// returns the bound UDP and TCP addresses.
    fn start(
        self,
        listen: &[SocketAddr],
        bind: crate::listen::BindOptions,
    ) -> Result<(Vec<SocketAddr>, Vec<SocketAddr>), ServerError> {
        let (mut udp_addrs, mut tcp_addrs) = (Vec::new(), Vec::new());
        for &addr in listen {
            let (udp, tcp) = bind_pair(addr, bind)?;
            let (u, t) = (
                local(udp[0].local_addr(), addr)?,
                local(tcp.local_addr(), addr)?,
            );
            for socket in udp {
                let (handler, in_flight) = (self.handler.clone(), self.in_flight.clone());
                let shutdown = self.shutdown.clone();
                self.tasks
                    .spawn(udp::serve(socket, handler, in_flight, shutdown));
            }
            self.tasks.spawn(crate::transport::tcp::serve(
                tcp,
                self.handler.clone(),
                self.tcp_limits.clone(),
                self.shutdown.clone(),
            ));
            info!("listening on UDP {u}");
            info!("listening on TCP {t}");
            udp_addrs.push(u);
            tcp_addrs.push(t);
        }
        Ok((udp_addrs, tcp_addrs))
    }
}

/// The shutdown sequence, run once the token is cancelled.
struct Stop {
    /// Every listener task (closed: empty once all ended).
    listeners: TaskTracker,
    /// The DNS connection table (empty once every connection closed).
    conns: Arc<crate::conntable::ConnTable>,
    warning_task: JoinHandle<std::io::Result<()>>,
    /// Stops the query log's writer.
    log_stop: CancellationToken,
    log_writer: Option<JoinHandle<()>>,
}

impl Stop {
    /// Wait for `shutdown`, then for the listeners and their connections
    /// (bounded by [`SHUTDOWN_GRACE`]), then let the query log write what
    /// is queued.
    async fn after(self, shutdown: CancellationToken) -> Result<(), ServerError> {
        shutdown.cancelled().await;
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        info!("shutting down");
        // Listeners stop on the token and close their sockets; open
        // connections answer the queries they have in flight, then close;
        // each listener task ends once its connections have.
        let drain = async {
            self.listeners.wait().await;
            self.conns.drained().await;
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            warn!("in-flight queries did not finish within {SHUTDOWN_GRACE:?}");
        }
        // The warning page bounds its own drain.
        if let Ok(Ok(Err(e))) = tokio::time::timeout(SHUTDOWN_GRACE, self.warning_task).await {
            warn!("warning page stopped with an error: {e}");
        }
        // No more queries: let the query log write what is queued.
        self.log_stop.cancel();
        if let Some(writer) = self.log_writer {
            let _ = writer.await;
        }
        Ok(())
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
    tasks: TaskTracker,
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

    /// The tracker of every listener task (UDP, TCP, DoT, DoH, metrics,
    /// the warning page). Closed once all are spawned; empty once they all
    /// ended, which [`RunningServer::wait`] waits for.
    pub fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// Wait until the server has stopped (after the shutdown token is
    /// cancelled, or a listener failed).
    pub async fn wait(self) -> Result<(), ServerError> {
        self.task
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))?
    }
}

/// Serve `config` with the files preflight `loaded` for it until
/// `shutdown` is cancelled or SIGTERM/SIGINT arrives;
/// SIGHUP reloads the list, the config's `[lookalikes]` and the tokens
/// file, and reopens the query log (one signal task: [`signals`]).
pub(crate) async fn run(
    config: Config,
    loaded: crate::preflight::Preflight,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let source_file = config.source_file.clone();
    // Before the listeners announce themselves: a SIGHUP sent as soon as
    // the log says "listening" (or systemd says ready) reloads.
    let signals = signals::Signals::install()
        .map_err(|e| ServerError::Serve(format!("cannot install signal handlers: {e}")))?;
    let server = ServerBuilder::new(config)
        .preflight(loaded)
        .start(shutdown.clone())
        .await?;
    let reload = server.reload().clone();
    let query_log = server.query_log().clone();
    let tokens = Arc::clone(&server.transport.tokens);
    let mut on_hangup: Vec<signals::Hook> = vec![
        Box::new(move || reload.trigger()),
        Box::new(move || query_log.reopen()),
        Box::new(move || {
            if tokens.file().is_some() {
                tokens.reload_logged();
            }
        }),
    ];
    if let Some(path) = source_file {
        let lookalikes = server.handler().lookalikes().clone();
        let started = crate::config::load(&path).ok();
        on_hangup.push(Box::new(move || {
            crate::reload::reload_lookalikes(&path, &lookalikes);
            if let Some(started) = &started {
                crate::reload::warn_if_restart_needed(&path, started);
            }
        }));
    }
    signals.spawn(shutdown, on_hangup);
    server.wait().await
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

#[cfg(test)]
mod tests;
