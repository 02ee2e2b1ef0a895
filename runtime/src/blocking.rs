//! The blocking pool: threads for closures that block, so that they never hold a worker.
//!
//! [`spawn_blocking`] puts the closure in a [`BlockingCell`] shared by two sides:
//! - the pool, which holds it as an `Arc<dyn Job>` in its queue and runs the closure on a pool
//!   thread, catching a panic, then stores the result and wakes the waiting task;
//! - a small brisk task whose future ([`Receiver`]) waits for that result and returns it (or
//!   resumes the closure's panic, so the `JoinHandle` reports `is_panic()`). It is spawned with
//!   an eager first poll whatever the policy (it runs no user code: the poll only registers its
//!   waker), which saves a queue trip and a worker wake-up.
//!
//! So a `spawn_blocking` costs the cell, the task, and a queue push under the pool's lock.
//!
//! The pool grows on demand: a job goes to an idle thread if there is one, otherwise a new
//! thread is started while fewer than `max_blocking_threads` are alive; otherwise the job waits
//! in the queue. A thread idle for `thread_keep_alive` exits.
//!
//! Invariants:
//! - `State::idle` counts threads waiting on `work` that have not been handed a notification;
//!   a submitter that notifies moves one from `idle` to `notified`, and the woken thread
//!   consumes one `notified`. So a notification is never lost to a thread timing out.
//! - After `shutdown`, nothing is accepted and the queue is empty: queued jobs are cancelled
//!   (their closures dropped unrun); the runtime then cancels their waiting tasks, whose
//!   `JoinHandle`s resolve as cancelled.
//! - A job whose task was dropped (aborted) before the job started is skipped.
//! - The cell's waker is a reference to the task, and the task holds the cell: the waker is
//!   taken out whenever the cell reaches a final state (result stored, or cancelled), so the
//!   two never keep each other alive.
//! - Pool threads enter the runtime's context without an eager budget: inside a blocking
//!   closure `Handle::current()` and `brisk::spawn` work (spawns are queued, never polled on
//!   the pool thread).

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use crate::runtime::Handle;
use crate::scheduler::context::{self, Context};
use crate::scheduler::eager::{self, Mode};
use crate::scheduler::Shared;
use crate::task::Id;
use crate::task::JoinHandle;

/// Runs the blocking closure `f` on the runtime's blocking pool and returns a [`JoinHandle`]
/// for its result.
///
/// Use it for work that blocks the thread (file system calls, synchronous libraries, CPU-heavy
/// loops) so that it does not hold a worker. The pool starts threads on demand, up to
/// [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads) (default 512); beyond
/// that, closures wait in a queue. Threads idle for
/// [`Builder::thread_keep_alive`](crate::Builder::thread_keep_alive) (default 10 s) exit.
///
/// A panic in `f` is caught: awaiting the handle yields a `JoinError` with
/// [`is_panic`](crate::JoinError::is_panic). Aborting the handle before the closure started
/// keeps it from running; once it runs, it runs to the end (its result is then dropped).
///
/// Inside `f`, [`Handle::current`] works and [`brisk::spawn`](crate::spawn) queues the new task
/// on the runtime (it is never polled on the blocking thread); `Runtime::block_on` works there,
/// to drive async code from the blocking closure (as with tokio).
///
/// At runtime shutdown, closures already running are waited for (up to the
/// [`shutdown_timeout`](crate::Runtime::shutdown_timeout), without limit when the runtime is
/// dropped); closures still queued are dropped unrun and their handles resolve as cancelled.
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// let len = rt.block_on(async {
///     let handle = brisk::task::spawn_blocking(|| {
///         // Blocking here is fine: this is a blocking-pool thread, not a worker.
///         std::thread::sleep(std::time::Duration::from_millis(10));
///         "done".len()
///     });
///     handle.await.unwrap()
/// });
/// assert_eq!(len, 4);
/// ```
///
/// # Panics
/// If called outside a brisk runtime (use [`Handle::spawn_blocking`] from other threads), or
/// if the pool has no thread and the OS refuses to start one.
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let Some(shared) = context::with_current(|ctx| ctx.map(|c| c.shared().clone())) else {
        panic!(
            "brisk::task::spawn_blocking must be called from within a brisk runtime; use \
             `Handle::spawn_blocking` from other threads"
        )
    };
    spawn_blocking_on(&shared, f)
}

