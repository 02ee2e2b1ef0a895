//! `TaskGroup`: structured concurrency over eagerly started children.
//!
//! A group owns the `JoinHandle` of every child it spawned, in a slab indexed by slot. Each
//! child's future is wrapped in [`Child`], whose last field is a [`Done`] guard: when the child's
//! future is gone (it completed, panicked or was cancelled, the guard's `Drop` runs in all three
//! cases) the guard pushes the child's slot to the group's completion queue and wakes the waker
//! the group left there. One queue (`Arc<Completions>`) serves the whole group: a child costs
//! the task allocation and one reference count, nothing more.
//!
//! Invariants:
//! - Every child pushes its slot exactly once, after its future was dropped (fields drop in
//!   declaration order: the future, then the guard).
//! - A slot is freed (and may be reused) only when the group hands out that child's result,
//!   which happens after its slot was popped from the queue: a slot in the queue always names
//!   the child that pushed it.
//! - The guard fires during the child's last step, just before the task is marked complete, so
//!   a popped slot whose handle is not finished yet is kept in `in_flight` and its `JoinHandle`
//!   is polled (which registers the group's waker as the join waker).
//! - The group registers its waker in the queue only after finding the queue empty, under the
//!   queue's lock, so no completion is missed; when every child already finished (for instance
//!   during its eager first poll) no waker is ever registered and nothing is woken.
//! - Each poll of a group future spends one unit of the coop budget; reading the outputs of
//!   children that already finished then costs nothing more (they are consumed in one go).

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::resume_unwind;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::{AbortHandle, Id, JoinError, JoinHandle};
use crate::runtime::Handle;

/// A set of child tasks whose results are collected together: structured concurrency after
/// Python's `asyncio.TaskGroup` and tokio's `JoinSet`.
///
/// [`spawn`](Self::spawn) starts a child with [`brisk::spawn`](crate::spawn), so under the
/// default eager policy a child runs its first step before `spawn` returns. The group behaves
/// the same whether a child ran inline or was queued: results come back by
/// [`join_next`](Self::join_next) in completion order, or all at once in spawn order by
/// [`join_all`](Self::join_all) and [`try_join_all`](Self::try_join_all).
///
/// When every child finished during its eager first poll, `join_next`, `join_all` and
/// `try_join_all` are ready on their first poll: no waker is registered, nothing is queued and
/// nobody is woken, so a nested fan-out of ready work costs calls, not scheduler round trips.
///
/// Dropping a group aborts the children that have not finished. A group is `Send` when `T` is.
///
/// ```
/// use brisk::task::TaskGroup;
///
/// let rt = brisk::Runtime::new().unwrap();
/// let squares = rt.block_on(async {
///     let mut group = TaskGroup::new();
///     for i in 1..=4u64 {
///         group.spawn(async move { i * i });
///     }
///     group.join_all().await
/// });
/// assert_eq!(squares, vec![1, 4, 9, 16]);
/// ```
pub struct TaskGroup<T> {
    slots: Vec<Slot<T>>,
    /// Free slots, reused by later spawns.
    free: Vec<usize>,
    /// Children spawned and not yet handed out.
    len: usize,
    /// Spawn counter, to return `join_all` results in spawn order even when slots are reused.
    next_seq: u64,
    /// A slot popped from the queue whose task was not marked complete yet.
    in_flight: Option<usize>,
    completions: Arc<Completions>,
}

struct Slot<T> {
    handle: Option<JoinHandle<T>>,
    seq: u64,
}

/// The group's completion queue, shared with every child's [`Done`] guard.
#[derive(Default)]
struct Completions {
    inner: Mutex<CompletionsInner>,
}

#[derive(Default)]
struct CompletionsInner {
    /// Slots of children whose future is gone, in the order they finished.
    done: VecDeque<usize>,
    /// The waker of the task waiting on the group, taken by the next completion.
    waker: Option<Waker>,
}

