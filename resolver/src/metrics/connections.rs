//! Metrics of the connection table ([`crate::conntable`]) and of the access
//! tokens file ([`crate::transport::tokens`]).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::{counter::Counter, family::Family, gauge::Gauge};
use prometheus_client::registry::Registry;

use super::label::{ConnectionClose, Listener};

/// Labels of `parapet_connections_closed_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ClosedLabels {
    listener: Listener,
    reason: ConnectionClose,
}

/// Labels of `parapet_connections_open`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OpenLabels {
    listener: Listener,
}

/// The handles, created and registered at start.
#[derive(Debug)]
pub(super) struct ConnectionMetrics {
    closed: [[Counter; ConnectionClose::ALL.len()]; Listener::ALL.len()],
    open: [Gauge; Listener::ALL.len()],
    tokens_valid: Gauge,
    token_file_errors: Counter,
}

impl ConnectionMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let closed_family = Family::<ClosedLabels, Counter>::default();
        let closed = std::array::from_fn(|l| {
            std::array::from_fn(|r| {
                closed_family
                    .get_or_create(&ClosedLabels {
                        listener: Listener::ALL[l],
                        reason: ConnectionClose::ALL[r],
                    })
                    .clone()
            })
        });
        registry.register(
            "connections_closed",
            "Connections closed by the connection limits: full = refused (every slot busy), evicted = idle and closed to make room, untrusted = not allowed and no valid token",
            closed_family,
        );
        let open_family = Family::<OpenLabels, Gauge>::default();
        let open = std::array::from_fn(|l| {
            open_family
                .get_or_create(&OpenLabels {
                    listener: Listener::ALL[l],
                })
                .clone()
        });
        registry.register(
            "connections_open",
            "Connections holding a slot in the connection table",
            open_family,
        );
        let tokens_valid = Gauge::default();
        registry.register(
            "tokens_valid",
            "Access tokens currently valid (0 while the tokens file is missing or broken)",
            tokens_valid.clone(),
        );
        let token_file_errors = Counter::default();
        registry.register(
            "tokens_file_errors",
            "Reloads of the tokens file that failed (missing, unreadable or unparsable): no token is valid until it is fixed",
            token_file_errors.clone(),
        );
        ConnectionMetrics {
            closed,
            open,
            tokens_valid,
            token_file_errors,
        }
    }

    pub(super) fn closed(&self, listener: Listener, reason: ConnectionClose) {
        self.closed[listener as usize][reason as usize].inc();
    }

    pub(super) fn open_changed(&self, listener: Listener, delta: i64) {
        self.open[listener as usize].inc_by(delta);
    }

    pub(super) fn tokens(&self, valid: usize, file_error: bool) {
        self.tokens_valid
            .set(i64::try_from(valid).unwrap_or(i64::MAX));
        if file_error {
            self.token_file_errors.inc();
        }
    }
}
