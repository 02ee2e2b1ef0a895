//! TCP, UDP and Unix-domain sockets driven by the brisk reactor.
//!
//! The types mirror tokio's `tokio::net` where they overlap: addresses are any
//! [`std::net::ToSocketAddrs`], `bind`/`connect` are `async` for every type except
//! [`UnixListener::bind`] and [`UnixStream::pair`], and `from_std` switches the std
//! socket to nonblocking mode. Streams implement [`futures_io::AsyncRead`] and
//! [`futures_io::AsyncWrite`] (`poll_close` shuts down the write half) and split into
//! borrowed ([`tcp::ReadHalf`]...) or owned ([`tcp::OwnedReadHalf`]...) halves.
//!
//! With the feature `tokio-io`, the streams and all their halves also implement
//! `tokio::io::AsyncRead` and `tokio::io::AsyncWrite` (`poll_shutdown` shuts down the
//! write half), so that crates written against tokio's I/O traits (tokio-util codecs,
//! `tokio::io::copy`, ...) run on brisk. Only tokio's traits are used, not its runtime.
//!
//! None of the types is buffered, so none implements `AsyncBufRead`: wrap a stream or a
//! read half in a buffered reader ([`crate::io::BufReader`]).
//!
//! Every socket type also has tokio's readiness API: `ready(interest)`, `readable()`,
//! `writable()`, the nonblocking `try_*` operations (which fail with `WouldBlock` instead of
//! waiting) and `try_io`; streams have `poll_read_ready`/`poll_write_ready`, datagram sockets
//! `poll_recv_ready`/`poll_send_ready`, as in tokio. `into_std` hands the socket back to std
//! (still in nonblocking mode). [`TcpSocket`] configures a TCP socket before it connects or
//! listens. Unix socket paths that start with a NUL byte (`"\0name"`) name sockets in Linux's
//! abstract namespace.
//!
//! # Invariants
//!
//! * Every socket is registered with the reactor current on the thread that created
//!   it (`Handle::current`); accepted streams use their
//!   listener's reactor. Creating one with no current reactor panics.
//! * Every operation poll spends cooperative budget first and never blocks
//!   the thread (host name resolution excepted, see the crate docs).
//! * `connect` resolves only after the connection is established or has failed:
//!   a refused connection is an error, never a hang.
//! * Methods that take `&self` (`accept`, the UDP operations) may be awaited by
//!   several tasks at once; readiness wakes all of them and the losers wait again.
//! * Dropping an [`OwnedWriteHalf`](tcp::OwnedWriteHalf) shuts down the write half
//!   of the stream (as tokio does); dropping any socket deregisters it.

use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::task::{ready, Context, Poll};

use mio::event::Source;

use crate::coop;
use crate::io::Direction;
use crate::io::Registered;

pub mod tcp;
mod tcp_socket;
mod udp;
pub mod unix;
mod unix_datagram;

pub use tcp::{TcpListener, TcpStream};
pub use tcp_socket::TcpSocket;
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
pub use unix_datagram::UnixDatagram;

/// Resolves `addr` to a list of socket addresses (on the calling thread).
fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    Ok(addr.to_socket_addrs()?.collect())
}

/// Error for an address that resolved to nothing.
fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any address",
    )
}

