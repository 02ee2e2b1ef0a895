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
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{Context, Poll};

use mio::Interest;

use crate::io::Direction;
use crate::io::Handle;
use crate::io::Registered;
use crate::net::{each_addr, no_addresses, resolve};

/// A UDP socket.
#[derive(Debug)]
pub struct UdpSocket {
    io: Registered<mio::net::UdpSocket>,
}

impl UdpSocket {
    fn with_handle(socket: mio::net::UdpSocket, handle: &Handle) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: Registered::with_handle(socket, Interest::READABLE | Interest::WRITABLE, handle)?,
        })
    }

    /// Binds a socket to the first address of `addr` that works.
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

    /// The local address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The address the socket is connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Reads and clears the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
