//! Adblock/AdGuard DNS subset: `||name^`, `@@||name^`, `||*.name^`, plain
//! `name`, bare IPs, `$important`, and `$denyallow` when none of its names
//! falls under the rule's (then it changes nothing: lists use it to carry a
//! hint such as `you-were-likely-looking-for-ubuntu.com`). Cosmetic rules,
//! URL rules, regexes, other modifiers, and `$denyallow` names inside the
//! rule's subtree (a hole the rule model cannot express without allowing
//! those names for every list) are ignored (counted, not applied).

use super::line::{Kind, LineResult, is_ip_or_net};
use crate::name::normalize;
use crate::rule::RawRule;
use crate::rule::{Action, Scope};

/// Markers of cosmetic (element hiding / scriptlet) rules.
const COSMETIC: &[&str] = &["##", "#@#", "#?#", "#$#", "#%#", "#@$#", "#@?#"];

pub(super) fn parse(line: &str, out: &mut Vec<RawRule>) -> LineResult {
    let line = line.trim_start_matches('\u{feff}').trim();
    if line.is_empty() || line.starts_with('!') || line.starts_with('[') {
        return Ok(Kind::Comment);
    }
    if COSMETIC.iter().any(|m| line.contains(m)) {
        return Ok(Kind::Ignored);
    }
    if line.starts_with('#') {
        return Ok(Kind::Comment);
    }
    let (action, body) = match line.strip_prefix("@@") {
        Some(rest) => (Action::Allow, rest),
        None => (Action::Block, line),
    };
    if body.starts_with('/') {
        return Ok(Kind::Ignored); // regex
    }
    let (pattern, denyallow) = match body.split_once('$') {
        Some((pattern, options)) => {
            let mut denyallow = None;
            for o in options.split(',').map(str::trim) {
                match o.split_once('=') {
                    Some((key, names)) if key.eq_ignore_ascii_case("denyallow") => {
                        denyallow = Some(names);
                    }
                    _ if o.eq_ignore_ascii_case("important") => {}
                    _ => return Ok(Kind::Ignored),
                }
            }
            (pattern, denyallow)
        }
        None => (body, None),
    };
    let name = if let Some(rest) = pattern.strip_prefix("||") {
        match rest.strip_suffix('^').or_else(|| rest.strip_suffix("^|")) {
            Some(name) => name,
            None => return Ok(Kind::Ignored), // prefix match, not a whole name
        }
    } else if pattern.starts_with('|') || pattern.contains("://") {
        return Ok(Kind::Ignored); // URL rule
    } else if pattern.split_whitespace().nth(1).is_some() {
        // AdGuard Home accepts hosts-file lines.
        if action == Action::Block {
            return super::domains::parse(pattern, out);
        }
        return Err("unexpected text in rule".into());
    } else if pattern.starts_with(['.', '-', '_']) || pattern.ends_with('.') {
        return Ok(Kind::Ignored); // URL substring pattern, not a name
    } else {
        pattern.strip_suffix('^').unwrap_or(pattern)
    };
    let (scope, name) = match name.strip_prefix("*.") {
        Some(rest) => (Scope::Below, rest),
        None => (Scope::Subtree, name),
    };
    if name.contains(['*', '/', '|', '^']) {
        return Ok(Kind::Ignored); // wildcard or path
    }
    if is_ip_or_net(name) && scope == Scope::Subtree {
        let net = super::ip::parse_net(name)?;
        out.push(RawRule::ip(net, action));
        return Ok(Kind::Rules);
    }
    let name = normalize(name).map_err(|e| format!("{e}: {line:?}"))?;
    if let Some(names) = denyallow
        && !denyallow_is_outside(names, &name, scope)
    {
        return Ok(Kind::Ignored);
    }
    out.push(RawRule {
        target: crate::rule::Target::Name(name),
        scope,
        action,
    });
    Ok(Kind::Rules)
}

