//! What the [front](super::front) tells its caller and the
//! [core](super::core) about a query: a leaf of the handler, so that the
//! handler's parts share these types without importing each other.

use crate::answer_cache::Key;

/// What the front did with a query's bytes.
// `Pass` carries the answer-cache key (up to 258 bytes) by value: it lives
// on the stack for one call, and boxing it would allocate on every miss.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Front {
    /// Answered: the reply is in the output buffer (left empty when the
    /// query was dropped, so nothing is to be sent).
    Answered,
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
}
