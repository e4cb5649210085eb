//! Onboarding a phone in one step: an Apple configuration profile
//! (`.mobileconfig`, payload `com.apple.dnsSettings.managed`) for iPhones,
//! iPads and Macs, and the Android "Private DNS" hostname with instructions.
//!
//! Behind the `parapet profile apple|android` commands.

use std::io::Write;

use crate::transport::tokens::is_valid_token;

/// The payload type of Apple's managed DNS settings.
pub const APPLE_DNS_PAYLOAD: &str = "com.apple.dnsSettings.managed";

/// Which encrypted transport a device should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// DNS over HTTPS: `https://HOST/dns-query[/TOKEN]`.
    Https,
    /// DNS over TLS: server name `[TOKEN.]HOST`, port 853.
    Tls,
}

/// What a device profile points at.
#[derive(Debug, Clone)]
pub struct Target {
    /// The resolver's public name, e.g. `dns.example.org`.
    pub host: String,
    /// The device's or group's token, if access is by token.
    pub token: Option<String>,
}

/// A bad `--host` or `--token`.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Not a DNS hostname.
    #[error("--host {0:?} is not a hostname like dns.example.org")]
    Host(String),
    /// Not usable as a DNS label and URL path segment.
    #[error("--token must be 1-63 letters, digits, '-' or '_' (make one with `parapet token new`)")]
    Token,
    /// Writing the profile failed.
    #[error("writing the profile: {0}")]
    Write(#[from] plist::Error),
}

