//! The vocabulary of a finished query: how it ended ([`Outcome`]), what
//! triggered a block ([`Trigger`]), the transport ([`Protocol`]), and the
//! [`QueryEvent`] handed to every [`Observer`] (metrics, query log).
//!
//! A leaf module: it imports nothing from the rest of the crate, so the
//! handler, the answer cache and the observers all depend on it and not on
//! each other.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use parapet_blocklist::{Blocklist, RuleRef};

/// Defines a `Copy` enum of fixed lower-case values with `ALL`, `as_str()`
/// and `Display` (the values double as metric labels: [`crate::metrics`]
/// adds the label encoding).
macro_rules! labelled_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order (index = `self as usize`).
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value as it appears in metrics and logs.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use labelled_enum;

labelled_enum! {
    /// The transport a query arrived on.
    Protocol {
        /// Plain DNS over UDP.
        Udp => "udp",
        /// Plain DNS over TCP.
        Tcp => "tcp",
        /// DNS over TLS (port 853).
        Tls => "tls",
        /// DNS over HTTPS (`/dns-query`).
        Https => "https",
        /// Any other transport (kept so the `protocol` label set stays as
        /// exported; no parapet listener uses it).
        Other => "other",
    }
}

labelled_enum! {
    /// Which check caused a block.
    Trigger {
        /// The query name matched a block rule.
        Name => "name",
        /// A CNAME target in the upstream answer matched.
        Cname => "cname",
        /// An A/AAAA address in the upstream answer matched an IP rule.
        Ip => "ip",
        /// A private address in the upstream answer (`[block]
        /// private_answers = "block"`, DNS rebinding protection).
        Rebinding => "rebinding",
        /// The query name imitates a protected domain (`[lookalikes]`).
        Lookalike => "lookalike",
    }
}

/// How a query ended. Recorded once per query, at one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Relayed from an upstream with this response code.
    Forwarded {
        /// NOERROR or NXDOMAIN as the upstream said.
        rcode: ResponseCode,
    },
    /// Answered from parapet's caches (the answer cache or the resolver
    /// cache) without contacting an upstream.
    Cached {
        /// The response code of the cached answer.
        rcode: ResponseCode,
    },
    /// Every upstream failed: answered from an expired cache entry within
    /// `[upstream] serve_stale_secs` (RFC 8767; TTL 30, EDE 3).
    Stale {
        /// The response code of the stale answer.
        rcode: ResponseCode,
    },
    /// Answered from the blocklist.
    Blocked {
        /// What matched: the name, a CNAME target or an answer address.
        trigger: Trigger,
        /// The deciding rule (resolve it with [`QueryEvent::list`]).
        rule: RuleRef,
    },
    /// An allowlist source's rule (`allow = true`) let the name through;
    /// forwarded without inspection. (An exception inside a block list only
    /// cancels that list's blocks: its answers are still inspected.)
    AllowedByException {
        /// The allow rule.
        rule: RuleRef,
        /// The upstream response code.
        rcode: ResponseCode,
    },
    /// The client is outside `access.allow`, or the query is not one a
    /// resolver serves (class other than IN, zone transfer).
    Refused,
    /// The client exceeded its rate over UDP: dropped, or answered
    /// truncated (TC=1) so that it retries over TCP.
    RateLimited,
    /// No usable upstream answer in time.
    ServFail,
    /// The request was not a single standard query (FORMERR), had an
    /// opcode other than QUERY (NOTIMP), or asked for an EDNS version
    /// above 0 (BADVERS).
    FormErr,
    /// A forwarded answer held a private address and was replaced by the
    /// block answer (`[block] private_answers = "block"`).
    Rebinding,
    /// Answered by parapet itself: a minimal `ANY` answer (RFC 8482),
    /// NXDOMAIN for Firefox's canary `use-application-dns.net`, or a
    /// reserved test name ([`crate::reserved`]).
    Synthesised,
    /// The name imitates a protected domain (`[lookalikes]`; the domain is
    /// [`QueryEvent::matched`]): answered like a blocked name, or with
    /// `action = "log"` forwarded and answered with this response code.
    Lookalike {
        /// Answered with the block action.
        blocked: bool,
        /// The response code sent.
        rcode: ResponseCode,
    },
}

impl Outcome {
    /// Stable lower-case label for metrics and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Forwarded { .. } => "forwarded",
            Outcome::Cached { .. } => "cached",
            Outcome::Stale { .. } => "stale",
            Outcome::Blocked { .. } => "blocked",
            Outcome::AllowedByException { .. } => "allowed_by_exception",
            Outcome::Refused => "refused",
            Outcome::RateLimited => "rate_limited",
            Outcome::ServFail => "servfail",
            Outcome::FormErr => "formerr",
            Outcome::Rebinding => "rebinding",
            Outcome::Synthesised => "synthesised",
            Outcome::Lookalike { .. } => "lookalike",
        }
    }
}

/// Everything known about a finished query, handed to each [`Observer`].
#[derive(Debug)]
pub struct QueryEvent<'a> {
    /// Client address.
    pub client: SocketAddr,
    /// Transport the query came in on.
    pub protocol: Protocol,
    /// Query name (absent for malformed requests).
    pub name: Option<&'a Name>,
    /// Query type (`RecordType::NULL` when absent).
    pub qtype: RecordType,
    /// How it ended.
    pub outcome: Outcome,
    /// Response code sent.
    pub rcode: ResponseCode,
    /// The list snapshot this query was checked against; resolve
    /// [`Outcome::Blocked`] rules with `list.rule_info(rule, name)`.
    pub list: &'a Blocklist,
    /// Time from receipt to response sent.
    pub elapsed: Duration,
    /// Time the upstream lookup took, for queries that contacted an
    /// upstream (also those blocked on answer inspection); `None` for
    /// answers from the cache.
    pub upstream: Option<Duration>,
    /// For CNAME and answer-IP blocks: the CNAME target or address that
    /// matched (resolve the rule with `list.rule_info(rule, matched)`); for
    /// a look-alike, the protected domain it imitates.
    pub matched: Option<&'a str>,
}

/// A sink for finished queries (metrics, query log). Called on the query
/// path after the response is sent: keep it cheap and non-blocking.
pub trait Observer: Send + Sync + 'static {
    /// Record one finished query.
    fn observe(&self, event: &QueryEvent<'_>);

    /// Whether this observer reads [`QueryEvent::name`] and
    /// [`QueryEvent::elapsed`]. When no observer does, queries answered in
    /// the UDP receive loop are reported without them (`None`; zero for a
    /// blocked name), which saves an allocation and clock reads per query.
    fn wants_details(&self) -> bool {
        true
    }
}
