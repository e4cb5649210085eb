//! The one signal task: SIGTERM and SIGINT stop the server, SIGHUP runs
//! every reload hook (the list, the query log's file, `[lookalikes]`, the
//! tokens file).

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Something SIGHUP does.
pub(crate) type Hook = Box<dyn Fn() + Send + Sync>;

/// Spawn the signal task: SIGTERM/SIGINT cancel `shutdown`; SIGHUP runs
/// `on_hangup` in order. It ends when `shutdown` is cancelled.
pub(crate) fn spawn(shutdown: CancellationToken, on_hangup: Vec<Hook>) -> JoinHandle<()> {
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
                () = shutdown.cancelled() => break,
                _ = term.recv() => { info!("SIGTERM received"); shutdown.cancel(); break }
                _ = int.recv() => { info!("SIGINT received"); shutdown.cancel(); break }
                _ = hup.recv() => {
                    info!("SIGHUP received: reloading the list, reopening the query log");
                    for hook in &on_hangup {
                        hook();
                    }
                }
            }
        }
    })
}
