//! The wire format's constants and size limits, below every other part
//! of [`wire`](super) so that its parts share them without importing
//! their parent.

/// Length of the fixed DNS header.
pub const HEADER_LEN: usize = 12;
/// The OPT pseudo-record's type (EDNS, RFC 6891).
pub const TYPE_OPT: u16 = 41;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Longest name on the wire, root label included (RFC 1035 3.1).
pub const MAX_NAME: usize = 255;
/// The EDNS option code of an Extended DNS Error (RFC 8914).
pub const EDE_OPTION_CODE: u16 = 15;

/// Largest UDP answer sent (the DNS Flag Day 2020 size, which fits an
/// IPv6 packet without fragmenting): larger answers go out truncated
/// (TC=1) and the client retries over TCP. Caps reflection, too.
pub const UDP_PAYLOAD_MAX: u16 = 1232;

/// The size limit of a UDP answer to a query that offered `edns_payload`
/// (`None` without EDNS): RFC 1035's 512 bytes without EDNS, else the
/// offer within 512..=[`UDP_PAYLOAD_MAX`]. Also the payload size the
/// answer's OPT record advertises.
pub fn udp_payload(edns_payload: Option<u16>) -> u16 {
    edns_payload.map_or(512, |p| p.clamp(512, UDP_PAYLOAD_MAX))
}

#[cfg(test)]
mod tests {
    #[test]
    fn udp_payload_is_512_without_edns_and_capped_at_1232() {
        assert_eq!(super::udp_payload(None), 512);
        assert_eq!(super::udp_payload(Some(100)), 512);
        assert_eq!(super::udp_payload(Some(1000)), 1000);
        assert_eq!(super::udp_payload(Some(4096)), 1232);
        assert_eq!(super::udp_payload(Some(u16::MAX)), 1232);
    }
}
