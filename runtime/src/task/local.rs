//! Local tasks: [`LocalSet`] and [`spawn_local`], for futures that are not `Send`.
//!
//! A `LocalSet` is a scheduler of its own for the task core: its tasks live in its owned-task
//! list and its run queue, and only the thread that owns the set (it is `!Send`) ever polls,
//! cancels or drops their futures. Wakers may fire on any thread: they push the task to the
//! set's queue (under a mutex) and wake whoever is driving the set ([`LocalSet::run_until`],
//! or the set awaited as a future).
//!
//! Invariants:
//! - A local task's future is touched only on the owner thread: by a poll in
//!   [`LocalSet`]'s tick or an eager first poll in [`spawn_local`], or by the cancellation of a
//!   queue entry or owned task when the set is dropped. Wakers, `JoinHandle`s and
//!   `AbortHandle`s on other threads never drop it (the task core only drops a future through
//!   its scheduler), so the core's `Send` bound can be lifted for these tasks.
//! - A dropped set closes its owned list (cancelling the suspended tasks), then drains its queue
//!   (cancelling the tasks never polled) on its thread; only once the queue was found empty
//!   (`drained`, under the queue lock) does `schedule` drop the entries it receives instead of
//!   queueing them: every task's future is gone by then, so that drops no future.
//! - `live` counts the set's tasks whose future is not gone yet; the set, awaited as a future,
//!   is ready when it reaches 0.
//! - Eager first polls follow the runtime's policy and limits: `spawn_local` from inside a
//!   local task (or the `run_until` future) polls the child inline within the set's own
//!   per-tick budget and depth limit (the runtime's `eager_budget` and `eager_depth`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::owned::OwnedTasks;
use super::raw::{self, TaskRef};
use super::schedule::Schedule;
use super::state::QUEUED_START;
use super::{harness, Id, JoinHandle};
use crate::builder::SpawnPolicy;
use crate::scheduler::context;

/// Local tasks polled per poll of the set before it yields (like a worker's queue interval).
const TASKS_PER_TICK: usize = 61;

/// Eager limits used when no runtime is entered on this thread (the builder's defaults).
const DEFAULT_EAGER_BUDGET: u32 = 128;
const DEFAULT_EAGER_DEPTH: u32 = 16;

/// The part of a set that wakers and handles on other threads reach.
struct Shared {
    queue: Mutex<VecDeque<TaskRef>>,
    /// The waker of whoever drives the set.
    waker: Mutex<Option<Waker>>,
    owned: OwnedTasks,
    closed: AtomicBool,
    /// Set (under the queue lock) once the dropped set drained its queue for the last time.
    drained: AtomicBool,
    /// Tasks whose future is not gone yet.
    live: AtomicUsize,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, VecDeque<TaskRef>> {
        // No user code runs under this lock.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_driver(&self) {
        let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn register_driver(&self, waker: &Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(|e| e.into_inner());
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

/// The scheduler the task core sees for local tasks.
#[derive(Clone)]
struct LocalScheduler(Arc<Shared>);

impl Schedule for LocalScheduler {
    fn schedule(&self, task: TaskRef) {
        let mut queue = self.0.queue();
        if self.0.drained.load(Ordering::Relaxed) {
            // The set is gone: it cancelled every task and drained its queue (the flag is
            // written under this lock after the last drain), so this entry's future is gone
            // too and dropping the entry drops no future, on whatever thread this is.
            drop(queue);
            drop(task);
            return;
        }
        queue.push_back(task);
        drop(queue);
        self.0.wake_driver();
    }

    fn owned(&self) -> &OwnedTasks {
        &self.0.owned
    }

    fn identity(&self) -> *const () {
        Arc::as_ptr(&self.0).cast()
    }
}

/// The owner-thread state of a set.
struct Inner {
    scheduler: LocalScheduler,
    /// Inline polls left in this tick, and the current inline depth.
    eager_left: Cell<u32>,
    depth: Cell<u32>,
}

impl Inner {
    /// The runtime's eager settings if one is entered here, else the defaults.
    fn limits() -> (bool, u32, u32) {
        context::with_current(|ctx| match ctx {
            Some(c) => {
                let config = &c.shared().config;
                (
                    config.spawn_policy != SpawnPolicy::Lazy,
                    config.eager_budget,
                    config.eager_depth,
                )
            }
            None => (true, DEFAULT_EAGER_BUDGET, DEFAULT_EAGER_DEPTH),
        })
    }

    fn start_tick(&self) {
        self.eager_left.set(Inner::limits().1);
    }
}

thread_local! {
    /// The set entered on this thread (while it is being driven), innermost last.
    static CURRENT: RefCell<Vec<Rc<Inner>>> = const { RefCell::new(Vec::new()) };
}

/// Makes a set the current one on this thread until dropped.
struct Entered;

impl Entered {
    fn enter(inner: &Rc<Inner>) -> Entered {
        CURRENT.with(|c| c.borrow_mut().push(inner.clone()));
        Entered
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.borrow_mut().pop());
    }
}

/// Counts a local task as live until its future is dropped.
struct Live<F> {
    future: F,
    _count: LiveCount,
}

struct LiveCount(Arc<Shared>);

impl Drop for LiveCount {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last one: a driver waiting for the set to be empty can finish.
            self.0.wake_driver();
        }
    }
}

