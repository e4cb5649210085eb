//! The sizes both the batched and the portable paths use.

/// Most datagrams received (and replies sent) per system call.
pub(crate) const BATCH: usize = 32;

/// Largest UDP query read; longer datagrams are cut and then fail to parse.
pub(crate) const RECEIVE_BUFFER: usize = 4096;
