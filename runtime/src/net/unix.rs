//! Unix-domain stream sockets: [`UnixListener`], [`UnixStream`] and the stream's
//! split halves.
//!
//! # Invariants
//!
//! * A [`UnixStream`] is registered for both directions; its halves share that one
//!   registration.
//! * Dropping a [`UnixListener`] does not remove its socket file (as with std).

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{ready, Context, Poll};

use mio::Interest;

use crate::io::Direction;
use crate::io::Handle;
use crate::io::Registered;

/// A Unix-domain socket server, listening for connections.
#[derive(Debug)]
pub struct UnixListener {
    io: Registered<mio::net::UnixListener>,
}

impl UnixListener {
    /// Creates a listener bound to `path` (synchronous, like tokio's).
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let handle = Handle::current();
        let listener = mio::net::UnixListener::bind(path)?;
        Ok(UnixListener {
            io: Registered::with_handle(listener, Interest::READABLE, &handle)?,
        })
    }

    /// Wraps a std listener, switching it to nonblocking mode.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        let handle = Handle::current();
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: Registered::with_handle(
                mio::net::UnixListener::from_std(listener),
                Interest::READABLE,
                &handle,
            )?,
        })
    }

    /// Waits for and accepts a new connection.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls to accept a new connection (the poll form of [`accept`](Self::accept)).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (stream, addr) = ready!(self
            .io
            .poll_io(Direction::Read, cx, || self.io.get_ref().accept()))?;
        Poll::Ready(UnixStream::with_handle(stream, self.io.handle()).map(|s| (s, addr)))
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

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

/// A Unix-domain stream connection.
///
/// Same interface as [`TcpStream`](crate::net::TcpStream): inherent `async` methods,
/// [`futures_io::AsyncRead`]/[`futures_io::AsyncWrite`], borrowed and owned split.
#[derive(Debug)]
pub struct UnixStream {
    io: Registered<mio::net::UnixStream>,
}

impl UnixStream {
    fn with_handle(stream: mio::net::UnixStream, handle: &Handle) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Registered::with_handle(stream, Interest::READABLE | Interest::WRITABLE, handle)?,
        })
    }

    /// Connects to the socket at `path`; resolves once the connection is established.
    ///
    /// # Panics
    ///
    /// Panics (when polled) if there is no current reactor.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let handle = Handle::current();
        let stream = UnixStream::with_handle(mio::net::UnixStream::connect(path)?, &handle)?;
        poll_fn(|cx| crate::net::poll_connected(&stream.io, cx)).await?;
        Ok(stream)
    }

    /// Creates a pair of connected, unnamed streams.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let handle = Handle::current();
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((
            UnixStream::with_handle(a, &handle)?,
            UnixStream::with_handle(b, &handle)?,
        ))
    }

    /// Wraps a connected std stream, switching it to nonblocking mode.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        let handle = Handle::current();
        stream.set_nonblocking(true)?;
        UnixStream::with_handle(mio::net::UnixStream::from_std(stream), &handle)
    }

    /// The address of the remote end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The address of the local end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Reads and clears the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Splits the stream into a read half and a write half that borrow it.
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

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

crate::net::impl_read_side!([] UnixStream, |this| &this.io);
crate::net::impl_write_side!([] UnixStream, |this| &this.io);
crate::net::define_split!(UnixStream, SocketAddr);