impl Completions {
    fn lock(&self) -> MutexGuard<'_, CompletionsInner> {
        // No user code runs under this lock; stay usable even if a waker's clone panicked.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reports the child in `slot` to its group when dropped.
struct Done {
    completions: Arc<Completions>,
    slot: usize,
}

impl Drop for Done {
    fn drop(&mut self) {
        let waker = {
            let mut inner = self.completions.lock();
            inner.done.push_back(self.slot);
            inner.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A child's future followed by its completion guard.
///
/// `Child` has no `Drop` impl, so its fields drop in declaration order: the user's future first,
/// then the guard. The group thus hears of a child only once the child's future (and whatever
/// it owned) is gone, whichever way it ended.
struct Child<F> {
    future: F,
    _done: Done,
}

impl<F: Future> Future for Child<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned. `Child` never moves it out or hands out
        // `&mut F` except pinned, it has no `Drop` impl (so it is dropped in place), it is not
        // `repr(packed)`, and it is `Unpin` only when `F` is (the auto impl). An async wrapper
        // would avoid this line but doubles the task's size (the upvar and the awaited future
        // are stored separately) and does not fix the drop order of a never-polled child.
        let future = unsafe { self.map_unchecked_mut(|child| &mut child.future) };
        future.poll(cx)
    }
}

impl<T> TaskGroup<T> {
    /// An empty group.
    pub fn new() -> TaskGroup<T> {
        TaskGroup {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            next_seq: 0,
            in_flight: None,
            completions: Arc::default(),
        }
    }

    /// The number of children spawned and not yet returned by [`join_next`](Self::join_next),
    /// finished or not.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     group.spawn(async { 1 });
    ///     group.spawn(async { 2 });
    ///     assert_eq!(group.len(), 2);
    ///     group.join_next().await;
    ///     assert_eq!(group.len(), 1);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the group has no child left to join.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Aborts every child that has not finished. The children stay in the group: those that
    /// were cancelled are then reported by [`join_next`](Self::join_next) as `JoinError`s with
    /// [`is_cancelled`](JoinError::is_cancelled); a child that finished first keeps its output.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     group.spawn(std::future::pending::<()>());
    ///     group.abort_all();
    ///     let err = group.join_next().await.unwrap().unwrap_err();
    ///     assert!(err.is_cancelled());
    ///     assert!(group.join_next().await.is_none());
    /// });
    /// ```
    pub fn abort_all(&mut self) {
        for handle in self.slots.iter().filter_map(|s| s.handle.as_ref()) {
            if !handle.is_finished() {
                handle.abort();
            }
        }
    }

    /// Waits for the next child to finish and returns its result, in completion order, or
    /// `None` once the group is empty.
    ///
    /// Cancel-safe: if the returned future is dropped before it completes, no result is lost.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     for i in 0..3 {
    ///         group.spawn(async move { i });
    ///     }
    ///     let mut seen = Vec::new();
    ///     while let Some(result) = group.join_next().await {
    ///         seen.push(result.unwrap());
    ///     }
    ///     seen.sort();
    ///     assert_eq!(seen, vec![0, 1, 2]);
    /// });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Polls for the next finished child (the poll form of [`join_next`](Self::join_next)).
    ///
    /// Returns `Ready(None)` if the group is empty; `Pending` after arranging for `cx`'s waker
    /// to be woken when a child finishes.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        if crate::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        self.poll_next_finished(cx)
            .map(|next| next.map(|(_, result)| result.map(|(_, out)| out)))
    }

    /// Polls for the next finished child with its task id (the poll form of
    /// [`join_next_with_id`](Self::join_next_with_id)).
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(Id, T), JoinError>>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        if crate::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        self.poll_next_finished(cx)
            .map(|next| next.map(|(_, result)| result))
    }

