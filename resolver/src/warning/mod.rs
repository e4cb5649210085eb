//! The warning page: what a person sees when parapet blocks a site.
//!
//! A blocked name resolves to the sinkhole addresses; the browser then
//! connects there. This module serves that connection:
//!
//! - [`serve`] runs a small HTTP/1.1 server ([`server`]) on the
//!   [`WarningPageConfig::listen`] addresses. For a `Host` that the live list
//!   blocks it answers a plain-words warning (which site, why, that nothing
//!   was loaded, what to do, whom to tell); for anything else a short generic
//!   page. Status 403, `Cache-Control: no-store`, nothing loaded from
//!   elsewhere.
//! - On the [`WarningPageConfig::tls_listen`] addresses it accepts and
//!   resets every connection ([`tls_reset`]): a sinkholed `https://` visit
//!   cannot show the page without a certificate the browser trusts, so the
//!   browser is given an immediate error instead of a hang.
//! - [`explain`] says the same words in a terminal (`parapet explain`).
//! - `check.parapet.test`, `blocked.parapet.test` and `/status` are
//!   answered by [`crate::status`] (the check and status pages).
//!
//! The wording lives in one place, [`notice`]; [`page`] renders it as HTML
//! and [`notice::Notice::to_text`] as text. [`host`] turns the hostile
//! `Host` header into something safe to look up and show.

use crate::lookalike::{self, Lookalikes};
use std::net::{IpAddr, SocketAddr};

use parapet_blocklist::{Blocklist, Verdict};

pub mod host;
pub mod notice;
pub mod page;
mod server;
mod tls_reset;

pub use server::{BindError, WarningListeners, serve, serve_with_lookalikes};

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

/// Explain in plain text what the list does with `name` (a site name, a
/// URL, or an IP address): for a blocked name, the same words as the warning
/// page; otherwise one line saying it is not blocked, or which exception
/// allows it.
pub fn explain(lists: &Blocklist, name: &str, config: &WarningPageConfig) -> String {
    explain_with(lists, None, name, config)
}

/// [`explain`], also checking look-alikes of the protected domains.
pub fn explain_with(
    lists: &Blocklist,
    lookalikes: Option<&Lookalikes>,
    name: &str,
    config: &WarningPageConfig,
) -> String {
    let input = strip_url(name.trim());
    let notice = match host::Host::parse(Some(input.as_bytes())) {
        host::Host::Name(host) if crate::reserved::of_host(&host.ascii).is_some() => {
            crate::reserved::explain(&host, config)
        }
        host::Host::Name(host) => match lists.check_name(&host.ascii) {
            Verdict::None if let Some(imitates) = imitated(lookalikes, &host.ascii) => {
                notice::blocked(&host, &lookalike::config::rule_info(&imitates), config)
            }
            Verdict::Block(rule) => {
                notice::blocked(&host, &lists.rule_info(rule, &host.ascii), config)
            }
            Verdict::Allow(rule) => {
                notice::not_blocked(&host, Some(&lists.rule_info(rule, &host.ascii)))
            }
            Verdict::None => notice::not_blocked(&host, None),
        },
        host::Host::Ip(ip) => {
            let query = ip.to_string();
            match lists.check_ip(ip) {
                Verdict::Block(rule) => {
                    notice::ip_checked(ip, Some(&lists.rule_info(rule, &query)), None)
                }
                Verdict::Allow(rule) => {
                    notice::ip_checked(ip, None, Some(&lists.rule_info(rule, &query)))
                }
                Verdict::None => notice::ip_checked(ip, None, None),
            }
        }
        host::Host::Invalid(shown) => notice::not_a_name(&shown),
        host::Host::Missing => notice::not_a_name(""),
    };
    notice.to_text()
}

/// The protected domain `ascii` imitates, if any.
pub(crate) fn imitated(lookalikes: Option<&Lookalikes>, ascii: &str) -> Option<String> {
    let labels = ascii.trim_end_matches('.').split('.').map(str::as_bytes);
    Some(lookalikes?.check(labels)?.imitates.to_string())
}

/// `https://evil.example/login?x` → `evil.example`: people paste links.
fn strip_url(input: &str) -> &str {
    let rest = input.split_once("://").map_or(input, |(_, rest)| rest);
    let rest = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    rest.rsplit_once('@').map_or(rest, |(_, host)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_url_keeps_the_host() {
        assert_eq!(strip_url("https://evil.example/login?x=1"), "evil.example");
        assert_eq!(
            strip_url("http://user@evil.example:8080/"),
            "evil.example:8080"
        );
        assert_eq!(strip_url("evil.example"), "evil.example");
        assert_eq!(strip_url("[::1]:80"), "[::1]:80");
    }

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
