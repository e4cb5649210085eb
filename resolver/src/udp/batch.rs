//! Receiving and sending UDP datagrams a batch at a time.
//!
//! [`Received`] holds up to [`BATCH`] datagrams taken from the socket at
//! once; [`Replies`] queues the answers written in the receive loop and
//! sends them together. On Linux each is one system call (`recvmmsg`,
//! `sendmmsg`; see [`mmsg`]), which is most of the cost of a small answer.
//! Elsewhere, or if the kernel refuses those calls, the same buffers are
//! filled with `recv_from` then `try_recv_from` until the socket is empty,
//! and sent with one `send_to` each.
//!
//! Every buffer is allocated once, when the batch is made; receiving and
//! sending allocate nothing.

use std::io;
use std::net::SocketAddr;

use socket2::SockAddr;
use tokio::net::UdpSocket;
use tracing::debug;

pub(crate) use local::Local;
pub(super) use sizes::{BATCH, RECEIVE_BUFFER};

/// Room reserved for each reply; a longer one grows its buffer once.
const REPLY_CAPACITY: usize = 512;

/// The datagrams of one receive call.
pub(super) struct Received {
    bufs: Vec<[u8; RECEIVE_BUFFER]>,
    /// Length, source and local address of each datagram of the last call
    /// (source `None`: an address that is not IPv4/IPv6, skipped).
    got: Vec<(usize, Option<SocketAddr>, Option<Local>)>,
    #[cfg(target_os = "linux")]
    sys: mmsg::RecvState,
}

impl Received {
    /// Buffers for [`BATCH`] datagrams, using `recvmmsg` where available.
    pub(super) fn new() -> Self {
        Received {
            bufs: vec![[0; RECEIVE_BUFFER]; BATCH],
            got: Vec::with_capacity(BATCH),
            #[cfg(target_os = "linux")]
            sys: mmsg::RecvState::new(),
        }
    }

    /// Buffers that always use `recv_from` (the fallback, for tests).
    #[cfg(test)]
    pub(super) fn portable() -> Self {
        #[allow(unused_mut)] // only Linux has a fast path to turn off
        let mut r = Self::new();
        #[cfg(target_os = "linux")]
        r.sys.disable();
        r
    }

    /// Wait for at least one datagram and take up to [`BATCH`]; returns how
    /// many. An error (such as an ICMP error from an earlier send) leaves
    /// the batch empty. Cancel-safe: nothing is lost if the future is
    /// dropped before it completes.
    pub(super) async fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.got.clear();
        #[cfg(target_os = "linux")]
        if let Some(result) = self.sys.recv(socket, &mut self.bufs, &mut self.got).await {
            return result;
        }
        self.recv_portable(socket).await
    }

    async fn recv_portable(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        let (len, src) = socket.recv_from(&mut self.bufs[0]).await?;
        self.got.push((len, Some(src), None));
        while self.got.len() < BATCH {
            match socket.try_recv_from(&mut self.bufs[self.got.len()]) {
                Ok((len, src)) => self.got.push((len, Some(src), None)),
                Err(error) => {
                    if error.kind() != io::ErrorKind::WouldBlock {
                        debug!(%error, "UDP receive error");
                    }
                    break;
                }
            }
        }
        Ok(self.got.len())
    }

    /// The datagrams of the last [`Received::recv`], their sources and the
    /// local addresses they were sent to (where known).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], SocketAddr, Option<Local>)> + '_ {
        self.got
            .iter()
            .zip(&self.bufs)
            .filter_map(|(&(len, src, local), buf)| {
                Some((&buf[..len.min(RECEIVE_BUFFER)], src?, local))
            })
    }
}

/// Replies waiting to be sent, each in its own reused buffer.
pub(super) struct Replies {
    bufs: Vec<Vec<u8>>,
    /// Destination of each queued reply (`bufs[i]` goes to `dsts[i]`).
    dsts: Vec<SockAddr>,
    /// The address each queued reply leaves from, where it matters.
    locals: Vec<Option<Local>>,
    #[cfg(target_os = "linux")]
    sys: mmsg::SendState,
}

