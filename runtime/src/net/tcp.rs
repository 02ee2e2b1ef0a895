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
use std::time::Duration;

use crate::io::{Handle, Registered};
use crate::net::{each_addr, resolve};

/// A TCP socket server, listening for connections.
#[derive(Debug)]
pub struct TcpListener {
    io: Registered<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds a listener to the first address of `addr` that works (`SO_REUSEADDR` set).
    /// Fails with `AddrInUse` if another socket listens on the address.
    ///
    /// # Panics
    ///
    /// Panics (when polled) if there is no current reactor.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let addrs = resolve(addr)?;
        let handle = Handle::current();
        each_addr(addrs, |addr| {
            let handle = &handle;
            async move { TcpListener::with_handle(mio::net::TcpListener::bind(addr)?, handle) }
        })
        .await
    }

    /// The IP time-to-live of the listener's socket (`IP_TTL`).
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets the IP time-to-live of the listener's socket, inherited by accepted streams.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }
}

crate::net::impl_listener!(
    TcpListener,
    mio::net::TcpListener,
    std::net::TcpListener,
    TcpStream,
    SocketAddr
);

/// A TCP connection.
///
/// Read and write with the inherent `async` methods, through
/// [`AsyncRead`](crate::io::AsyncRead)/[`AsyncWrite`](crate::io::AsyncWrite) and the helpers
/// of [`crate::io`], or with the nonblocking `try_*` methods after `readable()`/`writable()`;
/// split it with [`split`](TcpStream::split) or [`into_split`](TcpStream::into_split) to read
/// and write from two tasks.
#[derive(Debug)]
pub struct TcpStream {
    io: Registered<mio::net::TcpStream>,
}

impl TcpStream {
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
                stream.connected().await?;
                Ok(stream)
            }
        })
        .await
    }

    /// Waits until a nonblocking connect has completed; resolves to its outcome.
    pub(crate) async fn connected(&self) -> io::Result<()> {
        poll_fn(|cx| crate::net::poll_connected(&self.io, cx)).await
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets `SO_LINGER`: with `Some(d)`, closing the socket blocks the closing thread for up
    /// to `d` while unsent data drains; `Some(Duration::ZERO)` resets the connection on
    /// close instead (see [`set_zero_linger`](Self::set_zero_linger)); `None` is the
    /// default (close returns at once, the kernel sends the rest).
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        socket2::SockRef::from(self).set_linger(dur)
    }

    /// The `SO_LINGER` setting (see [`set_linger`](Self::set_linger)).
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        socket2::SockRef::from(self).linger()
    }

    /// Makes dropping the stream reset the connection (`SO_LINGER` of zero): unsent data
    /// is discarded and the peer's next read fails with `ConnectionReset`.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// The IP time-to-live of the stream's packets (`IP_TTL`).
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets the IP time-to-live of the stream's packets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }
}

crate::net::impl_stream!(
    TcpStream,
    mio::net::TcpStream,
    std::net::TcpStream,
    SocketAddr
);
