//! What a forward gives back: the upstream's answer, or why there is
//! none. A leaf, so that the forwarder and its coalescing share the types
//! without importing each other.

use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Record;

use crate::answer::{EDE_NETWORK_ERROR, EDE_NO_REACHABLE_AUTHORITY};
use crate::upstream::ExchangeError;

/// An upstream answer, ready to be relayed.
#[derive(Debug, Clone, Default)]
pub struct Upstream {
    /// Response code (NOERROR or NXDOMAIN; failures are [`ForwardError`]).
    pub rcode: ResponseCode,
    /// The upstream set AD and is marked trusted (`[upstream] trusted`).
    pub authentic_data: bool,
    /// Answer section as received: CNAME chain, RRSIGs and all.
    pub answers: Vec<Record>,
    /// Authority section (SOA, NS, NSEC/NSEC3, their RRSIGs).
    pub authorities: Vec<Record>,
    /// Additional section (the OPT record aside).
    pub additionals: Vec<Record>,
    /// How long the forward took (a coalesced query: its own wait).
    pub elapsed: Duration,
}

/// What the client asked of DNSSEC: sent upstream as asked, and part of
/// the coalescing key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DnssecFlags {
    /// DO: the client wants DNSSEC records.
    pub dnssec_ok: bool,
    /// CD: the client validates itself; the upstream must not.
    pub checking_disabled: bool,
}

/// Why a query could not be forwarded. The client gets SERVFAIL.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No upstream answered within the configured timeout.
    #[error("no upstream answered within {0:?}")]
    Timeout(Duration),
    /// The upstreams could not be reached or gave no usable answer.
    #[error("upstream failure: {0}")]
    Upstream(#[from] ExchangeError),
    /// Every upstream asked answered with an error code.
    #[error("the upstream answered {0}")]
    Rcode(ResponseCode),
    /// The answer's CNAME chain loops.
    #[error("the upstream's CNAME chain loops")]
    CnameLoop,
    /// The exchange this query shared failed.
    #[error("{0}")]
    Shared(Arc<ForwardError>),
}

impl ForwardError {
    /// The Extended DNS Error INFO-CODE of the SERVFAIL this failure gives:
    /// 22 (No Reachable Authority) when no upstream answered in time or
    /// the upstreams answered with an error; 23 (Network Error) when they
    /// could not be reached (refused connection, ICMP unreachable, broken
    /// stream).
    pub fn ede_code(&self) -> u16 {
        match self {
            ForwardError::Upstream(e) if e.is_network() => EDE_NETWORK_ERROR,
            ForwardError::Shared(e) => e.ede_code(),
            _ => EDE_NO_REACHABLE_AUTHORITY,
        }
    }

    /// A short EXTRA-TEXT for the EDE option.
    pub fn ede_text(&self) -> &'static str {
        match self {
            ForwardError::CnameLoop => "CNAME loop in the upstream answer",
            ForwardError::Shared(e) => e.ede_text(),
            _ if self.ede_code() == EDE_NETWORK_ERROR => "upstream unreachable",
            _ => "no upstream answer",
        }
    }

    pub(super) fn is_timeout(&self) -> bool {
        match self {
            ForwardError::Timeout(_) => true,
            ForwardError::Shared(e) => e.is_timeout(),
            _ => false,
        }
    }
}