/// Submits `f` to `shared`'s pool and spawns the task that waits for its result.
#[track_caller]
pub(crate) fn spawn_blocking_on<F, R>(shared: &Arc<Shared>, f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    // The id first, so that `task::id()` inside the closure is the waiting task's.
    let id = Id::next();
    let cell = Arc::new(BlockingCell {
        id,
        inner: Mutex::new(CellInner {
            stage: Stage::Queued(f),
            waker: None,
        }),
    });
    let job: Arc<dyn Job> = cell.clone();
    if let Err(job) = shared.blocking.submit(shared, job) {
        // Shutting down: the closure never runs, and the runtime cancels the task below.
        job.cancel();
    }
    eager::spawn_on(shared, id, Receiver { cell }, Mode::Eager)
}

/// A queued closure, type-erased for the pool.
trait Job: Send + Sync {
    /// Runs the closure (unless its task is gone) and hands the result to the task.
    fn run(&self);
    /// Drops the closure unrun (shutdown).
    fn cancel(&self);
}

/// The closure, then its result, shared by the pool and the waiting task.
struct BlockingCell<F, R> {
    /// The id of the task that waits for the result.
    id: Id,
    inner: Mutex<CellInner<F, R>>,
}

struct CellInner<F, R> {
    stage: Stage<F, R>,
    /// The waiting task's waker (a reference to it); empty in every final stage.
    waker: Option<Waker>,
}

enum Stage<F, R> {
    /// Waiting for a pool thread.
    Queued(F),
    /// Running on a pool thread.
    Running,
    /// Finished: the closure's value or its panic, until the task takes it.
    Done(thread::Result<R>),
    /// Taken by the task, or dropped unrun (shutdown, or the task was aborted first).
    Gone,
}

impl<F, R> BlockingCell<F, R> {
    fn lock(&self) -> MutexGuard<'_, CellInner<F, R>> {
        // The closure never runs under the lock; a poisoned lock can only come from a panicking
        // waker clone, which leaves the cell consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<F, R> Job for BlockingCell<F, R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    fn run(&self) {
        let f = {
            let mut inner = self.lock();
            match std::mem::replace(&mut inner.stage, Stage::Running) {
                Stage::Queued(f) => f,
                other => {
                    // The task was aborted before we started: skip.
                    inner.stage = other;
                    return;
                }
            }
        };
        let result = {
            let _task = crate::task::enter_task(self.id);
            catch_unwind(AssertUnwindSafe(f))
        };
        let waker = {
            let mut inner = self.lock();
            inner.stage = Stage::Done(result);
            inner.waker.take()
        };
        if let Some(waker) = waker {
            // User code: a panicking waker must not kill the pool thread.
            let _ = catch_unwind(AssertUnwindSafe(move || waker.wake()));
        }
    }

    fn cancel(&self) {
        let (stage, waker) = {
            let mut inner = self.lock();
            let stage = match inner.stage {
                Stage::Queued(_) => std::mem::replace(&mut inner.stage, Stage::Gone),
                _ => Stage::Gone,
            };
            (stage, inner.waker.take())
        };
        // Drop the closure and the waker outside the lock.
        drop(stage);
        drop(waker);
    }
}

/// The future of the task that waits for a blocking closure.
struct Receiver<F, R> {
    cell: Arc<BlockingCell<F, R>>,
}

