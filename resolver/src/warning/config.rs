//! The `[warning_page]` config section, owned here and read by
//! [`crate::config`]: a leaf, so that config imports nothing of the
//! server.

use std::net::{IpAddr, SocketAddr};

/// Port of the warning page when `listen` is not set.
pub const DEFAULT_PORT: u16 = 80;
/// Port refused fast (RST) when `tls_listen` is not set.
pub const DEFAULT_TLS_PORT: u16 = 443;
/// Connections open at once (see [`crate::conntable`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Connections open at once per client (IPv4 address or IPv6 /64).
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 32;
/// Seconds a client has to send its request headers.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 5;

/// The `[warning_page]` config section.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WarningPageConfig {
    /// Where the page listens (HTTP). Default: the sinkhole addresses, port
    /// 80, because that is where a blocked name sends the browser (none when
    /// the sinkhole is `0.0.0.0`, which reaches nothing; and skipped with a
    /// warning if the port cannot be bound). `[]` turns the page off.
    #[serde(default)]
    pub listen: Option<Vec<SocketAddr>>,
    /// Where `https://` visits are refused at once with a TCP reset.
    /// Default: when `listen` is also unset, the sinkhole addresses on port
    /// 443 (skipped with a warning if that port is taken, e.g. by DNS over
    /// HTTPS, which refuses such visits with a certificate error anyway);
    /// otherwise none. `[]` turns it off.
    #[serde(default)]
    pub tls_listen: Option<Vec<SocketAddr>>,
    /// Who runs this resolver (shown on the page).
    #[serde(default)]
    pub organisation: Option<String>,
    /// Whom to contact about a mistake (name or team). Default: "your
    /// party's IT or security contact".
    #[serde(default)]
    pub contact: Option<String>,
    /// How to reach them (e-mail address or URL; shown as a link).
    #[serde(default)]
    pub contact_address: Option<String>,
    /// Connections open at once (default 256), so the page cannot be used
    /// to exhaust the resolver's memory or file descriptors. When full, an
    /// idle connection (from the client holding most, idle longest) is
    /// closed to make room.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Connections open at once per client (default 32), so one client
    /// cannot hold the page's slots.
    #[serde(default = "default_max_connections_per_client")]
    pub max_connections_per_client: usize,
    /// Seconds a client has to send its request headers (default 5);
    /// slow clients are disconnected.
    #[serde(default = "default_header_timeout_secs")]
    pub header_timeout_secs: u64,
}

fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}

fn default_max_connections_per_client() -> usize {
    DEFAULT_MAX_CONNECTIONS_PER_CLIENT
}

fn default_header_timeout_secs() -> u64 {
    DEFAULT_HEADER_TIMEOUT_SECS
}

impl Default for WarningPageConfig {
    fn default() -> Self {
        WarningPageConfig {
            listen: None,
            tls_listen: None,
            organisation: None,
            contact: None,
            contact_address: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            header_timeout_secs: DEFAULT_HEADER_TIMEOUT_SECS,
        }
    }
}

impl WarningPageConfig {
    /// Problems with this section: (key path, what is wrong), e.g.
    /// `("warning_page.max_connections", "must be at least 1")`. Empty when
    /// it is usable.
    pub fn issues(&self) -> Vec<(&'static str, &'static str)> {
        let mut issues = Vec::new();
        if self.max_connections == 0 {
            issues.push(("warning_page.max_connections", "must be at least 1"));
        }
        if self.max_connections_per_client == 0 {
            issues.push((
                "warning_page.max_connections_per_client",
                "must be at least 1",
            ));
        }
        if self.header_timeout_secs == 0 {
            issues.push(("warning_page.header_timeout_secs", "must be at least 1"));
        }
        issues
    }

    /// The HTTP addresses, and whether they were configured explicitly:
    /// `listen`, or each sinkhole address on port 80. An unspecified
    /// sinkhole (`0.0.0.0`, `::`) reaches nothing, so it gives no address.
    pub fn listen_addrs(&self, sinkholes: &[IpAddr]) -> (Vec<SocketAddr>, bool) {
        match &self.listen {
            Some(addrs) => (addrs.clone(), true),
            None => (default_addrs(sinkholes, DEFAULT_PORT), false),
        }
    }

    /// The addresses refused with a reset, and whether they were configured
    /// explicitly: `tls_listen`, or (only when `listen` is unset too) each
    /// sinkhole address on port 443.
    pub fn tls_listen_addrs(&self, sinkholes: &[IpAddr]) -> (Vec<SocketAddr>, bool) {
        match (&self.tls_listen, &self.listen) {
            (Some(addrs), _) => (addrs.clone(), true),
            (None, None) => (default_addrs(sinkholes, DEFAULT_TLS_PORT), false),
            (None, Some(_)) => (Vec::new(), false),
        }
    }
}

fn default_addrs(sinkholes: &[IpAddr], port: u16) -> Vec<SocketAddr> {
    sinkholes
        .iter()
        .filter(|ip| !ip.is_unspecified())
        .map(|ip| SocketAddr::new(*ip, port))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_addresses_follow_the_sinkholes() {
        let sinkholes: [IpAddr; 2] = [[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
        let config = WarningPageConfig::default();
        assert_eq!(
            config.listen_addrs(&sinkholes),
            (
                vec!["127.0.0.1:80".parse().unwrap(), "[::1]:80".parse().unwrap()],
                false
            )
        );
        let nowhere: [IpAddr; 1] = [std::net::Ipv4Addr::UNSPECIFIED.into()];
        assert_eq!(config.listen_addrs(&nowhere), (vec![], false));
        assert_eq!(config.tls_listen_addrs(&nowhere), (vec![], false));
        let (tls, explicit) = config.tls_listen_addrs(&sinkholes);
        assert_eq!(
            tls,
            vec![
                "127.0.0.1:443".parse().unwrap(),
                "[::1]:443".parse().unwrap()
            ]
        );
        assert!(!explicit);

        let config = WarningPageConfig {
            listen: Some(vec!["127.0.0.1:8080".parse().unwrap()]),
            ..WarningPageConfig::default()
        };
        assert_eq!(config.tls_listen_addrs(&sinkholes), (vec![], false));
    }

    #[test]
    fn config_parses_with_defaults_and_refuses_unknown_keys() {
        let config: WarningPageConfig =
            toml::from_str("listen = [\"127.0.0.1:8080\"]\norganisation = \"Example Party\"\n")
                .unwrap();
        assert_eq!(config.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(config.header_timeout_secs, DEFAULT_HEADER_TIMEOUT_SECS);
        assert!(config.issues().is_empty());
        let err = toml::from_str::<WarningPageConfig>("colour = \"red\"\n").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let config = WarningPageConfig {
            max_connections: 0,
            ..WarningPageConfig::default()
        };
        assert_eq!(
            config.issues(),
            vec![("warning_page.max_connections", "must be at least 1")]
        );
    }
}