impl<F: Future> Future for Live<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: `Live` never moves it or hands out an
        // unpinned `&mut F`, has no `Drop` impl, is not `repr(packed)`, and is `Unpin` only when
        // `F` is.
        unsafe { self.map_unchecked_mut(|l| &mut l.future) }.poll(cx)
    }
}

/// A set of tasks that all run on the thread that drives the set, so their futures need not
/// be `Send`: tokio's `LocalSet`.
///
/// Tasks are added with [`spawn_local`] (inside the set: the child gets an eager first poll,
/// as [`spawn`](crate::spawn) gives one) or [`LocalSet::spawn_local`] (from outside: queued).
/// They run while the set is driven: by [`run_until`](Self::run_until) (or
/// [`block_on`](Self::block_on)) until a given future completes, or by awaiting the set
/// itself, until every task in it has finished.
///
/// Dropping the set cancels the tasks that have not finished (their futures are dropped on
/// the dropping thread, their `JoinHandle`s resolve as cancelled).
///
/// ```
/// use std::rc::Rc;
///
/// let rt = brisk::Runtime::new().unwrap();
/// let local = brisk::task::LocalSet::new();
/// let out = local.block_on(&rt, async {
///     let shared = Rc::new(41); // not Send
///     let s = shared.clone();
///     let child = brisk::task::spawn_local(async move { *s + 1 });
///     child.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// ```
pub struct LocalSet {
    inner: Rc<Inner>,
    /// `!Send`: the tasks' futures must stay on this thread.
    _not_send: PhantomData<*const ()>,
}

impl LocalSet {
    /// An empty set.
    pub fn new() -> LocalSet {
        LocalSet {
            inner: Rc::new(Inner {
                scheduler: LocalScheduler(Arc::new(Shared {
                    queue: Mutex::new(VecDeque::new()),
                    waker: Mutex::new(None),
                    owned: OwnedTasks::new(),
                    closed: AtomicBool::new(false),
                    drained: AtomicBool::new(false),
                    live: AtomicUsize::new(0),
                })),
                eager_left: Cell::new(0),
                depth: Cell::new(0),
            }),
            _not_send: PhantomData,
        }
    }