    /// Like [`join_next`](Self::join_next), with the finished child's task id (a failed
    /// child's id is in its [`JoinError::id`]).
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     let id = group.spawn(async { 7 }).id();
    ///     assert_eq!(group.join_next_with_id().await.unwrap().unwrap(), (id, 7));
    /// });
    /// ```
    pub async fn join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        poll_fn(|cx| self.poll_join_next_with_id(cx)).await
    }

    /// The result of a child that has already finished, without waiting: `None` if the group
    /// is empty or no child has finished yet. Registers no waker and spends no coop budget.
    ///
    /// ```
    /// let rt = brisk::Runtime::builder()
    ///     .spawn_policy(brisk::SpawnPolicy::Eager)
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     group.spawn(std::future::pending::<u8>());
    ///     assert!(group.try_join_next().is_none()); // nothing finished
    ///     group.spawn(async { 3 }); // finishes during its eager first poll
    ///     assert_eq!(group.try_join_next().unwrap().unwrap(), 3);
    /// });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.try_join_next_with_id()
            .map(|result| result.map(|(_, out)| out))
    }

    /// Like [`try_join_next`](Self::try_join_next), with the finished child's task id.
    pub fn try_join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        match self.next_finished(None) {
            Poll::Ready(next) => next.map(|(_, result)| result),
            Poll::Pending => None,
        }
    }

    /// Aborts every child and waits until each one has finished or been cancelled, dropping
    /// their results: afterwards the group is empty and no child's future is left alive.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     group.spawn(std::future::pending::<()>());
    ///     group.shutdown().await;
    ///     assert!(group.is_empty());
    /// });
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Removes every child from the group without aborting it: the children keep running
    /// (their outputs are dropped when they finish), and the group is empty afterwards.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, rx) = std::sync::mpsc::channel();
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     group.spawn(async move {
    ///         brisk::task::yield_now().await;
    ///         tx.send("still ran").unwrap();
    ///     });
    ///     group.detach_all();
    ///     drop(group); // does not abort the detached child
    ///     let got = brisk::task::spawn_blocking(move || rx.recv().unwrap()).await.unwrap();
    ///     assert_eq!(got, "still ran");
    /// });
    /// ```
    pub fn detach_all(&mut self) {
        // Detached children still hold the old queue and report to it; a fresh one keeps
        // their reports from naming slots that new children reuse.
        self.completions = Arc::default();
        self.slots.clear();
        self.free.clear();
        self.in_flight = None;
        self.len = 0;
    }

    /// Waits for every child and returns their outputs in spawn order.
    ///
    /// If a child panics, the other children are aborted and, once each of them has been
    /// dropped or has completed, the panic resumes here. If a child was cancelled (through its
    /// [`AbortHandle`], [`abort_all`](Self::abort_all), or runtime shutdown), the others are
    /// aborted the same way and `join_all` panics with a message saying which child was
    /// cancelled. Only the first failure, in completion order, is reported. Use
    /// [`join_next`](Self::join_next) to handle failures one by one.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// let words = rt.block_on(async {
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     group.spawn(async {
    ///         brisk::task::yield_now().await; // finishes last...
    ///         "a"
    ///     });
    ///     group.spawn(async { "b" });
    ///     group.join_all().await // ...but comes back first
    /// });
    /// assert_eq!(words, vec!["a", "b"]);
    /// ```
    ///
    /// # Panics
    /// If a child panicked or was cancelled, as above.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut outputs: Vec<(u64, T)> = Vec::with_capacity(self.len);
        let mut failure: Option<JoinError> = None;
        poll_fn(|cx| self.poll_all(cx, &mut outputs, &mut failure, |out| Ok(out))).await;
        if let Some(err) = failure {
            fail(err, "join_all");
        }
        in_spawn_order(outputs)
    }

    /// Drives the group until every child is handed out. Successful outputs go to `outputs`
    /// with their spawn sequence number; the first failure (a `JoinError`, or an output that
    /// `split` maps to `Err`) is kept in `failure` and aborts every other child.
    fn poll_all<U, E>(
        &mut self,
        cx: &mut Context<'_>,
        outputs: &mut Vec<(u64, U)>,
        failure: &mut Option<E>,
        split: impl Fn(T) -> Result<U, E>,
    ) -> Poll<()>
    where
        E: From<JoinError>,
    {
        if self.len == 0 {
            return Poll::Ready(());
        }
        if crate::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        while let Some((seq, result)) = std::task::ready!(self.poll_next_finished(cx)) {
            if failure.is_some() {
                // Failures after the first one (including the cancellations it caused) are
                // dropped: the first failure decides.
                continue;
            }
            match result.map(|(_, out)| out).map_err(E::from).and_then(&split) {
                Ok(out) => outputs.push((seq, out)),
                Err(err) => {
                    *failure = Some(err);
                    self.abort_all();
                }
            }
        }
        Poll::Ready(())
    }

    /// The next child whose result is available, with its spawn sequence number. Spends no coop
    /// budget on children that already finished.
    fn poll_next_finished(&mut self, cx: &mut Context<'_>) -> Poll<Option<Finished<T>>> {
        self.next_finished(Some(cx))
    }

    /// [`poll_next_finished`](Self::poll_next_finished), or without a context (`cx` `None`,
    /// for `try_join_next`): then no waker is registered anywhere and `Pending` means "nothing
    /// finished yet".
    fn next_finished(&mut self, mut cx: Option<&mut Context<'_>>) -> Poll<Option<Finished<T>>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        let slot = match self.in_flight.take() {
            Some(slot) => slot,
            None => {
                let mut inner = self.completions.lock();
                match inner.done.pop_front() {
                    Some(slot) => slot,
                    None => {
                        if let Some(cx) = cx {
                            if !inner
                                .waker
                                .as_ref()
                                .is_some_and(|w| w.will_wake(cx.waker()))
                            {
                                inner.waker = Some(cx.waker().clone());
                            }
                        }
                        return Poll::Pending;
                    }
                }
            }
        };
        let handle = self.slots[slot]
            .handle
            .as_mut()
            .expect("brisk: internal error: a TaskGroup slot was reported twice");
        let id = handle.id();
        let result = if handle.is_finished() {
            // The output is stored: reading it must not be refused by the coop budget (this
            // group poll already paid for it).
            let _unconstrained = crate::coop::lift();
            let mut noop = Context::from_waker(noop_waker());
            let cx = cx.as_deref_mut().unwrap_or(&mut noop);
            match Pin::new(handle).poll(cx) {
                Poll::Ready(result) => result,
                Poll::Pending => unreachable!("brisk: a finished JoinHandle returned Pending"),
            }
        } else {
            // The child's future is gone but its task is being marked complete right now:
            // with a context this registers our waker as its join waker.
            match cx {
                Some(cx) => match Pin::new(handle).poll(cx) {
                    Poll::Ready(result) => result,
                    Poll::Pending => {
                        self.in_flight = Some(slot);
                        return Poll::Pending;
                    }
                },
                None => {
                    self.in_flight = Some(slot);
                    return Poll::Pending;
                }
            }
        };
        let result = result.map(|out| (id, out));
        let seq = self.slots[slot].seq;
        self.slots[slot].handle = None;
        self.free.push(slot);
        self.len -= 1;
        Poll::Ready(Some((seq, result)))
    }
}

impl<T: Send + 'static> TaskGroup<T> {
    /// Spawns `future` as a child of the group with [`brisk::spawn`](crate::spawn): under the
    /// eager policies it is polled at once, inline, and may be finished when `spawn` returns.
    /// Returns an [`AbortHandle`] for this child.
    ///
    /// As with [`brisk::spawn`](crate::spawn), the child **may run before `spawn` returns**:
    /// do not hold a `std::sync::Mutex` guard across this call if the child takes the same lock
    /// (the thread deadlocks; in debug builds the stall report names this call's line), and set
    /// any state the child's first step must see before the call, not after.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     let ready = group.spawn(async { 1 });
    ///     assert!(ready.is_finished()); // ran inside `spawn` (eager policy)
    ///     let waiting = group.spawn(std::future::pending());
    ///     waiting.abort();
    ///     let mut cancelled = 0;
    ///     while let Some(result) = group.join_next().await {
    ///         match result {
    ///             Ok(v) => assert_eq!(v, 1),
    ///             Err(e) => {
    ///                 assert!(e.is_cancelled());
    ///                 cancelled += 1;
    ///             }
    ///         }
    ///     }
    ///     assert_eq!(cancelled, 1);
    /// });
    /// ```
    ///
    /// # Panics
    /// If called outside a brisk runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(|child| crate::spawn(child), future)
    }

    /// Spawns `future` as a child of the group on the runtime of `handle` (from any thread):
    /// as [`Handle::spawn`], it is polled inline only if this thread runs that runtime's tasks.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// let mut group = brisk::task::TaskGroup::new();
    /// group.spawn_on(async { 5 }, rt.handle()); // outside the runtime: queued there
    /// assert_eq!(rt.block_on(group.join_all()), vec![5]);
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(|child| handle.spawn(child), future)
    }

    /// Runs the blocking closure `f` on the runtime's blocking pool (as
    /// [`spawn_blocking`](crate::task::spawn_blocking)) as a child of the group. Aborting it
    /// keeps it from starting; once started it runs to the end.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     group.spawn_blocking(|| 1 + 1);
    ///     group.spawn(async { 3 });
    ///     let mut sum = 0;
    ///     while let Some(r) = group.join_next().await {
    ///         sum += r.unwrap();
    ///     }
    ///     assert_eq!(sum, 5);
    /// });
    /// ```
    ///
    /// # Panics
    /// If called outside a brisk runtime (use [`spawn_blocking_on`](Self::spawn_blocking_on)).
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.insert_blocking(|f| crate::task::spawn_blocking(f), f)
    }

    /// [`spawn_blocking`](Self::spawn_blocking) on the runtime of `handle`, from any thread.
    #[track_caller]
    pub fn spawn_blocking_on<F>(&mut self, f: F, handle: &Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.insert_blocking(|f| handle.spawn_blocking(f), f)
    }

    /// Reserves a slot, wraps the blocking closure so that its completion guard drops when the
    /// closure is gone (run or dropped unrun), and spawns it with `spawn`.
    #[track_caller]
    fn insert_blocking<F>(
        &mut self,
        spawn: impl FnOnce(Box<dyn FnOnce() -> T + Send>) -> JoinHandle<T>,
        f: F,
    ) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let slot = self.reserve_slot();
        let done = self.done(slot);
        let guard = UnspawnedSlot { group: self, slot };
        let handle = spawn(Box::new(move || {
            let _done = done;
            f()
        }));
        std::mem::forget(guard);
        self.fill_slot(slot, handle)
    }
}

