//! RPZ zone files: `name CNAME .` (exact), `*.name CNAME .` (below),
//! `CNAME rpz-passthru.` (allow), `rpz-ip` triggers (IP rules). `$TTL`, SOA
//! and NS records are skipped; `$ORIGIN` is honoured for absolute names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::line::{Kind, LineResult, strip_comment};
use crate::name::normalize;
use crate::rule::{Action, Scope};
use crate::rule::{RawRule, Target};

/// Parser state: the zone origin and open parentheses of a multi-line record.
#[derive(Debug, Default)]
pub(super) struct State {
    origin: Option<String>,
    parens: i32,
}

impl State {
    pub(super) fn parse(&mut self, line: &str, out: &mut Vec<RawRule>) -> LineResult {
        let raw = strip_comment(line.trim_start_matches('\u{feff}'), ';');
        let raw = match raw.find(';') {
            Some(i) => &raw[..i],
            None => raw,
        };
        let was_open = self.parens > 0;
        for c in raw.chars() {
            match c {
                '(' => self.parens += 1,
                ')' => self.parens = (self.parens - 1).max(0),
                _ => {}
            }
        }
        if was_open {
            return Ok(Kind::Comment); // continuation of a multi-line record (SOA)
        }
        let line = raw.trim();
        if line.is_empty() {
            return Ok(Kind::Comment);
        }
        if raw.starts_with(char::is_whitespace) {
            return Ok(Kind::Ignored); // record for the previous owner (NS)
        }
        let mut tokens = line.split_whitespace();
        let owner = tokens.next().unwrap_or_default();
        if owner.starts_with('$') {
            if owner.eq_ignore_ascii_case("$ORIGIN") {
                let origin = tokens.next().ok_or("$ORIGIN without a name")?;
                let origin = origin.trim_end_matches('.').to_ascii_lowercase();
                self.origin = (!origin.is_empty()).then_some(origin);
                return Ok(Kind::Comment);
            }
            return Ok(if owner.eq_ignore_ascii_case("$TTL") {
                Kind::Comment
            } else {
                Kind::Ignored
            });
        }
        let mut rtype = "";
        for t in tokens.by_ref() {
            let is_class = ["IN", "CH", "HS"].iter().any(|c| t.eq_ignore_ascii_case(c));
            if !is_class && !t.bytes().all(|b| b.is_ascii_digit()) {
                rtype = t;
                break;
            }
        }
        let rdata = tokens.next().unwrap_or("");
        if owner == "@" {
            return Ok(Kind::Ignored);
        }
        let action = if rtype.eq_ignore_ascii_case("CNAME") {
            match rdata.to_ascii_lowercase().as_str() {
                "" => return Err("CNAME without a target".into()),
                "rpz-passthru." => Action::Allow,
                "rpz-tcp-only." => return Ok(Kind::Ignored),
                _ => Action::Block, // ".", "*.", "rpz-drop.", or a redirect
            }
        } else if ["A", "AAAA", "TXT"]
            .iter()
            .any(|t| rtype.eq_ignore_ascii_case(t))
        {
            Action::Block // local data: the name is answered by policy
        } else if rtype.is_empty() {
            return Err("record without a type".into());
        } else {
            return Ok(Kind::Ignored); // SOA, NS and other records
        };
        let owner = self.relative(owner);
        let lower = owner.to_ascii_lowercase();
        if let Some(trigger) = lower.strip_suffix(".rpz-ip") {
            out.push(RawRule::ip(parse_ip_trigger(trigger)?, action));
            return Ok(Kind::Rules);
        }
        if [".rpz-nsip", ".rpz-nsdname", ".rpz-client-ip"]
            .iter()
            .any(|s| lower.ends_with(s))
        {
            return Ok(Kind::Ignored);
        }
        let (scope, name) = match owner.strip_prefix("*.") {
            Some(rest) => (Scope::Below, rest),
            None => (Scope::Exact, owner),
        };
        let name = normalize(name).map_err(|e| format!("{e}: {owner:?}"))?;
        out.push(RawRule {
            target: Target::Name(name),
            scope,
            action,
        });
        Ok(Kind::Rules)
    }

    /// Make an owner name relative to the zone origin.
    fn relative<'a>(&self, owner: &'a str) -> &'a str {
        let Some(abs) = owner.strip_suffix('.') else {
            return owner;
        };
        let bytes = abs.as_bytes();
        if let Some(origin) = &self.origin
            && bytes.len() > origin.len() + 1
            && bytes[bytes.len() - origin.len()..].eq_ignore_ascii_case(origin.as_bytes())
            && bytes[bytes.len() - origin.len() - 1] == b'.'
        {
            // The cut is just before an ASCII '.', so on a char boundary.
            return abs.get(..bytes.len() - origin.len() - 1).unwrap_or(abs);
        }
        abs
    }
}

