//! What the query path hands the query-log writer, and where the writer
//! puts it: a leaf of [`querylog`](super), shared by both sides.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hickory_proto::rr::RecordType;

use crate::metrics::{OutcomeKind, Protocol, TokenRefusal, Trigger};

/// Where the lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogTarget {
    /// Standard output (`path` unset or `"-"`), e.g. for journald.
    Stdout,
    /// A file, appended to, created with mode 0640, reopened on SIGHUP.
    File(PathBuf),
}

impl LogTarget {
    /// The target of a validated `[query_log] path`.
    pub(crate) fn from_path(path: Option<&Path>) -> LogTarget {
        match path {
            None => LogTarget::Stdout,
            Some(path) => LogTarget::File(path.to_path_buf()),
        }
    }
}

/// One query, as handed from the query path to the writer. Built only when
/// [`QueryLog::wants`](super::QueryLog::wants) its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRecord {
    /// When the query was answered.
    pub time: SystemTime,
    /// The client's address (transformed by the writer per
    /// `client_addresses`).
    pub client: IpAddr,
    /// The transport.
    pub protocol: Protocol,
    /// The query name.
    pub name: String,
    /// The query type.
    pub qtype: RecordType,
    /// What happened.
    pub outcome: OutcomeKind,
    /// For blocks: what matched.
    pub trigger: Option<Trigger>,
    /// The deciding rule (`evil.example`, `192.0.2.0/24`), for blocks and
    /// exceptions.
    pub rule: Option<String>,
    /// The rule's source.
    pub source: Option<String>,
    /// The source's category.
    pub category: Option<String>,
    /// Time spent on the upstream lookup, for queries that asked one.
    pub upstream: Option<Duration>,
    /// For DoH requests refused for their token: why (never the token).
    pub reason: Option<TokenRefusal>,
}

impl QueryRecord {
    /// A record of `outcome` for `name`/`qtype` from `client`, time now, no
    /// rule or upstream details yet.
    pub fn new(
        client: IpAddr,
        protocol: Protocol,
        name: impl Into<String>,
        qtype: RecordType,
        outcome: OutcomeKind,
    ) -> Self {
        QueryRecord {
            time: SystemTime::now(),
            client,
            protocol,
            name: name.into(),
            qtype,
            outcome,
            trigger: None,
            rule: None,
            source: None,
            category: None,
            upstream: None,
            reason: None,
        }
    }
}
