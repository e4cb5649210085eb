//! Name normalisation: lowercase, no trailing dot, Unicode → A-label, DNS
//! length limits, and the reversed-label key used by the domain index.

use std::net::IpAddr;

/// Longest name in presentation form without the trailing dot.
pub(crate) const MAX_NAME: usize = 253;
/// Longest label.
pub(crate) const MAX_LABEL: usize = 63;

/// Normalise a name from a list: lowercase, strip one trailing dot, convert
/// Unicode to its A-label form, check characters and lengths.
///
/// Underscores and all-digit labels are kept. IP literals are refused.
pub(crate) fn normalize(input: &str) -> Result<String, &'static str> {
    let s = input.strip_suffix('.').unwrap_or(input);
    if s.is_empty() {
        return Err("empty name");
    }
    if s.parse::<IpAddr>().is_ok() {
        return Err("IP literal in a domain list");
    }
    let ascii = if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(s).map_err(|_| "invalid internationalised name")?
    };
    validate_ascii(&ascii)?;
    Ok(ascii)
}

/// Check a lowercase ASCII name: allowed characters, label and name lengths.
fn validate_ascii(s: &str) -> Result<(), &'static str> {
    if s.len() > MAX_NAME {
        return Err("name longer than 253 bytes");
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if label.len() > MAX_LABEL {
            return Err("label longer than 63 bytes");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err("invalid character in name");
        }
    }
    Ok(())
}

/// True when `name` (normalised) is itself a public suffix such as `com`,
/// `co.uk` or `github.io` (unknown TLDs count as suffixes too).
pub(crate) fn is_public_suffix(name: &str) -> bool {
    match psl::suffix(name.as_bytes()) {
        Some(suffix) => suffix.as_bytes() == name.as_bytes(),
        None => true,
    }
}

/// Append the reversed-label key of a normalised name: `www.evil.example` →
/// `example.evil.www`.
pub(crate) fn push_reversed(name: &str, out: &mut Vec<u8>) {
    for (i, label) in name.rsplit('.').enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(label.as_bytes());
    }
}

/// Normalise a query name given as text for display and rule reconstruction:
/// lowercase ASCII, trailing dot stripped; Unicode converted when possible.
pub(crate) fn normalize_query(query: &str) -> String {
    let s = query.trim();
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(s).unwrap_or_else(|_| s.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_and_strips_trailing_dot() {
        assert_eq!(normalize("WWW.Evil.Example.").unwrap(), "www.evil.example");
    }

    #[test]
    fn unicode_becomes_a_label() {
        assert_eq!(
            normalize("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
    }

    #[test]
    fn keeps_underscores_and_digit_labels() {
        assert_eq!(
            normalize("_dmarc.123.example").unwrap(),
            "_dmarc.123.example"
        );
        assert!(normalize("0000153.0000255.0000011.0000125").is_ok());
    }

    #[test]
    fn refuses_bad_names() {
        assert_eq!(normalize("a..b"), Err("empty label"));
        assert_eq!(normalize("."), Err("empty name"));
        assert_eq!(normalize("1.2.3.4"), Err("IP literal in a domain list"));
        assert_eq!(normalize("2001:db8::1"), Err("IP literal in a domain list"));
        assert_eq!(
            normalize(&format!("{}.example", "a".repeat(64))),
            Err("label longer than 63 bytes")
        );
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(normalize(&long), Err("name longer than 253 bytes"));
        assert_eq!(
            normalize("evil.example/path"),
            Err("invalid character in name")
        );
        assert_eq!(
            normalize("*.evil.example"),
            Err("invalid character in name")
        );
    }

    #[test]
    fn public_suffixes() {
        for s in ["com", "co.uk", "github.io", "amplifyapp.com", "localhost"] {
            assert!(is_public_suffix(s), "{s}");
        }
        for s in ["evil.example", "example.com", "x.github.io"] {
            assert!(!is_public_suffix(s), "{s}");
        }
    }

    #[test]
    fn reversed_key() {
        let mut out = Vec::new();
        push_reversed("www.evil.example", &mut out);
        assert_eq!(out, b"example.evil.www");
    }
}
