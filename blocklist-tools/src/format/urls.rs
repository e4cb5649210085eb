//! URL feeds (OpenPhish, URLhaus's URL list, PhishTank CSV exports): the
//! host of each URL becomes a domain rule.
//!
//! A line is a URL (`https://evil.example/login`), a bare `host/path`, or a
//! CSV row whose first field holding `://` is the URL. A URL on an IP
//! literal is ignored: blocking the address would catch every site sharing
//! it, and no query asks for an address. Hosts that serve many people's
//! pages (`docs.google.com`, `bit.ly`; see [`is_shared_host`]) and public
//! suffixes are refused by the compiler, counted as skipped: a phishing
//! page on a shared host must never block the whole host.

use std::net::IpAddr;

use super::line::{Kind, LineResult};
use crate::name::normalize;
use crate::rule::RawRule;
use crate::rule::Scope;

/// Hosts under which anyone can publish a page or a redirect: cloud
/// documents and forms, file sharing, link shorteners, big platforms'
/// redirectors. A URL on one of them (or a name below it) says nothing
/// about the host. Hosting platforms whose users get their own name
/// (`github.io`, `blogspot.com`) are public suffixes already: the user's
/// own name is blocked, never the platform.
const SHARED_HOSTS: &[&str] = &[
    // Cloud documents, forms, storage.
    "google.com",
    "googleusercontent.com",
    "storage.googleapis.com",
    "firebasestorage.googleapis.com",
    "forms.gle",
    "microsoft.com",
    "live.com",
    "office.com",
    "sharepoint.com",
    "1drv.ms",
    "dropbox.com",
    "dropboxusercontent.com",
    "box.com",
    "wetransfer.com",
    "notion.site",
    "ipfs.io",
    "cdn.discordapp.com",
    "github.com",
    "raw.githubusercontent.com",
    // Link shorteners and redirectors.
    "bit.ly",
    "t.co",
    "tinyurl.com",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "rb.gy",
    "t.ly",
    "shorturl.at",
    "s.id",
    "lnkd.in",
    "linkedin.com",
    "facebook.com",
    "l.facebook.com",
    "youtube.com",
    "twitter.com",
    "x.com",
];

/// True when `host` (normalised) is on, or below, a shared host.
pub(crate) fn is_shared_host(host: &str) -> bool {
    SHARED_HOSTS.iter().any(|shared| {
        host == *shared
            || host
                .strip_suffix(shared)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

/// The host part of a URL or `host/path` text, as written: no scheme,
/// user, port, path, query or fragment; IPv6 brackets removed. `None` when
/// nothing is left.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or(rest);
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or(v6, |(h, _)| h),
        None => match host_port.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host_port,
        },
    };
    (!host.is_empty()).then_some(host)
}

/// The URL in a line: the first CSV or whitespace field holding `://`, else
/// the line's only field.
fn url_in(line: &str) -> Option<&str> {
    let mut fields = line
        .split([',', '\t', ' ', ';'])
        .map(|f| f.trim_matches('"'))
        .filter(|f| !f.is_empty());
    let first = fields.clone().next()?;
    fields
        .find(|f| f.contains("://"))
        .or_else(|| (!line.contains([',', '\t', ' ', ';'])).then_some(first))
}

pub(super) fn parse(line: &str, out: &mut Vec<RawRule>) -> LineResult {
    let line = line.trim_start_matches('\u{feff}').trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
        return Ok(Kind::Comment);
    }
    let Some(url) = url_in(line) else {
        return Err("no URL in the line".into());
    };
    let Some(host) = url_host(url) else {
        return Err("URL without a host".into());
    };
    if host.parse::<IpAddr>().is_ok() {
        return Ok(Kind::Ignored);
    }
    let name = normalize(host).map_err(|e| format!("{e}: {host:?}"))?;
    out.push(RawRule::block(name, Scope::Subtree));
    Ok(Kind::Rules)
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::test_util::parse;
    use super::*;

    #[test]
    fn hosts_of_real_feed_lines() {
        for (line, want) in [
            (
                "https://evil-login.example/secure/index.php",
                "evil-login.example",
            ),
            ("http://User:pw@EVIL.example:8080/x?y#z", "evil.example"),
            ("evil.example/path", "evil.example"),
            ("hxxp-less.example", "hxxp-less.example"),
            (
                "8723541,https://phish.example/a,http://www.phishtank.com/phish_detail.php?phish_id=8723541,2025-01-01",
                "phish.example",
            ),
            ("\"1\",\"https://q.example/\",\"x\"", "q.example"),
        ] {
            let (result, rules) = parse(Format::Urls, line);
            assert_eq!(result, Ok(Kind::Rules), "{line}");
            assert_eq!(rules, [format!("block subtree {want}")], "{line}");
        }
    }

    #[test]
    fn ip_hosts_are_ignored_and_junk_is_an_error() {
        for line in ["http://192.0.2.7:8080/bins/x.sh", "https://[2001:db8::1]/a"] {
            assert_eq!(parse(Format::Urls, line), (Ok(Kind::Ignored), vec![]));
        }
        assert_eq!(parse(Format::Urls, "# OpenPhish").0, Ok(Kind::Comment));
        assert!(parse(Format::Urls, "https:///nohost").0.is_err());
        assert!(
            parse(Format::Urls, "phish_id,url,phish_detail_url")
                .0
                .is_err()
        );
        assert!(parse(Format::Urls, "https://bad!host.example/").0.is_err());
    }

    #[test]
    fn shared_hosts_and_names_below_them() {
        for host in [
            "docs.google.com",
            "bit.ly",
            "t.co",
            "www.dropbox.com",
            "google.com",
        ] {
            assert!(is_shared_host(host), "{host}");
        }
        for host in [
            "evil-google.com",
            "bit.ly.evil.example",
            "tco",
            "phish.example",
        ] {
            assert!(!is_shared_host(host), "{host}");
        }
    }
}