    /// Spawns `future` into this set, from anywhere on the set's thread: it is queued and first
    /// polled when the set is next driven.
    ///
    /// ```
    /// let local = brisk::task::LocalSet::new();
    /// let handle = local.spawn_local(async { std::rc::Rc::new(5) });
    /// let rt = brisk::Runtime::new().unwrap();
    /// let five = local.block_on(&rt, handle).unwrap();
    /// assert_eq!(*five, 5);
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        spawn_queued(&self.inner, future)
    }

    /// Runs `future` to completion on the current runtime's thread that calls this (through
    /// [`Runtime::block_on`](crate::Runtime::block_on)), driving the set's tasks meanwhile.
    ///
    /// # Panics
    /// As `Runtime::block_on` (on a thread that already runs brisk tasks).
    #[track_caller]
    pub fn block_on<F: Future>(&self, rt: &crate::Runtime, future: F) -> F::Output {
        rt.block_on(self.run_until(future))
    }

    /// A future that drives `future` to completion, and the set's tasks while it waits. The
    /// tasks left when `future` completes stay in the set, to run the next time it is driven.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// let local = brisk::task::LocalSet::new();
    /// rt.block_on(local.run_until(async {
    ///     let cell = std::rc::Rc::new(std::cell::Cell::new(0));
    ///     let c = cell.clone();
    ///     brisk::task::spawn_local(async move { c.set(1) }).await.unwrap();
    ///     assert_eq!(cell.get(), 1);
    /// }));
    /// ```
    pub fn run_until<F: Future>(&self, future: F) -> RunUntil<'_, F> {
        RunUntil { set: self, future }
    }

    /// Runs up to [`TASKS_PER_TICK`] queued tasks. True if more are queued.
    fn tick(&self) -> bool {
        let scheduler = &self.inner.scheduler;
        for _ in 0..TASKS_PER_TICK {
            let Some(task) = scheduler.0.queue().pop_front() else {
                return false;
            };
            self.inner.start_tick();
            let saved = crate::coop::budget();
            crate::coop::set_budget(Some(crate::coop::DEFAULT_BUDGET));
            harness::run_queued(scheduler, task);
            crate::coop::set_budget(saved);
        }
        !scheduler.0.queue().is_empty()
    }

    /// One poll of a driver: `poll_future` (the `run_until` future, or nothing), then a tick.
    fn drive<R>(
        &self,
        cx: &mut Context<'_>,
        poll_future: impl FnOnce(&mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        let _entered = Entered::enter(&self.inner);
        self.inner.scheduler.0.register_driver(cx.waker());
        self.inner.start_tick();
        if let Poll::Ready(out) = poll_future(cx) {
            return Poll::Ready(out);
        }
        if self.tick() {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// Awaiting a set drives its tasks until every one of them has finished (tokio's
/// `impl Future for LocalSet`).
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// let local = brisk::task::LocalSet::new();
/// let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// for i in 0..3 {
///     let log = log.clone();
///     local.spawn_local(async move {
///         brisk::task::yield_now().await;
///         log.borrow_mut().push(i);
///     });
/// }
/// rt.block_on(local);
/// assert_eq!(log.borrow().len(), 3);
/// ```
impl Future for LocalSet {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let shared = self.inner.scheduler.0.clone();
        let _ = self.drive(cx, |_| Poll::<()>::Pending);
        if shared.live.load(Ordering::Acquire) == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Default for LocalSet {
    fn default() -> Self {
        LocalSet::new()
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        let shared = &self.inner.scheduler.0;
        // Futures dropped here may call `spawn_local`: inside the set, into a closed list.
        let _entered = Entered::enter(&self.inner);
        shared.closed.store(true, Ordering::Release);
        for task in shared.owned.close_and_take_all() {
            harness::shutdown::<LocalScheduler>(task);
        }
        // Entries of tasks never polled (and of those cancelled above, which are stale). Once
        // the queue is found empty, later entries are dropped by `schedule` itself.
        loop {
            let task = {
                let mut queue = shared.queue();
                let task = queue.pop_front();
                if task.is_none() {
                    shared.drained.store(true, Ordering::Relaxed);
                }
                task
            };
            let Some(task) = task else {
                break;
            };
            harness::shutdown::<LocalScheduler>(task);
        }
        shared
            .waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("live", &self.inner.scheduler.0.live.load(Ordering::Relaxed))
            .finish()
    }
}

/// The future of [`LocalSet::run_until`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RunUntil<'a, F> {
    set: &'a LocalSet,
    future: F,
}

impl<F: Future> Future for RunUntil<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: `RunUntil` never moves it or hands out an
        // unpinned `&mut F`, has no `Drop` impl, is not `repr(packed)`, and is `Unpin` only when
        // `F` is.
        let this = unsafe { self.get_unchecked_mut() };
        let set = this.set;
        // SAFETY: as above; `this.future` is not moved.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        set.drive(cx, |cx| future.poll(cx))
    }
}

impl<F> fmt::Debug for RunUntil<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntil").finish_non_exhaustive()
    }
}

