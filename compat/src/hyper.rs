//! hyper 1.x on brisk: an [`Executor`], a [`Timer`] and an I/O adapter.
//!
//! hyper 1.x is runtime-agnostic: it asks for three things and this module provides each.
//!
//! | hyper needs | brisk provides | how |
//! |---|---|---|
//! | [`hyper::rt::Executor`] (background tasks, HTTP/2 streams) | [`BriskExecutor`] | [`brisk::spawn`], so the eager policy applies |
//! | [`hyper::rt::Timer`] (header read timeout, keep-alive timers) | [`BriskTimer`] | [`brisk::time::sleep_until`] wrapped in [`BriskSleep`] |
//! | [`hyper::rt::Read`] / [`hyper::rt::Write`] | [`BriskIo`] | over any [`futures_io::AsyncRead`] + [`futures_io::AsyncWrite`]: brisk's `TcpStream`, `UnixStream` and their halves |
//!
//! # A server
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use brisk_compat::hyper::{BriskIo, BriskTimer};
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper::server::conn::http1;
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//!
//! async fn hello(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
//! }
//!
//! # fn main() -> std::io::Result<()> {
//! brisk::Runtime::new()?.block_on(async {
//!     let listener = brisk::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         brisk::spawn(async move {
//!             let conn = http1::Builder::new()
//!                 .timer(BriskTimer::new())
//!                 .serve_connection(BriskIo::new(stream), service_fn(hello));
//!             if let Err(e) = conn.await {
//!                 eprintln!("connection error: {e}");
//!             }
//!         });
//!     }
//! })
//! # }
//! ```
//!
//! # A client
//!
//! ```
//! use brisk_compat::hyper::BriskIo;
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Empty};
//!
//! # async fn get(addr: std::net::SocketAddr) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let stream = brisk::net::TcpStream::connect(addr).await?;
//! let (mut sender, conn) = hyper::client::conn::http1::handshake(BriskIo::new(stream)).await?;
//! // The connection future does the I/O: run it as its own task.
//! brisk::spawn(conn);
//! let req = hyper::Request::get("/").header("host", "localhost").body(Empty::<Bytes>::new())?;
//! let res = sender.send_request(req).await?;
//! let body = res.into_body().collect().await?.to_bytes();
//! println!("{body:?}");
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::{Executor, ReadBufCursor, Sleep, Timer};

/// A [`hyper::rt::Executor`] that spawns on the current brisk runtime.
///
/// [`BriskExecutor::new`] spawns with [`brisk::spawn`]: under the runtime's default
/// [`SpawnPolicy::Eager`](brisk::SpawnPolicy::Eager) the task takes its first step inside
/// `execute`, on the calling worker. [`BriskExecutor::lazy`] queues every task instead
/// ([`brisk::spawn_lazy`]), for comparison or for code that must not run the child first.
/// The [`JoinHandle`](brisk::JoinHandle) is dropped: the task runs detached.
///
/// hyper's HTTP/1 server and client never call the executor (only upgrades and HTTP/2 do);
/// pass it where a builder asks for one.
///
/// # Panics
///
/// `execute` panics if called outside a brisk runtime, like [`brisk::spawn`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BriskExecutor {
    lazy: bool,
}

impl BriskExecutor {
    /// An executor that spawns with [`brisk::spawn`] (the runtime's spawn policy).
    pub fn new() -> BriskExecutor {
        BriskExecutor { lazy: false }
    }

    /// An executor that spawns with [`brisk::spawn_lazy`]: every task is queued.
    pub fn lazy() -> BriskExecutor {
        BriskExecutor { lazy: true }
    }
}

impl<F> Executor<F> for BriskExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        if self.lazy {
            drop(brisk::spawn_lazy(fut));
        } else {
            drop(brisk::spawn(fut));
        }
    }
}

/// A [`hyper::rt::Timer`] on brisk's timing wheel (1 ms resolution).
///
/// Its sleeps are [`BriskSleep`]s; [`Timer::reset`] moves the deadline of an existing
/// `BriskSleep` in place instead of allocating a new one.
///
/// # Panics
///
/// `sleep` and `sleep_until` panic if called outside a brisk runtime (hyper calls them while
/// a connection is polled, so inside the task that serves it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BriskTimer {
    _private: (),
}

impl BriskTimer {
    /// A timer using the current brisk runtime's timing wheel.
    pub fn new() -> BriskTimer {
        BriskTimer { _private: () }
    }
}

impl Timer for BriskTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(BriskSleep::new(brisk::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(BriskSleep::new(brisk::time::sleep_until(deadline.into())))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<BriskSleep>() {
            Some(mut ours) => ours.as_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// The [`hyper::rt::Sleep`] of [`BriskTimer`]: a [`brisk::time::Sleep`].
pub struct BriskSleep {
    inner: brisk::time::Sleep,
}

impl BriskSleep {
    /// Wraps a brisk sleep.
    pub fn new(inner: brisk::time::Sleep) -> BriskSleep {
        BriskSleep { inner }
    }

    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.inner.deadline().into_std()
    }

    /// Moves the deadline.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.get_mut().inner.reset(deadline.into());
    }

    /// The wrapped brisk sleep.
    pub fn into_inner(self) -> brisk::time::Sleep {
        self.inner
    }
}

impl Future for BriskSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().inner.poll_elapsed(cx)
    }
}

impl Sleep for BriskSleep {}

impl fmt::Debug for BriskSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BriskSleep")
            .field("deadline", &self.inner.deadline())
            .finish()
    }
}

