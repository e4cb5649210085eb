//! The `Host` a browser asked for: hostile input, parsed into something safe
//! to look up and to show.
//!
//! A Host header may be missing, carry a port, be an IP literal (`[::1]:80`),
//! an IDN in either form, megabytes of junk or bytes that are not UTF-8. Only
//! a name made of DNS letters (after IDNA) is looked up; everything else is
//! shown (escaped and shortened by the caller) as what it is.

use std::net::{IpAddr, Ipv6Addr};

/// Longest input looked at; anything longer is cut before any parsing.
pub(crate) const MAX_HOST_INPUT: usize = 1024;
/// Longest text shown for an unusable Host value (characters).
pub(crate) const MAX_SHOWN_CHARS: usize = 120;
/// Longest DNS name in text form.
const MAX_NAME_LEN: usize = 253;
/// Longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// What the request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// No Host header and no authority in the request line.
    Missing,
    /// An IP literal (someone typed the sinkhole address).
    Ip(IpAddr),
    /// A usable DNS name.
    Name(HostName),
    /// Not a usable name: the input, lossily decoded and shortened for display.
    Invalid(String),
}

/// A DNS name in lower-case ASCII (A-label) form, with its Unicode form when
/// that differs (an IDN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName {
    /// The name as looked up: lower case, no trailing dot, A-labels.
    pub ascii: String,
    /// The Unicode form, when the name holds A-labels (`xn--…`) that decode.
    pub unicode: Option<String>,
}

impl HostName {
    /// Parse a name given as text (ASCII or Unicode, any case, optional
    /// trailing dot). `None` when it is not a usable DNS name.
    pub fn parse(text: &str) -> Option<HostName> {
        let text = text.strip_suffix('.').unwrap_or(text);
        if text.is_empty() || text.len() > MAX_HOST_INPUT {
            return None;
        }
        let ascii = idna::domain_to_ascii_cow(text.as_bytes(), idna::AsciiDenyList::URL)
            .ok()?
            .into_owned();
        if ascii.len() > MAX_NAME_LEN || !ascii.split('.').all(is_dns_label) {
            return None;
        }
        let unicode = if ascii.split('.').any(|label| label.starts_with("xn--")) {
            match idna::domain_to_unicode(&ascii) {
                (unicode, Ok(())) if unicode != ascii => Some(unicode),
                _ => None,
            }
        } else {
            None
        };
        Some(HostName { ascii, unicode })
    }
}

/// A label of letters, digits, hyphens and underscores (underscores appear
/// in real names and lists), 1 to 63 bytes.
fn is_dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Host {
    /// Parse the raw bytes of a Host header (or a request-line authority).
    pub fn parse(raw: Option<&[u8]>) -> Host {
        let Some(raw) = raw else {
            return Host::Missing;
        };
        let raw = &raw[..raw.len().min(MAX_HOST_INPUT)];
        let Ok(text) = std::str::from_utf8(raw) else {
            return Host::Invalid(shorten(&String::from_utf8_lossy(raw)));
        };
        let text = text.trim();
        if text.is_empty() {
            return Host::Missing;
        }
        match strip_port(text) {
            Some(HostPart::Ip(ip)) => Host::Ip(ip),
            Some(HostPart::Text(name)) => match name.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) => match HostName::parse(name) {
                    Some(name) => Host::Name(name),
                    None => Host::Invalid(shorten(text)),
                },
            },
            None => Host::Invalid(shorten(text)),
        }
    }
}

enum HostPart<'a> {
    Ip(IpAddr),
    Text(&'a str),
}

/// Split `host[:port]` / `[v6][:port]` / bare v6; `None` when malformed.
fn strip_port(text: &str) -> Option<HostPart<'_>> {
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || is_port(after.strip_prefix(':')?)) {
            return None;
        }
        // A zone (`fe80::1%eth0`) is not valid in a URL; refuse it.
        return inside
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| HostPart::Ip(ip.into()));
    }
    match text.matches(':').count() {
        0 => Some(HostPart::Text(text)),
        1 => {
            let (host, port) = text.split_once(':')?;
            is_port(port).then_some(HostPart::Text(host))
        }
        // Not valid in a Host header, but some tools send a bare IPv6 address.
        _ => text
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| HostPart::Ip(ip.into())),
    }
}

