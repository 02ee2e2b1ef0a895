//! `Runtime` and `Handle`: starting, entering and stopping a runtime.
//!
//! Invariants: the runtime owns its worker threads; dropping it (or `shutdown_timeout`) sets
//! the shutdown flag, wakes and joins the workers, stops the blocking pool (dropping queued
//! closures, waiting for running ones), then cancels every task still owned (each future
//! dropped exactly once, each pending `JoinHandle` resolving as cancelled).

use std::fmt;
use std::future::Future;
use std::io;
use std::num::NonZeroU64;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_deque::Worker;

use crate::builder::{Builder, Config};
use crate::metrics::RuntimeMetrics;
use crate::scheduler::context::{self, Context};
use crate::scheduler::eager::{self, Mode};
use crate::scheduler::park::ThreadParker;
use crate::scheduler::{worker, Shared};
use crate::task::JoinHandle;

/// A brisk runtime: worker threads running tasks with the eager-first policy (or, built with
/// [`Builder::new_current_thread`], the thread inside [`block_on`](Runtime::block_on)).
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     let a = brisk::spawn(async { 20 });
///     let b = brisk::spawn(async { 22 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 42);
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Vec<thread::JoinHandle<()>>,
    running: Arc<Running>,
}

/// Counts running worker threads so shutdown can wait with a timeout.
#[derive(Default)]
struct Running {
    count: Mutex<usize>,
    all_stopped: Condvar,
}

/// Decrements `Running` when a worker thread ends, even by panic.
struct RunningGuard(Arc<Running>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let mut count = self.0.count.lock().unwrap_or_else(|e| e.into_inner());
        *count -= 1;
        if *count == 0 {
            self.0.all_stopped.notify_all();
        }
    }
}