/// Tries `f` on each address in turn; returns the first success or the last error.
async fn each_addr<T, F, Fut>(addrs: Vec<SocketAddr>, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addrs {
        match f(addr).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}

/// What the stream helpers need from a mio stream type.
pub(crate) trait StreamSource: Source {
    fn read_nb(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn read_vectored_nb(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize>;
    fn write_nb(&self, buf: &[u8]) -> io::Result<usize>;
    fn write_vectored_nb(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    fn shutdown_nb(&self, how: Shutdown) -> io::Result<()>;
    fn take_error_nb(&self) -> io::Result<Option<io::Error>>;
    /// `Ok(())` once connected; `NotConnected` while a connect is in progress.
    fn connected_nb(&self) -> io::Result<()>;
}

/// Reads into the spare capacity of `buf` with `read`, then advances `buf` by the count.
///
/// The spare bytes are zeroed first, so `read` only ever sees initialized memory.
pub(crate) fn read_into_buf<B: bytes::BufMut + ?Sized>(
    buf: &mut B,
    read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    let dst = buf.chunk_mut();
    let len = dst.len();
    let ptr = dst.as_mut_ptr();
    // SAFETY: `chunk_mut` hands out `len` bytes valid for writes, owned by `buf`, which this
    // function borrows mutably, so nothing else accesses them. Zeroing them initializes them,
    // which makes a `&mut [u8]` over them valid while `buf` stays borrowed.
    let slice = unsafe {
        std::ptr::write_bytes(ptr, 0, len);
        std::slice::from_raw_parts_mut(ptr, len)
    };
    let n = read(slice)?;
    assert!(n <= len, "a read reported more bytes than its buffer holds");
    // SAFETY: the first `n <= len` bytes of the chunk are initialized (zeroed above, then
    // written by the read).
    unsafe { buf.advance_mut(n) };
    Ok(n)
}

/// The `Direction` of an interest with exactly one direction, for `try_io`.
#[track_caller]
pub(crate) fn single_direction(interest: mio::Interest) -> Direction {
    match (interest.is_readable(), interest.is_writable()) {
        (true, false) => Direction::Read,
        (false, true) => Direction::Write,
        _ => panic!(
            "try_io takes Interest::READABLE or Interest::WRITABLE, not both: got {interest:?}"
        ),
    }
}

/// Implements tokio's readiness API (`ready`, `readable`, `writable`, `try_io`, the two
/// `poll_*_ready` under the given names), `take_error`, `AsRawFd` and `AsFd` for a socket type
/// with an `io: Registered<_>` field.
macro_rules! impl_readiness {
    ($ty:ty, $poll_read_ready:ident, $poll_write_ready:ident) => {
        impl $ty {
            /// Waits until the socket is ready for one of the directions in `interest` and
            /// returns the readiness seen. It may be a false positive: the next `try_*`
            /// operation can still fail with `WouldBlock` (which clears the readiness).
            pub async fn ready(
                &self,
                interest: crate::io::Interest,
            ) -> std::io::Result<crate::io::Ready> {
                std::future::poll_fn(|cx| self.io.poll_ready_interest(interest, cx)).await
            }

            /// Waits until the socket is readable: `ready(Interest::READABLE)`.
            pub async fn readable(&self) -> std::io::Result<()> {
                self.ready(crate::io::Interest::READABLE).await.map(drop)
            }

            /// Waits until the socket is writable: `ready(Interest::WRITABLE)`.
            pub async fn writable(&self) -> std::io::Result<()> {
                self.ready(crate::io::Interest::WRITABLE).await.map(drop)
            }

            /// Polls for read readiness. On `Pending` the task is woken when the socket
            /// becomes readable; only the waker of the last call is guaranteed a wake-up.
            pub fn $poll_read_ready(
                &self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.io.poll_read_ready(cx).map(|r| r.map(drop))
            }

            /// Polls for write readiness. On `Pending` the task is woken when the socket
            /// becomes writable.
            pub fn $poll_write_ready(
                &self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.io.poll_write_ready(cx).map(|r| r.map(drop))
            }

            /// Runs the nonblocking operation `f` on the socket if it is ready for
            /// `interest` (exactly one of `Interest::READABLE`, `Interest::WRITABLE`), else
            /// fails with `WouldBlock`. A `WouldBlock` from `f` clears the readiness, so the
            /// next `ready`/`readable`/`writable` waits for a new event.
            ///
            /// # Panics
            ///
            /// Panics if `interest` names both directions.
            #[track_caller]
            pub fn try_io<R>(
                &self,
                interest: crate::io::Interest,
                f: impl FnOnce() -> std::io::Result<R>,
            ) -> std::io::Result<R> {
                let dir = crate::net::single_direction(interest);
                self.io.try_io(dir, f)
            }

            /// Reads and clears the socket's pending error (`SO_ERROR`).
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.io.get_ref().take_error()
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }
    };
}

/// Implements what `TcpListener` and `UnixListener` share: `from_std`, `into_std`,
/// `accept`, `poll_accept`, `local_addr`, `take_error`, `AsRawFd`, `AsFd`.
macro_rules! impl_listener {
    ($ty:ident, $mio:ty, $std:ty, $stream:ident, $addr:ty) => {
        impl $ty {
            pub(crate) fn with_handle(
                listener: $mio,
                handle: &crate::io::Handle,
            ) -> std::io::Result<$ty> {
                Ok($ty {
                    io: crate::io::Registered::with_handle(
                        listener,
                        crate::io::Interest::READABLE,
                        handle,
                    )?,
                })
            }

            /// Wraps a std listener, switching it to nonblocking mode.
            ///
            /// # Panics
            ///
            /// Panics if there is no current reactor (not within a brisk runtime).
            #[track_caller]
            pub fn from_std(listener: $std) -> std::io::Result<$ty> {
                let handle = crate::io::Handle::current();
                listener.set_nonblocking(true)?;
                $ty::with_handle(<$mio>::from_std(listener), &handle)
            }

            /// Deregisters the listener and returns it as a std listener, still in
            /// nonblocking mode (call `set_nonblocking(false)` for blocking use).
            pub fn into_std(self) -> std::io::Result<$std> {
                let mio = self.io.into_inner()?;
                Ok(<$std>::from(std::os::fd::OwnedFd::from(mio)))
            }

            /// Waits for and accepts a new connection.
            pub async fn accept(&self) -> std::io::Result<($stream, $addr)> {
                std::future::poll_fn(|cx| self.poll_accept(cx)).await
            }

            /// Polls to accept a new connection (the poll form of [`accept`](Self::accept)).
            pub fn poll_accept(
                &self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<($stream, $addr)>> {
                let (stream, addr) =
                    std::task::ready!(self.io.poll_io(crate::io::Direction::Read, cx, || self
                        .io
                        .get_ref()
                        .accept()))?;
                std::task::Poll::Ready(
                    $stream::with_handle(stream, self.io.handle()).map(|s| (s, addr)),
                )
            }

            /// The local address the listener is bound to.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.io.get_ref().local_addr()
            }

            /// Reads and clears the socket's pending error (`SO_ERROR`).
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.io.get_ref().take_error()
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }
    };
}

/// Implements what `TcpStream` and `UnixStream` share: construction from mio and std,
/// `into_std`, addresses, the `try_*` operations, `peek`, `split`/`into_split`, the readiness
/// API, the read and write sides (inherent and trait), and the split halves (the last one
/// defines items in the invoking module).
macro_rules! impl_stream {
    ($ty:ident, $mio:ty, $std:ty, $addr:ty) => {
        impl $ty {
            pub(crate) fn with_handle(
                stream: $mio,
                handle: &crate::io::Handle,
            ) -> std::io::Result<$ty> {
                Ok($ty {
                    io: crate::io::Registered::with_handle(
                        stream,
                        crate::io::Interest::READABLE | crate::io::Interest::WRITABLE,
                        handle,
                    )?,
                })
            }

            /// Wraps a connected std stream, switching it to nonblocking mode.
            ///
            /// # Panics
            ///
            /// Panics if there is no current reactor (not within a brisk runtime).
            #[track_caller]
            pub fn from_std(stream: $std) -> std::io::Result<$ty> {
                let handle = crate::io::Handle::current();
                stream.set_nonblocking(true)?;
                $ty::with_handle(<$mio>::from_std(stream), &handle)
            }

            /// Deregisters the stream and returns it as a std stream, still in nonblocking
            /// mode (call `set_nonblocking(false)` for blocking use).
            pub fn into_std(self) -> std::io::Result<$std> {
                let mio = self.io.into_inner()?;
                Ok(<$std>::from(std::os::fd::OwnedFd::from(mio)))
            }

            /// The address of the remote end.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.io.get_ref().peer_addr()
            }

            /// The address of the local end.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.io.get_ref().local_addr()
            }

            /// Reads what is available into `buf` without waiting: `WouldBlock` if nothing
            /// is (by the reactor's account), `Ok(0)` at end of stream.
            pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                use crate::net::StreamSource;
                self.io
                    .try_io(crate::io::Direction::Read, || self.io.get_ref().read_nb(buf))
            }

            /// Like [`try_read`](Self::try_read), into several buffers.
            pub fn try_read_vectored(
                &self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                use crate::net::StreamSource;
                self.io.try_io(crate::io::Direction::Read, || {
                    self.io.get_ref().read_vectored_nb(bufs)
                })
            }

            /// Like [`try_read`](Self::try_read), into the spare capacity of `buf`, which
            /// is advanced by the count.
            pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> std::io::Result<usize> {
                use crate::net::StreamSource;
                self.io.try_io(crate::io::Direction::Read, || {
                    crate::net::read_into_buf(buf, |b| self.io.get_ref().read_nb(b))
                })
            }

            /// Writes what the socket accepts of `buf` without waiting: `WouldBlock` if it
            /// accepts nothing now.
            pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                use crate::net::StreamSource;
                self.io
                    .try_io(crate::io::Direction::Write, || self.io.get_ref().write_nb(buf))
            }

            /// Like [`try_write`](Self::try_write), from several buffers.
            pub fn try_write_vectored(
                &self,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::io::Result<usize> {
                use crate::net::StreamSource;
                self.io.try_io(crate::io::Direction::Write, || {
                    self.io.get_ref().write_vectored_nb(bufs)
                })
            }

            /// Receives data into `buf` without removing it from the socket's queue: the
            /// next read returns the same bytes. Waits until some data (or end of stream)
            /// is there.
            pub async fn peek(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::future::poll_fn(|cx| {
                    self.io.poll_io(crate::io::Direction::Read, cx, || {
                        crate::net::peek_fd(self.io.get_ref(), &mut *buf)
                    })
                })
                .await
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

        crate::net::impl_readiness!($ty, poll_read_ready, poll_write_ready);
        crate::net::impl_read_side!([] $ty, |this| &this.io);
        crate::net::impl_write_side!([] $ty, |this| &this.io);
        crate::net::define_split!($ty, $addr);
    };
}

/// `recv(MSG_PEEK)` on any socket: the bytes stay queued.
pub(crate) fn peek_fd(fd: &impl std::os::fd::AsFd, buf: &mut [u8]) -> io::Result<usize> {
    socket2::SockRef::from(fd).peek(as_uninit(buf))
}

/// `recvfrom(MSG_PEEK)` on any socket: the datagram stays queued.
pub(crate) fn peek_from_fd(
    fd: &impl std::os::fd::AsFd,
    buf: &mut [u8],
) -> io::Result<(usize, socket2::SockAddr)> {
    socket2::SockRef::from(fd).peek_from(as_uninit(buf))
}

/// Views initialized bytes as possibly uninitialized ones, for socket2's receive calls.
fn as_uninit(buf: &mut [u8]) -> &mut [std::mem::MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`. The callers hand the slice only to
    // socket2's `peek`/`peek_from`, which write initialized bytes (what the kernel copied)
    // and never write uninitialized ones, so `buf` stays initialized.
    unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) }
}

macro_rules! stream_source {
    ($mio:ty) => {
        impl crate::net::StreamSource for $mio {
            fn read_nb(&self, buf: &mut [u8]) -> io::Result<usize> {
                (&*self).read(buf)
            }
            fn read_vectored_nb(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
            fn write_nb(&self, buf: &[u8]) -> io::Result<usize> {
                (&*self).write(buf)
            }
            fn write_vectored_nb(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                (&*self).write_vectored(bufs)
            }
            fn shutdown_nb(&self, how: Shutdown) -> io::Result<()> {
                self.shutdown(how)
            }
            fn take_error_nb(&self) -> io::Result<Option<io::Error>> {
                self.take_error()
            }
            fn connected_nb(&self) -> io::Result<()> {
                self.peer_addr().map(drop)
            }
        }
    };
}

stream_source!(mio::net::TcpStream);
stream_source!(mio::net::UnixStream);

pub(crate) fn poll_read<S: StreamSource>(
    io: &Registered<S>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let len = buf.len();
    io.poll_read_stream(cx, len, || io.get_ref().read_nb(&mut *buf))
}

pub(crate) fn poll_read_vectored<S: StreamSource>(
    io: &Registered<S>,
    cx: &mut Context<'_>,
    bufs: &mut [IoSliceMut<'_>],
) -> Poll<io::Result<usize>> {
    io.poll_io(Direction::Read, cx, || {
        io.get_ref().read_vectored_nb(&mut *bufs)
    })
}

pub(crate) fn poll_write<S: StreamSource>(
    io: &Registered<S>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    io.poll_io(Direction::Write, cx, || io.get_ref().write_nb(buf))
}

pub(crate) fn poll_write_vectored<S: StreamSource>(
    io: &Registered<S>,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    io.poll_io(Direction::Write, cx, || {
        io.get_ref().write_vectored_nb(bufs)
    })
}

pub(crate) fn poll_shutdown<S: StreamSource>(
    io: &Registered<S>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    ready!(coop::poll_proceed(cx));
    Poll::Ready(io.get_ref().shutdown_nb(Shutdown::Write))
}

pub(crate) async fn read_exact<S: StreamSource>(
    io: &Registered<S>,
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = poll_fn(|cx| poll_read(io, cx, &mut buf[filled..])).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer closed the stream before the buffer was filled",
            ));
        }
        filled += n;
    }
    Ok(filled)
}

pub(crate) async fn write_all<S: StreamSource>(
    io: &Registered<S>,
    mut buf: &[u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| poll_write(io, cx, buf)).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "failed to write the whole buffer",
            ));
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Waits until a nonblocking connect on `io` has completed; resolves to its outcome.
pub(crate) fn poll_connected<S: StreamSource>(
    io: &Registered<S>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    ready!(coop::poll_proceed(cx));
    loop {
        let event = ready!(io.poll_ready_unbudgeted(Direction::Write, cx))?;
        if let Some(e) = io.get_ref().take_error_nb()? {
            return Poll::Ready(Err(e));
        }
        match io.get_ref().connected_nb() {
            Ok(()) => return Poll::Ready(Ok(())),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                if event.is_error() || event.is_write_closed() {
                    // Hung up without a pending socket error: failed, not in progress.
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "the connection was closed before it was established",
                    )));
                }
                // A spurious write event: still connecting.
                io.clear_readiness(event);
            }
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Implements the read side (inherent `read`/`read_exact` and `AsyncRead`) for a type
/// whose `&self` gives a `&Registered<impl StreamSource>` through `$io`.
macro_rules! impl_read_side {
    ([$($gen:tt)*] $ty:ty, |$this:ident| $io:expr) => {
        impl$($gen)* $ty {
            /// Reads some bytes into `buf`, waiting until at least one is available.
            /// Returns the number read; `0` means the peer closed its write half (or
            /// `buf` is empty).
            pub async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let $this = &*self;
                std::future::poll_fn(|cx| crate::net::poll_read($io, cx, &mut *buf)).await
            }

            /// Reads exactly `buf.len()` bytes and returns that length. Fails with
            /// `UnexpectedEof` if the peer closes the stream first (the bytes read so
            /// far are in `buf` but their count is lost).
            pub async fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let $this = &*self;
                crate::net::read_exact($io, buf).await
            }
        }

        impl$($gen)* futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                crate::net::poll_read($io, cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                crate::net::poll_read_vectored($io, cx, bufs)
            }
        }

        #[cfg(feature = "tokio-io")]
        impl$($gen)* tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                // `initialize_unfilled` zeroes only the bytes no earlier read initialized
                // (`ReadBuf` tracks that), so the safe path costs one memset per buffer,
                // not one per read.
                let n = std::task::ready!(crate::net::poll_read(
                    $io,
                    cx,
                    buf.initialize_unfilled()
                ))?;
                buf.advance(n);
                std::task::Poll::Ready(Ok(()))
            }
        }
    };
}

/// Implements the write side (inherent `write`/`write_all`/`flush`/`shutdown` and
/// `AsyncWrite`) for a type whose `&self` gives a `&Registered<impl StreamSource>`.
macro_rules! impl_write_side {
    ([$($gen:tt)*] $ty:ty, |$this:ident| $io:expr) => {
        impl$($gen)* $ty {
            /// Writes some bytes of `buf`, waiting until the socket accepts at least
            /// one. Returns the number written.
            pub async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let $this = &*self;
                std::future::poll_fn(|cx| crate::net::poll_write($io, cx, buf)).await
            }

            /// Writes all of `buf`.
            pub async fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                let $this = &*self;
                crate::net::write_all($io, buf).await
            }

            /// Flushes: a no-op, sockets have no user-space buffer.
            pub async fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }

            /// Shuts down the write half (`Shutdown::Write`): the peer reads end of
            /// stream once it has read everything written before.
            pub async fn shutdown(&mut self) -> std::io::Result<()> {
                let $this = &*self;
                std::future::poll_fn(|cx| crate::net::poll_shutdown($io, cx)).await
            }
        }

        impl$($gen)* futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                crate::net::poll_write($io, cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                crate::net::poll_write_vectored($io, cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                crate::net::poll_shutdown($io, cx)
            }
        }

        #[cfg(feature = "tokio-io")]
        impl$($gen)* tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                crate::net::poll_write($io, cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                crate::net::poll_write_vectored($io, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                crate::net::poll_shutdown($io, cx)
            }
        }
    };
}

/// Defines the split halves of a stream type in the invoking module:
/// `ReadHalf<'a>`, `WriteHalf<'a>`, `OwnedReadHalf`, `OwnedWriteHalf`, `ReuniteError`.
macro_rules! define_split {
    ($stream:ident, $addr:ty) => {
        /// Borrowed read half of a stream, from `split`.
        #[derive(Debug)]
        pub struct ReadHalf<'a>(&'a $stream);

        /// Borrowed write half of a stream, from `split`.
        #[derive(Debug)]
        pub struct WriteHalf<'a>(&'a $stream);

        /// Owned read half of a stream, from `into_split`.
        #[derive(Debug)]
        pub struct OwnedReadHalf {
            inner: std::sync::Arc<$stream>,
        }

        /// Owned write half of a stream, from `into_split`. Dropping it shuts down the
        /// write half of the stream (unless it was [forgotten](OwnedWriteHalf::forget)
        /// or reunited).
        #[derive(Debug)]
        pub struct OwnedWriteHalf {
            inner: std::sync::Arc<$stream>,
            shutdown_on_drop: bool,
        }

        /// The two halves given to `reunite` came from different streams; they are
        /// handed back.
        #[derive(Debug)]
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        impl std::fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("tried to reunite halves that are not from the same stream")
            }
        }

        impl std::error::Error for ReuniteError {}

        pub(crate) fn split(stream: &mut $stream) -> (ReadHalf<'_>, WriteHalf<'_>) {
            (ReadHalf(&*stream), WriteHalf(&*stream))
        }

        pub(crate) fn into_split(stream: $stream) -> (OwnedReadHalf, OwnedWriteHalf) {
            let inner = std::sync::Arc::new(stream);
            (
                OwnedReadHalf {
                    inner: inner.clone(),
                },
                OwnedWriteHalf {
                    inner,
                    shutdown_on_drop: true,
                },
            )
        }

        fn reunite(
            read: OwnedReadHalf,
            mut write: OwnedWriteHalf,
        ) -> Result<$stream, ReuniteError> {
            if !std::sync::Arc::ptr_eq(&read.inner, &write.inner) {
                return Err(ReuniteError(read, write));
            }
            write.shutdown_on_drop = false;
            drop(write);
            Ok(std::sync::Arc::try_unwrap(read.inner)
                .expect("the two halves hold the only references to the stream"))
        }

        impl ReadHalf<'_> {
            /// The remote address of the stream.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.0.peer_addr()
            }
            /// The local address of the stream.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.0.local_addr()
            }
        }

        impl WriteHalf<'_> {
            /// The remote address of the stream.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.0.peer_addr()
            }
            /// The local address of the stream.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.0.local_addr()
            }
        }

        impl OwnedReadHalf {
            /// Puts the stream back together; fails if `other` is from another stream.
            pub fn reunite(self, other: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
                reunite(self, other)
            }
            /// The remote address of the stream.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.inner.peer_addr()
            }
            /// The local address of the stream.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.inner.local_addr()
            }
        }

        impl OwnedWriteHalf {
            /// Puts the stream back together; fails if `other` is from another stream.
            pub fn reunite(self, other: OwnedReadHalf) -> Result<$stream, ReuniteError> {
                reunite(other, self)
            }
            /// Drops this half without shutting down the write direction of the stream.
            pub fn forget(mut self) {
                self.shutdown_on_drop = false;
            }
            /// The remote address of the stream.
            pub fn peer_addr(&self) -> std::io::Result<$addr> {
                self.inner.peer_addr()
            }
            /// The local address of the stream.
            pub fn local_addr(&self) -> std::io::Result<$addr> {
                self.inner.local_addr()
            }
        }

        impl Drop for OwnedWriteHalf {
            fn drop(&mut self) {
                if self.shutdown_on_drop {
                    // The peer may already be gone; nothing useful to do with an error.
                    let _ = self.inner.io.get_ref().shutdown(std::net::Shutdown::Write);
                }
            }
        }

        crate::net::impl_read_side!([<'a>] ReadHalf<'a>, |this| &this.0.io);
        crate::net::impl_write_side!([<'a>] WriteHalf<'a>, |this| &this.0.io);
        crate::net::impl_read_side!([] OwnedReadHalf, |this| &this.inner.io);
        crate::net::impl_write_side!([] OwnedWriteHalf, |this| &this.inner.io);
        crate::net::impl_half_readiness!([<'a>] ReadHalf<'a>, |this| this.0, read);
        crate::net::impl_half_readiness!([<'a>] WriteHalf<'a>, |this| this.0, write);
        crate::net::impl_half_readiness!([] OwnedReadHalf, |this| &*this.inner, read);
        crate::net::impl_half_readiness!([] OwnedWriteHalf, |this| &*this.inner, write);
    };
}

/// The readiness API of one direction on a split half, delegating to its stream.
macro_rules! impl_half_readiness {
    ([$($gen:tt)*] $ty:ty, |$this:ident| $stream:expr, read) => {
        impl$($gen)* $ty {
            /// Waits for the readiness of the stream in `interest` (see the stream's `ready`).
            pub async fn ready(
                &self,
                interest: crate::io::Interest,
            ) -> std::io::Result<crate::io::Ready> {
                let $this = self;
                $stream.ready(interest).await
            }

            /// Waits until the stream is readable.
            pub async fn readable(&self) -> std::io::Result<()> {
                let $this = self;
                $stream.readable().await
            }

            /// Reads without waiting (see the stream's `try_read`).
            pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                let $this = self;
                $stream.try_read(buf)
            }

            /// Reads into several buffers without waiting.
            pub fn try_read_vectored(
                &self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                let $this = self;
                $stream.try_read_vectored(bufs)
            }

            /// Reads into the spare capacity of `buf` without waiting.
            pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> std::io::Result<usize> {
                let $this = self;
                $stream.try_read_buf(buf)
            }

            /// Receives data without removing it from the queue (see the stream's `peek`).
            pub async fn peek(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let $this = &*self;
                $stream.peek(buf).await
            }
        }
    };
    ([$($gen:tt)*] $ty:ty, |$this:ident| $stream:expr, write) => {
        impl$($gen)* $ty {
            /// Waits for the readiness of the stream in `interest` (see the stream's `ready`).
            pub async fn ready(
                &self,
                interest: crate::io::Interest,
            ) -> std::io::Result<crate::io::Ready> {
                let $this = self;
                $stream.ready(interest).await
            }

            /// Waits until the stream is writable.
            pub async fn writable(&self) -> std::io::Result<()> {
                let $this = self;
                $stream.writable().await
            }

            /// Writes without waiting (see the stream's `try_write`).
            pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                let $this = self;
                $stream.try_write(buf)
            }

            /// Writes from several buffers without waiting.
            pub fn try_write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                let $this = self;
                $stream.try_write_vectored(bufs)
            }
        }
    };
}

pub(crate) use define_split;
pub(crate) use impl_half_readiness;
pub(crate) use impl_listener;
pub(crate) use impl_read_side;
pub(crate) use impl_readiness;
pub(crate) use impl_stream;
pub(crate) use impl_write_side;
