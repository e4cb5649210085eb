//! Cache hit or miss, per forwarded lookup.
//!
//! hickory-resolver does not say whether a lookup was served from its cache,
//! so the forwarder's connections are wrapped ([`ProbedProvider`]): every
//! DNS message actually sent to an upstream marks the lookup that sent it.
//! [`probe`] runs a lookup and reports whether it sent anything: no message
//! sent = answered from the cache (a *hit*); at least one = a *miss*
//! (including retries and CNAME chasing). The mark is a task-local flag, so
//! concurrent lookups do not see each other's traffic; a lookup that joins
//! another in-flight lookup of the same query counts as a hit.

use std::cell::Cell;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use hickory_proto::op::DnsRequest;
use hickory_resolver::config::ConnectionConfig;
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::{DnsExchange, DnsHandle};
use hickory_resolver::{ConnectionProvider, PoolContext};

tokio::task_local! {
    /// Set when the current lookup sends a message upstream.
    static SENT_UPSTREAM: Cell<bool>;
}

/// Run `lookup` and report whether it sent any message upstream
/// (`false` = served from the cache).
pub async fn probe<F: Future>(lookup: F) -> (F::Output, bool) {
    SENT_UPSTREAM
        .scope(Cell::new(false), async {
            let output = lookup.await;
            let sent = SENT_UPSTREAM.with(Cell::get);
            (output, sent)
        })
        .await
}

/// The tokio connection provider, with every connection wrapped to mark
/// the lookup that sends through it.
#[derive(Clone, Default)]
pub struct ProbedProvider(TokioRuntimeProvider);

impl std::fmt::Debug for ProbedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProbedProvider")
    }
}

/// A connection that marks the sending lookup, then delegates.
#[derive(Debug, Clone)]
pub struct ProbedConnection<C>(C);

impl ConnectionProvider for ProbedProvider {
    type Conn = ProbedConnection<DnsExchange<TokioRuntimeProvider>>;
    type FutureConn = Pin<Box<dyn Future<Output = Result<Self::Conn, NetError>> + Send + 'static>>;
    type RuntimeProvider = TokioRuntimeProvider;

    fn new_connection(
        &self,
        ip: IpAddr,
        config: &ConnectionConfig,
        cx: &PoolContext,
    ) -> Result<Self::FutureConn, NetError> {
        let connecting = self.0.new_connection(ip, config, cx)?;
        Ok(Box::pin(
            async move { connecting.await.map(ProbedConnection) },
        ))
    }

    fn runtime_provider(&self) -> &Self::RuntimeProvider {
        &self.0
    }
}

impl<C: DnsHandle> DnsHandle for ProbedConnection<C> {
    type Response = C::Response;
    type Runtime = C::Runtime;

    fn is_verifying_dnssec(&self) -> bool {
        self.0.is_verifying_dnssec()
    }

    fn is_using_edns(&self) -> bool {
        self.0.is_using_edns()
    }

    fn send(&self, request: DnsRequest) -> Self::Response {
        // Outside a probed lookup (e.g. a background probe) there is no
        // flag to set; that is fine.
        let _ = SENT_UPSTREAM.try_with(|sent| sent.set(true));
        self.0.send(request)
    }
}
