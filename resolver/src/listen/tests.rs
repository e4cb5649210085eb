use std::net::{Ipv6Addr, SocketAddr};

use super::*;

fn v6_loopback_available() -> bool {
    std::net::UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

#[tokio::test]
async fn ipv6_wildcard_beside_ipv4_wildcard_on_one_port() {
    if !v6_loopback_available() {
        eprintln!("SKIPPED: no IPv6 on this machine");
        return;
    }
    // Both wildcards listed on the port: [::] is IPv6-only.
    let opts = BindOptions {
        v4_ports: PortSet::all(),
        ..BindOptions::default()
    };
    // TCP: 0.0.0.0:P first, then [::]:P must not clash (IPV6_V6ONLY).
    let v4 = tcp("server.tls_listen", "0.0.0.0:0".parse().unwrap(), opts).unwrap();
    let port = v4.local_addr().unwrap().port();
    let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    tcp("server.tls_listen", v6, opts).expect("[::]:P beside 0.0.0.0:P (TCP)");
    // And the other order, UDP.
    let v6 = udp("server.listen", "[::]:0".parse().unwrap(), 2, opts).unwrap();
    let port = v6[0].local_addr().unwrap().port();
    let v4 = SocketAddr::from(([0, 0, 0, 0], port));
    udp("server.listen", v4, 2, opts).expect("0.0.0.0:P beside [::]:P (UDP)");
}

#[tokio::test]
async fn udp_sockets_share_one_port() {
    let socks = udp(
        "server.listen",
        "127.0.0.1:0".parse().unwrap(),
        3,
        BindOptions::default(),
    )
    .unwrap();
    assert_eq!(socks.len(), 3);
    let port = socks[0].local_addr().unwrap().port();
    assert!(socks.iter().all(|s| s.local_addr().unwrap().port() == port));
}

#[test]
fn port_in_use_names_the_key_and_the_usual_suspects() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let error = tcp("metrics.listen", addr, BindOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!("metrics.listen: cannot listen on {addr}: ")),
        "{error}"
    );
    assert!(error.contains("another program is using it"), "{error}");
    let in_use = || io::Error::from(io::ErrorKind::AddrInUse);
    let on_53 = hint("0.0.0.0:53".parse().unwrap(), &in_use()).unwrap();
    assert!(on_53.contains("systemd-resolved") && on_53.contains("127.0.0.53:53"));
    let on_5353 = hint("0.0.0.0:5353".parse().unwrap(), &in_use()).unwrap();
    assert!(on_5353.contains("avahi"), "{on_5353}");
}

#[test]
fn permission_denied_below_1024_names_the_capability() {
    let denied = io::Error::from(io::ErrorKind::PermissionDenied);
    let h = hint("0.0.0.0:80".parse().unwrap(), &denied).unwrap();
    assert!(
        h.contains("CAP_NET_BIND_SERVICE") && h.contains("root"),
        "{h}"
    );
    assert_eq!(hint("0.0.0.0:8080".parse().unwrap(), &denied), None);
}

#[tokio::test]
async fn an_absent_address_needs_the_network_or_freebind() {
    // TEST-NET-1 is on no interface here.
    let absent: SocketAddr = "192.0.2.1:0".parse().unwrap();
    let error = tcp("warning_page.listen", absent, BindOptions::default()).unwrap_err();
    assert_eq!(error.source.kind(), io::ErrorKind::AddrNotAvailable);
    let text = error.to_string();
    assert!(text.starts_with("warning_page.listen: "), "{text}");
    assert!(text.contains("network-online.target"), "{text}");
    assert!(text.contains("server.freebind = true"), "{text}");

    let freebind = BindOptions {
        freebind: true,
        ..BindOptions::default()
    };
    tcp("warning_page.listen", absent, freebind).expect("IP_FREEBIND binds it");
    udp("server.listen", absent, 1, freebind).expect("IP_FREEBIND binds it (UDP)");
}

#[tokio::test]
async fn ipv6_wildcard_alone_on_its_port_serves_ipv4_clients_too() {
    if !v6_loopback_available() {
        eprintln!("SKIPPED: no IPv6 on this machine");
        return;
    }
    // No IPv4 listener on the port: dual-stack, an IPv4 client reaches it.
    let dual = tokio_tcp(
        "server.listen",
        "[::]:0".parse().unwrap(),
        BindOptions::default(),
    )
    .unwrap();
    let port = dual.local_addr().unwrap().port();
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("IPv4 client of a dual-stack [::] listener");
    // And 0.0.0.0:P cannot be bound beside it: that is why a config that
    // lists both gets an IPv6-only [::]:P.
    assert!(
        tcp(
            "server.listen",
            SocketAddr::from(([0, 0, 0, 0], port)),
            BindOptions::default()
        )
        .is_err()
    );
}

#[test]
fn port_sets_hold_listed_ports_and_all_past_capacity() {
    let set: PortSet = [53, 853, 53].into_iter().collect();
    assert!(set.contains(53) && set.contains(853) && !set.contains(443));
    let full: PortSet = (1..=40).collect();
    assert!(full.contains(41), "past capacity: every port");
    assert!(PortSet::all().contains(9));
}
