//! Unix-domain datagram sockets.

use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use crate::io::{Direction, Handle, Interest, Registered};
use crate::net::read_into_buf;
use crate::net::unix::abstract_addr;

/// A Unix-domain datagram socket.
///
/// Bound to a path ([`bind`](Self::bind); an abstract name on Linux if the path starts with
/// a NUL byte), unbound ([`unbound`](Self::unbound)) or one of a connected
/// [`pair`](Self::pair). Same operations as [`UdpSocket`](crate::net::UdpSocket), with
/// paths for addresses.
#[derive(Debug)]
pub struct UnixDatagram {
    io: Registered<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    fn with_handle(socket: mio::net::UnixDatagram, handle: &Handle) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: Registered::with_handle(socket, Interest::READABLE | Interest::WRITABLE, handle)?,
        })
    }

    /// Creates a socket bound to `path`. Fails with `AddrInUse` if the path exists.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let handle = Handle::current();
        let socket = match abstract_addr(path.as_ref())? {
            Some(addr) => mio::net::UnixDatagram::bind_addr(&addr)?,
            None => mio::net::UnixDatagram::bind(path)?,
        };
        UnixDatagram::with_handle(socket, &handle)
    }

    /// Creates a socket bound to `addr` (a path or, on Linux, an abstract name).
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        let handle = Handle::current();
        UnixDatagram::with_handle(mio::net::UnixDatagram::bind_addr(addr)?, &handle)
    }

    /// Creates a socket bound to no address: it can send, and receive replies only if it
    /// is connected or the peer answers an autobound address.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn unbound() -> io::Result<UnixDatagram> {
        let handle = Handle::current();
        UnixDatagram::with_handle(mio::net::UnixDatagram::unbound()?, &handle)
    }

    /// Creates a pair of connected, unnamed sockets.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let handle = Handle::current();
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((
            UnixDatagram::with_handle(a, &handle)?,
            UnixDatagram::with_handle(b, &handle)?,
        ))
    }

    /// Wraps a std socket, switching it to nonblocking mode.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        let handle = Handle::current();
        socket.set_nonblocking(true)?;
        UnixDatagram::with_handle(mio::net::UnixDatagram::from_std(socket), &handle)
    }

    /// Deregisters the socket and returns it as a std socket, still in nonblocking mode.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        let mio = self.io.into_inner()?;
        Ok(std::os::unix::net::UnixDatagram::from(
            std::os::fd::OwnedFd::from(mio),
        ))
    }

    /// Sets the default destination of `send` and the only source `recv` accepts.
    /// Fails with `NotFound` if nothing is bound at `path`.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        if is_abstract(path) {
            socket2::SockRef::from(self).connect(&socket2::SockAddr::unix(path)?)
        } else {
            self.io.get_ref().connect(path)
        }
    }

    /// Sends `buf` to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// Polls to send `buf` to the connected peer.
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(Direction::Write, cx, || self.io.get_ref().send(buf))
    }

    /// [`send`](Self::send) without waiting.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, || self.io.get_ref().send(buf))
    }

    /// Sends `buf` to the socket at `target`.
    pub async fn send_to(&self, buf: &[u8], target: impl AsRef<Path>) -> io::Result<usize> {
        let target = target.as_ref();
        poll_fn(|cx| self.poll_send_to(cx, buf, target)).await
    }

    /// Polls to send `buf` to the socket at `target`.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: &Path,
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(Direction::Write, cx, || self.send_to_nb(buf, target))
    }

    /// [`send_to`](Self::send_to) without waiting.
    pub fn try_send_to(&self, buf: &[u8], target: impl AsRef<Path>) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, || self.send_to_nb(buf, target.as_ref()))
    }

    fn send_to_nb(&self, buf: &[u8], target: &Path) -> io::Result<usize> {
        if is_abstract(target) {
            socket2::SockRef::from(self).send_to(buf, &socket2::SockAddr::unix(target)?)
        } else {
            self.io.get_ref().send_to(buf, target)
        }
    }

    /// Receives one datagram from the connected peer into `buf`; returns its length.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_recv(cx, buf)).await
    }

    /// Polls to receive one datagram into `buf`.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(Direction::Read, cx, || self.io.get_ref().recv(&mut *buf))
    }

    /// [`recv`](Self::recv) without waiting.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .try_io(Direction::Read, || self.io.get_ref().recv(buf))
    }

    /// Receives one datagram into the spare capacity of `buf` (advanced by the length).
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

    /// Receives one datagram into `buf`; returns its length and the sender's address.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    /// Polls to receive one datagram and its sender's address.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_io(Direction::Read, cx, || {
            self.io.get_ref().recv_from(&mut *buf)
        })
    }

    /// [`recv_from`](Self::recv_from) without waiting.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .try_io(Direction::Read, || self.io.get_ref().recv_from(buf))
    }

    /// Receives one datagram into `buf` without removing it from the queue.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io.poll_io(Direction::Read, cx, || {
                crate::net::peek_fd(self.io.get_ref(), &mut *buf)
            })
        })
        .await
    }

    /// [`peek`](Self::peek) without waiting.
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, || {
            crate::net::peek_fd(self.io.get_ref(), buf)
        })
    }

    /// The local address of the socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The address of the connected peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shuts down the read, write or both halves of the socket.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }
}

/// Whether `path` names an abstract socket (first byte NUL, Linux only).
fn is_abstract(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    cfg!(any(target_os = "linux", target_os = "android"))
        && path.as_os_str().as_bytes().first() == Some(&0)
}

crate::net::impl_readiness!(UnixDatagram, poll_recv_ready, poll_send_ready);
