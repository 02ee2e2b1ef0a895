//! One small abstraction over the four runtimes the benchmarks compare.
//!
//! Two traits split what a scenario needs:
//! - [`Rt`]: what code running *inside* a task uses (spawn, spawn detached, yield). It is
//!   `Copy`, so a scenario can hand it to every child it spawns without reference counting:
//!   brisk and tokio use their thread-local spawn (a zero-sized value), async-executor a
//!   `&'static Executor`.
//! - [`Host`]: the owner of a running runtime, used from the benchmark's own (non-runtime)
//!   thread: run a future as a task and block until it is done, and spawn from outside.
//!
//! [`AnyRuntime`] holds one of the four hosts and dispatches to the generic scenario code, so
//! each scenario is written once and monomorphised per runtime (no dynamic dispatch on the hot
//! path). Adding an operation that a future scenario needs means one trait method and four
//! short implementations here.
//!
//! Timers and sockets are each runtime's own: `brisk::time` and `brisk::net`, `tokio::time` and
//! `tokio::net`, and for async-executor smol's `async_io::Timer` and `async_net` (the reactor
//! of `async-io`, driven by the executor threads themselves through `async_io::block_on`, as
//! smol runs its executors). TCP streams get `TCP_NODELAY` on every runtime.
//!
//! Every caller-side wait uses the same runtime-neutral `futures_lite::future::block_on` on the
//! task's join handle, so no runtime's own `block_on` thread takes part in the work (brisk's
//! `block_on` would otherwise act as an extra eager worker).

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use async_executor::Executor;

/// The four runtimes, in the order the table shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuntimeKind {
    /// brisk with its default eager-first policy, `SpawnPolicy::Adaptive`.
    BriskEager,
    /// brisk with `SpawnPolicy::Lazy`: every spawn is queued, as on tokio.
    BriskLazy,
    /// tokio's multi-thread runtime (`enable_all`).
    Tokio,
    /// async-executor: one `Executor` run by N threads.
    AsyncExecutor,
}

impl RuntimeKind {
    /// All four, in table order.
    pub const ALL: [RuntimeKind; 4] = [
        RuntimeKind::BriskEager,
        RuntimeKind::BriskLazy,
        RuntimeKind::Tokio,
        RuntimeKind::AsyncExecutor,
    ];

