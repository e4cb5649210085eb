use std::path::Path;

use super::super::{ConfigError, from_toml_str};
use super::*;

/// A config with nothing on a fixed port except what `body` adds.
fn config(body: &str) -> String {
    format!(
        "[upstream]\nservers = [\"127.0.0.1:5300\"]\n\
         [block]\nsinkhole_ipv4 = \"203.0.113.10\"\n{body}"
    )
}

/// Sections made of `[section]` headers with keys; merged into [`config`].
fn issues(body: &str) -> Vec<String> {
    match from_toml_str(&config(body), Path::new(".")) {
        Err(ConfigError::Invalid { issues, .. }) => issues.iter().map(|i| i.to_string()).collect(),
        Ok(_) => Vec::new(),
        Err(other) => panic!("{other}"),
    }
}

/// Quiet defaults for the sections the table does not set.
const QUIET_SERVER: &str = "listen = [\"127.0.0.1:5353\"]";
const QUIET_PAGE: &str = "listen = [\"127.0.0.1:8080\"]\ntls_listen = []";
const QUIET_METRICS: &str = "listen = \"127.0.0.1:9153\"";
const CERT: &str = "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"";

/// `(server, warning_page, metrics)` bodies.
fn sections(server: &str, page: &str, metrics: &str) -> String {
    format!("[server]\n{server}\n[warning_page]\n{page}\n[metrics]\n{metrics}\n")
}

#[test]
fn every_pair_of_overlapping_listeners_names_both_keys() {
    // (server, warning_page, metrics, first key, second key)
    let table: &[(&str, &str, &str, &str, &str)] = &[
        (
            "listen = [\"0.0.0.0:53\", \"10.0.0.1:53\"]",
            QUIET_PAGE,
            QUIET_METRICS,
            "server.listen[0]",
            "server.listen[1]",
        ),
        (
            "listen = [\"127.0.0.1:5353\"]\ntls_listen = [\"0.0.0.0:853\"]\nhttps_listen = [\"127.0.0.1:853\"]",
            QUIET_PAGE,
            QUIET_METRICS,
            "server.tls_listen[0]",
            "server.https_listen[0]",
        ),
        (
            "listen = [\"0.0.0.0:443\"]\nhttps_listen = [\"[::1]:443\", \"203.0.113.10:443\"]",
            QUIET_PAGE,
            QUIET_METRICS,
            "server.listen[0]",
            "server.https_listen[1]",
        ),
        (
            "listen = [\"127.0.0.1:5353\"]\nhttps_listen = [\"0.0.0.0:443\"]",
            "listen = [\"203.0.113.10:80\"]\ntls_listen = [\"203.0.113.10:443\"]",
            QUIET_METRICS,
            "server.https_listen[0]",
            "warning_page.tls_listen[0]",
        ),
        (
            "listen = [\"[::]:8080\"]",
            "listen = [\"[::1]:8080\"]\ntls_listen = []",
            QUIET_METRICS,
            "server.listen[0]",
            "warning_page.listen[0]",
        ),
        (
            QUIET_SERVER,
            "listen = [\"127.0.0.1:9153\"]",
            QUIET_METRICS,
            "warning_page.listen[0]",
            "metrics.listen",
        ),
        (
            "listen = [\"0.0.0.0:9153\"]",
            QUIET_PAGE,
            QUIET_METRICS,
            "server.listen[0]",
            "metrics.listen",
        ),
        (
            "listen = [\"127.0.0.1:5353\"]\ntls_listen = [\"203.0.113.10:443\"]",
            "",
            QUIET_METRICS,
            "server.tls_listen[0]",
            "warning_page.tls_listen (default: the sinkhole address 203.0.113.10, port 443)",
        ),
        (
            "listen = [\"0.0.0.0:80\"]",
            "tls_listen = []",
            QUIET_METRICS,
            "server.listen[0]",
            "warning_page.listen (default: the sinkhole address 203.0.113.10, port 80)",
        ),
        (
            QUIET_SERVER,
            "listen = [\"127.0.0.1:8080\"]\ntls_listen = [\"127.0.0.1:8443\", \"0.0.0.0:8443\"]",
            QUIET_METRICS,
            "warning_page.tls_listen[0]",
            "warning_page.tls_listen[1]",
        ),
    ];
    for &(server, page, metrics, first, second) in table {
        let server = if server.contains("tls_listen") || server.contains("https_listen") {
            format!("{server}\n{CERT}")
        } else {
            server.to_string()
        };
        let found = issues(&sections(&server, page, metrics));
        let overlaps: Vec<&String> = found.iter().filter(|i| i.contains("overlaps")).collect();
        assert_eq!(overlaps.len(), 1, "{server} / {page}: {found:#?}");
        let text = overlaps[0];
        assert!(text.starts_with(&format!("{second}: ")), "{text}");
        assert!(text.contains(&format!("overlaps {first} ")), "{text}");
    }
}

