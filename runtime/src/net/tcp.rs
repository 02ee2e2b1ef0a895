//! TCP sockets: [`TcpListener`], [`TcpStream`] and the stream's split halves.
//!
//! # Invariants
//!
//! * A [`TcpStream`] is registered for both directions; its halves share that one
//!   registration, so one reader task and one writer task can wait at the same time.
//! * A `TcpStream` returned by `connect` or `accept` is connected.

use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{ready, Context, Poll};

use mio::Interest;

use crate::io::Direction;
use crate::io::Handle;
use crate::io::Registered;
use crate::net::{each_addr, resolve};

/// A TCP socket server, listening for connections.
#[derive(Debug)]
pub struct TcpListener {
    io: Registered<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds a listener to the first address of `addr` that works (`SO_REUSEADDR` set).
    ///
    /// # Panics
    ///
    /// Panics (when polled) if there is no current reactor.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let addrs = resolve(addr)?;
        let handle = Handle::current();
        each_addr(addrs, |addr| {
            let handle = &handle;
            async move {
                let listener = mio::net::TcpListener::bind(addr)?;
                Ok(TcpListener {
                    io: Registered::with_handle(listener, Interest::READABLE, handle)?,
                })
            }
        })
        .await
    }

    /// Wraps a std listener, switching it to nonblocking mode.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        let handle = Handle::current();
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: Registered::with_handle(
                mio::net::TcpListener::from_std(listener),
                Interest::READABLE,
                &handle,
            )?,
        })
    }

    /// Waits for and accepts a new connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls to accept a new connection (the poll form of [`accept`](Self::accept)).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, addr) = ready!(self
            .io
            .poll_io(Direction::Read, cx, || self.io.get_ref().accept()))?;
        Poll::Ready(TcpStream::with_handle(stream, self.io.handle()).map(|s| (s, addr)))
    }

    /// The local address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Reads and clears the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

/// A TCP connection.
///
/// Read and write with the inherent `async` methods or through
/// [`futures_io::AsyncRead`]/[`futures_io::AsyncWrite`]; split it with
/// [`split`](TcpStream::split) or [`into_split`](TcpStream::into_split) to read and
/// write from two tasks.
#[derive(Debug)]
pub struct TcpStream {
    io: Registered<mio::net::TcpStream>,
}

impl TcpStream {
    fn with_handle(stream: mio::net::TcpStream, handle: &Handle) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Registered::with_handle(stream, Interest::READABLE | Interest::WRITABLE, handle)?,
        })
    }

    /// Connects to `addr`, trying each resolved address in turn until one succeeds.
    ///
    /// Resolves once the connection is established; a refused connection is an error.
    ///
    /// # Panics
    ///
    /// Panics (when polled) if there is no current reactor.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let addrs = resolve(addr)?;
        let handle = Handle::current();
        each_addr(addrs, |addr| {
            let handle = &handle;
            async move {
                let stream = TcpStream::with_handle(mio::net::TcpStream::connect(addr)?, handle)?;
                poll_fn(|cx| crate::net::poll_connected(&stream.io, cx)).await?;
                Ok(stream)
            }
        })
        .await
    }

    /// Wraps a connected std stream, switching it to nonblocking mode.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        let handle = Handle::current();
        stream.set_nonblocking(true)?;
        TcpStream::with_handle(mio::net::TcpStream::from_std(stream), &handle)
    }

    /// The remote address of the connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Reads and clears the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Splits the stream into a read half and a write half that borrow it, for
    /// reading and writing at the same time within one task.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split(self)
    }

    /// Splits the stream into owned halves that can move to different tasks.
    /// Dropping the write half shuts down the write direction;
    /// [`OwnedReadHalf::reunite`] puts them back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        into_split(self)
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

crate::net::impl_read_side!([] TcpStream, |this| &this.io);
crate::net::impl_write_side!([] TcpStream, |this| &this.io);
crate::net::define_split!(TcpStream, SocketAddr);
