//! List gauges and reload counters, fed from the reloader's status channel
//! so that the reloader itself needs no metrics code.

use std::sync::Arc;

use parapet_blocklist::Blocklist;
use tokio_util::sync::CancellationToken;

use super::{Metrics, ReloadResult};
use crate::list::SharedBlocklist;
use crate::reload::ReloadHandle;

impl Metrics {
    /// Record `list` as the list in service: rule counts, build time and
    /// source categories.
    pub fn record_blocklist(&self, list: &Blocklist) {
        let stats = list.stats();
        self.record_list_loaded(crate::reload::has_list(list));
        self.record_block_rules(crate::reload::block_rules(&stats));
        self.record_list(
            stats.domain_rules,
            stats.ip_rules,
            stats.built_at,
            stats
                .sources
                .iter()
                .filter_map(|(_, category, _, _)| category.as_deref()),
        );
    }
}

/// Record the list in service now, then count every reload the reloader
/// reports (ok or failed) and refresh the list gauges after each success,
/// until `shutdown`.
pub fn follow_reloads(
    reload: &ReloadHandle,
    list: SharedBlocklist,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut status = reload.subscribe();
    let mut seen = *status.borrow_and_update();
    metrics.record_blocklist(&list.load());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = status.changed() => if changed.is_err() { return },
            }
            let now = *status.borrow_and_update();
            // The channel keeps only the latest status: count by difference.
            for _ in seen.generation..now.generation {
                metrics.record_reload(ReloadResult::Ok);
            }
            for _ in seen.failures..now.failures {
                metrics.record_reload(ReloadResult::Failed);
            }
            if now.generation != seen.generation {
                metrics.record_blocklist(&list.load());
            }
            seen = now;
        }
    });
}
