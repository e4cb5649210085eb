//! `recvmmsg` and `sendmmsg` (Linux): many datagrams per system call.
//!
//! The message headers are built on the stack for each call, pointing into
//! buffers the caller owns, so nothing here outlives a call and nothing
//! holds raw pointers across an `await`. The socket is driven through
//! tokio's readiness (`UdpSocket::async_io`): a call that would block
//! waits for the socket instead.
#![allow(unsafe_code)] // FFI calls; each `unsafe` block states why it is sound

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::ptr;

use libc::{c_int, c_uint, iovec, mmsghdr, sockaddr_in, sockaddr_in6, sockaddr_storage, socklen_t};
use socket2::SockAddr;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tracing::{debug, warn};

use super::local::Local;
use super::pktinfo::{self, Control};
use super::sizes::{BATCH, RECEIVE_BUFFER};

/// Source addresses of one `recvmmsg` call.
pub(super) struct RecvState {
    enabled: bool,
    addrs: Vec<sockaddr_storage>,
    /// Room for each datagram's local address (see [`pktinfo`]).
    controls: Vec<Control>,
}

impl RecvState {
    pub(super) fn new() -> Self {
        RecvState {
            enabled: true,
            // SAFETY: sockaddr_storage is a C struct of integers; all zeros
            // is a valid value.
            addrs: vec![unsafe { mem::zeroed() }; BATCH],
            controls: vec![[0; 8]; BATCH],
        }
    }

    /// Use the portable path from now on.
    #[cfg(test)]
    pub(super) fn disable(&mut self) {
        self.enabled = false;
    }

    /// Receive up to `bufs.len()` datagrams into `bufs`, recording each one's
    /// length and source in `got`; `None` when `recvmmsg` is not available
    /// (the caller falls back).
    pub(super) async fn recv(
        &mut self,
        socket: &UdpSocket,
        bufs: &mut [[u8; RECEIVE_BUFFER]],
        got: &mut Vec<(usize, Option<SocketAddr>, Option<Local>)>,
    ) -> Option<io::Result<usize>> {
        if !self.enabled {
            return None;
        }
        let fd = socket.as_raw_fd();
        let addrs = &mut self.addrs;
        let controls = &mut self.controls;
        let result = socket
            .async_io(Interest::READABLE, || {
                recvmmsg(fd, bufs, addrs, controls, got)
            })
            .await;
        match result {
            Err(error) if unsupported(&error) => {
                warn!(%error, "recvmmsg unavailable; receiving one datagram per call");
                self.enabled = false;
                None
            }
            result => Some(result),
        }
    }
}

/// Whether `sendmmsg` is still in use.
pub(super) struct SendState {
    enabled: bool,
}

impl SendState {
    pub(super) fn new() -> Self {
        SendState { enabled: true }
    }

    /// Whether `sendmmsg` is still in use.
    #[cfg(test)]
    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Use the portable path from now on.
    #[cfg(test)]
    pub(super) fn disable(&mut self) {
        self.enabled = false;
    }

    /// Send `bufs[i]` to `dsts[i]` (from `locals[i]` when known) for every
    /// queued reply; returns how many were dealt with (sent, or dropped
    /// after an error for that one reply). The caller sends the rest, if
    /// any, one by one.
    pub(super) async fn send(
        &mut self,
        socket: &UdpSocket,
        bufs: &[Vec<u8>],
        dsts: &[SockAddr],
        locals: &[Option<Local>],
    ) -> usize {
        if !self.enabled {
            return 0;
        }
        let fd = socket.as_raw_fd();
        let mut done = 0;
        while done < dsts.len() {
            let result = socket
                .async_io(Interest::WRITABLE, || {
                    sendmmsg(fd, &bufs[done..], &dsts[done..], &locals[done..])
                })
                .await;
            match result {
                Ok(0) => break, // never for a non-empty batch; let the caller go on
                Ok(n) => done += n,
                Err(error) if unsupported(&error) => {
                    warn!(%error, "sendmmsg unavailable; sending one datagram per call");
                    self.enabled = false;
                    break;
                }
                Err(error) => {
                    // The first unsent reply failed (for instance a client
                    // address the kernel refuses): drop it, go on.
                    let client = dsts[done].as_socket();
                    debug!(?client, %error, "UDP send failed");
                    done += 1;
                }
            }
        }
        done
    }
}