impl<T: 'static> TaskGroup<T> {
    /// Spawns the `!Send` future `future` as a child of the group on the
    /// [`LocalSet`](crate::task::LocalSet) being driven on this thread, with
    /// [`spawn_local`](crate::task::spawn_local) (eager first poll).
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// let local = brisk::task::LocalSet::new();
    /// let out = local.block_on(&rt, async {
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     for i in 0..3 {
    ///         let rc = std::rc::Rc::new(i); // not Send
    ///         group.spawn_local(async move { *rc });
    ///     }
    ///     group.join_all().await
    /// });
    /// assert_eq!(out, vec![0, 1, 2]);
    /// ```
    ///
    /// # Panics
    /// If no `LocalSet` is being driven on this thread.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(|child| crate::task::spawn_local(child), future)
    }

    /// Spawns `future` as a child of the group into `local` (queued there, as
    /// [`LocalSet::spawn_local`](crate::task::LocalSet::spawn_local)).
    #[track_caller]
    pub fn spawn_local_on<F>(&mut self, future: F, local: &crate::task::LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(|child| local.spawn_local(child), future)
    }
}

impl<T> TaskGroup<T> {
    /// Reserves a slot, wraps `future` in its [`Child`] and spawns it with `spawn`.
    #[track_caller]
    fn insert<F>(&mut self, spawn: impl FnOnce(Child<F>) -> JoinHandle<T>, future: F) -> AbortHandle
    where
        F: Future<Output = T>,
    {
        let slot = self.reserve_slot();
        let child = Child {
            future,
            _done: self.done(slot),
        };
        // If `spawn` panics (outside a runtime) the child, and so its guard, is dropped: take
        // the slot back out of the queue so the group stays consistent.
        let guard = UnspawnedSlot { group: self, slot };
        let handle = spawn(child);
        std::mem::forget(guard);
        self.fill_slot(slot, handle)
    }
}

