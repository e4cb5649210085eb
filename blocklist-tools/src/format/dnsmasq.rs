//! dnsmasq: `address=/name/[target]`, `local=/name/`, `server=/name/`
//! (block; `server=/name/#` is an exception). Several names may share a line.

use super::line::{Kind, LineResult, strip_comment};
use crate::name::normalize;
use crate::rule::{Action, Scope};
use crate::rule::{RawRule, Target};

pub(super) fn parse(line: &str, out: &mut Vec<RawRule>) -> LineResult {
    let line = strip_comment(line.trim_start_matches('\u{feff}'), '#').trim();
    if line.is_empty() {
        return Ok(Kind::Comment);
    }
    let Some((key, value)) = line.split_once('=') else {
        return Ok(Kind::Ignored);
    };
    let key = key.trim();
    if !matches!(key, "address" | "local" | "server") {
        return Ok(Kind::Ignored);
    }
    let Some(value) = value.trim().strip_prefix('/') else {
        return if key == "server" {
            Ok(Kind::Ignored)
        } else {
            Err("expected /name/ after '='".into())
        };
    };
    let Some((names, target)) = value.rsplit_once('/') else {
        return Err("missing closing '/'".into());
    };
    let action = match (key, target) {
        ("server", "") => Action::Block,
        ("server", "#") => Action::Allow,
        ("server", _) => return Ok(Kind::Ignored), // forwarding, not blocking
        _ => Action::Block,
    };
    for raw in names.split('/') {
        if raw == "#" || raw.is_empty() {
            return Err("a rule for every name is refused".into());
        }
        let raw = raw.strip_prefix('.').unwrap_or(raw);
        let (scope, name) = match raw.strip_prefix("*.") {
            Some(rest) => (Scope::Below, rest),
            None => (Scope::Subtree, raw),
        };
        let name = normalize(name).map_err(|e| format!("{e}: {raw:?}"))?;
        out.push(RawRule {
            target: Target::Name(name),
            scope,
            action,
        });
    }
    Ok(Kind::Rules)
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::test_util::parse;
    use super::*;

    #[test]
    fn real_lines() {
        assert_eq!(
            parse(Format::Dnsmasq, "local=/eoutlet.2023shoponline.com/").1,
            ["block subtree eoutlet.2023shoponline.com"]
        );
        assert_eq!(
            parse(Format::Dnsmasq, "address=/evil.example/0.0.0.0").1,
            ["block subtree evil.example"]
        );
        assert_eq!(
            parse(Format::Dnsmasq, "address=/a.example/b.example/#").1,
            ["block subtree a.example", "block subtree b.example"]
        );
        assert_eq!(
            parse(Format::Dnsmasq, "server=/evil.example/").1,
            ["block subtree evil.example"]
        );
        assert_eq!(
            parse(Format::Dnsmasq, "server=/ok.example/#").1,
            ["allow subtree ok.example"]
        );
        assert_eq!(
            parse(Format::Dnsmasq, "server=/corp.example/10.0.0.1").0,
            Ok(Kind::Ignored)
        );
        assert_eq!(
            parse(Format::Dnsmasq, "cache-size=1000").0,
            Ok(Kind::Ignored)
        );
        assert_eq!(parse(Format::Dnsmasq, "# comment").0, Ok(Kind::Comment));
    }

    #[test]
    fn hostile_lines() {
        assert!(parse(Format::Dnsmasq, "address=/#/0.0.0.0").0.is_err());
        assert!(parse(Format::Dnsmasq, "local=evil.example").0.is_err());
        assert!(parse(Format::Dnsmasq, "local=/evil.example").0.is_err());
        assert!(parse(Format::Dnsmasq, "local=/bad..example/").0.is_err());
        assert!(parse(Format::Dnsmasq, "address=//1.2.3.4").0.is_err());
    }
}
