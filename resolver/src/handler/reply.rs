//! A reply on its way out: what the core decided, encoded once.

use std::time::Duration;

use hickory_proto::op::{Edns, Metadata, ResponseCode};
use hickory_proto::rr::Record;
use hickory_server::zone_handler::{MessageRequest, MessageResponseBuilder};

use crate::answer;
use crate::ratelimit::Limit;
use crate::wire;

/// A response body on its way out.
pub(super) struct Reply {
    pub(super) rcode: ResponseCode,
    pub(super) recursion_available: bool,
    pub(super) authentic_data: bool,
    pub(super) answers: Vec<Record>,
    pub(super) authorities: Vec<Record>,
    pub(super) additionals: Vec<Record>,
    pub(super) ede: Option<(u16, String)>,
    /// Sent with TC=1 (a rate-limited query's slip).
    pub(super) truncated: bool,
    /// Not sent at all (a rate-limited query's drop).
    pub(super) dropped: bool,
    /// For the observers, not sent.
    pub(super) trace: Trace,
}

/// What observers learn about a query besides its outcome.
#[derive(Debug, Default)]
pub(super) struct Trace {
    /// Time the upstream lookup took, when an upstream was asked.
    pub(super) upstream: Option<Duration>,
    /// The CNAME target, address or protected domain that matched.
    pub(super) matched: Option<String>,
}

impl Reply {
    pub(super) fn empty(rcode: ResponseCode, recursion_available: bool) -> Self {
        Reply {
            rcode,
            recursion_available,
            authentic_data: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            ede: None,
            truncated: false,
            dropped: false,
            trace: Trace::default(),
        }
    }

    /// The reply to a UDP query over a rate limit: nothing, or an empty
    /// truncated answer.
    pub(super) fn limited(limit: Limit) -> Self {
        let mut reply = Reply::empty(ResponseCode::NoError, true);
        reply.truncated = limit == Limit::Slip;
        reply.dropped = limit != Limit::Slip;
        reply
    }

    /// A reply made of a synthesised answer.
    pub(super) fn synthesised(synth: answer::Synthesised) -> Self {
        let mut reply = Reply::empty(synth.rcode, true);
        reply.answers = synth.answers;
        reply.authorities = synth.authorities;
        reply
    }

    /// Encode the reply to `request` within `max_size` bytes (truncated
    /// with TC beyond it, as hickory does); EDNS (and the EDE option) only
    /// when the query carried EDNS. Empty for a dropped reply.
    pub(super) fn encode(&self, request: &MessageRequest, max_size: u16) -> Vec<u8> {
        if self.dropped {
            return Vec::new();
        }
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.truncation = self.truncated;
        metadata.recursion_available = self.recursion_available;
        metadata.authentic_data = self.authentic_data;
        metadata.response_code = self.rcode;

        let edns = request.edns.as_ref().map(|req| {
            let mut edns = Edns::new();
            edns.set_max_payload(wire::udp_payload(Some(req.max_payload())));
            edns.set_dnssec_ok(req.flags().dnssec_ok);
            // Extended response codes (BADVERS) carry their high bits here.
            edns.set_rcode_high(self.rcode.high());
            if let Some((code, text)) = &self.ede {
                edns.options_mut().insert(answer::ede_option(*code, text));
            }
            edns
        });
        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        if let Some(e) = &edns {
            builder.edns(e);
        }
        let response = builder.build(
            metadata,
            self.answers.iter(),
            self.authorities.iter(),
            std::iter::empty(),
            self.additionals.iter(),
        );
        wire::encode(response, request.metadata.id, max_size)
    }
}
