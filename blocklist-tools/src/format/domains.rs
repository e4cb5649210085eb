//! Plain domain lists: one name per line, `#` comments.

use super::line::{Kind, LineResult, is_ip_or_net, strip_comment};
use crate::name::normalize;
use crate::rule::RawRule;
use crate::rule::Scope;

pub(super) fn parse(line: &str, out: &mut Vec<RawRule>) -> LineResult {
    let line = strip_comment(line.trim_start_matches('\u{feff}'), '#').trim();
    if line.is_empty() || line.starts_with('!') || line.starts_with(';') {
        return Ok(Kind::Comment);
    }
    let mut tokens = line.split_whitespace();
    let first = tokens.next().unwrap_or_default();
    if tokens.next().is_some() {
        if let Some(result) = super::hosts::parse(line, out) {
            return result;
        }
        return Err("unexpected text after the name".into());
    }
    name_rule(first, out)
}

/// One name token, `*.name` meaning the names below `name`.
pub(super) fn name_rule(token: &str, out: &mut Vec<RawRule>) -> LineResult {
    if token.contains("://") || token.contains('/') {
        return Err("URL, not a name".into());
    }
    if is_ip_or_net(token) {
        return Err("IP literal in a domain list".into());
    }
    let (scope, rest) = match token.strip_prefix("*.") {
        Some(rest) => (Scope::Below, rest),
        None => (Scope::Subtree, token),
    };
    let name = normalize(rest).map_err(|e| format!("{e}: {token:?}"))?;
    out.push(RawRule::block(name, scope));
    Ok(Kind::Rules)
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::test_util::parse;
    use super::*;

    #[test]
    fn real_lines() {
        // maltrail_domains, urlhaus CRLF copy, quirky lines
        assert_eq!(
            parse(Format::Domains, "000-0-000-00-0000.com").1,
            ["block subtree 000-0-000-00-0000.com"]
        );
        assert_eq!(
            parse(Format::Domains, "evil.example\r").1,
            ["block subtree evil.example"]
        );
        assert_eq!(
            parse(Format::Domains, "  xn--80ak6aa92e.com # was: ąąą").1,
            ["block subtree xn--80ak6aa92e.com"]
        );
        assert_eq!(
            parse(Format::Domains, "_sip._tcp.example.com").1,
            ["block subtree _sip._tcp.example.com"]
        );
        assert_eq!(
            parse(Format::Domains, "*.evil.example").1,
            ["block below evil.example"]
        );
        assert_eq!(parse(Format::Domains, "# header").0, Ok(Kind::Comment));
        assert_eq!(
            parse(Format::Domains, "0.0.0.0 evil.example").1,
            ["block subtree evil.example"]
        );
    }

    #[test]
    fn hostile_lines() {
        assert_eq!(
            parse(Format::Domains, "192.0.2.1").0,
            Err("IP literal in a domain list".into())
        );
        assert_eq!(
            parse(Format::Domains, "2001:db8::1").0,
            Err("IP literal in a domain list".into())
        );
        assert_eq!(
            parse(Format::Domains, "http://evil.example/login").0,
            Err("URL, not a name".into())
        );
        assert!(parse(Format::Domains, "evil.example:8080").0.is_err());
        assert!(parse(Format::Domains, "evil..example").0.is_err());
        assert!(parse(Format::Domains, "evil.example junk").0.is_err());
        assert!(parse(Format::Domains, "ev\u{0}il.example").0.is_err());
        assert!(parse(Format::Domains, "*").0.is_err());
    }
}
