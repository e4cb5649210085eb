//! The TLS port: accept and reset at once.
//!
//! A sinkholed `https://` visit cannot be answered with the warning page:
//! the browser expects a certificate for the blocked name, and parapet has
//! none it would trust. Not listening at all would give a quick "connection
//! refused" too, unless something else holds the port or a firewall drops
//! the packets, which makes the browser hang for a long time. Accepting and
//! closing with `SO_LINGER` 0 sends a TCP RST: the browser shows its error
//! (`ERR_CONNECTION_RESET`) immediately.

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Reset every connection on `listener` until `shutdown` (through the
/// one accept loop, [`crate::net::accept_loop`]).
pub(super) async fn refuse(listener: TcpListener, shutdown: CancellationToken) {
    let admit = |_| Some(());
    crate::net::accept_loop(
        "warning page TLS port",
        listener,
        shutdown,
        admit,
        |stream, peer, ()| {
            tracing::trace!(client = %peer, "TLS connection to the warning page reset");
            crate::net::reset(stream);
            std::future::ready(())
        },
    )
    .await;
}
