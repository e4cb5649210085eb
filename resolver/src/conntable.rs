//! The connection table: per-client and total caps on open connections,
//! shared by every TCP listener (plain DNS, DoT, DoH, the warning page).
//!
//! Every accepted connection asks the table for a [`Slot`] before anything
//! else happens, and holds it until it closes. When the table is full the
//! newcomer still gets in if an idle connection (no request in flight) can
//! be closed to make room:
//! - the client already holds `max_per_client` slots: one of its own idle
//!   connections is closed, an untrusted one first, else the one idle
//!   longest;
//! - the table holds `max_total` slots: an idle connection is closed,
//!   preferring *untrusted* ones (not on the allow-list and no valid token
//!   yet), then ones from the client holding most slots, then the one idle
//!   longest.
//!
//! A newcomer is refused (its socket closed at once) only when every
//! candidate is busy answering. So a flood of idle connections from one
//! address, or from many, never locks out a client that is actually asking.
//!
//! Clients are counted per IPv4 address and per IPv6 /64 (one household
//! or device gets a /64; counting single IPv6 addresses would let one
//! host take every slot).
//!
//! Recording activity is two atomic operations per request ([`Slot::busy`]);
//! the table's lock is taken only to admit and release connections.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::{ConnectionClose, Listener, Metrics};

pub(crate) use crate::config::{DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT};

/// A connection table (see the module docs).
#[derive(Debug)]
pub struct ConnTable {
    max_total: usize,
    max_per_client: usize,
    epoch: Instant,
    state: Mutex<State>,
    metrics: OnceLock<(Arc<Metrics>, Listener)>,
    released: Notify,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    total: usize,
    clients: HashMap<IpAddr, Vec<Arc<Entry>>>,
}

/// One open connection, as the table sees it.
#[derive(Debug)]
struct Entry {
    id: u64,
    busy: AtomicUsize,
    /// Milliseconds since the table's epoch when the connection last became idle.
    idle_since: AtomicU64,
    trusted: AtomicBool,
    close: CancellationToken,
}

impl ConnTable {
    /// A table admitting `max_total` connections in all and
    /// `max_per_client` per client (both at least 1).
    pub fn new(max_total: usize, max_per_client: usize) -> Self {
        ConnTable {
            max_total: max_total.max(1),
            max_per_client: max_per_client.clamp(1, max_total.max(1)),
            epoch: Instant::now(),
            state: Mutex::new(State::default()),
            metrics: OnceLock::new(),
            released: Notify::new(),
        }
    }

    /// Count refusals, evictions and open connections in `metrics` under
    /// the `listener` label (the first call wins; set it before serving).
    pub fn set_metrics(&self, metrics: Arc<Metrics>, listener: Listener) {
        let _ = self.metrics.set((metrics, listener));
    }

    /// A slot for a new connection from `ip`, making room by closing an
    /// idle connection if needed (see the module docs); `None` when every
    /// candidate is busy. `trusted`: the client is on the allow-list (or
    /// the listener does not judge clients).
    pub fn admit(self: &Arc<Self>, ip: IpAddr, trusted: bool) -> Option<Slot> {
        let key = client_key(ip);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let held = state.clients.get(&key).map_or(0, Vec::len);
        if held >= self.max_per_client {
            let victim = state.clients.get(&key).and_then(|c| longest_idle(c));
            self.evict_or_refuse(&mut state, victim.map(|(_, _, id)| (key, id)))?;
        } else if state.total >= self.max_total {
            let victim = self.victim(&state);
            self.evict_or_refuse(&mut state, victim)?;
        }
        state.next_id += 1;
        let entry = Arc::new(Entry {
            id: state.next_id,
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now_ms()),
            trusted: AtomicBool::new(trusted),
            close: CancellationToken::new(),
        });
        state
            .clients
            .entry(key)
            .or_default()
            .push(Arc::clone(&entry));
        state.total += 1;
        drop(state);
        self.open_changed(1);
        Some(Slot {
            table: Arc::clone(self),
            key,
            entry,
        })
    }

    /// Open connections now.
    pub fn len(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Completes once every connection has been released (for shutdown;
    /// bound it with a timeout).
    pub async fn drained(&self) {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if self.is_empty() {
                return;
            }
            released.await;
        }
    }

    /// Close `victim` to make room, or count a refusal when there is none.
    fn evict_or_refuse(&self, state: &mut State, victim: Option<(IpAddr, u64)>) -> Option<()> {
        let Some((key, id)) = victim else {
            self.record(ConnectionClose::Full);
            return None;
        };
        if let Some(entry) = remove(state, key, id) {
            entry.close.cancel();
            self.record(ConnectionClose::Evicted);
            self.open_changed(-1);
        }
        Some(())
    }

    /// The idle connection to close when the table is full: untrusted
    /// first, then from the client holding most slots, then idle longest.
    fn victim(&self, state: &State) -> Option<(IpAddr, u64)> {
        state
            .clients
            .iter()
            .flat_map(|(key, conns)| {
                conns
                    .iter()
                    .filter(|e| e.busy.load(Ordering::Acquire) == 0)
                    .map(move |e| {
                        // Ties on idle time (same millisecond): the older goes.
                        let rank = (
                            !e.trusted.load(Ordering::Relaxed),
                            conns.len(),
                            u64::MAX - e.idle_since.load(Ordering::Relaxed),
                            u64::MAX - e.id,
                        );
                        (rank, (*key, e.id))
                    })
            })
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, victim)| victim)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn record(&self, reason: ConnectionClose) {
        if let Some((metrics, listener)) = self.metrics.get() {
            metrics.record_connection_closed(*listener, reason);
        }
    }

    fn open_changed(&self, delta: i64) {
        if let Some((metrics, listener)) = self.metrics.get() {
            metrics.connections_open_changed(*listener, delta);
        }
    }
}

