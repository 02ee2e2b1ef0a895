//! [`TcpSocket`]: a TCP socket configured before it connects or listens.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::io::Handle;
use crate::net::{TcpListener, TcpStream};

/// A TCP socket that has not yet been turned into a [`TcpStream`] or a [`TcpListener`]:
/// set options (`SO_REUSEADDR`, `SO_REUSEPORT`, buffer sizes, keep-alive, linger,
/// `TCP_NODELAY`), [`bind`](Self::bind) it, then [`connect`](Self::connect) or
/// [`listen`](Self::listen).
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use brisk::net::TcpSocket;
///
/// let socket = TcpSocket::new_v4()?;
/// socket.set_reuseaddr(true)?;
/// socket.bind("127.0.0.1:8080".parse().unwrap())?;
/// let listener = socket.listen(1024)?;
/// # drop(listener); Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    inner: Socket,
}

impl TcpSocket {
    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let inner = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        inner.set_nonblocking(true)?;
        Ok(TcpSocket { inner })
    }

    /// Creates an IPv4 TCP socket (nonblocking, close-on-exec).
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// Creates an IPv6 TCP socket (nonblocking, close-on-exec).
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    /// Sets `SO_KEEPALIVE`.
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.inner.set_keepalive(keepalive)
    }

    /// Whether `SO_KEEPALIVE` is set.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.inner.keepalive()
    }

    /// Sets `SO_REUSEADDR`: a listener may bind an address that connections in `TIME_WAIT`
    /// still use.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.inner.set_reuse_address(reuseaddr)
    }

    /// Whether `SO_REUSEADDR` is set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.inner.reuse_address()
    }

    /// Sets `SO_REUSEPORT`: several sockets with the option may bind the same address and
    /// port (the kernel spreads connections among the listeners).
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.inner.set_reuse_port(reuseport)
    }

    /// Whether `SO_REUSEPORT` is set.
    pub fn reuseport(&self) -> io::Result<bool> {
        self.inner.reuse_port()
    }

    /// Sets `SO_SNDBUF` (the kernel may round it; Linux doubles it).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_send_buffer_size(size as usize)
    }

    /// The `SO_SNDBUF` setting.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.inner
            .send_buffer_size()
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Sets `SO_RCVBUF` (the kernel may round it; Linux doubles it).
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_recv_buffer_size(size as usize)
    }

    /// The `SO_RCVBUF` setting.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.inner
            .recv_buffer_size()
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Sets `SO_LINGER` (see [`TcpStream::set_linger`]).
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.set_linger(dur)
    }

    /// The `SO_LINGER` setting.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.inner.linger()
    }

    /// Makes closing reset the connection (see [`TcpStream::set_zero_linger`]).
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.tcp_nodelay()
    }

    /// The local address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()?.as_socket().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the socket's local address is not an IP address",
            )
        })
    }

    /// Reads and clears the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    /// Binds the socket to `addr`. Fails with `AddrInUse` if the address is taken (and
    /// the options do not allow sharing it).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.bind(&addr.into())
    }

    /// Connects to `addr` and resolves to the stream once the connection is established;
    /// a refused connection is an error.
    ///
    /// # Panics
    ///
    /// Panics (when polled) if there is no current reactor.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        let handle = Handle::current();
        match self.inner.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let std: std::net::TcpStream = self.inner.into();
        let stream = TcpStream::with_handle(mio::net::TcpStream::from_std(std), &handle)?;
        stream.connected().await?;
        Ok(stream)
    }

    /// Listens for connections with a queue of `backlog` pending ones; binds an ephemeral
    /// port first if [`bind`](Self::bind) was not called.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let handle = Handle::current();
        self.inner
            .listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        let std: std::net::TcpListener = self.inner.into();
        TcpListener::with_handle(mio::net::TcpListener::from_std(std), &handle)
    }

    /// Wraps a std stream's socket (for its options), switching it to nonblocking mode.
    pub fn from_std_stream(stream: std::net::TcpStream) -> TcpSocket {
        let inner = Socket::from(stream);
        // A socket that refuses nonblocking mode fails its first operation instead.
        let _ = inner.set_nonblocking(true);
        TcpSocket { inner }
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}
