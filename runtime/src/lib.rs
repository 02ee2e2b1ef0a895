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
//! use brisk::{Runtime, SpawnPolicy};
//!
//! // `Eager` bounds inline polls by count and depth only, so the count below is exact; the
//! // default, `Adaptive`, also bounds a tick's inline work in time, and on a busy machine
//! // may queue a few of these children instead.
//! let rt = Runtime::builder()
//!     .spawn_policy(SpawnPolicy::Eager)
//!     .build()
//!     .unwrap();
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
//! # Quick start
//!
//! `#[brisk::main]` builds a runtime and blocks on `async fn main`; `#[brisk::test]` does the
//! same for a test. Inside, the API is the one you know from tokio: [`spawn`], [`time`], [`net`].
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use brisk::net::TcpListener;
//!
//! #[brisk::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:7000").await?;
//!     loop {
//!         let (mut stream, _) = listener.accept().await?;
//!         brisk::spawn(async move {
//!             let mut buf = [0u8; 1024];
//!             // A client that stays silent for 10 s is dropped.
//!             while let Ok(Ok(n)) =
//!                 brisk::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await
//!             {
//!                 if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! }
//! ```
//!
//! More in `runtime/examples/`: `echo_server`, `line_echo` ([`io::BufReader`] and `lines()`),
//! `codec_lines` (tokio-util codecs, feature `tokio-io`), `timeouts`, `group_fanout`
//! ([`task::TaskGroup`]), and `http_server`, a hyper 1.x server with graceful shutdown on Ctrl-C through the
//! `brisk-compat` crate (hyper's `Executor`, `Timer` and I/O traits on brisk, and tokio's
//! `AsyncRead`/`AsyncWrite` behind its `tokio-io` feature).
//!
//! # The eager policy and its knobs
//!
//! A spawn on a worker (or inside [`Runtime::block_on`]) is polled inline when the policy asks
//! for it, the tick's budgets are not spent and the nesting depth allows it. A *tick* is one poll
//! of a task taken from a queue; the budgets reset at each tick.
//!
//! - [`Builder::eager_budget`]: inline polls per tick (default 1,024). 0
//!   turns eager spawning off.
//! - [`Builder::eager_budget_time`] (not under `Eager`): time a tick may spend on inline polls
//!   (default 50 µs; an inline poll starts only while less has passed since the tick's first
//!   one). Bounds how long eager work can delay queued work.
//! - [`Builder::eager_depth`]: maximum inline nesting (default 16), so recursive spawning never
//!   overflows the stack; deeper spawns are queued.
//! - [`Builder::spawn_policy`]: [`SpawnPolicy::Adaptive`] (the default: eager under the count
//!   and time budgets, and a call site whose children run long inline is spawned lazily for a
//!   while, so that idle workers can steal them), [`SpawnPolicy::Eager`] (inline whenever the
//!   count budget and depth allow; deterministic, no clock read: the mode for tests that
//!   assert where a child ran) or [`SpawnPolicy::Lazy`] (queue every spawn, as tokio does),
//!   and per call [`spawn_eager`] / [`spawn_lazy`].
//! - Awaiting the [`JoinHandle`] of a task that is queued but not started claims it and polls it
//!   inline, under the same limits (await-inlining, not under `Lazy`).
//! - [`Builder::stall_threshold`]: a poll running longer (default 1 s in debug builds, off in
//!   release builds) is reported on stderr with its worker and spawn site.
//! - [`Builder::global_queue_interval`] and [`Builder::event_interval`] (default 61 each): how
//!   often a busy worker still looks at the shared queue and at I/O and timers.
//! - [`RuntimeMetrics`] counts what happened: `polls` (all of them) and `queued_polls`,
//!   `eager_completed`, `eager_suspended`, `eager_deferred`, `adaptive_deferred`,
//!   `sites_demoted`, `eager_time`, `await_inlined`, `steals`.
//!
//! **When to use `Lazy`** (for one call with [`spawn_lazy`], or for the runtime):
//! - the parent holds a `std::sync::Mutex`/`RwLock` guard across `spawn` and the child takes the
//!   same lock (eager: deadlock; see *Migrating from tokio*);
//! - the parent sets state *after* `spawn` that the child's first step must see;
//! - the children are CPU-heavy and ready at once: eager runs them on the spawning worker
//!   where queued tasks would be stolen by idle workers and run in parallel. `Adaptive` learns
//!   this per call site after the first long child (and the time budget stops a tick's inline
//!   work after one), `Eager` does not (use [`task::spawn_blocking`] for blocking work);
//! - you want to measure: `Eager` against `Lazy` is one builder call, and the benchmarks report
//!   both.
//!
//! # Fairness bounds
//!
//! Eager work jumps the queue; these bounds limit the jump. Each is a property test on a
//! scheduling trace of the real scheduler (`tests/tests/fairness.rs`, feature `trace`).
//!
//! | | bound |
//! |---|---|
//! | F1 depth | the inline nesting depth never exceeds `eager_depth` |
//! | F2 budget | between two queue pops on a worker there are at most `eager_budget` inline polls, and (except under `Eager`) no inline poll starts once `eager_budget_time` has passed since the tick's first inline poll started: a tick spends at most `eager_budget_time` plus one inline poll on inline work (unit tests of `scheduler/eager.rs`, on a deterministic clock) |
//! | F3 local delay | a task queued behind k others on a worker is polled after at most k·(1 + `eager_budget`) + c polls of other tasks, c = `eager_budget` (the rest of the tick it was queued in) |
//! | F4 injector | a worker with local work still takes from the injector at least every `global_queue_interval` ticks |
//! | F5 liveness | every spawned task completes or is cancelled, every `JoinHandle` resolves, no wake-up is lost |
//! | F6 equivalence | a deterministic program gives the same results under `Eager` and `Lazy` |
//! | F7 cooperation | a task looping on always-ready I/O, timers or inline children yields after the coop budget; inline polls spend the same budget |
//! | F8 parallelism | an inline poll cannot be stolen, so once the budget is spent children go to the deque, where idle workers steal them |
//!
//! The repository's `docs/FAIRNESS.md` states every bound precisely, F9-F11 too (the next-task
//! slot, driver turns, and idle workers that doze: a worker out of work while another runs
//! sleeps at most 100 µs, and work queued for itself by a busy worker then wakes nobody: the
//! dozer takes it if its owner has not), each with the test that checks it.
//!
//! # Seeing the scheduler
//!
//! With the cargo feature `trace`, `Runtime::take_trace` returns what the scheduler did, event
//! by event, with timestamps and spawn sites; `brisk::trace::write_chrome_json` writes it as a
//! Chrome trace-event file (Perfetto, `about:tracing`: a lane per worker, inline polls nested in
//! the poll that spawned them, arrows from spawn and wake to poll) and
//! `brisk::trace::write_svg` as a standalone SVG timeline. Recording costs ~50 ns per event
//! (BENCHMARKS.md, "Trace overhead"); without the feature every hook is empty.
//! `cargo run --release -p brisk-benches --features trace --bin timeline` draws one benchmark
//! scenario under both policies.
//!
//! # Migrating from tokio
//!
//! With the eager policy `spawn` may run the child before it returns. Two patterns that work
//! on tokio behave differently:
//! - holding a `std::sync::Mutex` (or `RwLock`) guard across `spawn` while the child locks the
//!   same mutex deadlocks: drop the guard before spawning, or use [`spawn_lazy`];
//! - setting state *after* `spawn` that the child should see on its first step: the child has
//!   already taken that step. Set the state first, or use [`spawn_lazy`].
//!
//! Names, tokio → brisk (the full map, module by module, with the crates to use where brisk
//! has no counterpart, is the [`coming_from_tokio`] page):
//!
//! | tokio | brisk |
//! |---|---|
//! | `#[tokio::main]`, `#[tokio::test]` (with `flavor`, `worker_threads`) | [`#[brisk::main]`](main), [`#[brisk::test]`](test), same options (`#[brisk::test]` is current-thread by default, as tokio's) |
//! | `runtime::Runtime::new`, `runtime::Builder::{new_multi_thread, new_current_thread}` | [`Runtime::new`], [`Runtime::builder`] / [`Builder::new`] / [`Builder::new_multi_thread`], [`Builder::new_current_thread`] (`block_on` runs every task, timer and socket on the calling thread, eager first polls included) |
//! | `Builder::{worker_threads, thread_name, max_blocking_threads, thread_keep_alive}` | the same names on [`Builder`] |
//! | `Runtime::{block_on, spawn, handle, enter, shutdown_timeout, shutdown_background}`, `Handle::{current, try_current, spawn, spawn_blocking, enter, block_on, id}` | the same on [`Runtime`] and [`Handle`]; `runtime::Id` is [`RuntimeId`]. Dropping a runtime on a thread that runs tasks panics, as on tokio |
//! | `Builder::{on_thread_start, on_thread_stop, on_thread_park, on_thread_unpark}`, `Builder::name` | the same on [`Builder`]; a hook that panics is reported and its thread carries on |
//! | `task::{consume_budget, unconstrained}` | [`task::consume_budget`], [`task::unconstrained`] |
//! | `tokio::spawn` | [`spawn`] (eager); [`spawn_lazy`] behaves like `tokio::spawn` |
//! | `task::{JoinHandle, JoinError, AbortHandle, yield_now, id}` | [`task::JoinHandle`], [`task::JoinError`], [`task::AbortHandle`], [`task::yield_now`], [`task::id`] |
//! | `task::spawn_blocking`, `task::block_in_place` | [`task::spawn_blocking`], [`task::block_in_place`] (multi-thread runtime; panics on the current-thread one, as tokio's) |
//! | `task::{spawn_local, LocalSet}` | [`task::spawn_local`] (eager first poll, like [`spawn`]), [`task::LocalSet`] (`run_until`, `block_on`, `spawn_local`, awaited as a future) |
//! | `task::JoinSet` | [`task::TaskGroup`], also named [`task::JoinSet`] (children start eagerly): `spawn`, `spawn_on`, `spawn_blocking(_on)`, `join_next(_with_id)`, `try_join_next(_with_id)`, `join_all`, `abort_all`, `shutdown`, `detach_all`, `Extend`, `FromIterator` |
//! | `time::{sleep, sleep_until, timeout, timeout_at, interval, interval_at, Sleep, Interval, MissedTickBehavior}` | [`time::sleep`], [`time::sleep_until`], [`time::timeout`], [`time::timeout_at`], [`time::interval`], [`time::interval_at`], [`time::Sleep`] (`Unpin`: `reset` without pinning), [`time::Interval`], [`time::MissedTickBehavior`] |
//! | `time::{pause, resume, advance}`, `#[tokio::test(start_paused = true)]` | [`time::pause`], [`time::resume`], [`time::advance`], `#[brisk::test(start_paused = true)]`, `Builder::start_paused` |
//! | `time::Instant`, `time::error::Elapsed` | [`time::Instant`] (brisk's own, convertible to and from `std::time::Instant`; paused time shows in it), [`time::error::Elapsed`] |
//! | `net::{TcpListener, TcpStream, TcpSocket, UdpSocket, UnixListener, UnixStream, UnixDatagram}` | [`net::TcpListener`], [`net::TcpStream`], [`net::TcpSocket`], [`net::UdpSocket`], [`net::UnixListener`], [`net::UnixStream`], [`net::UnixDatagram`], with `split`/`into_split` and the readiness API |
//! | `fs`, `signal` | [`fs`], [`signal`] |
//! | `io::{AsyncRead, AsyncWrite}` | the streams implement `futures_io`'s traits ([`io::AsyncRead`], [`io::AsyncWrite`]) and, with the `tokio-io` feature of `brisk` (or `brisk-compat`), tokio's |
//! | `io::{AsyncReadExt, AsyncWriteExt, AsyncBufReadExt, BufReader, BufWriter, copy, split, empty, sink}` | the same names in [`io`] (re-exported from `futures-lite`; see [`io`] for the few differences) |
//! | `hyper_util::rt::{TokioExecutor, TokioTimer, TokioIo}` | `brisk_compat::hyper::{BriskExecutor, BriskTimer, BriskIo}` |
//! | `tokio::sync`, `tokio::select!` | not provided: tokio's `sync` types and macros need no tokio runtime and work on brisk, as do `async-channel`, `async-lock` and `futures`' channels and `select!` (see [`coming_from_tokio`]) |

#![warn(missing_docs)]

mod blocking;
mod builder;
pub mod coming_from_tokio;
mod coop;
mod current_thread;
pub mod fs;
pub mod io;
mod loom;
#[cfg(all(test, loom))]
mod loom_models;
mod metrics;
pub mod net;
mod runtime;
mod scheduler;
#[cfg(unix)]
pub mod signal;
pub mod stream;
pub mod task;
pub mod time;
mod tsc;

#[cfg(feature = "trace")]
pub mod trace;
#[cfg(not(feature = "trace"))]
mod trace;

pub use builder::{Builder, SpawnPolicy};
pub use metrics::RuntimeMetrics;
pub use runtime::{EnterGuard, Handle, Runtime, RuntimeId};
pub use task::{spawn, spawn_eager, spawn_lazy, JoinError, JoinHandle};

/// `#[brisk::main]`: runs an `async fn main` on a brisk runtime (see `brisk-macros`).
pub use brisk_macros::main;
/// `#[brisk::test]`: runs an `async` test on a brisk runtime (current-thread by default, as
/// `#[tokio::test]`; `flavor = "multi_thread"` for 2 workers, or `worker_threads = N`).
pub use brisk_macros::test;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