impl Runtime {
    /// A runtime with the default settings (see [`Builder::new`]).
    ///
    /// # Errors
    /// If a worker thread cannot be started.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A [`Builder`] to configure a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn start(config: Config) -> io::Result<Runtime> {
        // A current-thread runtime has one worker slot and no worker thread: `block_on` drives
        // it (`current_thread.rs`).
        let n = if config.current_thread {
            0
        } else {
            config.worker_threads
        };
        let locals: Vec<Worker<TaskRef>> = (0..n).map(|_| Worker::new_fifo()).collect();
        let stealers = locals.iter().map(|w| w.stealer()).collect();
        let name = config.thread_name.clone();
        let shared = Arc::new(Shared::new(config, stealers)?);
        let running = Arc::new(Running {
            count: Mutex::new(n),
            all_stopped: Condvar::new(),
        });
        let mut rt = Runtime {
            handle: Handle { shared },
            threads: Vec::with_capacity(n),
            running,
        };
        for (index, local) in locals.into_iter().enumerate() {
            let shared = rt.handle.shared.clone();
            let guard = RunningGuard(rt.running.clone());
            let spawned = thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || {
                    let _guard = guard;
                    let hooks = shared.config.hooks.clone();
                    {
                        // The hook runs in the runtime's context (`Handle::current` works).
                        let _enter = context::enter(Context::new_blocking(Handle {
                            shared: shared.clone(),
                        }));
                        hooks.thread_start();
                    }
                    let _stop = crate::blocking::StopHook(hooks);
                    worker::run(shared, index, local);
                });
            match spawned {
                Ok(t) => rt.threads.push(t),
                Err(e) => return Err(e), // dropping `rt` stops the workers already started
            }
        }
        Ok(rt)
    }

    /// Runs `future` to completion on this thread and returns its output. Tasks it spawns are
    /// polled eagerly right here (this thread acts as a worker for the eager policy); queued
    /// ones run on the workers. On a [current-thread](Builder::new_current_thread) runtime this
    /// thread is the worker: it runs every queued task, timer and I/O event until `future` is
    /// done.
    ///
    /// # Panics
    /// If called from a thread that already runs brisk tasks (a worker, or inside another
    /// `block_on`): a runtime cannot be started or blocked on from within a runtime.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        block_on(&self.handle, future)
    }

    /// Spawns a task on this runtime (eagerly if called from one of its threads, otherwise
    /// through the injector queue).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// A handle to this runtime, to spawn from other threads.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// A live view of this runtime's counters.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Enters this runtime's context on the current thread until the guard drops: sockets
    /// and timers can be created, and `brisk::spawn` queues tasks on this runtime, outside of
    /// `block_on` (as with tokio's `Runtime::enter`).
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// let handle = {
    ///     let _guard = rt.enter();
    ///     brisk::spawn(async { 3 })
    /// };
    /// assert_eq!(rt.block_on(handle).unwrap(), 3);
    /// ```
    ///
    /// # Panics
    /// When guards are dropped out of order (see [`Handle::enter`]).
    pub fn enter(&self) -> EnterGuard {
        self.handle.enter()
    }

    /// The scheduling trace recorded so far (feature `trace`), worker by worker, each worker's
    /// events in the order it performed them, then those of `block_on` threads.
    #[cfg(feature = "trace")]
    pub fn take_trace(&self) -> Vec<crate::trace::Record> {
        self.handle.shared.trace.take()
    }

    /// Shuts down without waiting: as [`shutdown_timeout`](Self::shutdown_timeout) with a
    /// zero timeout. Every task that is not running is cancelled before this returns; a worker
    /// in the middle of a poll (even one that never yields) and running blocking closures are
    /// left to finish on their own threads, which then exit. Unlike dropping the runtime, this
    /// may be called from inside another runtime's task.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// let never = rt.spawn(std::future::pending::<()>());
    /// rt.shutdown_background();
    /// ```
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }

    /// Shuts down, waiting at most `timeout` in all for workers to finish the poll they are in
    /// and for running [`spawn_blocking`](crate::task::spawn_blocking) closures to return.
    /// Workers and blocking threads still busy after that are left to finish on their own;
    /// every task that is not running is cancelled either way, and blocking closures that had
    /// not started are dropped. (Dropping the runtime waits for them without limit.)
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    fn shutdown(&mut self, timeout: Option<Duration>) {
        let start = Instant::now();
        let shared = &self.handle.shared;
        shared.begin_shutdown();
        let me = thread::current().id();
        let threads = std::mem::take(&mut self.threads);
        match timeout {
            None => {
                for t in threads {
                    // Dropping the runtime from inside one of its own tasks: do not join ourselves.
                    if t.thread().id() != me {
                        let _ = t.join();
                    }
                }
            }
            Some(timeout) => {
                let deadline = Instant::now() + timeout;
                let mut count = self.running.count.lock().unwrap_or_else(|e| e.into_inner());
                while *count > 0 {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    count = self
                        .running
                        .all_stopped
                        .wait_timeout(count, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        // Running blocking closures are waited for within the same timeout (without limit on
        // drop); queued ones are dropped unrun and their tasks cancelled just below.
        shared.blocking.shutdown(timeout.map(|t| start + t));
        shared.cancel_all_tasks();
    }
}

use crate::task::raw::TaskRef;

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.handle.shared.is_shutdown() || !self.threads.is_empty() {
            if context::runs_tasks() && !thread::panicking() {
                // Waiting for the workers here would block a thread that runs tasks (possibly
                // for ever, if one of them waits for this one). Stop without waiting, so that
                // nothing is left running, then say what went wrong.
                self.shutdown(Some(Duration::ZERO));
                panic!(
                    "Cannot drop a brisk runtime in a context where blocking is not allowed: it                      was dropped on a thread that runs brisk tasks (inside a task or `block_on`).                      Drop it on a plain thread or in `spawn_blocking`, or call                      `Runtime::shutdown_background` instead."
                );
            }
            self.shutdown(None);
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("id", &self.handle.id())
            .field("name", &self.handle.name())
            .field("workers", &self.handle.shared.config.worker_threads)
            .field("spawn_policy", &self.handle.shared.config.spawn_policy)
            .finish()
    }
}

/// A cheap, cloneable reference to a runtime, usable from any thread.
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let joined = std::thread::spawn(move || handle.spawn(async { 5 }))
///     .join()
///     .unwrap();
/// assert_eq!(rt.block_on(joined).unwrap(), 5);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl Handle {
    /// The handle of the runtime running the current thread.
    ///
    /// # Panics
    /// Outside a brisk runtime (use [`try_current`](Self::try_current)).
    #[track_caller]
    pub fn current() -> Handle {
        Handle::try_current()
            .expect("brisk::Handle::current() must be called from within a brisk runtime")
    }

    /// The handle of the runtime running the current thread, if any.
    pub fn try_current() -> Option<Handle> {
        context::with_current(|ctx| ctx.map(|c| c.handle.clone()))
    }

    /// Spawns a task on this runtime from any thread: eagerly if this thread runs the
    /// runtime's tasks, otherwise through the injector queue.
    ///
    /// Called from a task or `block_on` of this runtime it **may run the child before it
    /// returns**, exactly as [`brisk::spawn`](crate::spawn) does, with the same hazards: a
    /// `std::sync::Mutex` guard held across the call while the child takes the same lock
    /// deadlocks the thread (in debug builds the stall report names this call's line after
    /// 1 s, see [`Builder::stall_threshold`](crate::Builder::stall_threshold)), and state set
    /// after the call is not seen by the child's first step. From any other thread the child
    /// is queued and runs on a worker.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        eager::spawn_on(&self.shared, crate::task::Id::next(), future, Mode::Policy)
    }

    /// Runs the blocking closure `f` on this runtime's blocking pool, from any thread (see
    /// [`spawn_blocking`](crate::task::spawn_blocking)).
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// let joined = std::thread::spawn(move || handle.spawn_blocking(|| 2 + 2))
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(joined).unwrap(), 4);
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        crate::blocking::spawn_blocking_on(&self.shared, f)
    }

    /// Enters the runtime's context on the current thread until the guard drops (see
    /// [`Runtime::enter`]).
    ///
    /// # Panics
    /// Guards must be dropped in the reverse order of their creation, on the thread that
    /// created them, and must not outlive the `block_on` call or task that created them:
    /// dropping one out of order panics ("EnterGuard values dropped out of order").
    pub fn enter(&self) -> EnterGuard {
        EnterGuard {
            _guard: context::enter(Context::new_blocking(self.clone())),
        }
    }

    /// Runs `future` to completion on this thread, with this runtime's context entered, and
    /// returns its output: [`Runtime::block_on`] through a handle. Works on any thread that
    /// does not run brisk tasks, in particular inside a
    /// [`spawn_blocking`](crate::task::spawn_blocking) closure, to drive async code from
    /// blocking code.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// let out = rt.block_on(async {
    ///     brisk::task::spawn_blocking(|| {
    ///         let handle = brisk::Handle::current();
    ///         handle.block_on(async { brisk::spawn(async { 21 * 2 }).await.unwrap() })
    ///     })
    ///     .await
    ///     .unwrap()
    /// });
    /// assert_eq!(out, 42);
    /// ```
    ///
    /// # Panics
    /// If called from a thread that runs brisk tasks (a worker, or inside another `block_on`):
    /// await the future instead.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        block_on(self, future)
    }

    /// This runtime's id, unique among the runtimes of the process.
    pub fn id(&self) -> RuntimeId {
        RuntimeId(self.shared.config.id)
    }

    /// The runtime's name, if one was given with [`Builder::name`].
    pub fn name(&self) -> Option<&str> {
        self.shared.config.name.as_deref()
    }

    /// A live view of the runtime's counters.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics {
            shared: self.shared.clone(),
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("id", &self.id())
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// A runtime's id ([`Handle::id`]): unique among the runtimes of the process, never reused.
///
/// ```
/// let a = brisk::Runtime::new().unwrap();
/// let b = brisk::Runtime::new().unwrap();
/// assert_ne!(a.handle().id(), b.handle().id());
/// assert_eq!(a.handle().id(), a.handle().clone().id());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuntimeId(NonZeroU64);