    /// The name used in tables, criterion ids and JSON.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::BriskEager => "brisk-eager",
            RuntimeKind::BriskLazy => "brisk-lazy",
            RuntimeKind::Tokio => "tokio",
            RuntimeKind::AsyncExecutor => "async-executor",
        }
    }
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a scenario running inside a task may do. Implemented by a `Copy` token per runtime.
pub trait Rt: Copy + Send + Sync + 'static {
    /// The joinable future `spawn` returns; its output is the task's output (a task failure
    /// panics the awaiting task, so a broken run cannot report a time).
    type Join<T: Send + 'static>: Future<Output = T> + Send + Unpin + 'static;

    /// Spawns `future` as a new task of this runtime (must be called from one of its tasks).
    fn spawn<F>(self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawns `future` and lets it run to completion without a handle.
    fn spawn_detached<F>(self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// This runtime's own "yield once to the scheduler".
    fn yield_now(self) -> impl Future<Output = ()> + Send;

    /// This runtime's own timer, completing at `deadline` (must be created inside a task).
    fn sleep_until(self, deadline: Instant) -> impl Future<Output = ()> + Send + 'static;

    /// This runtime's own timer, completing after `duration` (`sleep(d)`, reading the clock
    /// as each runtime's own `sleep` does).
    fn sleep(self, duration: Duration) -> impl Future<Output = ()> + Send + 'static;

    /// This runtime's TCP listener.
    type Listener: Send + Sync + 'static;

    /// This runtime's TCP stream.
    type Stream: Conn;

    /// Binds a listener to an ephemeral port on 127.0.0.1; returns it and its address.
    fn listen_local(
        self,
    ) -> impl Future<Output = io::Result<(Self::Listener, SocketAddr)>> + Send + 'static;

    /// Accepts one connection (`TCP_NODELAY` set).
    fn accept(
        self,
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + '_;

    /// Connects to `addr` (`TCP_NODELAY` set).
    fn connect(
        self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static;
}

/// A connected TCP stream, read and written with its runtime's own methods.
pub trait Conn: Send + 'static {
    /// Reads some bytes (at least one, or `0` at end of stream).
    fn recv<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;

    /// Fills `buf` (an error if the stream ends first).
    fn recv_exact<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;

    /// Writes all of `buf`.
    fn send_all<'a>(
        &'a mut self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
}

/// 127.0.0.1 on an ephemeral port.
fn loopback_any() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// The owner of a running runtime, used from the benchmark's (non-runtime) thread.
pub trait Host: Send + Sync {
    /// The in-task token of this runtime.
    type Rt: Rt;

    /// The token to move into tasks.
    fn rt(&self) -> Self::Rt;

    /// Spawns `future` on the runtime and blocks the calling thread until it completes.
    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawns `future` from a thread that does not run this runtime (the remote path: brisk's
    /// injector, tokio's inject queue, async-executor's global queue), detached.
    fn spawn_remote_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;
}

/// Turns a join handle whose output is `Result<T, E>` into a future of `T`, panicking on `E`
/// (a panicked or cancelled benchmark task is a broken benchmark).
#[derive(Debug)]
pub struct Unwrapped<J>(J);

impl<J, T, E> Future for Unwrapped<J>
where
    J: Future<Output = Result<T, E>> + Unpin,
    E: fmt::Display,
{
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0).poll(cx).map(|r| match r {
            Ok(v) => v,
            Err(e) => panic!("brisk-benches: a benchmark task failed: {e}"),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// brisk

/// In-task token for brisk: `brisk::spawn` and `brisk::task::yield_now` (thread-local, free to
/// copy). The spawn policy is the runtime's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Brisk;

impl Rt for Brisk {
    type Join<T: Send + 'static> = Unwrapped<brisk::JoinHandle<T>>;

    // `track_caller`: the scheduling trace names a task by the scenario line that spawned it.
    #[inline]
    #[track_caller]
    fn spawn<F>(self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(brisk::spawn(future))
    }

    #[inline]
    #[track_caller]
    fn spawn_detached<F>(self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(brisk::spawn(future));
    }

    #[inline]
    fn yield_now(self) -> impl Future<Output = ()> + Send {
        brisk::task::yield_now()
    }

    #[inline]
    fn sleep_until(self, deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        brisk::time::sleep_until(deadline.into())
    }

    #[inline]
    fn sleep(self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        brisk::time::sleep(duration)
    }

    type Listener = brisk::net::TcpListener;
    type Stream = brisk::net::TcpStream;

    async fn listen_local(self) -> io::Result<(Self::Listener, SocketAddr)> {
        let l = brisk::net::TcpListener::bind(loopback_any()).await?;
        let addr = l.local_addr()?;
        Ok((l, addr))
    }

    async fn accept(self, listener: &Self::Listener) -> io::Result<Self::Stream> {
        let (s, _) = listener.accept().await?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    async fn connect(self, addr: SocketAddr) -> io::Result<Self::Stream> {
        let s = brisk::net::TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }
}

impl Conn for brisk::net::TcpStream {
    #[inline]
    fn recv<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        self.read(buf)
    }

    async fn recv_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.read_exact(buf).await.map(drop)
    }

    #[inline]
    fn send_all<'a>(
        &'a mut self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        self.write_all(buf)
    }
}

/// A brisk runtime with a given spawn policy.
#[derive(Debug)]
pub struct BriskHost {
    rt: brisk::Runtime,
}

impl BriskHost {
    /// Starts a brisk runtime with `workers` worker threads and `policy`.
    ///
    /// # Errors
    /// If the runtime cannot start its threads.
    pub fn new(workers: usize, policy: brisk::SpawnPolicy) -> io::Result<BriskHost> {
        let name = match policy {
            brisk::SpawnPolicy::Adaptive | brisk::SpawnPolicy::Eager => "brisk-eager",
            brisk::SpawnPolicy::Lazy => "brisk-lazy",
        };
        let rt = brisk::Runtime::builder()
            .worker_threads(workers)
            .spawn_policy(policy)
            .thread_name(name)
            .build()?;
        Ok(BriskHost { rt })
    }

    /// The underlying runtime (for its metrics).
    pub fn runtime(&self) -> &brisk::Runtime {
        &self.rt
    }
}

impl Host for BriskHost {
    type Rt = Brisk;

    fn rt(&self) -> Brisk {
        Brisk
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures_lite::future::block_on(Unwrapped(self.rt.handle().spawn(future)))
    }

    fn spawn_remote_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.rt.handle().spawn(future));
    }
}

// ---------------------------------------------------------------------------------------------
// tokio

/// In-task token for tokio: `tokio::spawn` and `tokio::task::yield_now`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Rt for Tokio {
    type Join<T: Send + 'static> = Unwrapped<tokio::task::JoinHandle<T>>;

    #[inline]
    fn spawn<F>(self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(tokio::spawn(future))
    }

    #[inline]
    fn spawn_detached<F>(self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(future));
    }

    #[inline]
    fn yield_now(self) -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    #[inline]
    fn sleep_until(self, deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }

    #[inline]
    fn sleep(self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep(duration)
    }

    type Listener = tokio::net::TcpListener;
    type Stream = tokio::net::TcpStream;

    async fn listen_local(self) -> io::Result<(Self::Listener, SocketAddr)> {
        let l = tokio::net::TcpListener::bind(loopback_any()).await?;
        let addr = l.local_addr()?;
        Ok((l, addr))
    }

    async fn accept(self, listener: &Self::Listener) -> io::Result<Self::Stream> {
        let (s, _) = listener.accept().await?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    async fn connect(self, addr: SocketAddr) -> io::Result<Self::Stream> {
        let s = tokio::net::TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }
}

