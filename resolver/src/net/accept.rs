//! The bounded accept loop of every TCP listener (plain DNS over TCP, DoT,
//! DoH, metrics, the warning page).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Pause after a failed accept (out of file descriptors and the like), so
/// the loop does not spin while the condition lasts.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Accept connections on `listener` until `shutdown` is cancelled.
///
/// Each connection (Nagle off: answers are small and latency-bound) is
/// first offered to `admit`, which returns what holds its place (a
/// connection-table slot, a semaphore permit) or `None` to close it at
/// once; an admitted one is served by the future `serve` returns, on a task
/// of its own that owns the guard. A failed accept is logged and retried
/// after [`ACCEPT_BACKOFF`]. On shutdown the listener is closed first (new
/// connections are refused), then this waits for every connection task it
/// spawned. `what` names the listener in logs.
pub(crate) async fn accept_loop<G, A, F, Fut>(
    what: &'static str,
    listener: TcpListener,
    shutdown: CancellationToken,
    mut admit: A,
    mut serve: F,
) where
    A: FnMut(SocketAddr) -> Option<G>,
    F: FnMut(TcpStream, SocketAddr, G) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let tasks = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "{what}: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Some(guard) = admit(peer) else {
            tracing::debug!(client = %peer, "{what}: connection limit reached; closing");
            continue;
        };
        let _ = stream.set_nodelay(true);
        tasks.spawn(serve(stream, peer, guard));
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
}

/// Close `stream` with a TCP reset (`SO_LINGER` 0) rather than a graceful
/// FIN, so the client fails at once (used for sinkholed `https://` visits).
pub(crate) fn reset(stream: TcpStream) {
    if let Err(error) = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)) {
        tracing::debug!(%error, "cannot set SO_LINGER for a reset");
    }
    drop(stream);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;
    use tokio::sync::Semaphore;

    /// One permit: the second connection is closed at once, the first is
    /// served; after shutdown the port refuses and the loop has waited for
    /// the connection task.
    #[tokio::test]
    async fn admits_within_the_bound_and_waits_for_its_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let permits = Arc::new(Semaphore::new(1));
        let finished = Arc::new(Semaphore::new(0));
        let stop = shutdown.clone();
        let done = Arc::clone(&finished);
        let lp = tokio::spawn(accept_loop(
            "test",
            listener,
            shutdown.clone(),
            move |_| Arc::clone(&permits).try_acquire_owned().ok(),
            move |_stream, _peer, permit| {
                let (stop, done) = (stop.clone(), Arc::clone(&done));
                async move {
                    stop.cancelled().await;
                    drop(permit);
                    done.add_permits(1);
                }
            },
        ));
        let _first = TcpStream::connect(addr).await.expect("first");
        let mut second = TcpStream::connect(addr).await.expect("second");
        let mut buf = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(10), second.read(&mut buf)).await;
        assert!(matches!(closed, Ok(Ok(0) | Err(_))), "{closed:?}");
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), lp)
            .await
            .expect("loop ends")
            .expect("loop task");
        // The connection task finished before the loop returned.
        assert_eq!(finished.available_permits(), 1);
        assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    }
}