impl<T> TaskGroup<T> {
    fn reserve_slot(&mut self) -> usize {
        match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot {
                    handle: None,
                    seq: 0,
                });
                self.slots.len() - 1
            }
        }
    }

    fn done(&self, slot: usize) -> Done {
        Done {
            completions: self.completions.clone(),
            slot,
        }
    }

    fn fill_slot(&mut self, slot: usize, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        self.slots[slot] = Slot {
            handle: Some(handle),
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.len += 1;
        abort
    }
}

/// Spawns each future of the iterator into the group (with [`TaskGroup::spawn`]).
///
/// # Panics
/// If called outside a brisk runtime.
impl<T, F> Extend<F> for TaskGroup<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for future in iter {
            self.spawn(future);
        }
    }
}

/// Collects futures into a new group, spawning each one (with [`TaskGroup::spawn`]).
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// let out = rt.block_on(async {
///     let group: brisk::task::TaskGroup<u32> = (1..=3).map(|i| async move { i * 10 }).collect();
///     group.join_all().await
/// });
/// assert_eq!(out, vec![10, 20, 30]);
/// ```
///
/// # Panics
/// If called outside a brisk runtime.
impl<T, F> FromIterator<F> for TaskGroup<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut group = TaskGroup::new();
        group.extend(iter);
        group
    }
}