/// Spawns a `!Send` future on the [`LocalSet`] being driven on this thread: tokio's
/// `task::spawn_local`.
///
/// Under the eager policy the child is polled at once, inline, as [`spawn`](crate::spawn)
/// does (within the runtime's `eager_budget` per tick and `eager_depth`); otherwise it is
/// queued in the set. It then runs on this thread, whenever the set is driven.
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// brisk::task::LocalSet::new().block_on(&rt, async {
///     let child = brisk::task::spawn_local(async { std::rc::Rc::new("local") });
///     assert!(child.is_finished()); // polled inline: it was ready
///     assert_eq!(*child.await.unwrap(), "local");
/// });
/// ```
///
/// # Panics
/// If no `LocalSet` is being driven on this thread (inside [`LocalSet::run_until`],
/// [`LocalSet::block_on`], the set awaited, or one of its tasks).
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let Some(inner) = CURRENT.with(|c| c.borrow().last().cloned()) else {
        panic!(
            "brisk::task::spawn_local called outside of a LocalSet: drive the future that \
             calls it with `LocalSet::run_until` or `LocalSet::block_on`, or spawn onto a set \
             with `LocalSet::spawn_local`"
        )
    };
    let (eager, _, max_depth) = Inner::limits();
    let left = inner.eager_left.get();
    let depth = inner.depth.get();
    if !eager || left == 0 || depth >= max_depth || inner.scheduler.0.closed.load(Ordering::Acquire)
    {
        return spawn_queued(&inner, future);
    }
    inner.eager_left.set(left - 1);
    inner.depth.set(depth + 1);
    struct Depth<'a>(&'a Cell<u32>);
    impl Drop for Depth<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() - 1);
        }
    }
    let _depth = Depth(&inner.depth);
    let future = live(&inner, future);
    harness::spawn_inline(&inner.scheduler, Id::next(), future).0
}

/// Wraps `future` so that the set counts it as live until it is dropped.
fn live<F: Future>(inner: &Inner, future: F) -> Live<F> {
    let shared = inner.scheduler.0.clone();
    shared.live.fetch_add(1, Ordering::AcqRel);
    Live {
        future,
        _count: LiveCount(shared),
    }
}

/// Queues a new task in the set.
fn spawn_queued<F>(inner: &Inner, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let future = live(inner, future);
    let ptr = raw::allocate(future, Id::next(), QUEUED_START, &inner.scheduler);
    // SAFETY: QUEUED_START counted the entry's reference.
    let entry = unsafe { TaskRef::from_raw(ptr) };
    if inner.scheduler.0.closed.load(Ordering::Acquire) {
        // Spawned while the set is being dropped: cancel it at once.
        harness::shutdown::<LocalScheduler>(entry);
    } else {
        inner.scheduler.schedule(entry);
    }
    // SAFETY: QUEUED_START counted the handle's reference; the output type is F::Output.
    unsafe { JoinHandle::from_raw(ptr) }
}