/// The idle connection of one client to close for its new one: an
/// untrusted one first (behind one NAT, a tokenless flood does not push
/// out token-carrying phones while it has connections of its own), then
/// the one idle longest. As (trusted, idle since, id).
fn longest_idle(conns: &[Arc<Entry>]) -> Option<(bool, u64, u64)> {
    conns
        .iter()
        .filter(|e| e.busy.load(Ordering::Acquire) == 0)
        .map(|e| {
            let trusted = e.trusted.load(Ordering::Relaxed);
            (trusted, e.idle_since.load(Ordering::Relaxed), e.id)
        })
        .min()
}

fn remove(state: &mut State, key: IpAddr, id: u64) -> Option<Arc<Entry>> {
    let conns = state.clients.get_mut(&key)?;
    let at = conns.iter().position(|e| e.id == id)?;
    let entry = conns.swap_remove(at);
    if conns.is_empty() {
        state.clients.remove(&key);
    }
    state.total -= 1;
    Some(entry)
}

/// Who a connection counts against: the IPv4 address (also when mapped
/// into IPv6), or the IPv6 /64.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// A connection's place in the table, released when dropped.
#[derive(Debug)]
pub struct Slot {
    table: Arc<ConnTable>,
    key: IpAddr,
    entry: Arc<Entry>,
}

/// Marks a connection busy (a request in flight) while alive.
#[derive(Debug)]
pub struct Busy {
    table: Arc<ConnTable>,
    entry: Arc<Entry>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.entry
            .idle_since
            .store(self.table.now_ms(), Ordering::Relaxed);
        self.entry.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Slot {
    /// Mark the connection busy until the returned guard is dropped: busy
    /// connections are never closed to make room.
    pub fn busy(&self) -> Busy {
        self.entry.busy.fetch_add(1, Ordering::AcqRel);
        Busy {
            table: Arc::clone(&self.table),
            entry: Arc::clone(&self.entry),
        }
    }

    /// The client showed a valid token: treat it like an allowed address.
    pub fn trust(&self) {
        self.set_trusted(true);
    }

    /// The client's token was revoked and its address is not allowed: its
    /// queries are REFUSED, and the connection is among the first closed
    /// when the table is full.
    pub fn distrust(&self) {
        self.set_trusted(false);
    }

    fn set_trusted(&self, trusted: bool) {
        self.entry.trusted.store(trusted, Ordering::Relaxed);
    }

    /// Whether the client is allowed or showed a valid token.
    pub fn is_trusted(&self) -> bool {
        self.entry.trusted.load(Ordering::Relaxed)
    }

    /// Completes when the table closed this connection to make room.
    pub async fn evicted(&self) {
        self.entry.close.cancelled().await;
    }

    /// Completes when the connection must close: evicted, or still
    /// untrusted `grace` after this call (counted as `untrusted`).
    pub async fn watch(&self, grace: Duration) {
        let untrusted = async {
            tokio::time::sleep(grace).await;
            if self.is_trusted() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = self.evicted() => {}
            () = untrusted => self.table.record(ConnectionClose::Untrusted),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.table.state.lock().unwrap_or_else(|e| e.into_inner());
        if remove(&mut state, self.key, self.entry.id).is_some() {
            drop(state);
            self.table.open_changed(-1);
        }
        self.table.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests;
