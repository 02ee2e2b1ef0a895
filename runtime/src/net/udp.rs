//! UDP sockets.
//!
//! # Invariants
//!
//! * A [`UdpSocket`] is registered for both directions; any number of tasks may wait
//!   to send and to receive on one socket (share it with an `Arc`), and a datagram
//!   wakes every task waiting to receive.
//! * Datagram operations are all-or-nothing: a `send` never writes part of a datagram.

use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::task::{Context, Poll};

use crate::io::{Direction, Handle, Interest, Registered};
use crate::net::{each_addr, no_addresses, peek_from_fd, read_into_buf, resolve};

/// A UDP socket.
///
/// Besides the waiting operations (`send`, `recv`, `send_to`, `recv_from`, `peek_from`,
/// ...), it has tokio's nonblocking `try_*` forms, which fail with `WouldBlock` instead of
/// waiting (wait with `readable()`/`writable()` first), and the socket options of
/// broadcast and multicast.
#[derive(Debug)]
pub struct UdpSocket {
    io: Registered<mio::net::UdpSocket>,
}

/// The source address of a peeked datagram as a `SocketAddr`.
fn inet(addr: socket2::SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the datagram's source is not an IP address",
        )
    })
}

impl UdpSocket {
    fn with_handle(socket: mio::net::UdpSocket, handle: &Handle) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: Registered::with_handle(socket, Interest::READABLE | Interest::WRITABLE, handle)?,
        })
    }

    /// Binds a socket to the first address of `addr` that works. Fails with `AddrInUse` if
    /// another socket is bound to it.
    ///
    /// # Panics
    ///
    /// Panics (when polled) if there is no current reactor.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let addrs = resolve(addr)?;
        let handle = Handle::current();
        each_addr(addrs, |addr| {
            let handle = &handle;
            async move { UdpSocket::with_handle(mio::net::UdpSocket::bind(addr)?, handle) }
        })
        .await
    }

    /// Wraps a std socket, switching it to nonblocking mode.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        let handle = Handle::current();
        socket.set_nonblocking(true)?;
        UdpSocket::with_handle(mio::net::UdpSocket::from_std(socket), &handle)
    }

    /// Deregisters the socket and returns it as a std socket, still in nonblocking mode.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let mio = self.io.into_inner()?;
        Ok(std::net::UdpSocket::from(std::os::fd::OwnedFd::from(mio)))
    }

    /// Sets the default destination of [`send`](Self::send) and the only source that
    /// [`recv`](Self::recv) accepts: the first address of `addr` that works.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let addrs = resolve(addr)?;
        each_addr(addrs, |addr| async move { self.io.get_ref().connect(addr) }).await
    }

    /// Sends `buf` to the connected peer; returns the number of bytes sent.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// Polls to send `buf` to the connected peer.
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(Direction::Write, cx, || self.io.get_ref().send(buf))
    }

    /// Sends `buf` to the connected peer without waiting (`WouldBlock` if the socket is
    /// not writable now).
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, || self.io.get_ref().send(buf))
    }

    /// Receives one datagram from the connected peer into `buf`; returns its length
    /// (the excess of a datagram longer than `buf` is discarded).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_recv(cx, buf)).await
    }

    /// Polls to receive one datagram from the connected peer into `buf`.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(Direction::Read, cx, || self.io.get_ref().recv(&mut *buf))
    }

    /// Receives one datagram from the connected peer without waiting (`WouldBlock` if none
    /// is queued).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Read, || self.io.get_ref().recv(buf))
    }

    /// Receives one datagram from the connected peer into the spare capacity of `buf`
    /// (advanced by the length).
    pub async fn recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io.poll_io(Direction::Read, cx, || {
                read_into_buf(&mut *buf, |b| self.io.get_ref().recv(b))
            })
        })
        .await
    }

    /// [`recv_buf`](Self::recv_buf) without waiting.
    pub fn try_recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.io.try_io(Direction::Read, || {
            read_into_buf(buf, |b| self.io.get_ref().recv(b))
        })
    }

    /// Sends `buf` to the first address of `target`; returns the number of bytes sent.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = resolve(target)?
            .into_iter()
            .next()
            .ok_or_else(no_addresses)?;
        poll_fn(|cx| self.poll_send_to(cx, buf, target)).await
    }

    /// Polls to send `buf` to `target`.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_io(Direction::Write, cx, || {
            self.io.get_ref().send_to(buf, target)
        })
    }

    /// Sends `buf` to `target` without waiting.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, || self.io.get_ref().send_to(buf, target))
    }

    /// Receives one datagram into `buf`; returns its length and its source address.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    /// Polls to receive one datagram into `buf`.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_io(Direction::Read, cx, || {
            self.io.get_ref().recv_from(&mut *buf)
        })
    }

    /// Receives one datagram without waiting (`WouldBlock` if none is queued).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .try_io(Direction::Read, || self.io.get_ref().recv_from(buf))
    }

    /// Receives one datagram into the spare capacity of `buf` (advanced by the length);
    /// returns the length and the source address.
    pub async fn recv_buf_from<B: bytes::BufMut>(
        &self,
        buf: &mut B,
    ) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| {
            self.io
                .poll_io(Direction::Read, cx, || self.recv_buf_from_nb(&mut *buf))
        })
        .await
    }

    /// [`recv_buf_from`](Self::recv_buf_from) without waiting.
    pub fn try_recv_buf_from<B: bytes::BufMut>(
        &self,
        buf: &mut B,
    ) -> io::Result<(usize, SocketAddr)> {
        self.io
            .try_io(Direction::Read, || self.recv_buf_from_nb(buf))
    }

    fn recv_buf_from_nb<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<(usize, SocketAddr)> {
        let mut from = None;
        let n = read_into_buf(buf, |b| {
            let (n, addr) = self.io.get_ref().recv_from(b)?;
            from = Some(addr);
            Ok(n)
        })?;
        Ok((n, from.expect("recv_from succeeded, so it gave an address")))
    }

    /// Receives one datagram from the connected peer into `buf` without removing it from
    /// the queue: the next `recv` returns it again.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io
                .poll_io(Direction::Read, cx, || self.io.get_ref().peek(&mut *buf))
        })
        .await
    }

    /// [`peek`](Self::peek) without waiting.
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Read, || self.io.get_ref().peek(buf))
    }

    /// Receives one datagram into `buf` without removing it from the queue; returns its
    /// length and its source address.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_peek_from(cx, buf)).await
    }

    /// Polls to peek at one datagram (see [`peek_from`](Self::peek_from)).
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_io(Direction::Read, cx, || {
            self.io.get_ref().peek_from(&mut *buf)
        })
    }

    /// [`peek_from`](Self::peek_from) without waiting.
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .try_io(Direction::Read, || self.io.get_ref().peek_from(buf))
    }

    /// The source address of the next datagram, which stays queued.
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        poll_fn(|cx| {
            self.io
                .poll_io(Direction::Read, cx, || self.peek_sender_nb())
        })
        .await
    }

    /// [`peek_sender`](Self::peek_sender) without waiting.
    pub fn try_peek_sender(&self) -> io::Result<SocketAddr> {
        self.io.try_io(Direction::Read, || self.peek_sender_nb())
    }

    fn peek_sender_nb(&self) -> io::Result<SocketAddr> {
        // A zero-length peek reports the sender and leaves the datagram queued (the
        // datagram is "truncated" to nothing only in this copy).
        let (_, addr) = peek_from_fd(self.io.get_ref(), &mut [])?;
        inet(addr)
    }

    /// The local address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The address the socket is connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`: whether datagrams may be sent to a broadcast address.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Sets `IP_MULTICAST_LOOP`: whether multicast datagrams sent by this socket are looped
    /// back to local listeners.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v4(on)
    }

    /// Whether `IP_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`: the time-to-live of outgoing multicast datagrams.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// The `IP_MULTICAST_TTL` setting.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.io.get_ref().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v6(on)
    }

    /// Whether `IPV6_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v6()
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with address
    /// `interface` (`Ipv4Addr::UNSPECIFIED`: the system's choice).
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().join_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with index `interface`
    /// (0: the system's choice).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group joined with
    /// [`join_multicast_v4`](Self::join_multicast_v4).
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves an IPv6 multicast group joined with
    /// [`join_multicast_v6`](Self::join_multicast_v6).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v6(multiaddr, interface)
    }

    /// Sets `IP_TTL`: the time-to-live of outgoing unicast datagrams.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The `IP_TTL` setting.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }
}

crate::net::impl_readiness!(UdpSocket, poll_recv_ready, poll_send_ready);
