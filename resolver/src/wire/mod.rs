//! The DNS wire format, by hand where hickory's decoder would cost an
//! allocation per query: the question parser ([`WireQuery`]), the writers
//! of small answers, the response layout walker and TTL patching that the
//! answer cache uses ([`Layout`]), and the encoding of hickory responses
//! within a size limit ([`encode`]).
//!
//! A leaf module: it knows bytes, not policy, config or transports.

mod consts;
mod encode;
mod layout;
mod query;

pub use consts::{
    CLASS_IN, EDE_OPTION_CODE, HEADER_LEN, MAX_NAME, TYPE_OPT, UDP_PAYLOAD_MAX, udp_payload,
};
pub use encode::{encode, error_answer, formerr, formerr_for};
pub use layout::{Layout, age_ttls, patch_reply};
pub use query::{WireQuery, write_name, write_rr_head};
