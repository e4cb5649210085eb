//! IP and CIDR lists: `ip`, `cidr`, `ip # comment`, `ip<TAB>count`, `cidr ; SBL…`.

use std::net::IpAddr;

use ipnet::IpNet;

use super::line::{Kind, LineResult, strip_comment};
use crate::rule::Action;
use crate::rule::RawRule;

pub(super) fn parse(line: &str, out: &mut Vec<RawRule>) -> LineResult {
    let line = strip_comment(strip_comment(line.trim_start_matches('\u{feff}'), '#'), ';').trim();
    if line.is_empty() {
        return Ok(Kind::Comment);
    }
    let token = line.split_whitespace().next().unwrap_or_default();
    let token = token.trim_end_matches([',', ';']);
    out.push(RawRule::ip(parse_net(token)?, Action::Block));
    Ok(Kind::Rules)
}

/// An address or a CIDR range (host bits are cleared).
pub(crate) fn parse_net(token: &str) -> Result<IpNet, String> {
    if let Ok(net) = token.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(ip) = token.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    if token.contains('-') {
        return Err(format!(
            "address ranges are not supported, use CIDR: {token:?}"
        ));
    }
    Err(format!("not an IP address or CIDR range: {token:?}"))
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::test_util::parse;
    use super::*;

    #[test]
    fn real_lines() {
        assert_eq!(
            parse(Format::Ip, "1.10.16.0/20").1,
            ["block ip 1.10.16.0/20"]
        );
        assert_eq!(
            parse(Format::Ip, "45.148.10.240\t10").1,
            ["block ip 45.148.10.240/32"]
        );
        assert_eq!(
            parse(Format::Ip, "2a0d:5600:24::1 # usom").1,
            ["block ip 2a0d:5600:24::1/128"]
        );
        assert_eq!(
            parse(Format::Ip, "1.19.0.0/16 ; SBL123\r").1,
            ["block ip 1.19.0.0/16"]
        );
        assert_eq!(parse(Format::Ip, "# FireHOL").0, Ok(Kind::Comment));
        assert_eq!(parse(Format::Ip, "10.1.2.3/8").1, ["block ip 10.0.0.0/8"]);
    }

    #[test]
    fn hostile_lines() {
        assert!(parse(Format::Ip, "1.2.3.4-1.2.3.9").0.is_err());
        assert!(parse(Format::Ip, "1.2.3.4/33").0.is_err());
        assert!(parse(Format::Ip, "evil.example").0.is_err());
        assert!(parse(Format::Ip, "256.1.1.1").0.is_err());
    }
}