#[test]
fn doh_beside_the_warning_tls_port_says_what_to_do() {
    let found = issues(&sections(
        &format!("listen = [\"127.0.0.1:5353\"]\nhttps_listen = [\"0.0.0.0:443\"]\n{CERT}"),
        "listen = [\"203.0.113.10:80\"]\ntls_listen = [\"203.0.113.10:443\"]",
        QUIET_METRICS,
    ));
    assert!(
        found
            .iter()
            .any(|i| i.contains("set warning_page.tls_listen = []")),
        "{found:#?}"
    );
}

#[test]
fn what_does_not_overlap() {
    let quiet = |server: &str, page: &str| {
        let server = format!("{server}\n{CERT}");
        let found = issues(&sections(&server, page, QUIET_METRICS));
        let overlaps: Vec<&String> = found.iter().filter(|i| i.contains("overlaps")).collect();
        assert!(overlaps.is_empty(), "{server} / {page}: {overlaps:#?}");
    };
    // IPv4 and IPv6 wildcards on one port (IPV6_V6ONLY), for every transport.
    quiet(
        "listen = [\"0.0.0.0:53\", \"[::]:53\"]\ntls_listen = [\"0.0.0.0:853\", \"[::]:853\"]\n\
         https_listen = [\"0.0.0.0:443\", \"[::]:443\"]",
        "listen = [\"0.0.0.0:80\", \"[::]:80\"]\ntls_listen = []",
    );
    // Other addresses on one port; port 0 (a free port each).
    quiet(
        "listen = [\"127.0.0.1:53\", \"10.8.0.1:53\", \"127.0.0.1:0\", \"127.0.0.1:0\"]",
        "listen = [\"127.0.0.1:80\", \"10.8.0.1:80\"]\ntls_listen = [\"127.0.0.1:0\"]",
    );
    // The warning page's default TLS port is off once listen is set.
    quiet(
        "listen = [\"127.0.0.1:5353\"]\nhttps_listen = [\"203.0.113.10:443\"]",
        "listen = [\"203.0.113.10:80\"]",
    );
}

#[test]
fn wildcards_cover_their_family_only() {
    let a = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert!(addrs_overlap(a("0.0.0.0:53"), a("192.168.1.2:53")));
    assert!(addrs_overlap(a("[::1]:53"), a("[::]:53")));
    assert!(!addrs_overlap(a("0.0.0.0:53"), a("[::]:53")));
    assert!(!addrs_overlap(a("0.0.0.0:53"), a("0.0.0.0:54")));
    assert!(!addrs_overlap(a("10.0.0.1:53"), a("10.0.0.2:53")));
    assert!(!addrs_overlap(a("0.0.0.0:0"), a("0.0.0.0:0")));
}

#[test]
fn a_udp_only_listener_beside_tcp_does_not_overlap() {
    let l = |key: &str, addr: &str, udp, tcp| Listener {
        key: key.into(),
        addr: addr.parse().unwrap(),
        udp,
        tcp,
    };
    let found = find(&[
        l("udp", "0.0.0.0:53", true, false),
        l("tcp", "127.0.0.1:53", false, true),
    ]);
    assert!(found.is_empty(), "{found:?}");
    let found = find(&[
        l("dns", "0.0.0.0:53", true, true),
        l("tcp", "127.0.0.1:53", false, true),
    ]);
    assert_eq!(found.len(), 1);
    assert!(found[0].1.contains("(TCP port 53)"), "{found:?}");
}

#[test]
fn ipv4_mapped_listen_addresses_are_refused() {
    let found = issues(&sections(
        "listen = [\"[::ffff:127.0.0.1]:5353\"]",
        QUIET_PAGE,
        QUIET_METRICS,
    ));
    assert!(
        found
            .iter()
            .any(|i| i.starts_with("server.listen[0]: ")
                && i.contains("write IPv4 addresses as IPv4")),
        "{found:#?}"
    );
}