impl Target {
    /// Check `host` and `token`.
    ///
    /// # Errors
    /// A host that is not a DNS name, or a token that cannot be carried in
    /// an SNI label and a URL path.
    pub fn new(host: &str, token: Option<&str>) -> Result<Self, ProfileError> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let labels_ok = host.split('.').count() >= 2
            && host.split('.').all(|l| {
                (1..=63).contains(&l.len())
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !labels_ok || host.len() > 253 {
            return Err(ProfileError::Host(host));
        }
        if let Some(t) = token
            && !is_valid_token(t)
        {
            return Err(ProfileError::Token);
        }
        Ok(Self {
            host,
            token: token.map(str::to_owned),
        })
    }

    /// The DoH URL: `https://HOST/dns-query[/TOKEN]`.
    pub(crate) fn doh_url(&self) -> String {
        match &self.token {
            Some(t) => format!("https://{}/dns-query/{t}", self.host),
            None => format!("https://{}/dns-query", self.host),
        }
    }

    /// The DoT server name (Android's Private DNS hostname): `[TOKEN.]HOST`.
    pub(crate) fn dot_name(&self) -> String {
        match &self.token {
            Some(t) => format!("{t}.{}", self.host),
            None => self.host.clone(),
        }
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Profile {
    payload_content: Vec<DnsPayload>,
    payload_description: String,
    payload_display_name: String,
    payload_identifier: String,
    payload_removal_disallowed: bool,
    payload_type: &'static str,
    #[serde(rename = "PayloadUUID")]
    payload_uuid: String,
    payload_version: u32,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct DnsPayload {
    #[serde(rename = "DNSSettings")]
    dns_settings: DnsSettings,
    payload_description: String,
    payload_display_name: String,
    payload_identifier: String,
    payload_type: &'static str,
    #[serde(rename = "PayloadUUID")]
    payload_uuid: String,
    payload_version: u32,
}

#[derive(serde::Serialize)]
struct DnsSettings {
    #[serde(rename = "DNSProtocol")]
    protocol: &'static str,
    #[serde(rename = "ServerURL", skip_serializing_if = "Option::is_none")]
    server_url: Option<String>,
    #[serde(rename = "ServerName", skip_serializing_if = "Option::is_none")]
    server_name: Option<String>,
}

/// A random (version 4) UUID in upper-case canonical form, as Apple tools write.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Write an Apple configuration profile (XML property list) that sets the
/// device's DNS to `target` over `protocol`.
///
/// # Errors
/// Only if writing to `out` fails.
pub(crate) fn write_apple(
    target: &Target,
    protocol: Protocol,
    out: impl Write,
) -> Result<(), ProfileError> {
    let reversed: Vec<&str> = target.host.split('.').rev().collect();
    let id = format!("{}.parapet", reversed.join("."));
    let (settings, what) = match protocol {
        Protocol::Https => (
            DnsSettings {
                protocol: "HTTPS",
                server_url: Some(target.doh_url()),
                server_name: None,
            },
            "DNS over HTTPS",
        ),
        Protocol::Tls => (
            DnsSettings {
                protocol: "TLS",
                server_url: None,
                server_name: Some(target.dot_name()),
            },
            "DNS over TLS",
        ),
    };
    let name = format!("Protective DNS ({})", target.host);
    let description = format!(
        "Sends this device's DNS lookups to the protective resolver {} ({what}), which blocks known phishing and malware sites.",
        target.host
    );
    let profile = Profile {
        payload_content: vec![DnsPayload {
            dns_settings: settings,
            payload_description: description.clone(),
            payload_display_name: name.clone(),
            payload_identifier: format!("{id}.dns"),
            payload_type: APPLE_DNS_PAYLOAD,
            payload_uuid: uuid_v4(),
            payload_version: 1,
        }],
        payload_description: description,
        payload_display_name: name,
        payload_identifier: id,
        payload_removal_disallowed: false,
        payload_type: "Configuration",
        payload_uuid: uuid_v4(),
        payload_version: 1,
    };
    plist::to_writer_xml(out, &profile)?;
    Ok(())
}

/// Step-by-step words for Android's Private DNS (Android 9 and later).
pub fn android_instructions(target: &Target) -> String {
    let name = target.dot_name();
    format!(
        "Private DNS hostname: {name}\n\
         \n\
         On the Android phone (Android 9 or later):\n\
         1. Open Settings.\n\
         2. Tap \"Network & internet\" (on Samsung: \"Connections\", then \"More connection settings\").\n\
         3. Tap \"Private DNS\".\n\
         4. Choose \"Private DNS provider hostname\".\n\
         5. Type exactly: {name}\n\
         6. Tap \"Save\".\n\
         \n\
         Check it works: the Private DNS entry shows the hostname (not \"Couldn't connect\"),\n\
         web pages still open, and visiting a test name on the blocklist shows the warning page.\n\
         The hostname is a secret for this device or group: do not share it.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> plist::Dictionary {
        plist::Value::from_reader_xml(bytes)
            .unwrap()
            .into_dictionary()
            .unwrap()
    }

    fn dns_payload(top: &plist::Dictionary) -> plist::Dictionary {
        top["PayloadContent"].as_array().unwrap()[0]
            .as_dictionary()
            .unwrap()
            .clone()
    }

    #[test]
    fn apple_doh_profile_names_the_token_url() {
        let target = Target::new("DNS.example.org.", Some("abc123")).unwrap();
        let mut out = Vec::new();
        write_apple(&target, Protocol::Https, &mut out).unwrap();
        let top = parse(&out);
        assert_eq!(top["PayloadType"].as_string(), Some("Configuration"));
        let p = dns_payload(&top);
        assert_eq!(p["PayloadType"].as_string(), Some(APPLE_DNS_PAYLOAD));
        let s = p["DNSSettings"].as_dictionary().unwrap();
        assert_eq!(s["DNSProtocol"].as_string(), Some("HTTPS"));
        assert_eq!(
            s["ServerURL"].as_string(),
            Some("https://dns.example.org/dns-query/abc123")
        );
        assert!(s.get("ServerName").is_none());
        assert_ne!(top["PayloadUUID"], p["PayloadUUID"]);
        assert_eq!(top["PayloadUUID"].as_string().unwrap().len(), 36);
    }

    #[test]
    fn apple_dot_profile_names_the_token_host() {
        let target = Target::new("dns.example.org", Some("abc123")).unwrap();
        let mut out = Vec::new();
        write_apple(&target, Protocol::Tls, &mut out).unwrap();
        let s = dns_payload(&parse(&out))["DNSSettings"]
            .as_dictionary()
            .unwrap()
            .clone();
        assert_eq!(s["DNSProtocol"].as_string(), Some("TLS"));
        assert_eq!(s["ServerName"].as_string(), Some("abc123.dns.example.org"));
    }

    #[test]
    fn android_words_name_the_private_dns_host() {
        let target = Target::new("dns.example.org", Some("t0k")).unwrap();
        let words = android_instructions(&target);
        assert!(words.starts_with("Private DNS hostname: t0k.dns.example.org\n"));
        assert!(words.contains("Type exactly: t0k.dns.example.org"));
    }

    #[test]
    fn bad_hosts_and_tokens_are_refused() {
        assert!(matches!(
            Target::new("localhost", None),
            Err(ProfileError::Host(_))
        ));
        assert!(matches!(
            Target::new("a..b", None),
            Err(ProfileError::Host(_))
        ));
        assert!(matches!(
            Target::new("https://x.org", None),
            Err(ProfileError::Host(_))
        ));
        assert!(matches!(
            Target::new("x.org", Some("a.b")),
            Err(ProfileError::Token)
        ));
        assert!(matches!(
            Target::new("x.org", Some("")),
            Err(ProfileError::Token)
        ));
    }
}
