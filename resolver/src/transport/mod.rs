//! Encrypted transports for roaming clients: DNS over TLS ([`dot`]) and DNS
//! over HTTPS ([`doh`]), with certificates that follow renewals
//! ([`certs`]) and per-device access tokens ([`tokens`]).
//!
//! Both listeners hand every query to the same request handler as plain DNS
//! ([`exchange`]), so policy, access control, rate limits, metrics and logs
//! are the same on every transport. Plain DNS over TCP ([`tcp`]) is served
//! the same way. Resource use is bounded by [`limits`]: timeouts, and one
//! [connection table](crate::conntable) shared by TCP, DoT and DoH.

pub mod certs;
pub mod doh;
pub mod dot;
pub mod exchange;
pub mod limits;
pub mod refusals;
pub mod sni;
mod stream;
pub mod tcp;
pub mod tokens;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

pub use limits::Limits;
pub use refusals::Refusals;
pub use tokens::{ClientAuth, Tokens, current_auth};

use std::{net::SocketAddr, sync::Arc};

use hickory_server::server::RequestHandler;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What the encrypted listeners need from the config (the certificate and
/// tokens come loaded from [preflight](crate::preflight)).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `[server] tls_listen`: DoT addresses.
    pub tls_listen: Vec<SocketAddr>,
    /// `[server] https_listen`: DoH addresses.
    pub https_listen: Vec<SocketAddr>,
    /// Resource bounds; clones share one connection table (the server
    /// hands the same one to plain TCP).
    pub limits: Limits,
    /// How the listeners are bound (`[server] freebind`).
    pub bind: crate::listen::BindOptions,
    /// Where DoH requests refused for their token are recorded.
    pub refusals: Refusals,
}

impl Settings {
    /// What `config` asks of the DoT/DoH listeners: addresses, binding,
    /// and one connection table sized by `[server] max_connections*` with
    /// the `[access] allow` list.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Settings {
            tls_listen: config.server.tls_listen.clone(),
            https_listen: config.server.https_listen.clone(),
            bind: config.bind_options(),
            limits: Limits {
                connections: Arc::new(crate::conntable::ConnTable::new(
                    config.server.max_connections,
                    config.server.max_connections_per_client,
                )),
                allow: Some(Arc::new(crate::access::AccessList::new(
                    config.access.allow.clone(),
                ))),
                ..Limits::default()
            },
            refusals: Refusals::default(),
        }
    }
}

/// Why the encrypted listeners could not start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// `tls_listen`/`https_listen` without `tls_cert` and `tls_key`.
    #[error("server.tls_cert and server.tls_key are required for tls_listen and https_listen")]
    NoCertificate,
    /// The certificate or key could not be loaded.
    #[error(transparent)]
    Cert(#[from] certs::CertError),
    /// The tokens could not be loaded or watched.
    #[error(transparent)]
    Tokens(#[from] tokens::TokenError),
    /// The tokens file could not be watched.
    #[error("access.tokens_file: cannot watch: {0}")]
    Watch(#[from] notify::Error),
    /// TLS setup failed.
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] crate::listen::BindError),
}

/// The running encrypted listeners.
pub struct Running {
    /// Bound DoT addresses, in `tls_listen` order (port 0 resolved).
    pub tls_addrs: Vec<SocketAddr>,
    /// Bound DoH addresses, in `https_listen` order.
    pub https_addrs: Vec<SocketAddr>,
    /// The live token store (reloaded on file change and SIGHUP).
    pub tokens: Arc<Tokens>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("tls_addrs", &self.tls_addrs)
            .field("https_addrs", &self.https_addrs)
            .finish_non_exhaustive()
    }
}

/// Bind the DoT and DoH listeners of `settings` and serve them with
/// `handler`, on tasks of `tasks`, until `shutdown` is cancelled, with the
/// certificate and tokens [preflight](crate::preflight) loaded (`cert` is
/// needed when either listener is on). Returns
/// once they are bound; with no `tls_listen`/`https_listen` it starts
/// nothing. SIGHUP re-reads the tokens file through the server's signal
/// task ([`crate::net::signals`]).
///
/// # Errors
/// No certificate, a tokens file that cannot be watched, or an address
/// that cannot be bound.
pub async fn start<H>(
    settings: &Settings,
    cert: Option<Arc<certs::ReloadingCert>>,
    tokens: Arc<Tokens>,
    handler: H,
    shutdown: CancellationToken,
    tasks: &crate::net::TaskTracker,
) -> Result<Running, TransportError>
where
    H: RequestHandler + Clone,
{
    let mut running = Running {
        tls_addrs: Vec::new(),
        https_addrs: Vec::new(),
        tokens: Arc::clone(&tokens),
        _watcher: None,
    };
    if settings.tls_listen.is_empty() && settings.https_listen.is_empty() {
        return Ok(running);
    }
    let Some(certs) = cert else {
        return Err(TransportError::NoCertificate);
    };
    running._watcher = tokens.watch()?;
    let bind = |key, addr: SocketAddr| -> Result<(TcpListener, SocketAddr), TransportError> {
        let listener = crate::listen::tokio_tcp(key, addr, settings.bind)?;
        let local = listener
            .local_addr()
            .map_err(|source| crate::listen::BindError::new(key, addr, source))?;
        Ok((listener, local))
    };
    let dot_tls = Arc::new(certs::server_config(certs.clone(), &[dot::ALPN_DOT])?);
    for &addr in &settings.tls_listen {
        let (listener, local) = bind("server.tls_listen", addr)?;
        tracing::info!("listening on DoT {local}");
        running.tls_addrs.push(local);
        tasks.spawn(dot::serve(
            listener,
            Arc::clone(&dot_tls),
            handler.clone(),
            Arc::clone(&tokens),
            settings.limits.clone(),
            shutdown.clone(),
        ));
    }
    let doh_tls = Arc::new(certs::server_config(certs, doh::ALPN_DOH)?);
    for &addr in &settings.https_listen {
        let (listener, local) = bind("server.https_listen", addr)?;
        tracing::info!("listening on DoH {local}");
        running.https_addrs.push(local);
        tasks.spawn(doh::serve(
            listener,
            Arc::clone(&doh_tls),
            handler.clone(),
            Arc::clone(&tokens),
            settings.refusals.clone(),
            settings.limits.clone(),
            shutdown.clone(),
        ));
    }
    if !tokens.current().is_empty() {
        tracing::info!(tokens = tokens.current().len(), "access tokens loaded");
    }
    Ok(running)
}
