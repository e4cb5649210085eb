//! Is port 53 free, and if not, who holds it and what to do.
//!
//! The probe binds UDP and TCP on the address parapet will serve (the
//! wildcard, port 53): the kernel answers exactly the question "can parapet
//! start here?". When the port is held, the holders are read from
//! `/proc/net/{udp,tcp,udp6,tcp6}` and named by process where `/proc` lets
//! us (`/proc/PID/fd` needs root for other users' processes).

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PortState {
    /// parapet can bind it.
    Free,
    /// Binding needs privileges this process lacks (run as root).
    NeedsRoot,
    /// Something listens there already.
    Held(Vec<Holder>),
}

/// A socket holding the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    /// The address it listens on (`127.0.0.53:53`).
    pub addr: SocketAddr,
    /// The process name (`systemd-resolve`, `dnsmasq`), when `/proc` says.
    pub process: Option<String>,
}

impl Holder {
    /// Whether this is systemd-resolved's stub listener (127.0.0.53, or
    /// 127.0.0.54 for its proxy mode).
    pub(crate) fn is_resolved_stub(&self) -> bool {
        matches!(self.addr.ip(), IpAddr::V4(ip) if ip == Ipv4Addr::new(127, 0, 0, 53) || ip == Ipv4Addr::new(127, 0, 0, 54))
            || self.process.as_deref() == Some("systemd-resolve")
    }

    /// Whether parapet itself holds it (setup run again on a working box).
    pub(crate) fn is_parapet(&self) -> bool {
        self.process.as_deref() == Some("parapet")
    }
}

/// Try to bind UDP and TCP on `addr`; name the holders from `proc_dir`.
pub(crate) fn probe(addr: SocketAddr, proc_dir: &Path) -> PortState {
    let udp = UdpSocket::bind(addr).map(drop);
    let tcp = TcpListener::bind(addr).map(drop);
    let errors: Vec<ErrorKind> = [udp, tcp]
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.kind()))
        .collect();
    if errors.contains(&ErrorKind::AddrInUse) {
        PortState::Held(holders(addr.port(), proc_dir))
    } else if errors.contains(&ErrorKind::PermissionDenied) {
        PortState::NeedsRoot
    } else {
        PortState::Free
    }
}

/// The sockets listening on `port` (TCP in LISTEN, any bound UDP).
pub(crate) fn holders(port: u16, proc_dir: &Path) -> Vec<Holder> {
    let mut found: Vec<(SocketAddr, u64)> = Vec::new();
    for (file, tcp) in [
        ("udp", false),
        ("tcp", true),
        ("udp6", false),
        ("tcp6", true),
    ] {
        let text = std::fs::read_to_string(proc_dir.join("net").join(file)).unwrap_or_default();
        for line in text.lines().skip(1) {
            if let Some((addr, inode)) = parse_socket_line(line, tcp)
                && addr.port() == port
                && !found.iter().any(|(a, _)| *a == addr)
            {
                found.push((addr, inode));
            }
        }
    }
    found
        .into_iter()
        .map(|(addr, inode)| Holder {
            addr,
            process: process_of(inode, proc_dir),
        })
        .collect()
}

/// `(local address, inode)` of one `/proc/net/{tcp,udp}[6]` line; TCP only
/// in state LISTEN (`0A`).
fn parse_socket_line(line: &str, tcp: bool) -> Option<(SocketAddr, u64)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if f.len() < 10 || (tcp && f[3] != "0A") {
        return None;
    }
    let (ip, port) = f[1].split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(ip, 16).ok()?.swap_bytes(),
        )),
        32 => {
            // Four 32-bit words, each in host (little endian) order.
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).ok()?;
                chunk.copy_from_slice(&word.swap_bytes().to_be_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some((SocketAddr::new(ip, port), f[9].parse().ok()?))
}

/// The name of the process holding socket `inode`, when readable.
fn process_of(inode: u64, proc_dir: &Path) -> Option<String> {
    let target = format!("socket:[{inode}]");
    for entry in std::fs::read_dir(proc_dir).ok()?.flatten() {
        let pid = entry.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str())
        });
        if holds {
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            return Some(comm.trim().to_string());
        }
    }
    None
}

/// What to tell the person about `state`, and whether parapet can serve
/// once they have read it (true: nothing left to do on this box).
pub(crate) fn advice(state: &PortState, port: u16) -> (String, bool) {
    match state {
        PortState::Free => (format!("Port {port} is free."), true),
        PortState::NeedsRoot => (
            format!(
                "Port {port} could not be tested without root: run `sudo parapet setup` \
                 (parapet itself gets the right to bind it from its systemd unit)."
            ),
            false,
        ),
        PortState::Held(holders)
            if !holders.is_empty() && holders.iter().all(Holder::is_parapet) =>
        {
            (
                format!(
                    "Port {port} is held by parapet itself: fine. Restart it to use the new \
                 config: sudo systemctl restart parapet"
                ),
                true,
            )
        }
        PortState::Held(holders) if holders.iter().any(Holder::is_resolved_stub) => (
            format!(
                "Port {port} is held by systemd-resolved's stub listener (127.0.0.53). Free it \
                 with `sudo parapet setup --free-port-53`, which writes \
                 /etc/systemd/resolved.conf.d/parapet.conf (DNSStubListener=no) and points \
                 /etc/resolv.conf at /run/systemd/resolve/resolv.conf; or do the same by hand, \
                 then run: sudo systemctl restart systemd-resolved parapet"
            ),
            false,
        ),
        PortState::Held(holders) => (other_holders(holders, port), false),
    }
}

fn other_holders(holders: &[Holder], port: u16) -> String {
    let names: Vec<String> = holders
        .iter()
        .map(|h| match &h.process {
            Some(p) => format!("{p} on {}", h.addr),
            None => format!("a program on {}", h.addr),
        })
        .collect();
    let which = if names.is_empty() {
        "another program".to_string()
    } else {
        names.join(", ")
    };
    let stop = match holders.iter().find_map(|h| h.process.as_deref()) {
        Some(p) => format!("sudo systemctl disable --now {p}"),
        None => format!("sudo ss -lunp 'sport = :{port}'  (shows which program)"),
    };
    format!(
        "Port {port} is held by {which}. Only one DNS server can answer there: stop and \
         disable the other one ({stop}; for Pi-hole: pihole-FTL, for dnsmasq: dnsmasq), \
         then run: sudo systemctl restart parapet"
    )
}