impl Replies {
    /// Room for [`BATCH`] replies, sent with `sendmmsg` where available.
    pub(super) fn new() -> Self {
        Replies {
            bufs: (0..BATCH)
                .map(|_| Vec::with_capacity(REPLY_CAPACITY))
                .collect(),
            dsts: Vec::with_capacity(BATCH),
            locals: Vec::with_capacity(BATCH),
            #[cfg(target_os = "linux")]
            sys: mmsg::SendState::new(),
        }
    }

    /// Replies that are always sent with `send_to` (the fallback, for tests).
    #[cfg(test)]
    pub(super) fn portable() -> Self {
        #[allow(unused_mut)] // only Linux has a fast path to turn off
        let mut r = Self::new();
        #[cfg(target_os = "linux")]
        r.sys.disable();
        r
    }

    /// The buffer for the next reply, empty. Write the reply into it, then
    /// [`Replies::queue`] it; a buffer not queued is simply reused.
    pub(super) fn next_buffer(&mut self) -> &mut Vec<u8> {
        let i = self.dsts.len();
        if i == self.bufs.len() {
            // More replies than datagrams in a batch: cannot happen in the
            // receive loop, but stay correct if it does.
            self.bufs.push(Vec::with_capacity(REPLY_CAPACITY));
        }
        let buf = &mut self.bufs[i];
        buf.clear();
        buf
    }

    /// Queue the reply written into [`Replies::next_buffer`] for `dst`,
    /// to leave from `local` when known.
    pub(super) fn queue(&mut self, dst: SocketAddr, local: Option<Local>) {
        self.dsts.push(SockAddr::from(dst));
        self.locals.push(local);
    }

    /// Whether replies still go out with `sendmmsg`.
    #[cfg(test)]
    pub(super) fn batched(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.sys.enabled();
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Whether no reply is queued.
    pub(super) fn is_empty(&self) -> bool {
        self.dsts.is_empty()
    }

    /// How many replies are queued.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.dsts.len()
    }

    /// Send every queued reply. A reply that cannot be sent (such as one to
    /// an unreachable address) is logged and dropped; the others still go.
    pub(super) async fn flush(&mut self, socket: &UdpSocket) {
        #[cfg(target_os = "linux")]
        let sent = self
            .sys
            .send(socket, &self.bufs, &self.dsts, &self.locals)
            .await;
        #[cfg(not(target_os = "linux"))]
        let sent = 0;
        let rest = self.bufs.iter().zip(&self.dsts).zip(&self.locals);
        for ((buf, dst), &local) in rest.skip(sent) {
            let Some(dst) = dst.as_socket() else { continue };
            if let Err(error) = send_one(socket, buf, dst, local).await {
                debug!(client = %dst, %error, "UDP send failed");
            }
        }
        self.dsts.clear();
        self.locals.clear();
    }
}

/// Send one reply to `dst`, from `local` when known (Linux; elsewhere the
/// kernel picks the source).
pub(super) async fn send_one(
    socket: &UdpSocket,
    buf: &[u8],
    dst: SocketAddr,
    local: Option<Local>,
) -> io::Result<usize> {
    #[cfg(target_os = "linux")]
    if let Some(local) = local {
        use std::os::fd::AsRawFd as _;
        let fd = socket.as_raw_fd();
        let to = SockAddr::from(dst);
        return socket
            .async_io(tokio::io::Interest::WRITABLE, || {
                pktinfo::send_from(fd, buf, &to, local)
            })
            .await;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = local;
    socket.send_to(buf, dst).await
}

mod local;
#[cfg(target_os = "linux")]
mod mmsg;
#[cfg(target_os = "linux")]
pub(crate) mod pktinfo;
mod sizes;

#[cfg(test)]
mod tests;
