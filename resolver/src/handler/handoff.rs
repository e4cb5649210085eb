//! What the [front](super::front) tells its caller and the
//! [core](super::core) about a query: a leaf of the handler, so that the
//! handler's parts share these types without importing each other.

use crate::answer_cache::Key;
use crate::wire::WireQuery;

/// What the front did with a query's bytes.
// `Pass` carries the answer-cache key (up to 258 bytes) by value: it lives
// on the stack for one call, and boxing it would allocate on every miss.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Front {
    /// Answered: the reply is in the output buffer (left empty when the
    /// query was dropped, so nothing is to be sent). With `prefetch`, the
    /// answer came from the cache close to its expiry: spawn
    /// [`Handler::prefetch`](super::Handler::prefetch) with it after
    /// sending.
    Answered {
        /// A background refresh to run (rare: once per popular answer per
        /// TTL).
        prefetch: Option<Box<Prefetch>>,
    },
    /// Not answerable from bytes: parse the query and hand it to
    /// [`Handler::core`](super::Handler::core) with this.
    Pass(Handoff),
}

/// What the front learnt about a query, for the core, so that neither the
/// access decision nor the question parse is made twice.
#[derive(Debug, Clone, Copy)]
pub struct Handoff {
    /// The access decision ([`crate::access::AccessList::admits`]).
    pub(super) admitted: bool,
    /// The answer-cache key (cache on, simple question shape): the core
    /// keeps a forwarded answer under it.
    pub(super) key: Option<Key>,
    /// A background refresh
    /// ([`Handler::prefetch`](super::Handler::prefetch)), not a client's
    /// query: counted as a prefetch, not reported to the observers.
    pub(super) refresh: bool,
}

/// A background refresh of a cached answer the front asked for: the
/// query as a client sent it, and its answer-cache key.
#[derive(Debug)]
pub struct Prefetch {
    pub(super) query: Vec<u8>,
    pub(super) key: Key,
}

impl Prefetch {
    /// The refresh of the answer to `query` kept under `key`.
    pub(super) fn new(query: &WireQuery<'_>, key: Key) -> Box<Prefetch> {
        Box::new(Prefetch {
            query: query.packet().to_vec(),
            key,
        })
    }
}