/// `32.4.3.2.1` → 1.2.3.4/32; `128.zz.1.db8.2001` → 2001:db8:1::/128.
fn parse_ip_trigger(trigger: &str) -> Result<IpNet, String> {
    let bad = || format!("bad rpz-ip trigger {trigger:?}");
    let mut labels = trigger.split('.');
    let prefix: u8 = labels.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let rest: Vec<&str> = labels.rev().collect();
    let ip = if rest.len() == 4 && rest.iter().all(|l| l.parse::<u8>().is_ok()) {
        IpAddr::V4(rest.join(".").parse::<Ipv4Addr>().map_err(|_| bad())?)
    } else {
        let mut text = rest
            .iter()
            .map(|l| if *l == "zz" { "" } else { l })
            .collect::<Vec<_>>()
            .join(":");
        if text.ends_with(':') {
            text.push(':');
        }
        if text.starts_with(':') {
            text.insert(0, ':');
        }
        IpAddr::V6(text.parse::<Ipv6Addr>().map_err(|_| bad())?)
    };
    IpNet::new(ip, prefix).map(|n| n.trunc()).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::Parser;
    use super::super::test_util::{parse, render};
    use super::*;

    #[test]
    fn real_lines() {
        assert_eq!(parse(Format::Rpz, "$TTL 3600").0, Ok(Kind::Comment));
        assert_eq!(
            parse(
                Format::Rpz,
                "@ SOA localhost. root.localhost. 1786777440 43200 3600 259200 3600"
            )
            .0,
            Ok(Kind::Ignored)
        );
        assert_eq!(parse(Format::Rpz, "  NS  localhost.").0, Ok(Kind::Ignored));
        assert_eq!(parse(Format::Rpz, "; Title: HaGeZi").0, Ok(Kind::Comment));
        assert_eq!(
            parse(Format::Rpz, "0-0-0-0-0-0proxy.tserv.se CNAME .").1,
            ["block exact 0-0-0-0-0-0proxy.tserv.se"]
        );
        assert_eq!(
            parse(Format::Rpz, "*.0-0-0-0-0-0proxy.tserv.se CNAME .").1,
            ["block below 0-0-0-0-0-0proxy.tserv.se"]
        );
        assert_eq!(
            parse(Format::Rpz, "32.165.164.0.1.rpz-ip CNAME .").1,
            ["block ip 1.0.164.165/32"]
        );
        assert_eq!(
            parse(Format::Rpz, "24.0.2.0.192.rpz-ip CNAME .").1,
            ["block ip 192.0.2.0/24"]
        );
        assert_eq!(
            parse(Format::Rpz, "128.zz.1.db8.2001.rpz-ip CNAME .").1,
            ["block ip 2001:db8:1::/128"]
        );
        assert_eq!(
            parse(Format::Rpz, "ok.example 300 IN CNAME rpz-passthru.").1,
            ["allow exact ok.example"]
        );
        assert_eq!(
            parse(Format::Rpz, "evil.example A 127.0.0.1").1,
            ["block exact evil.example"]
        );
        assert_eq!(
            parse(Format::Rpz, "ns.evil.example.rpz-nsdname CNAME .").0,
            Ok(Kind::Ignored)
        );
    }

    #[test]
    fn origin_and_multiline_soa() {
        let mut p = Parser::new(Format::Rpz);
        let mut out = Vec::new();
        for line in [
            "$ORIGIN rpz.example.net.",
            "@ IN SOA ns. admin. (",
            "   1 3600 ; serial",
            "   600 86400 60 )",
            "evil.example.rpz.example.net. CNAME .",
            "other.example CNAME .",
        ] {
            p.parse_line(line, &mut out).unwrap();
        }
        let got: Vec<String> = out.iter().map(render).collect();
        assert_eq!(
            got,
            ["block exact evil.example", "block exact other.example"]
        );
    }

    #[test]
    fn hostile_lines() {
        assert!(parse(Format::Rpz, "evil.example CNAME").0.is_err());
        assert!(parse(Format::Rpz, "evil..example CNAME .").0.is_err());
        assert!(parse(Format::Rpz, "99.1.2.3.4.rpz-ip CNAME .").0.is_err());
        assert!(parse(Format::Rpz, "32.1.2.rpz-ip CNAME .").0.is_err());
        assert!(parse(Format::Rpz, "evil.example").0.is_err());
    }
}