/// True when every `$denyallow` name is a plain name outside what the rule
/// covers (`name` and below for a subtree rule, below for `*.`), so that
/// the option changes nothing.
fn denyallow_is_outside(names: &str, name: &str, scope: Scope) -> bool {
    names.split('|').all(|d| {
        let Ok(d) = normalize(d) else {
            return false; // wildcards and junk: cannot tell
        };
        let below = d.strip_suffix(name).is_some_and(|head| head.ends_with('.'));
        !(below || (scope == Scope::Subtree && d == name))
    })
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::test_util::parse;
    use super::*;

    #[test]
    fn real_lines() {
        assert_eq!(
            parse(Format::Adblock, "||0-0-0-0-0-0proxy.tserv.se^").1,
            ["block subtree 0-0-0-0-0-0proxy.tserv.se"]
        );
        assert_eq!(
            parse(Format::Adblock, "@@||1001tracklists.com^").1,
            ["allow subtree 1001tracklists.com"]
        );
        assert_eq!(
            parse(Format::Adblock, "||evil.example^$important").1,
            ["block subtree evil.example"]
        );
        assert_eq!(
            parse(Format::Adblock, "||*.evil.example^").1,
            ["block below evil.example"]
        );
        assert_eq!(
            parse(Format::Adblock, "[Adblock Plus 3.13]").0,
            Ok(Kind::Comment)
        );
        assert_eq!(parse(Format::Adblock, "! Title: x").0, Ok(Kind::Comment));
        assert_eq!(
            parse(Format::Adblock, "||*.loan^$dnstype=~CNAME").0,
            Ok(Kind::Ignored)
        );
        // `$denyallow` naming only names outside the rule: the rule as is.
        assert_eq!(
            parse(
                Format::Adblock,
                "||ubuntu.org^$denyallow=you-were-likely-looking-for-ubuntu.com"
            )
            .1,
            ["block subtree ubuntu.org"]
        );
        assert_eq!(
            parse(
                Format::Adblock,
                "||*.evil.example^$important,denyallow=evil.example|a.org"
            )
            .1,
            ["block below evil.example"]
        );
        // A name inside the rule would be a hole: not applied.
        for line in [
            "||evil.example^$denyallow=a.org|ok.evil.example",
            "||evil.example^$denyallow=EVIL.example",
            "@@||*.ok.example^$denyallow=x.ok.example",
            "||aussie-gamer.com^$denyallow=the-site-was-stolen-by-casino-link-spammers.*",
            "||evil.example^$denyallow=",
            "||evil.example^$denyallow=a.org,domain=b.org",
        ] {
            assert_eq!(parse(Format::Adblock, line).0, Ok(Kind::Ignored), "{line}");
        }
        assert_eq!(
            parse(Format::Adblock, "||notevil.example^$denyallow=evil.example").1,
            ["block subtree notevil.example"]
        );
        assert_eq!(
            parse(Format::Adblock, "@@||masto*.top^").0,
            Ok(Kind::Ignored)
        );
        assert_eq!(
            parse(Format::Adblock, "@@/^.*(tech|project|linux).*\\.top$/").0,
            Ok(Kind::Ignored)
        );
        assert_eq!(
            parse(Format::Adblock, "@@://blog.*.top^").0,
            Ok(Kind::Ignored)
        );
        assert_eq!(
            parse(Format::Adblock, "example.com##.ad-banner").0,
            Ok(Kind::Ignored)
        );
        assert_eq!(
            parse(Format::Adblock, "||steamcommin*$denyallow=x.com").0,
            Ok(Kind::Ignored)
        );
        assert_eq!(
            parse(Format::Adblock, "evil.example").1,
            ["block subtree evil.example"]
        );
        assert_eq!(
            parse(Format::Adblock, "192.0.2.7").1,
            ["block ip 192.0.2.7/32"]
        );
        assert_eq!(
            parse(Format::Adblock, "||198.51.100.1^").1,
            ["block ip 198.51.100.1/32"]
        );
    }

    #[test]
    fn hostile_lines() {
        assert!(parse(Format::Adblock, "||^").0.is_err());
        assert!(parse(Format::Adblock, "||evil..example^").0.is_err());
        assert!(
            parse(Format::Adblock, &format!("||{}.example^", "a".repeat(64)))
                .0
                .is_err()
        );
        assert_eq!(
            parse(Format::Adblock, "||evil.example").0,
            Ok(Kind::Ignored)
        );
        assert_eq!(
            parse(Format::Adblock, "|https://evil.example/x").0,
            Ok(Kind::Ignored)
        );
    }
}