/// The most bytes one [`hyper::rt::Read::poll_read`] of [`BriskIo`] asks the inner reader for.
///
/// `futures_io::AsyncRead` reads into initialized memory, hyper hands out uninitialized memory,
/// so each read first zeroes the part it lends out. hyper lends its whole spare capacity, which
/// can be hundreds of KiB after a large body; zeroing all of it for every read would cost more
/// than the read. 64 KiB keeps one read per socket buffer-full and the zeroing cheap.
const MAX_READ: usize = 64 * 1024;

/// Adapts a [`futures_io`] stream to hyper's I/O traits, [`hyper::rt::Read`] and
/// [`hyper::rt::Write`].
///
/// `T` is any `futures_io::AsyncRead + AsyncWrite + Unpin` type: brisk's
/// [`TcpStream`](brisk::net::TcpStream), [`UnixStream`](brisk::net::UnixStream), or their
/// split halves (for `Read` or `Write` alone).
///
/// Reading goes through `futures_io::AsyncRead::poll_read`, which takes initialized bytes:
/// the adapter zeroes part of hyper's buffer before each read and marks as filled only the
/// bytes the read reported. How much it zeroes follows the reads: 1 KiB at first, twice as
/// much after a read that filled all of it (up to 64 KiB), back to 1 KiB after one that used
/// less than half. Small requests then pay for zeroing 1 KiB, not hyper's whole buffer
/// (8 KiB or more), while bulk reads still get large buffers.
#[derive(Debug)]
pub struct BriskIo<T> {
    inner: T,
    /// Bytes to zero and read into at the next read.
    read_len: usize,
}

impl<T: Default> Default for BriskIo<T> {
    fn default() -> Self {
        BriskIo::new(T::default())
    }
}

/// The first read's length, and the least the adapter zeroes.
const MIN_READ: usize = 1024;

impl<T> BriskIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> BriskIo<T> {
        BriskIo {
            inner,
            read_len: MIN_READ,
        }
    }

    /// The wrapped stream.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T> From<T> for BriskIo<T> {
    fn from(inner: T) -> BriskIo<T> {
        BriskIo::new(inner)
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for BriskIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let len = buf.remaining().min(this.read_len);
        if len == 0 {
            // Nothing to read into; a zero-length read would look like end of stream.
            return Poll::Ready(Ok(()));
        }
        // SAFETY: `as_mut` requires that no byte initialized before is made uninitialized
        // again. The slice is only ever written with initialized values (the zeroes below,
        // then the bytes the reader puts there); nothing writes `MaybeUninit::uninit()`.
        let unfilled = unsafe { &mut buf.as_mut()[..len] };
        unfilled.fill(MaybeUninit::new(0));
        // SAFETY: every byte of `unfilled` was initialized just above, and `MaybeUninit<u8>`
        // has the size, alignment and validity of `u8` once initialized. The `&mut [u8]`
        // borrows `unfilled` exclusively and does not outlive this function.
        let bytes: &mut [u8] = unsafe { &mut *(unfilled as *mut [MaybeUninit<u8>] as *mut [u8]) };
        let n = ready!(Pin::new(&mut this.inner).poll_read(cx, bytes))?;
        // `AsyncRead` is a safe trait: a wrong implementation could report more bytes than it
        // was given. `advance` trusts `n`, so check it.
        assert!(
            n <= len,
            "AsyncRead::poll_read reported {n} bytes read into a buffer of {len}"
        );
        if n == len {
            this.read_len = (this.read_len * 2).min(MAX_READ);
        } else if n < this.read_len / 2 {
            this.read_len = MIN_READ;
        }
        // SAFETY: the first `n <= len` bytes of the unfilled part are initialized (all `len`
        // of them were zeroed, and the reader wrote into that same memory).
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for BriskIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }

    fn is_write_vectored(&self) -> bool {
        // brisk's streams implement `poll_write_vectored` with `writev`; for other `T` the
        // default `poll_write_vectored` writes the first non-empty slice, which is correct.
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;

    /// Fills what it is given up to `have` bytes per read, and records each buffer's length.
    struct Source {
        have: Vec<usize>,
        lens: Vec<usize>,
    }

    impl AsyncRead for Source {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            self.lens.push(buf.len());
            let n = self.have.remove(0).min(buf.len());
            buf[..n].fill(7);
            Poll::Ready(Ok(n))
        }
    }

    #[test]
    fn the_zeroed_length_follows_the_reads() {
        let have = vec![usize::MAX, usize::MAX, usize::MAX, 10, usize::MAX, 100_000];
        let mut io = BriskIo::new(Source {
            have,
            lens: Vec::new(),
        });
        let mut storage = vec![MaybeUninit::<u8>::uninit(); 256 * 1024];
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for _ in 0..6 {
            let mut buf = hyper::rt::ReadBuf::uninit(&mut storage);
            let poll = hyper::rt::Read::poll_read(Pin::new(&mut io), &mut cx, buf.unfilled());
            assert!(matches!(poll, Poll::Ready(Ok(()))));
            assert!(buf.filled().iter().all(|&b| b == 7));
        }
        // Full reads double it, a short one resets it; never above MAX_READ.
        assert_eq!(io.inner().lens, [1024, 2048, 4096, 8192, 1024, 2048]);
        for _ in 0..10 {
            io.inner_mut().have.push(usize::MAX);
            let mut buf = hyper::rt::ReadBuf::uninit(&mut storage);
            let _ = hyper::rt::Read::poll_read(Pin::new(&mut io), &mut cx, buf.unfilled());
        }
        assert_eq!(io.inner().lens.iter().max(), Some(&MAX_READ));
    }
}
