//! hosts files: `0.0.0.0 name [name…]  # comment`.

use std::net::IpAddr;

use super::line::{Kind, LineResult, strip_comment};
use crate::name::normalize;
use crate::rule::RawRule;
use crate::rule::Scope;

/// Names every hosts file maps to itself; not blocklist entries.
const LOCAL_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// Parse an address line. `None` when the line does not start with an
/// address: a bare name, which the caller reads as a domain line.
pub(super) fn parse(line: &str, out: &mut Vec<RawRule>) -> Option<LineResult> {
    let line = strip_comment(line.trim_start_matches('\u{feff}'), '#').trim();
    if line.is_empty() {
        return Some(Ok(Kind::Comment));
    }
    let mut tokens = line.split_whitespace();
    let first = tokens.next().unwrap_or_default();
    if first.parse::<IpAddr>().is_err() {
        return None;
    }
    Some(address_line(tokens, out))
}

/// The names after an address.
fn address_line<'a>(tokens: impl Iterator<Item = &'a str>, out: &mut Vec<RawRule>) -> LineResult {
    let mut names = 0;
    let mut local = 0;
    let mut error = None;
    for token in tokens {
        if LOCAL_NAMES.iter().any(|l| token.eq_ignore_ascii_case(l)) {
            local += 1;
            continue;
        }
        names += 1;
        match normalize(token) {
            Ok(name) => out.push(RawRule::block(name, Scope::Subtree)),
            Err(e) => {
                error.get_or_insert_with(|| format!("{e}: {token:?}"));
            }
        }
    }
    if let Some(e) = error {
        return Err(e);
    }
    match (names, local) {
        (0, 0) => Err("no name after the address".into()),
        (0, _) => Ok(Kind::Ignored),
        _ => Ok(Kind::Rules),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::test_util::parse;
    use super::*;

    #[test]
    fn real_lines() {
        // blocklistproject_scam.hosts, hagezi_light.hosts.gz, dandelionsprout (BOM)
        assert_eq!(
            parse(Format::Hosts, "0.0.0.0 0-0-0-0-0-0proxy.tserv.se").1,
            ["block subtree 0-0-0-0-0-0proxy.tserv.se"]
        );
        assert_eq!(
            parse(Format::Hosts, "0.0.0.0 Evil.Example. # comment").1,
            ["block subtree evil.example"]
        );
        assert_eq!(
            parse(Format::Hosts, "127.0.0.1 a.example b.example\r").1,
            ["block subtree a.example", "block subtree b.example"]
        );
        assert_eq!(
            parse(Format::Hosts, "::1 localhost ip6-localhost").0,
            Ok(Kind::Ignored)
        );
        assert_eq!(
            parse(Format::Hosts, "\u{feff}# Title: x").0,
            Ok(Kind::Comment)
        );
        assert_eq!(parse(Format::Hosts, "0.0.0.0 0.0.0.0").0, Ok(Kind::Ignored));
    }

    #[test]
    fn hostile_lines() {
        assert!(parse(Format::Hosts, "0.0.0.0").0.is_err());
        let (r, rules) = parse(Format::Hosts, "0.0.0.0 good.example bad..example");
        assert!(r.is_err());
        assert_eq!(rules, ["block subtree good.example"]);
        assert!(parse(Format::Hosts, "0.0.0.0 1.2.3.4").0.is_err());
        assert!(
            parse(
                Format::Hosts,
                &format!("0.0.0.0 {}.example", "x".repeat(70))
            )
            .0
            .is_err()
        );
        assert!(parse(Format::Hosts, "999.1.1.1 evil.example").0.is_err());
    }
}