/// A finished child: its spawn sequence number and its result with its id.
type Finished<T> = (u64, Result<(Id, T), JoinError>);

/// A waker that does nothing (reading an output that is already stored never waits).
fn noop_waker() -> &'static Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    static NOOP: std::sync::OnceLock<Waker> = std::sync::OnceLock::new();
    NOOP.get_or_init(|| Waker::from(Arc::new(Noop)))
}

/// Undoes a slot reservation if spawning panics.
struct UnspawnedSlot<'a, T> {
    group: &'a mut TaskGroup<T>,
    slot: usize,
}

impl<T> Drop for UnspawnedSlot<'_, T> {
    fn drop(&mut self) {
        self.group
            .completions
            .lock()
            .done
            .retain(|&s| s != self.slot);
        self.group.free.push(self.slot);
    }
}

impl<U, E> TaskGroup<Result<U, E>> {
    /// Waits for every child and returns their `Ok` outputs in spawn order, or the first `Err`.
    ///
    /// The first `Err` in completion order aborts every other child and is returned once each
    /// of them has been dropped or has completed: no child outlives the call. Later errors (and
    /// the cancellations the abort causes) are dropped. A panicked or cancelled child is handled
    /// as in [`join_all`](Self::join_all), if it fails first.
    ///
    /// ```
    /// let rt = brisk::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut group = brisk::task::TaskGroup::new();
    ///     group.spawn(async { Ok(1) });
    ///     group.spawn(async { Err("no") });
    ///     group.spawn(std::future::pending()); // aborted by the error
    ///     assert_eq!(group.try_join_all().await, Err("no"));
    ///
    ///     let mut group = brisk::task::TaskGroup::<Result<u8, ()>>::new();
    ///     group.spawn(async { Ok(1) });
    ///     group.spawn(async { Ok(2) });
    ///     assert_eq!(group.try_join_all().await, Ok(vec![1, 2]));
    /// });
    /// ```
    ///
    /// # Panics
    /// If a child panicked or was cancelled before any child returned `Err`.
    pub async fn try_join_all(mut self) -> Result<Vec<U>, E> {
        let mut outputs: Vec<(u64, U)> = Vec::with_capacity(self.len);
        let mut failure: Option<Failure<E>> = None;
        poll_fn(|cx| {
            self.poll_all(cx, &mut outputs, &mut failure, |out| {
                out.map_err(Failure::Err)
            })
        })
        .await;
        match failure {
            None => Ok(in_spawn_order(outputs)),
            Some(Failure::Err(err)) => Err(err),
            Some(Failure::Join(err)) => fail(err, "try_join_all"),
        }
    }
}

/// The first failure `try_join_all` saw.
enum Failure<E> {
    Err(E),
    Join(JoinError),
}

impl<E> From<JoinError> for Failure<E> {
    fn from(err: JoinError) -> Self {
        Failure::Join(err)
    }
}

/// Resumes a child's panic, or panics for a cancelled child.
fn fail(err: JoinError, method: &str) -> ! {
    match err.try_into_panic() {
        Ok(payload) => resume_unwind(payload),
        Err(err) => panic!(
            "brisk::task::TaskGroup::{method}: child task {} was cancelled (aborted, or dropped \
             at runtime shutdown) before it produced its output",
            err.id()
        ),
    }
}

fn in_spawn_order<U>(mut outputs: Vec<(u64, U)>) -> Vec<U> {
    // Usually sorted already (eager children finish in spawn order): pdqsort checks that in
    // one pass.
    outputs.sort_unstable_by_key(|(seq, _)| *seq);
    outputs.into_iter().map(|(_, out)| out).collect()
}

impl<T> Default for TaskGroup<T> {
    fn default() -> Self {
        TaskGroup::new()
    }
}

impl<T> Drop for TaskGroup<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for TaskGroup<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup").field("len", &self.len).finish()
    }
}