impl<F, R> Future for Receiver<F, R> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<R> {
        let mut inner = self.cell.lock();
        match std::mem::replace(&mut inner.stage, Stage::Gone) {
            Stage::Done(Ok(value)) => Poll::Ready(value),
            Stage::Done(Err(panic)) => {
                drop(inner);
                // Caught by the task: its JoinHandle reports the panic.
                resume_unwind(panic)
            }
            stage => {
                let cancelled = matches!(stage, Stage::Gone);
                inner.stage = stage;
                // After a cancel (shutdown) nobody will wake us: the runtime cancels this task.
                if !cancelled
                    && !inner
                        .waker
                        .as_ref()
                        .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    inner.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl<F, R> Drop for Receiver<F, R> {
    fn drop(&mut self) {
        // The task is gone (completed, aborted, or cancelled at shutdown): a closure that has
        // not started must not run, and our waker must not stay in the cell.
        let (stage, waker) = {
            let mut inner = self.cell.lock();
            let stage = match inner.stage {
                Stage::Queued(_) => std::mem::replace(&mut inner.stage, Stage::Gone),
                _ => Stage::Gone,
            };
            (stage, inner.waker.take())
        };
        drop(stage);
        drop(waker);
    }
}

/// The blocking pool of one runtime.
pub(crate) struct BlockingPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    state: Mutex<State>,
    /// Signalled when a job is queued for an idle thread, and at shutdown.
    work: Condvar,
    /// Signalled when a thread exits.
    exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: String,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Arc<dyn Job>>,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for work and not yet notified.
    idle: usize,
    /// Notifications sent and not yet consumed.
    notified: usize,
    shutdown: bool,
}

thread_local! {
    /// The pool this thread belongs to (null on other threads), so that a runtime dropped
    /// from inside a blocking closure does not wait for itself.
    static CURRENT_POOL: Cell<*const PoolInner> = const { Cell::new(std::ptr::null()) };
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize, keep_alive: Duration, thread_name: String) -> Self {
        BlockingPool {
            inner: Arc::new(PoolInner {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                exited: Condvar::new(),
                max_threads,
                keep_alive,
                thread_name,
            }),
        }
    }

    /// Queues `job`, handing it to an idle thread or starting one if the limit allows. Gives
    /// the job back if the pool is shut down.
    fn submit(&self, shared: &Arc<Shared>, job: Arc<dyn Job>) -> Result<(), Arc<dyn Job>> {
        let mut state = self.inner.lock();
        if state.shutdown {
            return Err(job);
        }
        state.queue.push_back(job);
        if state.idle > 0 {
            state.idle -= 1;
            state.notified += 1;
            drop(state);
            self.inner.work.notify_one();
            return Ok(());
        }
        if state.threads >= self.inner.max_threads {
            // Every thread is busy: the job waits for the next free one.
            return Ok(());
        }
        state.threads += 1;
        drop(state);
        let inner = self.inner.clone();
        let handle = Handle {
            shared: shared.clone(),
        };
        let spawned = thread::Builder::new()
            .name(format!("{}-blocking", self.inner.thread_name))
            .spawn(move || run(inner, handle));
        if let Err(err) = spawned {
            let mut state = self.inner.lock();
            state.threads -= 1;
            let none_left = state.threads == 0;
            drop(state);
            self.inner.exited.notify_all();
            // A busy thread takes the job when it is done; with none at all it would never run.
            assert!(
                !none_left,
                "brisk: failed to start a blocking-pool thread: {err}"
            );
        }
        Ok(())
    }

    /// Stops accepting work, drops the queued jobs unrun, and waits until every thread has
    /// exited (threads finish the closure they are running first), until `deadline` if given.
    pub(crate) fn shutdown(&self, deadline: Option<Instant>) {
        let queued = {
            let mut state = self.inner.lock();
            state.shutdown = true;
            std::mem::take(&mut state.queue)
        };
        self.inner.work.notify_all();
        for job in queued {
            job.cancel();
        }
        // A runtime dropped from one of its own blocking closures cannot wait for itself.
        let me = CURRENT_POOL.with(|p| std::ptr::eq(p.get(), Arc::as_ptr(&self.inner)));
        let others = usize::from(me);
        let mut state = self.inner.lock();
        while state.threads > others {
            state = match deadline {
                None => self
                    .inner
                    .exited
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.inner
                        .exited
                        .wait_timeout(state, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

impl PoolInner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counts the thread out when it ends, even by panic.
struct ThreadGuard(Arc<PoolInner>);

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.threads -= 1;
        drop(state);
        self.0.exited.notify_all();
    }
}

/// A pool thread's loop: run queued jobs; wait up to `keep_alive` for more; exit.
fn run(inner: Arc<PoolInner>, handle: Handle) {
    // Dropped last: the thread counts as gone only once it released the runtime.
    let _count = ThreadGuard(inner.clone());
    CURRENT_POOL.with(|p| p.set(Arc::as_ptr(&inner)));
    // No tick is ever started here, so the eager budget stays 0: spawns are queued.
    let hooks = handle.shared.config.hooks.clone();
    let _enter = context::enter(Context::new_blocking(handle));
    hooks.thread_start();
    let _stop = StopHook(hooks);
    work(&inner);
}

/// Runs the `on_thread_stop` hook when a runtime thread ends, even by panic.
pub(crate) struct StopHook(pub(crate) crate::builder::Hooks);

impl Drop for StopHook {
    fn drop(&mut self) {
        self.0.thread_stop();
    }
}

fn work(inner: &PoolInner) {
    let mut state = inner.lock();
    'work: loop {
        while let Some(job) = state.queue.pop_front() {
            drop(state);
            job.run();
            drop(job);
            state = inner.lock();
        }
        if state.shutdown {
            return;
        }
        state.idle += 1;
        let deadline = Instant::now() + inner.keep_alive;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            state = inner
                .work
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            if state.notified > 0 {
                // A submitter moved one idle thread to `notified`: we take that turn.
                state.notified -= 1;
                continue 'work;
            }
            if state.shutdown || Instant::now() >= deadline {
                state.idle -= 1;
                return;
            }
            // Spurious wake-up: keep waiting.
        }
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("BlockingPool")
            .field("threads", &state.threads)
            .field("idle", &state.idle)
            .field("queued", &state.queue.len())
            .field("max_threads", &self.inner.max_threads)
            .finish()
    }
}
