//! brisk: a multi-threaded, work-stealing async runtime with an **eager-first** spawn policy.
//!
//! [`spawn`] called from a task polls the new future at once, inline, on the spawning worker.
//! If it is ready, it never touches a queue or wakes anyone: a call that can complete without
//! waiting costs a call, not a trip through the scheduler. Only a future that returns
//! `Pending` (or a spawn past the worker's eager budget or depth limit) becomes an ordinary
//! queued task, which idle workers may steal. This is the Rust form of the eager task
//! evaluation that Python 3.12 adopted as `asyncio.eager_task_factory`.
//!
//! ```
//! use brisk::Runtime;
//!
//! let rt = Runtime::new().unwrap();
//! let total = rt.block_on(async {
//!     let mut handles = Vec::new();
//!     for i in 0..10u64 {
//!         // Each child is ready at once: it finishes inside `spawn`.
//!         handles.push(brisk::spawn(async move { i * i }));
//!     }
//!     let mut total = 0;
//!     for h in handles {
//!         total += h.await.unwrap();
//!     }
//!     total
//! });
//! assert_eq!(total, 285);
//! assert_eq!(rt.metrics().eager_completed(), 10);
//! ```
//!
//! # The eager policy and its knobs
//!
//! - [`Builder::eager_budget`]: inline polls per tick (one poll of a queued task). Bounds how
//!   long eager work can delay queued work (default 128).
//! - [`Builder::eager_depth`]: maximum inline nesting (default 16), so recursive spawning never
//!   overflows the stack.
//! - [`Builder::spawn_policy`]: [`SpawnPolicy::Eager`] (default) or [`SpawnPolicy::Lazy`]
//!   (queue every spawn, as tokio does), and per call [`spawn_eager`] / [`spawn_lazy`].
//!
//! # Migrating from tokio
//!
//! With the eager policy `spawn` may run the child before it returns. Two patterns that work
//! on tokio behave differently:
//! - holding a `std::sync::Mutex` (or `RwLock`) guard across `spawn` while the child locks the
//!   same mutex deadlocks: drop the guard before spawning, or use [`spawn_lazy`];
//! - setting state *after* `spawn` that the child should see on its first step: the child has
//!   already taken that step. Set the state first, or use [`spawn_lazy`].

#![warn(missing_docs)]

mod blocking;
mod builder;
mod coop;
mod metrics;
mod runtime;
mod scheduler;
pub mod task;
pub mod time;

#[cfg(feature = "trace")]
pub mod trace;
#[cfg(not(feature = "trace"))]
mod trace;

pub use builder::{Builder, SpawnPolicy};
pub use metrics::RuntimeMetrics;
pub use runtime::{EnterGuard, Handle, Runtime};
pub use task::{spawn, spawn_eager, spawn_lazy, JoinError, JoinHandle};

/// `#[brisk::main]`: runs an `async fn main` on a brisk runtime (see `brisk-macros`).
pub use brisk_macros::main;
/// `#[brisk::test]`: runs an `async` test on a brisk runtime (2 workers by default).
pub use brisk_macros::test;

/// Networking: TCP, UDP and Unix sockets driven by the runtime's reactor.
pub mod net {
    pub use brisk_io::net::*;
}

/// I/O traits and the readiness wrapper for custom sources.
pub mod io {
    pub use brisk_io::{AsyncRead, AsyncWrite, Direction, Interest, ReadyEvent, Registered};
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
