//! `brisk-io`: the I/O reactor and the socket types of the brisk runtime.
//!
//! This crate turns readiness events from [`mio`] into [`std::task::Waker`] wake-ups.
//! It knows nothing of brisk's scheduler: a [`Reactor`] is driven by whoever calls
//! [`Reactor::turn`] (in brisk, the worker that parks), and the socket types in
//! [`net`] only ever store and wake `Waker`s. That is what lets this crate be tested
//! alone, with a hand-written executor.
//!
//! # Pieces
//!
//! * [`Reactor`] owns the `mio::Poll`. [`Reactor::turn`] polls it once and wakes the
//!   tasks whose sources became ready.
//! * [`Handle`] is the shared, cloneable side of a reactor: it registers sources,
//!   interrupts a blocked turn ([`Handle::unpark`]) and is installed as the current
//!   reactor of a thread with [`Handle::enter`]. Socket types created on a thread
//!   register with that thread's current reactor.
//! * [`Registered`] pairs a mio source with its registration and provides the
//!   readiness protocol ([`Registered::poll_io`]); the socket types are thin layers
//!   on top of it.
//! * [`coop`] is the per-thread cooperative budget that every I/O poll spends.
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
//! * **Every I/O poll spends budget first.** Each poll of an I/O operation calls
//!   [`coop::poll_proceed`] before it touches the socket, so a task looping on an
//!   always-ready socket yields after [`coop::DEFAULT_BUDGET`] operations when the
//!   runtime sets a budget.
//! * **Only `turn` blocks.** Socket operations never block the calling thread. The one
//!   exception is host name resolution in `bind`/`connect`/`send_to`, which uses
//!   [`std::net::ToSocketAddrs`] on the calling thread; pass literal addresses to
//!   avoid it.
//! * **A dropped reactor fails pending I/O.** When a [`Reactor`] is dropped, every
//!   registration is woken and its operations fail with an error instead of waiting
//!   forever; new registrations with its handles fail too.
//!
//! # Features
//!
//! * `tokio-io` (off by default): `tokio::io::AsyncRead`/`AsyncWrite` for the stream
//!   types and their halves, next to the `futures_io` traits they always implement. Only
//!   tokio's traits are pulled in, not its runtime. See [`net`].
//!
//! # Outside a runtime
//!
//! Creating a socket type (`bind`, `connect`, `from_std`, `pair`, ...) on a thread
//! without a current reactor panics with "there is no brisk reactor running: I/O types
//! must be created from within a brisk runtime", as [`Handle::current`] does.

pub mod coop;
pub mod net;
mod reactor;
mod registered;
mod registration;

pub use futures_io::{AsyncRead, AsyncWrite};
pub use mio::Interest;
pub use reactor::{EnterGuard, Handle, Reactor};
pub use registered::Registered;
pub use registration::{Direction, ReadyEvent};