impl Conn for tokio::net::TcpStream {
    #[inline]
    fn recv<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        tokio::io::AsyncReadExt::read(self, buf)
    }

    async fn recv_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        tokio::io::AsyncReadExt::read_exact(self, buf)
            .await
            .map(drop)
    }

    #[inline]
    fn send_all<'a>(
        &'a mut self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        tokio::io::AsyncWriteExt::write_all(self, buf)
    }
}

/// A tokio multi-thread runtime (`enable_all`, as `#[tokio::main]` builds it).
#[derive(Debug)]
pub struct TokioHost {
    rt: tokio::runtime::Runtime,
}

impl TokioHost {
    /// Starts a tokio multi-thread runtime with `workers` worker threads.
    ///
    /// # Errors
    /// If the runtime cannot start.
    pub fn new(workers: usize) -> io::Result<TokioHost> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("tokio-worker")
            .enable_all()
            .build()?;
        Ok(TokioHost { rt })
    }
}

impl Host for TokioHost {
    type Rt = Tokio;

    fn rt(&self) -> Tokio {
        Tokio
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures_lite::future::block_on(Unwrapped(self.rt.spawn(future)))
    }

    fn spawn_remote_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.rt.spawn(future));
    }
}

// ---------------------------------------------------------------------------------------------
// async-executor

/// In-task token for async-executor: the shared executor (`&'static`, so copying it costs no
/// reference count) and `futures_lite::future::yield_now`.
#[derive(Debug, Clone, Copy)]
pub struct AsyncExec(&'static Executor<'static>);

impl Rt for AsyncExec {
    type Join<T: Send + 'static> = async_executor::Task<T>;

    #[inline]
    fn spawn<F>(self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(future)
    }

    #[inline]
    fn spawn_detached<F>(self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.spawn(future).detach();
    }

    #[inline]
    fn yield_now(self) -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    #[inline]
    fn sleep_until(self, deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        TimerUnit(async_io::Timer::at(deadline))
    }

    #[inline]
    fn sleep(self, duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        TimerUnit(async_io::Timer::after(duration))
    }

    type Listener = async_net::TcpListener;
    type Stream = async_net::TcpStream;

    async fn listen_local(self) -> io::Result<(Self::Listener, SocketAddr)> {
        let l = async_net::TcpListener::bind(loopback_any()).await?;
        let addr = l.local_addr()?;
        Ok((l, addr))
    }

