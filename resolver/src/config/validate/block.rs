//! `[block]`: how blocked names are answered.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::private_answers::{private_answers, private_answers_allow};
use crate::config::issue::Issues;
use crate::config::raw::RawBlock;
use crate::config::types::{BlockAction, BlockConfig, DEFAULT_BLOCK_TTL, DEFAULT_SINKHOLE_IPV4};

/// `[block]`.
pub(super) fn block(is: &mut Issues, raw: RawBlock) -> BlockConfig {
    let action = match raw.action.as_deref() {
        None | Some("sinkhole") => BlockAction::Sinkhole,
        Some("nxdomain") => BlockAction::Nxdomain,
        Some("nodata") => BlockAction::Nodata,
        Some("refused") => BlockAction::Refused,
        Some(other) => {
            is.push(
                "block.action",
                format!("{other:?} is not one of sinkhole, nxdomain, nodata, refused"),
            );
            BlockAction::Sinkhole
        }
    };
    let sinkhole_ipv4 = match raw.sinkhole_ipv4 {
        None => DEFAULT_SINKHOLE_IPV4,
        Some(s) => s.parse::<Ipv4Addr>().unwrap_or_else(|_| {
            is.push(
                "block.sinkhole_ipv4",
                format!("{s:?} is not an IPv4 address"),
            );
            DEFAULT_SINKHOLE_IPV4
        }),
    };
    let sinkhole_ipv6 = match raw.sinkhole_ipv6 {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => match s.parse::<Ipv6Addr>() {
            Ok(a) => Some(a),
            Err(_) => {
                is.push(
                    "block.sinkhole_ipv6",
                    format!("{s:?} is not an IPv6 address"),
                );
                None
            }
        },
    };
    let contact = raw.contact.unwrap_or_default();
    for (i, c) in contact.iter().enumerate() {
        if !["mailto:", "tel:", "sips:", "https:"]
            .iter()
            .any(|scheme| c.starts_with(scheme))
        {
            is.push(
                format!("block.contact[{i}]"),
                format!("{c:?} is not a mailto:, tel:, sips: or https: URI"),
            );
        }
    }
    BlockConfig {
        action,
        sinkhole_ipv4,
        sinkhole_ipv6,
        ttl: raw.ttl.unwrap_or(DEFAULT_BLOCK_TTL),
        contact,
        justification: raw.justification,
        organisation: raw.organisation,
        private_answers: private_answers(is, raw.private_answers.as_deref()),
        private_answers_allow: private_answers_allow(is, raw.private_answers_allow),
    }
}
