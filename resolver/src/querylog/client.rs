//! How client addresses appear in the query log (`[query_log]
//! client_addresses`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ring::hmac;

use crate::config::query_log::ClientAddresses;

/// Prefix kept of an IPv4 client address in `truncated` mode.
pub(crate) const TRUNCATE_V4_PREFIX: u8 = 24;
/// Prefix kept of an IPv6 client address in `truncated` mode (a typical
/// home or small-site allocation).
pub(crate) const TRUNCATE_V6_PREFIX: u8 = 56;
/// Turns client addresses into their logged form.
pub struct ClientFormat {
    mode: ClientAddresses,
    key: hmac::Key,
}

impl fmt::Debug for ClientFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key.
        f.debug_struct("ClientFormat")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ClientFormat {
    /// A formatter for `mode`. In `hashed` mode `key` is the configured
    /// secret; `None` draws a random key for this process, so hashes are
    /// stable until restart and cannot be linked across restarts.
    ///
    /// # Errors
    /// The system random generator failed (hashed mode without a key).
    pub fn new(
        mode: ClientAddresses,
        key: Option<&[u8]>,
    ) -> Result<Self, ring::error::Unspecified> {
        let key = match key {
            Some(key) => hmac::Key::new(hmac::HMAC_SHA256, key),
            None => hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())?,
        };
        Ok(ClientFormat { mode, key })
    }

    /// The configured mode.
    pub fn mode(&self) -> ClientAddresses {
        self.mode
    }

    /// The logged form of `ip`, or `None` in `none` mode. IPv4-mapped IPv6
    /// addresses (`::ffff:192.0.2.1`) are treated as IPv4.
    pub fn format(&self, ip: IpAddr) -> Option<String> {
        let ip = ip.to_canonical();
        match self.mode {
            ClientAddresses::Full => Some(ip.to_string()),
            ClientAddresses::Truncated => Some(truncate(ip)),
            ClientAddresses::Hashed => {
                let tag = match ip {
                    IpAddr::V4(v4) => hmac::sign(&self.key, &v4.octets()),
                    IpAddr::V6(v6) => hmac::sign(&self.key, &v6.octets()),
                };
                Some(hex::encode(&tag.as_ref()[..16]))
            }
            ClientAddresses::None => None,
        }
    }
}

/// `ip`'s network in CIDR form: /24 for IPv4, /56 for IPv6.
pub(crate) fn truncate(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4) & (u32::MAX << (32 - TRUNCATE_V4_PREFIX));
            format!("{}/{TRUNCATE_V4_PREFIX}", Ipv4Addr::from(bits))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << (128 - TRUNCATE_V6_PREFIX));
            format!("{}/{TRUNCATE_V6_PREFIX}", Ipv6Addr::from(bits))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn truncation_keeps_the_network_only() {
        let cases = [
            ("192.0.2.77", "192.0.2.0/24"),
            ("10.1.2.255", "10.1.2.0/24"),
            ("255.255.255.255", "255.255.255.0/24"),
            ("0.0.0.1", "0.0.0.0/24"),
            ("::ffff:198.51.100.9", "198.51.100.0/24"),
            ("2001:db8:1234:56ab:cdef::1", "2001:db8:1234:5600::/56"),
            (
                "2001:db8:1234:56ff:ffff:ffff:ffff:ffff",
                "2001:db8:1234:5600::/56",
            ),
            ("2001:db8::1", "2001:db8::/56"),
            ("::1", "::/56"),
            (
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "ffff:ffff:ffff:ff00::/56",
            ),
        ];
        let format = ClientFormat::new(ClientAddresses::Truncated, None).expect("rng");
        for (input, want) in cases {
            assert_eq!(format.format(ip(input)).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn full_and_none() {
        let full = ClientFormat::new(ClientAddresses::Full, None).expect("rng");
        assert_eq!(full.format(ip("192.0.2.77")).as_deref(), Some("192.0.2.77"));
        assert_eq!(
            full.format(ip("2001:db8::7")).as_deref(),
            Some("2001:db8::7")
        );
        let none = ClientFormat::new(ClientAddresses::None, None).expect("rng");
        assert_eq!(none.format(ip("192.0.2.77")), None);
    }

    #[test]
    fn hash_is_stable_under_a_key_and_differs_between_keys() {
        let a = ClientFormat::new(ClientAddresses::Hashed, Some(b"0123456789abcdef")).expect("key");
        let a2 =
            ClientFormat::new(ClientAddresses::Hashed, Some(b"0123456789abcdef")).expect("key");
        let b = ClientFormat::new(ClientAddresses::Hashed, Some(b"fedcba9876543210")).expect("key");
        let client = ip("192.0.2.77");
        let h = a.format(client).expect("hashed");
        assert_eq!(h.len(), 32);
        assert!(h.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(
            a.format(client),
            Some(h.clone()),
            "stable within a formatter"
        );
        assert_eq!(
            a2.format(client),
            Some(h.clone()),
            "stable for the same key"
        );
        assert_ne!(
            b.format(client),
            Some(h.clone()),
            "another key, another hash"
        );
        assert_ne!(
            a.format(ip("192.0.2.78")),
            Some(h.clone()),
            "another client"
        );
        // Mapped and plain IPv4 are the same client.
        assert_eq!(a.format(ip("::ffff:192.0.2.77")), Some(h));
    }

    #[test]
    fn hash_does_not_reveal_the_address() {
        let client = ip("192.0.2.77");
        let random = ClientFormat::new(ClientAddresses::Hashed, None).expect("rng");
        let h = random.format(client).expect("hashed");
        // Not an encoding of the address: its hex form does not appear, and
        // a neighbouring address (one bit apart) shares no more hex digits
        // in place than chance allows (2 of 32 expected; an encoding
        // shares about 31).
        assert!(h.len() == 32 && !h.contains("c000024d"), "{h}");
        let neighbour = random.format(ip("192.0.2.76")).expect("hashed");
        let same = h.bytes().zip(neighbour.bytes()).filter(|(a, b)| a == b);
        assert!(same.count() < 12, "{h} vs {neighbour}");
        // Without the key, hashing the address yourself does not give it.
        let guess = ClientFormat::new(ClientAddresses::Hashed, Some(b"")).expect("key");
        assert_ne!(guess.format(client), Some(h.clone()));
        // Random keys differ per formatter (per process).
        let other = ClientFormat::new(ClientAddresses::Hashed, None).expect("rng");
        assert_ne!(other.format(client), Some(h));
    }
}
