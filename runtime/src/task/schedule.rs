//! `Schedule`: what the task core needs from whoever runs its tasks.
//!
//! The task core (`raw.rs`, `harness.rs`, `join.rs`) is generic over this trait and never names
//! the runtime's scheduler, so it can be driven alone: the runtime implements it for its shared
//! state (`scheduler::Shared`), and the loom models implement it with a plain queue.
//!
//! Invariants an implementation upholds:
//! - `schedule` takes ownership of the queue entry's reference and eventually hands the task to
//!   `harness::run_queued` (or drops the entry at shutdown, after `harness::shutdown`).
//! - `schedule` may be reached through a value stored inside the task's own cell (a waker
//!   finds its scheduler there). Callers then hold a second reference to the task for the
//!   whole call, so the cell (and the scheduler value in it) outlives the call even if another
//!   thread pops, runs and completes the task before `schedule` returns.
//! - `owned` is the list of the tasks this scheduler owns; a suspended task's owner reference
//!   lives there until the task completes or the list is closed.

use super::owned::OwnedTasks;
use super::raw::TaskRef;

/// How a task is queued again, and where its owner reference lives while it waits.
pub(crate) trait Schedule: Clone + Send + Sync + 'static {
    /// Queues a notified task. `task` owns the queue entry's reference.
    fn schedule(&self, task: TaskRef);

    /// Queues a task that woke itself while it ran (it yielded, or spent its coop budget):
    /// behind the work already waiting, never ahead of it. `task` owns the entry's reference.
    fn schedule_yield(&self, task: TaskRef) {
        self.schedule(task);
    }

    /// The owned-task list suspended tasks join.
    fn owned(&self) -> &OwnedTasks;

    /// An identity for this scheduler (never dereferenced): await-inlining compares it with the
    /// current thread's scheduler before it claims a task.
    fn identity(&self) -> *const ();
}