fn is_port(port: &str) -> bool {
    port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

/// Cut text for display to [`MAX_SHOWN_CHARS`] characters, marking the cut,
/// and replace control characters so nothing invisible is echoed.
pub(crate) fn shorten(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_SHOWN_CHARS)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    if text.chars().nth(MAX_SHOWN_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(ascii: &str, unicode: Option<&str>) -> Host {
        Host::Name(HostName {
            ascii: ascii.into(),
            unicode: unicode.map(Into::into),
        })
    }

    #[test]
    fn plain_names_are_lowercased_and_lose_port_and_dot() {
        assert_eq!(
            Host::parse(Some(b"Evil.Example")),
            name("evil.example", None)
        );
        assert_eq!(
            Host::parse(Some(b"evil.example:8080")),
            name("evil.example", None)
        );
        assert_eq!(
            Host::parse(Some(b"evil.example.")),
            name("evil.example", None)
        );
        assert_eq!(
            Host::parse(Some(b"evil.example.:80")),
            name("evil.example", None)
        );
        assert_eq!(
            Host::parse(Some(b"_dmarc.x1.example")),
            name("_dmarc.x1.example", None)
        );
    }

    #[test]
    fn ip_literals_are_recognised() {
        assert_eq!(
            Host::parse(Some(b"127.0.0.1")),
            Host::Ip([127, 0, 0, 1].into())
        );
        assert_eq!(
            Host::parse(Some(b"127.0.0.1:80")),
            Host::Ip([127, 0, 0, 1].into())
        );
        assert_eq!(
            Host::parse(Some(b"[::1]")),
            Host::Ip(Ipv6Addr::LOCALHOST.into())
        );
        assert_eq!(
            Host::parse(Some(b"[::1]:8080")),
            Host::Ip(Ipv6Addr::LOCALHOST.into())
        );
        assert_eq!(
            Host::parse(Some(b"::1")),
            Host::Ip(Ipv6Addr::LOCALHOST.into())
        );
        assert!(matches!(Host::parse(Some(b"[::1")), Host::Invalid(_)));
        assert!(matches!(Host::parse(Some(b"[::1]x")), Host::Invalid(_)));
        assert!(matches!(
            Host::parse(Some(b"[fe80::1%eth0]")),
            Host::Invalid(_)
        ));
    }

    #[test]
    fn idn_shows_both_forms() {
        // Cyrillic look-alike of "apple.com".
        let host = Host::parse(Some("аррӏе.com".as_bytes()));
        assert_eq!(host, name("xn--80ak6aa92e.com", Some("аррӏе.com")));
        let host = Host::parse(Some(b"XN--80AK6AA92E.com:80"));
        assert_eq!(host, name("xn--80ak6aa92e.com", Some("аррӏе.com")));
    }

    #[test]
    fn missing_and_empty_host() {
        assert_eq!(Host::parse(None), Host::Missing);
        assert_eq!(Host::parse(Some(b"  ")), Host::Missing);
    }

    #[test]
    fn hostile_values_are_invalid_and_shortened() {
        for raw in [
            &b"<script>alert(1)</script>"[..],
            b"evil\".example",
            b"evil'.example",
            b"a..b",
            b"evil.example:99999x",
            b"a:b:c",
            b"\xff\xfe.example",
        ] {
            assert!(
                matches!(Host::parse(Some(raw)), Host::Invalid(_)),
                "{raw:?}"
            );
        }
        let long = "a".repeat(100_000);
        let Host::Invalid(shown) = Host::parse(Some(long.as_bytes())) else {
            panic!("long host accepted");
        };
        assert_eq!(shown.chars().count(), MAX_SHOWN_CHARS + 1);
        assert!(shown.ends_with('…'));
        let Host::Invalid(shown) = Host::parse(Some(b"\xff<b>\x01")) else {
            panic!("non-UTF-8 host accepted");
        };
        assert_eq!(shown, "\u{FFFD}<b>\u{FFFD}");
    }

    #[test]
    fn label_and_name_length_limits() {
        let label = "a".repeat(64);
        assert!(matches!(
            Host::parse(Some(format!("{label}.example").as_bytes())),
            Host::Invalid(_)
        ));
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(long.len() > 253);
        assert!(matches!(
            Host::parse(Some(long.as_bytes())),
            Host::Invalid(_)
        ));
    }
}
