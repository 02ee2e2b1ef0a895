//! The per-thread scheduler context: which runtime this thread serves, its local queue (on
//! workers), and the eager policy's per-tick counters.
//!
//! Invariants:
//! - A context is set only on worker threads (for their whole life) and on threads inside
//!   `block_on` (for the call); it lives on that thread's stack and the thread-local pointer is
//!   cleared before it is dropped.
//! - `eager_left` and `depth` are reset at each tick (one poll of a task taken from a queue, or
//!   one poll of the `block_on` future); they are only read and written by their own thread.
//! - The current task id is set around every poll and restored after, so during an eager
//!   inline poll it is the child's and then the parent's again.

use std::cell::Cell;
use std::ptr;
use std::sync::Arc;

use crossbeam_deque::Worker;

use super::Shared;
use crate::runtime::Handle;
use crate::task::raw::TaskRef;
use crate::task::Id;

/// The scheduler state of one thread that runs tasks.
pub(crate) struct Context {
    pub(crate) handle: Handle,
    /// The worker index, or `None` on a `block_on` thread.
    pub(crate) worker: Option<usize>,
    /// The local run queue (workers only).
    pub(crate) local: Option<Worker<TaskRef>>,
    /// Inline polls left in this tick.
    pub(crate) eager_left: Cell<u32>,
    /// Current inline nesting depth.
    pub(crate) depth: Cell<u32>,
    /// Ticks so far on this thread.
    pub(crate) tick: Cell<u64>,
    /// A thread that knows its runtime but runs none of its tasks: a `spawn_blocking` thread,
    /// or one inside `Runtime::enter`. Spawns from it are queued, and `block_on` may start there.
    pub(crate) blocking: bool,
}

thread_local! {
    static CURRENT: Cell<*const Context> = const { Cell::new(ptr::null()) };
    static TASK: Cell<Option<Id>> = const { Cell::new(None) };
}

impl Context {
    pub(crate) fn new(
        handle: Handle,
        worker: Option<usize>,
        local: Option<Worker<TaskRef>>,
    ) -> Self {
        Context {
            handle,
            worker,
            local,
            eager_left: Cell::new(0),
            depth: Cell::new(0),
            tick: Cell::new(0),
            blocking: false,
        }
    }

    /// The context of a thread that runs no tasks (`spawn_blocking`, `Runtime::enter`): no
    /// eager budget, so its spawns are queued.
    pub(crate) fn new_blocking(handle: Handle) -> Self {
        Context {
            blocking: true,
            ..Context::new(handle, None, None)
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// Starts a tick: one poll of a queued task or of the `block_on` future.
    pub(crate) fn start_tick(&self) {
        self.eager_left.set(self.shared().config.eager_budget);
        self.tick.set(self.tick.get() + 1);
        crate::coop::set_budget(Some(crate::coop::DEFAULT_BUDGET));
    }

    /// Takes one inline poll from this tick's budget if the budget and the depth allow it.
    pub(crate) fn take_inline_slot(&self) -> Option<InlineSlot<'_>> {
        let left = self.eager_left.get();
        let depth = self.depth.get();
        if left == 0 || depth >= self.shared().config.eager_depth {
            return None;
        }
        self.eager_left.set(left - 1);
        self.depth.set(depth + 1);
        Some(InlineSlot { depth: &self.depth })
    }

    /// Adds one to a metrics counter of this thread.
    pub(crate) fn count(
        &self,
        pick: impl Fn(&crate::metrics::WorkerMetrics) -> &std::sync::atomic::AtomicU64,
    ) {
        self.shared().metrics.count(self.worker, pick);
    }
}

/// One level of inline nesting; dropping it returns to the parent's depth.
pub(crate) struct InlineSlot<'a> {
    depth: &'a Cell<u32>,
}

impl InlineSlot<'_> {
    /// The nesting depth of the inline poll this slot allows (1 for a child of a queued task).
    pub(crate) fn depth(&self) -> u32 {
        self.depth.get()
    }
}

impl Drop for InlineSlot<'_> {
    fn drop(&mut self) {
        self.depth.set(self.depth.get() - 1);
    }
}

/// Makes `ctx` this thread's context until the guard drops.
pub(crate) fn enter(ctx: &Context) -> EnterGuard {
    let prev = CURRENT.with(|c| c.replace(ctx as *const Context));
    EnterGuard { prev }
}

/// Restores the previous context.
pub(crate) struct EnterGuard {
    prev: *const Context,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
    }
}

/// Runs `f` with this thread's context, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    CURRENT.with(|c| {
        let ptr = c.get();
        // SAFETY: a non-null pointer is set by `enter` to a context that outlives its guard,
        // and the guard clears it before the context is dropped (module invariants).
        f(unsafe { ptr.as_ref() })
    })
}

/// True if this thread runs tasks: a worker, or a thread inside `block_on`.
pub(crate) fn runs_tasks() -> bool {
    with_current(|ctx| ctx.is_some_and(|c| !c.blocking))
}

/// Runs `f` with this thread's context if it serves `shared`.
pub(crate) fn with_runtime<R>(shared: &Arc<Shared>, f: impl FnOnce(Option<&Context>) -> R) -> R {
    with_current(|ctx| f(ctx.filter(|c| Arc::ptr_eq(c.shared(), shared))))
}

/// Sets the current task id until the guard drops.
pub(crate) fn enter_task(id: Id) -> TaskGuard {
    TaskGuard {
        prev: TASK.with(|t| t.replace(Some(id))),
    }
}

/// Restores the previous task id.
pub(crate) struct TaskGuard {
    prev: Option<Id>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        TASK.with(|t| t.set(self.prev));
    }
}

/// The id of the task being polled on this thread.
pub(crate) fn current_task() -> Option<Id> {
    TASK.with(|t| t.get())
}
