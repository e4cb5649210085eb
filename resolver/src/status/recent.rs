//! The most recent blocked names, for the status page: a query observer
//! ([`Observer`]), registered only when the query log is on (`[query_log]
//! enabled`): then the handler reports names anyway, and the device that
//! asked is shown as the log writes it (`client_addresses`). With the log
//! off nothing about a query is kept, as the privacy default promises (the
//! page's counts come from the metrics, [`super::today`]). At most
//! [`RECENT_BLOCKS`] names are kept, the oldest dropped first.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{ClientAddresses, QueryLogConfig};
use crate::event::{Observer, Outcome, QueryEvent};
use crate::querylog::ClientFormat;
use crate::reserved::{self, Reserved};

/// Blocked names kept for the status page.
pub(crate) const RECENT_BLOCKS: usize = 20;

/// A blocked query, as the status page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedQuery {
    /// When (Unix seconds).
    pub at: u64,
    /// The name asked for (lower case, no trailing dot).
    pub name: String,
    /// The deciding list (source name) and its category.
    pub source: String,
    /// The source's category, if any.
    pub category: Option<String>,
    /// The device, in the query log's form (`None`: not logged).
    pub client: Option<String>,
}

/// The observer. Share it with `Arc`.
pub struct Recent {
    /// `Some` when names are kept (the query log is on).
    clients: Option<ClientFormat>,
    blocked: Mutex<VecDeque<BlockedQuery>>,
}

impl std::fmt::Debug for Recent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recent")
            .field("keeps_names", &self.keeps_names())
            .finish_non_exhaustive()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Recent {
    /// Keeps nothing (the query log is off).
    pub fn nothing() -> Self {
        Recent {
            clients: None,
            blocked: Mutex::new(VecDeque::new()),
        }
    }

    /// The observer for `query_log`: names and devices kept when it is on.
    /// (In `hashed` mode without a `hash_key` the page draws its own key, so
    /// its hashes differ from the log's.)
    pub fn new(query_log: &QueryLogConfig) -> Self {
        let clients = query_log
            .enabled
            .then(|| {
                let key = query_log.hash_key.as_ref().map(|k| k.as_bytes());
                ClientFormat::new(query_log.client_addresses, key).ok()
            })
            .flatten();
        Recent {
            clients,
            ..Recent::nothing()
        }
    }

    /// Whether names are kept (register it as an observer only then).
    pub fn keeps_names(&self) -> bool {
        self.clients.is_some()
    }

    /// Whether devices are shown with the names (the log's
    /// `client_addresses` is not `none`).
    pub fn shows_devices(&self) -> bool {
        self.clients
            .as_ref()
            .is_some_and(|c| c.mode() != ClientAddresses::None)
    }

    /// The most recent blocked queries, newest first.
    pub fn blocked(&self) -> Vec<BlockedQuery> {
        let ring = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter().rev().cloned().collect()
    }

    fn keep(&self, event: &QueryEvent<'_>, clients: &ClientFormat) {
        let Some(name) = event.name else { return };
        let name = name.to_lowercase().to_ascii();
        let name = name.trim_end_matches('.').to_string();
        let (source, category) = match event.outcome {
            Outcome::Blocked { rule, .. } => {
                let looked_up = event.matched.unwrap_or(&name).trim_end_matches('.');
                let info = event.list.rule_info(rule, looked_up);
                (info.source, info.category)
            }
            Outcome::Lookalike { .. } => (
                "look-alike check".to_string(),
                Some(crate::lookalike::config::LOOKALIKE_CATEGORY.to_string()),
            ),
            Outcome::Rebinding => ("private address check".to_string(), None),
            _ => (
                reserved::SOURCE.to_string(),
                Some(reserved::CATEGORY.to_string()),
            ),
        };
        let entry = BlockedQuery {
            at: now(),
            name,
            source,
            category,
            client: clients.format(event.client.ip()),
        };
        let mut ring = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() == RECENT_BLOCKS {
            ring.pop_front();
        }
        ring.push_back(entry);
    }
}

/// Whether `event` is a block the page counts: a list block, a look-alike
/// or rebinding block, or the reserved `blocked.parapet.test`.
fn is_block(event: &QueryEvent<'_>) -> bool {
    match event.outcome {
        Outcome::Blocked { .. } | Outcome::Rebinding => true,
        Outcome::Lookalike { blocked, .. } => blocked,
        Outcome::Synthesised => event
            .name
            .is_some_and(|n| reserved::of_name(n) == Some(Reserved::Blocked)),
        _ => false,
    }
}

impl Observer for Recent {
    fn observe(&self, event: &QueryEvent<'_>) {
        if let Some(clients) = &self.clients
            && is_block(event)
        {
            self.keep(event, clients);
        }
    }

    fn wants_details(&self) -> bool {
        self.keeps_names()
    }
}
