//! Loopback ports for test servers: a UDP and TCP pair bound on one port
//! (for servers in the test's process), and a port free for an external
//! server to bind.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};

use tokio::net::{TcpListener, UdpSocket};

/// UDP and TCP bound on the same free port of `ip`.
///
/// # Errors
/// When binding fails, or no port free for both is found in 50 tries.
pub async fn bind_pair(ip: IpAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..50 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free port")))
}

/// A `127.0.0.1` port free for UDP and TCP now, for a server the test
/// starts (NSD, Unbound, parapet's setup probe). It lies below the
/// kernel's ephemeral range (32768 and up by default), so that sockets
/// other tests bind to port 0 cannot take it before the server binds it;
/// each call in a process gets another port. Panics when none is free.
pub fn free_port() -> SocketAddr {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 4_000) as u16;
    (0..8_000)
        .map(|_| base + NEXT.fetch_add(1, Ordering::SeqCst) % 8_000)
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
        .find(|addr| {
            std::net::UdpSocket::bind(addr).is_ok() && std::net::TcpListener::bind(addr).is_ok()
        })
        .expect("a free loopback port below the ephemeral range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_bindable_and_below_the_ephemeral_range() {
        let (a, b) = (free_port(), free_port());
        assert_ne!(a, b);
        for addr in [a, b] {
            assert!(addr.port() < 32_768);
            std::net::UdpSocket::bind(addr).unwrap();
            std::net::TcpListener::bind(addr).unwrap();
        }
    }

    #[tokio::test]
    async fn bind_pair_shares_one_port() {
        let (udp, tcp) = bind_pair([127, 0, 0, 1].into()).await.unwrap();
        assert_eq!(udp.local_addr().unwrap(), tcp.local_addr().unwrap());
    }
}
