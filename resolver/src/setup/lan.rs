//! Which address and network this box has on the home LAN.
//!
//! The interface that carries the default route (from `/proc/net/route`)
//! is the one the router reaches; its private IPv4 address is where the
//! household's devices will send DNS. Without a default route, the first
//! private address of any interface will do.

use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;

/// One IPv4 address of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InterfaceAddr {
    /// Interface name (`eth0`, `wlan0`).
    pub name: String,
    /// The address and its prefix length.
    pub net: Ipv4Net,
}

/// The box's place on the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lan {
    /// The interface (`eth0`).
    pub interface: String,
    /// The box's address on it.
    pub address: Ipv4Addr,
    /// The LAN (`192.168.1.0/24`).
    pub network: Ipv4Net,
    /// The default gateway (the router), when the routing table names one.
    pub router: Option<Ipv4Addr>,
}

/// The default routes in a `/proc/net/route` text: `(interface, gateway,
/// metric)`, lowest metric first.
pub(crate) fn default_routes(route_table: &str) -> Vec<(String, Ipv4Addr, u32)> {
    let mut routes: Vec<(String, Ipv4Addr, u32)> = route_table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
            if f.len() < 8 || f[1] != "00000000" || f[7] != "00000000" {
                return None;
            }
            let gateway = u32::from_str_radix(f[2], 16).ok()?;
            let metric = f[6].parse().ok()?;
            // The kernel prints the address in host byte order (little
            // endian on every machine parapet targets).
            Some((
                f[0].to_string(),
                Ipv4Addr::from(gateway.swap_bytes()),
                metric,
            ))
        })
        .collect();
    routes.sort_by_key(|r| r.2);
    routes
}

/// Find the LAN among `interfaces`, preferring the default route's interface
/// as read from the route table at `route_file` (missing: no preference).
///
/// # Errors
/// No interface has a private (RFC 1918) IPv4 address: the message says
/// what that means for a home box.
pub(crate) fn find(route_file: &Path, interfaces: &[InterfaceAddr]) -> Result<Lan, String> {
    let table = std::fs::read_to_string(route_file).unwrap_or_default();
    let routes = default_routes(&table);
    let private = |a: &&InterfaceAddr| a.net.addr().is_private();
    for (iface, gateway, _) in &routes {
        if let Some(found) = interfaces.iter().filter(private).find(|a| &a.name == iface) {
            return Ok(lan(found, Some(*gateway).filter(|g| !g.is_unspecified())));
        }
    }
    match interfaces.iter().find(private) {
        Some(found) => {
            let router = routes
                .iter()
                .map(|r| r.1)
                .find(|g| found.net.trunc().contains(g));
            Ok(lan(found, router))
        }
        None => Err(no_private_address(interfaces)),
    }
}

fn lan(found: &InterfaceAddr, router: Option<Ipv4Addr>) -> Lan {
    Lan {
        interface: found.name.clone(),
        address: found.net.addr(),
        network: found.net.trunc(),
        router,
    }
}

fn no_private_address(interfaces: &[InterfaceAddr]) -> String {
    let seen: Vec<String> = interfaces
        .iter()
        .filter(|a| !a.net.addr().is_loopback())
        .map(|a| format!("{} {}", a.name, a.net))
        .collect();
    let seen = if seen.is_empty() {
        "none but loopback".to_string()
    } else {
        seen.join(", ")
    };
    format!(
        "this machine has no private IPv4 address (192.168.x.x, 10.x.x.x or 172.16-31.x.x; \
         found: {seen}). A home box must be on the home network: connect it to the router \
         (cable or Wi-Fi) and run `parapet setup` again, or name the address with \
         --address 192.168.1.2/24. (On a server with a public address, start from \
         config/vps.toml instead: README \"Party IT on a VPS\".)"
    )
}

/// This machine's IPv4 interface addresses (`getifaddrs`).
///
/// # Errors
/// The system call failed.
pub(crate) fn system_interfaces() -> std::io::Result<Vec<InterfaceAddr>> {
    Ok(if_addrs::get_if_addrs()?
        .into_iter()
        .filter_map(|iface| match iface.addr {
            if_addrs::IfAddr::V4(v4) => {
                let prefix = u32::from(v4.netmask).count_ones() as u8;
                Some(InterfaceAddr {
                    name: iface.name,
                    net: Ipv4Net::new(v4.ip, prefix).ok()?,
                })
            }
            if_addrs::IfAddr::V6(_) => None,
        })
        .collect())
}