/// One `recvmmsg` call: up to [`BATCH`] datagrams, without waiting.
fn recvmmsg(
    fd: RawFd,
    bufs: &mut [[u8; RECEIVE_BUFFER]],
    addrs: &mut [sockaddr_storage],
    controls: &mut [Control],
    got: &mut Vec<(usize, Option<SocketAddr>, Option<Local>)>,
) -> io::Result<usize> {
    // SAFETY: iovec and mmsghdr are C structs of integers and pointers; all
    // zeros (null pointers, zero lengths) is a valid value of each.
    let mut iovs: [iovec; BATCH] = unsafe { mem::zeroed() };
    let mut hdrs: [mmsghdr; BATCH] = unsafe { mem::zeroed() };
    let mut count: usize = 0;
    for ((((buf, addr), control), iov), hdr) in bufs
        .iter_mut()
        .zip(addrs.iter_mut())
        .zip(controls.iter_mut())
        .zip(iovs.iter_mut())
        .zip(hdrs.iter_mut())
    {
        iov.iov_base = buf.as_mut_ptr().cast();
        iov.iov_len = buf.len();
        hdr.msg_hdr.msg_name = ptr::from_mut(addr).cast();
        hdr.msg_hdr.msg_namelen = STORAGE_LEN;
        hdr.msg_hdr.msg_iov = iov;
        hdr.msg_hdr.msg_iovlen = 1;
        hdr.msg_hdr.msg_control = control.as_mut_ptr().cast();
        hdr.msg_hdr.msg_controllen = mem::size_of::<Control>() as _;
        count += 1;
    }
    // SAFETY: each of the first `count` headers points at one iovec covering
    // one whole receive buffer, at one whole sockaddr_storage (its length
    // in msg_namelen) and at one whole control buffer (its length in
    // msg_controllen), all mutably borrowed for the duration of the call;
    // the kernel writes within those lengths and fills in msg_len,
    // msg_namelen, msg_controllen and msg_flags. No timeout.
    let rc = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            count as c_uint,
            libc::MSG_DONTWAIT as _,
            ptr::null_mut(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let received = usize::try_from(rc).unwrap_or(0).min(count);
    for (hdr, addr) in hdrs.iter().zip(addrs.iter()).take(received) {
        let len = usize::try_from(hdr.msg_len).unwrap_or(0);
        let local = pktinfo::received(&hdr.msg_hdr);
        got.push((len, socket_addr(addr, hdr.msg_hdr.msg_namelen), local));
    }
    Ok(received)
}

/// One `sendmmsg` call for up to [`BATCH`] replies, without waiting.
fn sendmmsg(
    fd: RawFd,
    bufs: &[Vec<u8>],
    dsts: &[SockAddr],
    locals: &[Option<Local>],
) -> io::Result<usize> {
    // SAFETY: as in `recvmmsg`, all zeros is a valid iovec and mmsghdr.
    let mut iovs: [iovec; BATCH] = unsafe { mem::zeroed() };
    let mut hdrs: [mmsghdr; BATCH] = unsafe { mem::zeroed() };
    let mut controls: [Control; BATCH] = [[0; 8]; BATCH];
    let mut count: usize = 0;
    for (((((buf, dst), local), control), iov), hdr) in bufs
        .iter()
        .zip(dsts)
        .zip(locals)
        .zip(controls.iter_mut())
        .zip(iovs.iter_mut())
        .zip(hdrs.iter_mut())
    {
        if let Some(local) = *local {
            pktinfo::set_source(&mut hdr.msg_hdr, control, local);
        }
        // The kernel only reads through these two pointers (see below).
        iov.iov_base = buf.as_ptr().cast_mut().cast();
        iov.iov_len = buf.len();
        hdr.msg_hdr.msg_name = dst.as_ptr().cast_mut().cast();
        hdr.msg_hdr.msg_namelen = dst.len();
        hdr.msg_hdr.msg_iov = iov;
        hdr.msg_hdr.msg_iovlen = 1;
        count += 1;
    }
    if count == 0 {
        return Ok(0);
    }
    // SAFETY: each of the first `count` headers points at one iovec covering
    // one whole reply, at one whole socket address (its length from
    // socket2) and, where a local address is known, at its control buffer
    // (its length in msg_controllen), all borrowed for the duration of the
    // call. sendmmsg reads them and writes only msg_len in the headers, so
    // the const-to-mut casts above are never written through.
    let rc = unsafe {
        libc::sendmmsg(
            fd,
            hdrs.as_mut_ptr(),
            count as c_uint,
            libc::MSG_DONTWAIT as _,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(rc).unwrap_or(0).min(count))
}

const STORAGE_LEN: socklen_t = mem::size_of::<sockaddr_storage>() as socklen_t;

/// The IPv4 or IPv6 address the kernel wrote into `addr` (`len` bytes).
fn socket_addr(addr: &sockaddr_storage, len: socklen_t) -> Option<SocketAddr> {
    let len = usize::try_from(len).ok()?;
    match c_int::from(addr.ss_family) {
        libc::AF_INET if len >= mem::size_of::<sockaddr_in>() => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET, length
            // checked); sockaddr_storage is large and aligned enough for
            // every socket address type.
            let a = unsafe { &*ptr::from_ref(addr).cast::<sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(a.sin_port)).into())
        }
        libc::AF_INET6 if len >= mem::size_of::<sockaddr_in6>() => {
            // SAFETY: as above, for a sockaddr_in6 (family AF_INET6).
            let a = unsafe { &*ptr::from_ref(addr).cast::<sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            let port = u16::from_be(a.sin6_port);
            Some(SocketAddrV6::new(ip, port, a.sin6_flowinfo, a.sin6_scope_id).into())
        }
        _ => None,
    }
}

/// Whether an error from `recvmmsg`/`sendmmsg` means the calls themselves
/// are unavailable here (then the portable path takes over for good). Not
/// EINVAL: `sendmmsg` reports that for one bad destination (a spoofed
/// source port 0), which must not turn batching off.
fn unsupported(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::ENOSYS | libc::EOPNOTSUPP))
}
