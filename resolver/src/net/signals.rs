//! The one signal task: SIGTERM and SIGINT stop the server, SIGHUP runs
//! every reload hook (the list, the query log's file, `[lookalikes]`, the
//! tokens file).

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Something SIGHUP does.
pub(crate) type Hook = Box<dyn Fn() + Send + Sync>;

/// The signal handlers, installed. Install them before the server says
/// it is listening (or tells systemd it is ready): from then on a SIGHUP
/// must reload, not take the default action and end the process.
pub(crate) struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    /// Install the SIGTERM, SIGINT and SIGHUP handlers (within a tokio
    /// runtime).
    pub(crate) fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Spawn the signal task: SIGTERM/SIGINT cancel `shutdown`; SIGHUP
    /// runs `on_hangup` in order. It ends when `shutdown` is cancelled.
    /// A signal that arrived between [`Signals::install`] and now is
    /// handled as soon as the task runs.
    pub(crate) fn spawn(self, shutdown: CancellationToken, on_hangup: Vec<Hook>) -> JoinHandle<()> {
        let Signals {
            mut term,
            mut int,
            mut hup,
        } = self;
        tokio::spawn(async move {
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
}
