//! What a [`super::ScriptedServer`] does wrong on purpose.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The misbehaviours of a scripted server, all off by default (a plain,
/// correct authoritative server). Built with chained calls and installed
/// with [`super::ScriptedServer::set_behaviour`]. Names are matched in any
/// case, with or without the trailing dot.
#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    pub(super) drop_every_nth_udp: u64,
    pub(super) wrong_id_first: bool,
    pub(super) wrong_name_first: bool,
    pub(super) slow: HashMap<String, Duration>,
    pub(super) truncate_udp: HashSet<String>,
    pub(super) tcp_reverse_batch: usize,
    pub(super) close_tcp_after: usize,
    pub(super) lowercase_question: bool,
    pub(super) silent: bool,
}

/// How long a TCP connection waits for the rest of a batch (see
/// [`Behaviour::tcp_reverse_batch`]) before answering the part it has.
pub const BATCH_WAIT: Duration = Duration::from_millis(200);

impl Behaviour {
    /// Drop every `n`th UDP query unanswered (counting from the server's
    /// start: with 2, the 2nd, 4th, … are lost). 0 drops none; 1
    /// drops every one.
    pub fn drop_every_nth_udp(mut self, n: u64) -> Self {
        self.drop_every_nth_udp = n;
        self
    }

    /// Over UDP, answer each query first with a forged reply whose ID is
    /// wrong (the query's ID + 1) and which says NXDOMAIN without records
    /// (so a client that takes it shows it), then correctly.
    pub fn wrong_id_first(mut self) -> Self {
        self.wrong_id_first = true;
        self
    }

    /// Over UDP, answer each query first with a forged NXDOMAIN reply (as
    /// [`Self::wrong_id_first`]) whose question name is another
    /// (`wrong.invalid.`), then correctly. Combined with
    /// [`Self::wrong_id_first`], the wrong-ID copy goes first.
    pub fn wrong_name_first(mut self) -> Self {
        self.wrong_name_first = true;
        self
    }

    /// Hold answers for `name` (any type, either transport) for `delay`.
    /// Other queries are answered meanwhile.
    pub fn slow(mut self, name: &str, delay: Duration) -> Self {
        self.slow.insert(name_key(name), delay);
        self
    }

    /// Answer UDP queries for `name` with TC=1 and no records (TCP gets the
    /// full answer).
    pub fn truncate_udp(mut self, name: &str) -> Self {
        self.truncate_udp.insert(name_key(name));
        self
    }

    /// On TCP, collect `k` queries of a connection (or what has arrived
    /// when none came for [`BATCH_WAIT`]) and answer them in reverse order.
    /// 0 or 1: answer each query as soon as it is ready (queries on one
    /// connection run concurrently, so a slow name's answer comes after
    /// later fast ones).
    pub fn tcp_reverse_batch(mut self, k: usize) -> Self {
        self.tcp_reverse_batch = k;
        self
    }

    /// Close each TCP connection after reading `n` queries from it (their
    /// answers are sent first), as a server with a per-connection query
    /// limit does. 0: never.
    pub fn close_tcp_after(mut self, n: usize) -> Self {
        self.close_tcp_after = n;
        self
    }

    /// Answer with the question name in lower case whatever the query's
    /// case (as some servers do; a client using 0x20 case randomisation
    /// must cope).
    pub fn lowercase_question(mut self) -> Self {
        self.lowercase_question = true;
        self
    }

    /// Answer nothing at all (a server that is down but whose port is
    /// open); queries are still counted.
    pub fn silent(mut self) -> Self {
        self.silent = true;
        self
    }

    /// Whether the `count`th UDP query (1-based) is to be dropped.
    pub(super) fn drops_udp(&self, count: u64) -> bool {
        self.drop_every_nth_udp > 0 && count.is_multiple_of(self.drop_every_nth_udp)
    }
}

/// The key a name is counted and matched under: lower case, one trailing
/// dot.
pub(super) fn name_key(name: &str) -> String {
    let mut key = name.trim_end_matches('.').to_ascii_lowercase();
    key.push('.');
    key
}