    async fn accept(self, listener: &Self::Listener) -> io::Result<Self::Stream> {
        let (s, _) = listener.accept().await?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    async fn connect(self, addr: SocketAddr) -> io::Result<Self::Stream> {
        let s = async_net::TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }
}

/// `async_io::Timer` as a future of `()` (its own output is the `Instant` it fired at).
#[derive(Debug)]
pub struct TimerUnit(async_io::Timer);

impl Future for TimerUnit {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

impl Conn for async_net::TcpStream {
    #[inline]
    fn recv<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        futures_lite::AsyncReadExt::read(self, buf)
    }

    #[inline]
    fn recv_exact<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        futures_lite::AsyncReadExt::read_exact(self, buf)
    }

    #[inline]
    fn send_all<'a>(
        &'a mut self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        futures_lite::AsyncWriteExt::write_all(self, buf)
    }
}

/// An async-executor `Executor` run by N threads, each in
/// `async_io::block_on(ex.run(shutdown_signal))`, the multi-threaded setup of smol (whose
/// `block_on` is `async_io::block_on`): an idle executor thread drives the `async-io` reactor
/// (timers and sockets) instead of sleeping on a futex.
///
/// The executor is leaked (one small allocation per host) so that tasks can hold it as a
/// `&'static` and spawn without reference counting; its threads stop when the host is dropped.
#[derive(Debug)]
pub struct AsyncExecutorHost {
    ex: &'static Executor<'static>,
    stop: async_channel::Sender<()>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl AsyncExecutorHost {
    /// Starts `workers` threads running one executor.
    ///
    /// # Errors
    /// If a thread cannot be started.
    pub fn new(workers: usize) -> io::Result<AsyncExecutorHost> {
        let ex: &'static Executor<'static> = Box::leak(Box::new(Executor::new()));
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let mut host = AsyncExecutorHost {
            ex,
            stop,
            threads: Vec::with_capacity(workers),
        };
        for i in 0..workers {
            let stopped = stopped.clone();
            let t = thread::Builder::new()
                .name(format!("async-executor-{i}"))
                .spawn(move || {
                    let _ = async_io::block_on(ex.run(stopped.recv()));
                })?;
            host.threads.push(t);
        }
        Ok(host)
    }
}

impl Drop for AsyncExecutorHost {
    fn drop(&mut self) {
        self.stop.close();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Host for AsyncExecutorHost {
    type Rt = AsyncExec;

    fn rt(&self) -> AsyncExec {
        AsyncExec(self.ex)
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures_lite::future::block_on(self.ex.spawn(future))
    }

    fn spawn_remote_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.ex.spawn(future).detach();
    }
}

// ---------------------------------------------------------------------------------------------
// the enum

/// One running runtime of any of the four kinds.
#[derive(Debug)]
pub enum AnyRuntime {
    /// brisk, its default eager-first policy (`SpawnPolicy::Adaptive`).
    BriskEager(BriskHost),
    /// brisk, `SpawnPolicy::Lazy`.
    BriskLazy(BriskHost),
    /// tokio multi-thread.
    Tokio(TokioHost),
    /// async-executor on N threads.
    AsyncExecutor(AsyncExecutorHost),
}

impl AnyRuntime {
    /// Starts a runtime of `kind` with `workers` worker threads.
    ///
    /// # Errors
    /// If the runtime cannot start.
    pub fn build(kind: RuntimeKind, workers: usize) -> io::Result<AnyRuntime> {
        Ok(match kind {
            RuntimeKind::BriskEager => {
                AnyRuntime::BriskEager(BriskHost::new(workers, brisk::SpawnPolicy::default())?)
            }
            RuntimeKind::BriskLazy => {
                AnyRuntime::BriskLazy(BriskHost::new(workers, brisk::SpawnPolicy::Lazy)?)
            }
            RuntimeKind::Tokio => AnyRuntime::Tokio(TokioHost::new(workers)?),
            RuntimeKind::AsyncExecutor => {
                AnyRuntime::AsyncExecutor(AsyncExecutorHost::new(workers)?)
            }
        })
    }

