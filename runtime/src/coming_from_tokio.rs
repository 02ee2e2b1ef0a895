//! Coming from tokio: where each part of tokio is in brisk, or which crate to use instead.
//!
//! brisk keeps tokio's names and behaviour under its own paths (`tokio::net::TcpSocket` is
//! [`brisk::net::TcpSocket`](crate::net::TcpSocket), same methods). Two things differ by
//! design: [`spawn`](crate::spawn) is eager (see *Migrating from tokio* in the
//! [crate docs](crate)), and the I/O traits are the `futures-io` family, with tokio's
//! available behind a feature.
//!
//! # Module by module
//!
//! | tokio | brisk, or the crate to use |
//! |---|---|
//! | `#[tokio::main]`, `#[tokio::test]` | [`#[brisk::main]`](crate::main), [`#[brisk::test]`](crate::test) |
//! | `tokio::runtime` (`Runtime`, `Builder`, `Handle`, `Id`) | [`Runtime`](crate::Runtime), [`Builder`](crate::Builder) (thread hooks `on_thread_*`, `name`), [`Handle`](crate::Handle) (`block_on`, `id`), [`RuntimeId`](crate::RuntimeId). A panicking `on_thread_*` hook is reported by the panic hook and its thread carries on (tokio would lose the thread) |
//! | `tokio::task` (`spawn`, `spawn_blocking`, `block_in_place`, `spawn_local`, `LocalSet`, `JoinHandle`, `JoinSet`, `yield_now`, `AbortHandle`, `consume_budget`, `unconstrained`) | [`crate::task`]: [`spawn`](crate::spawn) (eager; [`spawn_lazy`](crate::spawn_lazy) queues like tokio), [`task::spawn_blocking`](crate::task::spawn_blocking), [`task::block_in_place`](crate::task::block_in_place), [`task::TaskGroup`](crate::task::TaskGroup) for `JoinSet` (also under that name, [`task::JoinSet`](crate::task::JoinSet), with its methods). [`task::spawn_local`](crate::task::spawn_local) and [`task::LocalSet`](crate::task::LocalSet) for `!Send` futures (the first poll is eager there too) |
//! | `tokio::time` | [`crate::time`]: `sleep`, `sleep_until`, `timeout`, `timeout_at`, `interval`, `interval_at`, `MissedTickBehavior`, `Instant`, and paused test time: `pause`, `resume`, `advance`, `#[brisk::test(start_paused = true)]` |
//! | `tokio::net` | [`crate::net`]: `TcpListener`, `TcpStream`, `TcpSocket`, `UdpSocket`, `UnixListener`, `UnixStream`, `UnixDatagram`, with the readiness API (`ready`, `readable`, `writable`, `try_read`, `try_write`, ...), `into_std`/`from_std`, split halves. `lookup_host`: not provided (`bind`/`connect` resolve names with std, on the calling thread) |
//! | `tokio::io` | [`crate::io`]: `AsyncReadExt`, `AsyncWriteExt`, `AsyncBufReadExt`, `BufReader`, `BufWriter`, `copy`, `split`, `empty`, `sink` (re-exported from `futures-lite`; differences below). `AsyncFd`: [`io::Registered`](crate::io::Registered) over any mio source. `stdin`/`stdout`: not provided (use std's in [`spawn_blocking`](crate::task::spawn_blocking)) |
//! | tokio's `AsyncRead`/`AsyncWrite` traits, tokio-util codecs | feature `tokio-io`: brisk's streams and halves implement tokio's traits too (`runtime/examples/codec_lines.rs` runs tokio-util's `LinesCodec`) |
//! | `tokio::fs` | [`crate::fs`]: `read`, `write`, `read_to_string`, `File`, `read_dir`, `create_dir_all`, `metadata`, `remove_file`, `rename`, `copy`, ... on the blocking pool |
//! | `tokio::signal` (`ctrl_c`, `unix::signal`, `SignalKind`) | [`crate::signal`]: [`ctrl_c`](crate::signal::ctrl_c), [`signal::unix::signal`](crate::signal::unix::signal), [`SignalKind`](crate::signal::unix::SignalKind) |
//! | `tokio::sync` (`mpsc`, `oneshot`, `watch`, `broadcast`, `Mutex`, `RwLock`, `Semaphore`, `Notify`) | tokio itself with only its `sync` feature: those types need no tokio runtime. Or `async-channel`, `async-lock`, `futures`' channels. All of these run on brisk (`tests/tests/ecosystem.rs`) |
//! | `tokio::select!`, `join!`, `try_join!` | tokio's macros (feature `macros`, no runtime needed) or `futures`' `select!`/`join!`, with brisk's futures inside (`tests/tests/ecosystem.rs`) |
//! | `tokio_stream::StreamExt` | [`crate::stream`] (`Stream`, `StreamExt` from `futures-lite`) |
//! | `tokio::process` | not provided: `std::process::Command` in [`spawn_blocking`](crate::task::spawn_blocking) |
//! | `hyper_util::rt::{TokioExecutor, TokioTimer, TokioIo}` | `brisk_compat::hyper::{BriskExecutor, BriskTimer, BriskIo}` |
//! | a crate that calls `tokio::spawn`, `tokio::time` or `tokio::net` itself | wrap the future that calls it in `brisk_compat::tokio::Compat` (feature `tokio` of `brisk-compat`): one tokio runtime thread, started on first use, serves those calls |
//!
//! # Runtime flavors, local tasks and blocking
//!
//! | tokio | brisk |
//! |---|---|
//! | `Builder::new_multi_thread()`, `Builder::new_current_thread()` | [`Builder::new_multi_thread`](crate::Builder::new_multi_thread) (= [`Builder::new`](crate::Builder::new)), [`Builder::new_current_thread`](crate::Builder::new_current_thread): `block_on` runs every task, timer and socket on its thread, eager first polls included |
//! | `#[tokio::main(flavor = "current_thread")]`, `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` | the same options on [`#[brisk::main]`](crate::main) and [`#[brisk::test]`](crate::test); `#[brisk::test]` is current-thread by default, as tokio's (and `worker_threads = N` alone selects the multi-thread flavor) |
//! | `task::LocalSet`, `task::spawn_local` | [`task::LocalSet`](crate::task::LocalSet), [`task::spawn_local`](crate::task::spawn_local) (the child is polled inline first, like [`spawn`](crate::spawn)) |
//! | `task::block_in_place` | [`task::block_in_place`](crate::task::block_in_place): a stand-in thread runs the worker's tasks during the call; panics on the current-thread runtime |
//! | `Handle::block_on`, `Runtime::shutdown_background`, `Handle::id`, `runtime::Id` | [`Handle::block_on`](crate::Handle::block_on), [`Runtime::shutdown_background`](crate::Runtime::shutdown_background), [`Handle::id`](crate::Handle::id), [`RuntimeId`](crate::RuntimeId) |
//! | `Builder::{on_thread_start, on_thread_stop, on_thread_park, on_thread_unpark}` | the same on [`Builder`](crate::Builder); a hook that panics is reported by the panic hook and its thread carries on (no worker is lost) |
//! | `task::consume_budget`, `task::unconstrained` | [`task::consume_budget`](crate::task::consume_budget), [`task::unconstrained`](crate::task::unconstrained) |
//! | `task::JoinSet` | [`task::JoinSet`](crate::task::JoinSet) = [`task::TaskGroup`](crate::task::TaskGroup), with `JoinSet`'s methods (`spawn_local` too) |
//!
//! # Differences by design
//!
//! * **Builder settings are checked by `build()`**, not by the setter: `worker_threads(0)`,
//!   `max_blocking_threads(0)`, `global_queue_interval(0)` and `event_interval(0)` make
//!   [`Builder::build`](crate::Builder::build) return an `InvalidInput` error naming the setting,
//!   where tokio's setters panic. Handle the `Result` (or `unwrap` it) as before.
//! * **`time::interval`** panics on a zero period, as tokio's does, and delivers missed ticks
//!   as a burst (tokio's default `MissedTickBehavior::Burst`); there is no
//!   `set_missed_tick_behavior`.
//! * **Dropping a runtime inside a task** (or inside `block_on`) panics, as tokio's does; brisk
//!   first stops the runtime without waiting (as
//!   [`shutdown_background`](crate::Runtime::shutdown_background)), so nothing is left running.
//!
//! # `tokio::io` names in `brisk::io`
//!
//! | tokio | brisk |
//! |---|---|
//! | `stream.read(&mut buf)`, `read_exact`, `write_all` on sockets | the same (inherent methods; `read_exact` returns the length, as tokio's) |
//! | `AsyncWriteExt::shutdown` | `AsyncWriteExt::close` (sockets also have an inherent `shutdown`) |
//! | `AsyncBufReadExt::lines` then `lines.next_line().await?` | `lines()` then `lines.next().await` (a [`Stream`](crate::stream::Stream) of `io::Result<String>`) |
//! | `AsyncReadExt::read_buf(&mut bytes)` | the sockets' `try_read_buf` after `readable()`, or `read` into a slice |
//! | `AsyncSeekExt::stream_position` | `seek(SeekFrom::Current(0))` |
//! | `tokio::io::split(stream)`, `copy(&mut r, &mut w)` | [`io::split`](crate::io::split), [`io::copy`](crate::io::copy) (same calls) |
//!
//! A line-based echo server, as a tokio user would write it (also
//! `runtime/examples/line_echo.rs`):
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
//!                 if write.write_all(format!("{line}\n").as_bytes()).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! }
//! ```
//!
//! # Troubleshooting
//!
//! * **"there is no reactor running, must be called from the context of a Tokio 1.x
//!   runtime"** (a panic inside a brisk task): some code called `tokio::time`,
//!   `tokio::net` or `tokio::spawn`, which need a tokio runtime. Use brisk's counterpart
//!   (table above), or wrap the future in `brisk_compat::tokio::Compat` (`.compat()`).
//! * **"there is no brisk reactor running: I/O types must be created from within a brisk
//!   runtime"**: a brisk socket, signal or timer was created outside a brisk runtime (for
//!   instance on a plain thread). Create it inside `block_on`/a task, or enter the runtime
//!   with [`Runtime::enter`](crate::Runtime::enter).
//! * **`the trait tokio::io::AsyncRead is not implemented for brisk::net::TcpStream`**:
//!   turn on the `tokio-io` feature of `brisk`.
//! * **A deadlock or a stale read right after `spawn`**: the child ran inline (eager
//!   spawn). See *Migrating from tokio* in the [crate docs](crate), or use
//!   [`spawn_lazy`](crate::spawn_lazy).
