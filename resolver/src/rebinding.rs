//! DNS rebinding protection (`[block] private_answers = "block"`): a
//! forwarded answer for a public name that holds a private, loopback,
//! link-local or unspecified address is replaced by the block answer, so
//! that a web page cannot turn a name it controls into a way into the
//! home network. The home network's own names (`private_answers_allow`:
//! `home.arpa`, `lan`, …) are exempt.

use std::net::IpAddr;

use hickory_proto::rr::{Name, RData, Record};

use crate::ratelimit::{is_local, unmapped};

/// Whether `ip` is an address a public name should not resolve to:
/// RFC 1918, 100.64/10, 127/8, 169.254/16, 0.0.0.0/8, ::1, ::, fc00::/7,
/// fe80::/10, and IPv4-mapped forms of these.
pub(crate) fn is_private(ip: IpAddr) -> bool {
    is_local(ip)
        || match unmapped(ip) {
            IpAddr::V4(v4) => v4.octets()[0] == 0,
            IpAddr::V6(v6) => v6.is_unspecified(),
        }
}

/// The first private address among the A/AAAA records of `answers`.
pub(crate) fn private_address(answers: &[Record]) -> Option<IpAddr> {
    answers.iter().find_map(|r| {
        let ip = match &r.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            _ => return None,
        };
        is_private(ip).then_some(ip)
    })
}

/// Whether `name` is one of `domains` or under one (`domains` lower case,
/// without trailing dot).
pub(crate) fn is_exempt(domains: &[String], name: &Name) -> bool {
    let name = name.to_ascii().to_ascii_lowercase();
    let name = name.trim_end_matches('.');
    domains.iter().any(|d| {
        name == d
            || name
                .strip_suffix(d.as_str())
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_and_their_mapped_forms() {
        for ip in [
            "10.1.2.3",
            "172.31.0.1",
            "192.168.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.100.100.100",
            "0.0.0.0",
            "::1",
            "::",
            "fd12::1",
            "fe80::1",
            "::ffff:192.168.1.1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "192.0.2.1",
            "8.8.8.8",
            "100.128.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn exempt_names_are_the_domains_and_names_under_them() {
        let domains = vec!["home.arpa".to_string(), "lan".to_string()];
        let exempt = |n: &str| is_exempt(&domains, &Name::from_ascii(n).expect("name"));
        assert!(exempt("home.arpa."));
        assert!(exempt("NAS.Home.Arpa."));
        assert!(exempt("router.lan"));
        assert!(!exempt("evilhome.arpa."));
        assert!(!exempt("lan.example."));
        assert!(!exempt("plan."));
    }
}
