//! Bounded label values: every label of every parapet metric is one of these
//! fixed enums (or a category from the short, capped table in
//! [`super::category`]), never a query name or a client address.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use std::fmt::Write as _;

use crate::event::labelled_enum;
pub use crate::event::{Protocol, Trigger};

/// Defines a `Copy` enum of label values with `ALL`, `as_str()` (see
/// [`labelled_enum`]) and a prometheus-client `EncodeLabelValue` impl that
/// writes `as_str()`.
macro_rules! label_values {
    ($(#[$meta:meta])* $name:ident $body:tt) => {
        labelled_enum! { $(#[$meta])* $name $body }
        encode_as_str!($name);
    };
}

/// A prometheus-client `EncodeLabelValue` impl that writes `as_str()`.
macro_rules! encode_as_str {
    ($($name:ident),+) => {$(
        impl EncodeLabelValue for $name {
            fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
                encoder.write_str(self.as_str())
            }
        }
    )+};
}

// The query vocabulary's enums are metric labels too.
encode_as_str!(Protocol, Trigger);

label_values! {
    /// What happened to a query: exactly one per query.
    OutcomeKind {
        /// Forwarded upstream and answered as received.
        Forwarded => "forwarded",
        /// Answered from parapet's caches without contacting an upstream.
        Cached => "cached",
        /// Every upstream failed: an expired answer served (RFC 8767).
        Stale => "stale",
        /// Answered with the block action (name, CNAME or answer-IP hit).
        Blocked => "blocked",
        /// A block rule covered the name but a more specific allow rule won.
        AllowedByException => "allowed_by_exception",
        /// Refused by access control (over UDP beyond the refusal rate:
        /// dropped), or a class or type a resolver does not serve.
        Refused => "refused",
        /// Over the per-client rate limit: dropped or truncated (TC=1).
        RateLimited => "rate_limited",
        /// Upstream failure or timeout.
        Servfail => "servfail",
        /// A malformed query.
        Formerr => "formerr",
        /// Answered by parapet itself, not forwarded: a minimal `ANY`
        /// answer (RFC 8482) or the `use-application-dns.net` canary.
        Synthesised => "synthesised",
        /// A look-alike of a protected domain, forwarded because
        /// `[lookalikes] action = "log"` (blocked ones count as `blocked`).
        Lookalike => "lookalike",
    }
}

label_values! {
    /// What the rate limiter did with an answer over the limit.
    RateLimitAction {
        /// Nothing was sent.
        Drop => "drop",
        /// A truncated empty answer (TC=1) was sent, so a real client
        /// retries over TCP.
        Slip => "slip",
    }
}

label_values! {
    /// Which limit an answer was over.
    RateLimitReason {
        /// The per-client query rate (`[access] rate_limit_qps`).
        Rate => "rate",
        /// The rate of REFUSED answers to clients outside `[access] allow`.
        Refused => "refused",
    }
}

label_values! {
    /// Kind of rule in the compiled list.
    RuleKind {
        /// Domain rules (block and allow).
        Domain => "domain",
        /// IP address and CIDR rules.
        Ip => "ip",
    }
}

label_values! {
    /// Result of a list reload.
    ReloadResult {
        /// The new list was checked and swapped in.
        Ok => "ok",
        /// The new list was refused; the previous one keeps serving.
        Failed => "failed",
    }
}

label_values! {
    /// Why a forwarded lookup failed.
    UpstreamFailure {
        /// No answer within the configured timeout.
        Timeout => "timeout",
        /// Any other error (connection refused, bad response, SERVFAIL upstream).
        Error => "error",
    }
}

label_values! {
    /// Which page the warning page showed.
    WarningView {
        /// The warning for a name on the list.
        Blocked => "blocked",
        /// The generic page: the Host names something not (or no longer) listed.
        NotBlocked => "not_blocked",
        /// The generic page: the Host is an IP address.
        Ip => "ip",
        /// The generic page: no Host, or one that is not a host name.
        NoName => "no_name",
        /// The "this device is protected" page (`check.parapet.test`).
        Check => "check",
        /// The status page, shown or refused (`/status`).
        Status => "status",
    }
}

label_values! {
    /// Why a DoH request was refused for its token (HTTP 403 or 404) before
    /// it reached the query path.
    TokenRefusal {
        /// A well-formed token that was never valid here.
        Unknown => "unknown",
        /// A token that was valid earlier and has been revoked (or its
        /// tokens file went away).
        Revoked => "revoked",
        /// A path under `/dns-query/` that does not hold one well-formed token.
        Malformed => "malformed",
    }
}

/// Labels of `parapet_token_refusals_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct TokenRefusalLabels {
    pub(crate) reason: TokenRefusal,
}

/// Labels of `parapet_warning_page_views_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct WarningViewLabels {
    pub(crate) page: WarningView,
}

/// Labels of `parapet_queries_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct QueryLabels {
    pub(crate) protocol: Protocol,
    pub(crate) outcome: OutcomeKind,
}

/// Labels of `parapet_blocks_by_trigger_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct TriggerLabels {
    pub(crate) trigger: Trigger,
}

/// Labels of `parapet_ratelimit_actions_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RateLimitLabels {
    pub(crate) action: RateLimitAction,
    pub(crate) reason: RateLimitReason,
}

/// Labels of `parapet_list_rules`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct RuleKindLabels {
    pub(crate) kind: RuleKind,
}

/// Labels of `parapet_reloads_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct ReloadLabels {
    pub(crate) result: ReloadResult,
}

/// Labels of `parapet_upstream_failures_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct UpstreamFailureLabels {
    pub(crate) reason: UpstreamFailure,
}

/// Labels of `parapet_blocks_by_category_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(crate) struct CategoryLabels {
    pub(crate) category: &'static str,
}

label_values! {
    /// The listeners sharing one connection table.
    Listener {
        /// Plain DNS over TCP, DoT and DoH (one table).
        Dns => "dns",
        /// The warning page.
        WarningPage => "warning_page",
    }
}

label_values! {
    /// Why the connection limits closed a connection.
    ConnectionClose {
        /// Refused at once: the table was full and every slot busy.
        Full => "full",
        /// Idle, closed to make room for a new connection.
        Evicted => "evicted",
        /// Not on the allow-list and no valid token shown.
        Untrusted => "untrusted",
    }
}
