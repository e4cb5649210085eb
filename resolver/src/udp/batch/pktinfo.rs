//! Which local address a datagram came to, and answering from it (Linux:
//! `IP_PKTINFO`, `IPV6_PKTINFO`).
//!
//! A socket bound to a wildcard address (`0.0.0.0:53`, `[::]:53`) receives
//! queries sent to any address of the machine, but the kernel picks the
//! source of a reply by its routing table: on a box with two addresses, a
//! client that asked the other one gets its answer from an address it did
//! not ask, and its stub throws it away. As BIND, Unbound and dnsmasq do, a
//! wildcard socket asks the kernel for each datagram's destination address
//! and sends the reply with that address as its source.
#![allow(unsafe_code)] // setsockopt and control messages; each block says why it is sound

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::ptr;

use libc::{c_int, c_void, cmsghdr, in_pktinfo, in6_pktinfo, msghdr, socklen_t};

use super::local::Local;

/// Room for one control message: the larger of the two packet-info
/// messages with its header, aligned for `cmsghdr`.
pub(crate) type Control = [u64; 8];

/// Ask the kernel for the destination address of every datagram on a
/// socket bound to a wildcard `addr` (a specific address needs nothing: the
/// kernel answers from it). On an IPv6 wildcard that also takes IPv4, for
/// both families.
pub(crate) fn enable(socket: &impl AsRawFd, addr: SocketAddr) -> io::Result<()> {
    if !addr.ip().is_unspecified() {
        return Ok(());
    }
    let fd = socket.as_raw_fd();
    match addr {
        SocketAddr::V4(_) => set(fd, libc::IPPROTO_IP, libc::IP_PKTINFO),
        SocketAddr::V6(_) => {
            set(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO)?;
            // IPv4 clients of a dual-stack socket; refused on an IPv6-only
            // socket, which has none.
            let _ = set(fd, libc::IPPROTO_IP, libc::IP_PKTINFO);
            Ok(())
        }
    }
}

fn set(fd: c_int, level: c_int, name: c_int) -> io::Result<()> {
    let on: c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a valid
    // c_int that lives for the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            ptr::from_ref(&on).cast::<c_void>(),
            mem::size_of::<c_int>() as socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The destination address of a received datagram, from the control
/// messages the kernel wrote into `hdr` (none unless [`enable`]d).
#[allow(clippy::unnecessary_cast)] // size_t with glibc, socklen_t with musl
pub(crate) fn received(hdr: &msghdr) -> Option<Local> {
    if hdr.msg_control.is_null() || (hdr.msg_controllen as usize) < mem::size_of::<cmsghdr>() {
        return None;
    }
    // SAFETY: `hdr` describes a control buffer the kernel filled, of
    // `msg_controllen` bytes; CMSG_FIRSTHDR / CMSG_NXTHDR stay within it
    // and return null at its end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(hdr) };
    while !cmsg.is_null() {
        // SAFETY: a non-null cmsg points at a whole cmsghdr in the buffer.
        let (level, kind, len) =
            unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type, (*cmsg).cmsg_len) };
        // SAFETY: CMSG_DATA points just past the header, inside the message.
        let data = unsafe { libc::CMSG_DATA(cmsg) };
        // SAFETY: CMSG_LEN is arithmetic on a size.
        let fits = |size: usize| len as usize >= unsafe { libc::CMSG_LEN(size as u32) } as usize;
        match (level, kind) {
            (libc::IPPROTO_IP, libc::IP_PKTINFO) if fits(mem::size_of::<in_pktinfo>()) => {
                // SAFETY: the kernel wrote an in_pktinfo there (length
                // checked); read unaligned, as control data may not be.
                let info = unsafe { ptr::read_unaligned(data.cast::<in_pktinfo>()) };
                // The local address to answer from: the destination itself
                // for a unicast query, an address of the interface for a
                // broadcast one (ip(7): ipi_spec_dst).
                let ip = Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr));
                return (!ip.is_unspecified()).then_some(Local::V4(ip));
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) if fits(mem::size_of::<in6_pktinfo>()) => {
                // SAFETY: as above, for an in6_pktinfo.
                let info = unsafe { ptr::read_unaligned(data.cast::<in6_pktinfo>()) };
                let ip = Ipv6Addr::from(info.ipi6_addr.s6_addr);
                return match ip.to_ipv4_mapped() {
                    Some(v4) => Some(Local::V4(v4)),
                    // A reply cannot leave from a multicast address: let
                    // the kernel choose.
                    None if ip.is_multicast() => None,
                    None => Some(Local::V6(ip, info.ipi6_ifindex)),
                };
            }
            _ => {}
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        cmsg = unsafe { libc::CMSG_NXTHDR(hdr, cmsg) };
    }
    None
}

/// Write into `control` the message that sends a reply from `local`, and
/// point `hdr` at it.
pub(crate) fn set_source(hdr: &mut msghdr, control: &mut Control, local: Local) {
    *control = [0; 8];
    hdr.msg_control = control.as_mut_ptr().cast();
    hdr.msg_controllen = mem::size_of::<Control>() as _;
    // SAFETY: `hdr` points at `control`, zeroed and large enough for one
    // control message of either kind (CMSG_SPACE(size_of in6_pktinfo) is
    // 40 bytes of its 64), so CMSG_FIRSTHDR is non-null and the writes
    // below stay inside it; the pktinfo is written unaligned.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(hdr);
        let space = match local {
            Local::V4(ip) => {
                (*cmsg).cmsg_level = libc::IPPROTO_IP;
                (*cmsg).cmsg_type = libc::IP_PKTINFO;
                (*cmsg).cmsg_len = libc::CMSG_LEN(mem::size_of::<in_pktinfo>() as u32) as _;
                let info = in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(ip).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<in_pktinfo>(), info);
                libc::CMSG_SPACE(mem::size_of::<in_pktinfo>() as u32)
            }
            Local::V6(ip, ifindex) => {
                (*cmsg).cmsg_level = libc::IPPROTO_IPV6;
                (*cmsg).cmsg_type = libc::IPV6_PKTINFO;
                (*cmsg).cmsg_len = libc::CMSG_LEN(mem::size_of::<in6_pktinfo>() as u32) as _;
                let info = in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: ip.octets(),
                    },
                    ipi6_ifindex: ifindex,
                };
                ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<in6_pktinfo>(), info);
                libc::CMSG_SPACE(mem::size_of::<in6_pktinfo>() as u32)
            }
        };
        hdr.msg_controllen = space as _;
    }
}

/// Send one datagram to `dst` from `local`, without waiting.
pub(crate) fn send_from(
    fd: c_int,
    buf: &[u8],
    dst: &socket2::SockAddr,
    local: Local,
) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: all zeros is a valid msghdr (null pointers, zero lengths).
    let mut hdr: msghdr = unsafe { mem::zeroed() };
    hdr.msg_name = dst.as_ptr().cast_mut().cast();
    hdr.msg_namelen = dst.len();
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    let mut control: Control = [0; 8];
    set_source(&mut hdr, &mut control, local);
    // SAFETY: `hdr` points at one iovec over `buf`, at `dst` (its length
    // from socket2) and at `control`, all alive for the call; sendmsg only
    // reads through them.
    let rc = unsafe { libc::sendmsg(fd, &hdr, libc::MSG_DONTWAIT) };
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}