impl RuntimeId {
    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for RuntimeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RuntimeId({})", self.0)
    }
}

impl fmt::Display for RuntimeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The guard of [`Runtime::enter`] and [`Handle::enter`]: leaves the runtime's context when
/// dropped (on the thread that entered it; the guard is not `Send`). Guards must be dropped in
/// the reverse order of their creation.
#[must_use = "the runtime's context is left when the guard drops"]
pub struct EnterGuard {
    _guard: context::EnterGuard,
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

/// Clears the coop budget when `block_on` returns (also by panic).
struct ResetBudget;

impl Drop for ResetBudget {
    fn drop(&mut self) {
        crate::coop::set_budget(None);
    }
}

#[track_caller]
fn block_on<F: Future>(handle: &Handle, future: F) -> F::Output {
    if context::runs_tasks() {
        panic!(
            "Cannot start a runtime from within a runtime: brisk's block_on was called on a \
             thread that is already running brisk tasks (a worker thread or another block_on). \
             Await the future instead."
        );
    }
    if handle.shared.config.current_thread {
        return crate::current_thread::block_on(handle, future);
    }
    let enter = context::enter(Context::new(handle.clone(), None, None));
    let ctx = enter.context();
    let _reset = ResetBudget;
    // Counts this thread as running with the runtime's clock (paused time) until `finish`.
    let parker = Arc::new(ThreadParker::new(&handle.shared));
    struct Finish<'a>(&'a ThreadParker);
    impl Drop for Finish<'_> {
        fn drop(&mut self) {
            self.0.finish();
        }
    }
    let _finish = Finish(&parker);
    let waker = Waker::from(parker.clone());
    let mut cx = TaskContext::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        ctx.start_tick();
        ctx.count(|m| &m.polls);
        crate::trace::block_on_poll_start();
        let poll = future.as_mut().poll(&mut cx);
        crate::trace::block_on_poll_end();
        if let Poll::Ready(out) = poll {
            enter.check_in_order();
            return out;
        }
        parker.park(&handle.shared);
    }
}
