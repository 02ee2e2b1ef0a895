//! I/O: the traits and helpers of async reading and writing, the readiness wrapper for
//! custom sources, and the reactor behind [`crate::net`].
//!
//! # Traits and helpers
//!
//! brisk's sockets implement the `futures-io` traits ([`AsyncRead`], [`AsyncWrite`]); the
//! helpers around them are re-exported from `futures-lite`, a small, well-kept crate, so
//! that code written for tokio's `tokio::io` reads the same:
//!
//! | tokio::io | brisk::io |
//! |---|---|
//! | `AsyncReadExt` (`read`, `read_exact`, `read_to_end`, `read_to_string`, `take`, `chain`) | [`AsyncReadExt`] (same names; `read_exact` gives `()`, the sockets' inherent `read_exact` the length, as tokio's) |
//! | `AsyncWriteExt` (`write`, `write_all`, `flush`, `shutdown`) | [`AsyncWriteExt`] (`shutdown` is `close`; the sockets also have an inherent `shutdown`) |
//! | `AsyncBufReadExt` (`read_line`, `read_until`, `lines`, `split`) | [`AsyncBufReadExt`] (`lines` gives a [`Lines`] stream: `lines.next().await` with [`crate::stream::StreamExt`] where tokio has `next_line()`) |
//! | `BufReader`, `BufWriter`, `copy`, `split`, `empty`, `sink`, `repeat` | [`BufReader`], [`BufWriter`], [`copy`], [`split`], [`empty`], [`sink`], [`repeat`] |
//! | `AsyncSeek`, `AsyncSeekExt` | [`AsyncSeek`], [`AsyncSeekExt`] |
//!
//! A line-based echo server on these helpers (also `runtime/examples/line_echo.rs`):
//!
//! ```no_run
//! use brisk::io::{AsyncBufReadExt, BufReader};
//! use brisk::net::TcpListener;
//! use brisk::stream::StreamExt;
//!
//! #[brisk::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:7001").await?;
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         brisk::spawn(async move {
//!             let (read, mut write) = stream.into_split();
//!             let mut lines = BufReader::new(read).lines();
//!             while let Some(Ok(line)) = lines.next().await {
//!                 let reply = format!("{line}\n");
//!                 if write.write_all(reply.as_bytes()).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! }
//! ```
//!
//! With the `tokio-io` feature (`brisk = { features = ["tokio-io"] }`) the stream types and
//! their halves also implement tokio's `AsyncRead`/`AsyncWrite`, so tokio-util's codecs
//! run on brisk sockets (only tokio's traits are compiled in, not its runtime):
//!
//! ```ignore
//! // Cargo.toml: brisk = { version = "0.1", features = ["tokio-io"] }
//! //             tokio-util = { version = "0.7", features = ["codec"] }
//! use futures_util::{SinkExt, StreamExt};
//! use tokio_util::codec::{Framed, LinesCodec};
//!
//! let stream = brisk::net::TcpStream::connect(addr).await?;
//! let mut framed = Framed::new(stream, LinesCodec::new());
//! framed.send("hello").await?;
//! let reply: Option<Result<String, _>> = framed.next().await;
//! ```
//!
//! (`runtime/examples/codec_lines.rs` is that example, complete.)
//!
//! # The reactor
//!
//! The reactor turns readiness events from [`mio`] into [`std::task::Waker`] wake-ups.
//! It knows nothing of the scheduler: it is driven by whoever calls its `turn` (the worker
//! that parks), and the socket types in [`crate::net`] only ever store and wake `Waker`s.
//! That is what lets the reactor be tested alone, with a hand-written executor (the unit
//! tests of this module).
//!
//! # Pieces
//!
//! * The reactor (crate-private `Reactor`) owns the `mio::Poll`; its `turn` polls it once
//!   and wakes the tasks whose sources became ready.
//! * Its handle (crate-private `Handle`) is the shared side: it registers sources,
//!   interrupts a blocked turn and is installed as the current reactor of a thread.
//!   `Handle::current()` is the one place socket types find their reactor.
//! * [`Registered`] pairs a mio source with its registration and provides the
//!   readiness protocol ([`Registered::poll_io`]); the socket types are thin layers
//!   on top of it.
//! * The runtime's cooperative budget (crate-private) is spent by every I/O poll.
//!
//! # Invariants
//!
//! * **Readiness is cleared only by a `WouldBlock`.** mio is edge-triggered: an event
//!   is reported once. A direction stays ready until an operation in that direction
//!   fails with `WouldBlock`; only then is its readiness cleared, and only if no new
//!   event arrived since the readiness was observed (each registration carries an
//!   event tick for that check).
//! * **No wake-up is lost.** The reactor publishes readiness before it takes a waker;
//!   a poller stores its waker before it re-reads readiness. One of the two always
//!   sees the other's write.
//! * **Stale events are ignored.** A registration's mio token carries the slot
//!   index and a generation. Freeing a slot bumps the generation, so an event that was
//!   already harvested for a dropped source never reaches the registration that
//!   reuses the slot.
//! * **Every I/O poll spends budget first.** Each poll of an I/O operation spends one
//!   unit of the cooperative budget before it touches the socket, so a task looping on
//!   an always-ready socket yields after a bounded number of operations.
//! * **Only `turn` blocks.** Socket operations never block the calling thread. The one
//!   exception is host name resolution in `bind`/`connect`/`send_to`, which uses
//!   [`std::net::ToSocketAddrs`] on the calling thread; pass literal addresses to
//!   avoid it.
//! * **A dropped reactor fails pending I/O.** When the runtime (and so its reactor) is
//!   dropped, every registration is woken and its operations fail with an error instead
//!   of waiting forever; new registrations fail too.
//!
//! # Features
//!
//! * `tokio-io` (off by default): `tokio::io::AsyncRead`/`AsyncWrite` for the stream
//!   types and their halves, next to the `futures_io` traits they always implement. Only
//!   tokio's traits are pulled in, not its runtime. See [`crate::net`].
//!
//! # Outside a runtime
//!
//! Creating a socket type (`bind`, `connect`, `from_std`, `pair`, ...) on a thread
//! without a current runtime panics with "there is no brisk reactor running: I/O types
//! must be created from within a brisk runtime".

mod reactor;
mod registered;
mod registration;
#[cfg(test)]
pub(crate) mod tests;

pub use futures_lite::io::{
    copy, empty, repeat, sink, split, AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt,
    AsyncSeek, AsyncSeekExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter, Cursor, Empty, Lines,
    ReadHalf, Repeat, Sink, WriteHalf,
};
pub use mio::Interest;
pub(crate) use reactor::{Handle, Reactor};
// Named outside `io` only by the timerfd of `scheduler/driver.rs`.
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) use reactor::Registration;
pub use registered::Registered;
pub use registration::{Direction, Ready, ReadyEvent};
