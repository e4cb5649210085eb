//! Names blocked through their answer, remembered for the warning page.
//!
//! A name the list does not hold is still blocked when its forwarded answer
//! leads through a CNAME to a listed name, holds a listed address, or (with
//! `[block] private_answers = "block"`) a private one. The browser then
//! comes to the warning page with that name as its `Host`, and the list
//! alone cannot say why. [`AnswerBlocks`] is a query [`Observer`] that
//! remembers such blocks, so that the page can explain them:
//!
//! - only the name, the trigger and what matched (the CNAME target or the
//!   address) are kept, never who asked;
//! - an entry lives for the block answer's TTL plus [`MARGIN`] (devices
//!   that keep the sinkhole answer a little longer still get the right
//!   page), and at most [`CAPACITY`] names are kept, the first recorded
//!   dropped first;
//! - the page re-checks what matched against the live list
//!   ([`AnswerBlocks::explain`]), so a reload that removes the rule also
//!   removes the warning, as it does for names.
//!
//! Only answer blocks are written (a lock taken once per such block, never
//! on the path of other queries). `parapet explain` runs in another
//! process and cannot see this memory.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parapet_blocklist::{Blocklist, RuleInfo, Verdict};

use crate::event::{Observer, Outcome, QueryEvent, Trigger};

/// Most names remembered; beyond, the first recorded is dropped.
pub(crate) const CAPACITY: usize = 4096;
/// How much longer than the block answer's TTL a block is remembered.
pub(crate) const MARGIN: Duration = Duration::from_secs(3600);

/// What an answer led to, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Via {
    /// A CNAME target (lower case, no trailing dot) that a block rule covers.
    Cname(Box<str>),
    /// An address that an IP rule covers.
    Ip(IpAddr),
    /// A private address (DNS rebinding protection).
    Rebinding(IpAddr),
}

/// Why a name was blocked through its answer, as the warning page tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AnswerBlock {
    /// Its answer led (by CNAME) to `target`, which `rule` blocks.
    Cname {
        /// The CNAME target.
        target: String,
        /// The rule in the live list that blocks it.
        rule: RuleInfo,
    },
    /// Its answer held `address`, which `rule` blocks.
    Ip {
        /// The address.
        address: IpAddr,
        /// The IP rule in the live list that blocks it.
        rule: RuleInfo,
    },
    /// Its answer held the private address `address`.
    Rebinding {
        /// The address.
        address: IpAddr,
    },
}

#[derive(Debug)]
struct Entry {
    via: Via,
    at: Instant,
}

/// The names, and the order they were first recorded in (same set).
#[derive(Debug, Default)]
struct Memory {
    entries: HashMap<Arc<str>, Entry>,
    order: VecDeque<Arc<str>>,
}

/// The memory of recent answer blocks; an [`Observer`] of finished
/// queries. Share it with `Arc`.
#[derive(Debug)]
pub struct AnswerBlocks {
    memory: Mutex<Memory>,
    lifetime: Duration,
    capacity: usize,
}

impl AnswerBlocks {
    /// A memory for block answers of TTL `ttl` seconds: entries live
    /// `ttl` + [`MARGIN`], at most [`CAPACITY`] of them.
    pub fn for_ttl(ttl: u32) -> Self {
        Self::new(Duration::from_secs(u64::from(ttl)) + MARGIN, CAPACITY)
    }

    /// A memory whose entries live `lifetime`, at most `capacity` of them.
    pub fn new(lifetime: Duration, capacity: usize) -> Self {
        AnswerBlocks {
            memory: Mutex::new(Memory::default()),
            lifetime,
            capacity: capacity.max(1),
        }
    }

    /// Names remembered now, expired ones included until they are pushed
    /// out.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expired(&self, entry: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(entry.at) >= self.lifetime
    }

    /// Remember that `name` (lower case, no trailing dot) was blocked
    /// `via` what its answer held, at `now`. A name already remembered is
    /// updated in place (and keeps its place in the order).
    fn record(&self, name: &str, via: Via, now: Instant) {
        let mut memory = self.lock();
        if let Some(entry) = memory.entries.get_mut(name) {
            entry.via = via;
            entry.at = now;
            return;
        }
        // Expired entries at the front go first, then the oldest if full.
        let Memory { entries, order } = &mut *memory;
        while let Some(front) = order.front() {
            let full = order.len() >= self.capacity;
            let stale = entries.get(front).is_none_or(|e| self.expired(e, now));
            if !(full || stale) {
                break;
            }
            if let Some(front) = order.pop_front() {
                entries.remove(&front);
            }
        }
        let name: Arc<str> = Arc::from(name);
        order.push_back(Arc::clone(&name));
        entries.insert(name, Entry { via, at: now });
    }

    /// What `name` (lower case, no trailing dot) was blocked through, if it
    /// was within the lifetime before `now`.
    fn recall(&self, name: &str, now: Instant) -> Option<Via> {
        let memory = self.lock();
        let entry = memory.entries.get(name)?;
        (!self.expired(entry, now)).then(|| entry.via.clone())
    }

    /// Why `name` (lower case, no trailing dot) was blocked through its
    /// answer, if it recently was and the live `list` still blocks what the
    /// answer held (a private address: always).
    pub(crate) fn explain(&self, list: &Blocklist, name: &str) -> Option<AnswerBlock> {
        self.explain_at(list, name, Instant::now())
    }

    fn explain_at(&self, list: &Blocklist, name: &str, now: Instant) -> Option<AnswerBlock> {
        match self.recall(name, now)? {
            Via::Cname(target) => match list.check_name(&target) {
                Verdict::Block(rule) => Some(AnswerBlock::Cname {
                    rule: list.rule_info(rule, &target),
                    target: target.into(),
                }),
                Verdict::Allow(_) | Verdict::None => None,
            },
            Via::Ip(address) => match list.check_ip(address) {
                Verdict::Block(rule) => Some(AnswerBlock::Ip {
                    rule: list.rule_info(rule, &address.to_string()),
                    address,
                }),
                Verdict::Allow(_) | Verdict::None => None,
            },
            Via::Rebinding(address) => Some(AnswerBlock::Rebinding { address }),
        }
    }
}

impl Observer for AnswerBlocks {
    fn observe(&self, event: &QueryEvent<'_>) {
        let (Some(name), Some(matched)) = (event.name, event.matched) else {
            return;
        };
        let via = match event.outcome {
            Outcome::Blocked {
                trigger: Trigger::Cname,
                ..
            } => Via::Cname(lower_name(matched).into()),
            Outcome::Blocked {
                trigger: Trigger::Ip,
                ..
            } => match matched.parse() {
                Ok(address) => Via::Ip(address),
                Err(_) => return,
            },
            Outcome::Rebinding => match matched.parse() {
                Ok(address) => Via::Rebinding(address),
                Err(_) => return,
            },
            _ => return,
        };
        self.record(&lower_name(&name.to_ascii()), via, Instant::now());
    }

    /// Only queries answered by the core matter (answer blocks), and they
    /// always carry their name.
    fn wants_details(&self) -> bool {
        false
    }
}

/// `Evil.Example.` → `evil.example`.
fn lower_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
