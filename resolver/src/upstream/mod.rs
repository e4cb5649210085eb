//! parapet's own upstream client, on hickory-proto for the messages: a
//! pool of connected UDP sockets, pipelined TCP and DNS-over-TLS
//! connections ([`stream`]), DNS over HTTPS on HTTP/2 ([`https`]).
//!
//! Each transport exchanges one encoded query for one encoded answer;
//! choosing an upstream, deadlines and retries live above them.

mod error;
pub mod https;
pub mod stream;

pub use error::ExchangeError;