    /// Which runtime this is.
    pub fn kind(&self) -> RuntimeKind {
        match self {
            AnyRuntime::BriskEager(_) => RuntimeKind::BriskEager,
            AnyRuntime::BriskLazy(_) => RuntimeKind::BriskLazy,
            AnyRuntime::Tokio(_) => RuntimeKind::Tokio,
            AnyRuntime::AsyncExecutor(_) => RuntimeKind::AsyncExecutor,
        }
    }
}

impl AnyRuntime {
    /// A snapshot of brisk's scheduling counters (`None` for tokio and async-executor).
    pub fn brisk_counters(&self) -> Option<BriskCounters> {
        match self {
            AnyRuntime::BriskEager(h) | AnyRuntime::BriskLazy(h) => {
                Some(BriskCounters::of(&h.runtime().metrics()))
            }
            AnyRuntime::Tokio(_) | AnyRuntime::AsyncExecutor(_) => None,
        }
    }
}

/// brisk's scheduling counters (see `brisk::RuntimeMetrics`), to explain a scenario's figures:
/// how many spawns finished inline, were suspended, or were deferred to a queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BriskCounters {
    /// Tasks spawned.
    pub spawned: u64,
    /// Polls of queued tasks (ticks) and of `block_on` futures (`queued_polls`).
    pub polls: u64,
    /// Eager spawns that finished in their inline first poll.
    pub eager_completed: u64,
    /// Eager spawns whose inline first poll returned `Pending`.
    pub eager_suspended: u64,
    /// Spawns eligible for an inline poll that were queued instead (budget or depth spent, or
    /// the spawn site demoted by the adaptive policy).
    pub eager_deferred: u64,
    /// Queued tasks run inline by awaiting their handle.
    pub await_inlined: u64,
    /// Tasks stolen from another worker.
    pub steals: u64,
    /// Sleeping workers woken for new work (each a system call on the waking thread).
    pub wakeups: u64,
    /// Wake-ups owed to a dozing worker instead of sent.
    pub owed_wakeups: u64,
}

impl BriskCounters {
    /// Reads the live counters.
    pub fn of(m: &brisk::RuntimeMetrics) -> BriskCounters {
        BriskCounters {
            spawned: m.spawned_tasks(),
            polls: m.queued_polls(),
            eager_completed: m.eager_completed(),
            eager_suspended: m.eager_suspended(),
            eager_deferred: m.eager_deferred() + m.adaptive_deferred(),
            await_inlined: m.await_inlined(),
            steals: m.steals(),
            wakeups: m.wakeups(),
            owed_wakeups: m.owed_wakeups(),
        }
    }

    /// The counts from `earlier` to `self`.
    pub fn since(&self, earlier: &BriskCounters) -> BriskCounters {
        BriskCounters {
            spawned: self.spawned.wrapping_sub(earlier.spawned),
            polls: self.polls.wrapping_sub(earlier.polls),
            eager_completed: self.eager_completed.wrapping_sub(earlier.eager_completed),
            eager_suspended: self.eager_suspended.wrapping_sub(earlier.eager_suspended),
            eager_deferred: self.eager_deferred.wrapping_sub(earlier.eager_deferred),
            await_inlined: self.await_inlined.wrapping_sub(earlier.await_inlined),
            steals: self.steals.wrapping_sub(earlier.steals),
            wakeups: self.wakeups.wrapping_sub(earlier.wakeups),
            owed_wakeups: self.owed_wakeups.wrapping_sub(earlier.owed_wakeups),
        }
    }

    /// The sum of two sets of counts.
    pub fn plus(&self, other: &BriskCounters) -> BriskCounters {
        BriskCounters {
            spawned: self.spawned + other.spawned,
            polls: self.polls + other.polls,
            eager_completed: self.eager_completed + other.eager_completed,
            eager_suspended: self.eager_suspended + other.eager_suspended,
            eager_deferred: self.eager_deferred + other.eager_deferred,
            await_inlined: self.await_inlined + other.await_inlined,
            steals: self.steals + other.steals,
            wakeups: self.wakeups + other.wakeups,
            owed_wakeups: self.owed_wakeups + other.owed_wakeups,
        }
    }
}
