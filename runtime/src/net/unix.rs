//! Unix-domain stream sockets: [`UnixListener`], [`UnixStream`] and the stream's
//! split halves.
//!
//! A path whose first byte is NUL (`"\0name"`) names a socket in Linux's abstract namespace
//! (no file is created), as with tokio; [`UnixListener::bind_addr`] and
//! [`UnixStream::connect_addr`] take a ready-made [`SocketAddr`] instead.
//!
//! # Invariants
//!
//! * A [`UnixStream`] is registered for both directions; its halves share that one
//!   registration.
//! * Dropping a [`UnixListener`] does not remove its socket file (as with std).

use std::io;
pub use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::io::{Handle, Registered};

/// The address for `path`: an abstract name if it starts with a NUL byte (Linux), else
/// `None` (a filesystem path, used as is).
pub(crate) fn abstract_addr(path: &Path) -> io::Result<Option<SocketAddr>> {
    use std::os::unix::ffi::OsStrExt;
    match path.as_os_str().as_bytes() {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        [0, name @ ..] => {
            #[cfg(target_os = "android")]
            use std::os::android::net::SocketAddrExt;
            #[cfg(target_os = "linux")]
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name).map(Some)
        }
        _ => Ok(None),
    }
}

/// A Unix-domain socket server, listening for connections.
#[derive(Debug)]
pub struct UnixListener {
    io: Registered<mio::net::UnixListener>,
}

impl UnixListener {
    /// Creates a listener bound to `path` (synchronous, like tokio's). A path starting with
    /// a NUL byte is an abstract name (Linux). Fails with `AddrInUse` if the socket file (or
    /// abstract name) exists.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let handle = Handle::current();
        let listener = match abstract_addr(path.as_ref())? {
            Some(addr) => mio::net::UnixListener::bind_addr(&addr)?,
            None => mio::net::UnixListener::bind(path)?,
        };
        UnixListener::with_handle(listener, &handle)
    }

    /// Creates a listener bound to `addr` (a path or, on Linux, an abstract name).
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor.
    #[track_caller]
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        let handle = Handle::current();
        UnixListener::with_handle(mio::net::UnixListener::bind_addr(addr)?, &handle)
    }
}

crate::net::impl_listener!(
    UnixListener,
    mio::net::UnixListener,
    std::os::unix::net::UnixListener,
    UnixStream,
    SocketAddr
);

/// A Unix-domain stream connection.
///
/// Same interface as [`TcpStream`](crate::net::TcpStream): inherent `async` methods,
/// [`AsyncRead`](crate::io::AsyncRead)/[`AsyncWrite`](crate::io::AsyncWrite), the readiness
/// API and `try_*` methods, borrowed and owned split.
#[derive(Debug)]
pub struct UnixStream {
    io: Registered<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path` (an abstract name if it starts with a NUL byte, on
    /// Linux); resolves once the connection is established. A missing path fails with
    /// `NotFound`, a path nobody listens on with `ConnectionRefused`.
    ///
    /// # Panics
    ///
    /// Panics (when polled) if there is no current reactor.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let handle = Handle::current();
        let stream = match abstract_addr(path.as_ref())? {
            Some(addr) => mio::net::UnixStream::connect_addr(&addr)?,
            None => mio::net::UnixStream::connect(path)?,
        };
        UnixStream::connected(UnixStream::with_handle(stream, &handle)?).await
    }

    /// Connects to the socket at `addr` (a path or, on Linux, an abstract name).
    ///
    /// # Panics
    ///
    /// Panics (when polled) if there is no current reactor.
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let handle = Handle::current();
        let stream = mio::net::UnixStream::connect_addr(addr)?;
        UnixStream::connected(UnixStream::with_handle(stream, &handle)?).await
    }

    async fn connected(stream: UnixStream) -> io::Result<UnixStream> {
        std::future::poll_fn(|cx| crate::net::poll_connected(&stream.io, cx)).await?;
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
}

crate::net::impl_stream!(
    UnixStream,
    mio::net::UnixStream,
    std::os::unix::net::UnixStream,
    SocketAddr
);
