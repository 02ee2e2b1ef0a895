//! The next-task slot of a worker: one task, woken on that worker, that runs before its local
//! deque (bound F9 in `docs/FAIRNESS.md`).
//!
//! Invariants:
//! - The slot holds at most one queue entry ([`TaskRef`], owning one reference), as a raw
//!   pointer; null means empty. Every move in or out is one atomic swap, so exactly one
//!   thread gets a given entry: the owner putting a new task (it gets the displaced one and
//!   pushes it to the back of its deque), the owner taking it to run, or a searching worker
//!   stealing it.
//! - Only the owning worker puts; anyone may take (the slot is stealable, so a task in it is
//!   never stuck behind a worker blocked in a long poll while another worker is awake).
//! - At shutdown the slots are drained like the queues (`Shared::cancel_queued`).

use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::task::raw::{Header, TaskRef};

/// One worker's next-task slot.
pub(crate) struct NextSlot {
    task: AtomicPtr<Header>,
}

impl NextSlot {
    pub(crate) fn new() -> NextSlot {
        NextSlot {
            task: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Puts `task` in the slot; returns the task it displaced, if any.
    pub(crate) fn put(&self, task: TaskRef) -> Option<TaskRef> {
        let raw = task.as_ptr().as_ptr();
        std::mem::forget(task);
        let old = self.task.swap(raw, Ordering::AcqRel);
        // SAFETY: a non-null value in the slot is an entry's reference that `put` forgot; the
        // swap gave it to us alone.
        NonNull::new(old).map(|p| unsafe { TaskRef::from_raw(p) })
    }

    /// Takes the task in the slot, if any (the owner, or a thief).
    pub(crate) fn take(&self) -> Option<TaskRef> {
        if self.task.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let old = self.task.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: as in `put`: the swap handed the forgotten reference to us alone.
        NonNull::new(old).map(|p| unsafe { TaskRef::from_raw(p) })
    }

    /// True if the slot holds no task (a hint: it may change at once).
    pub(crate) fn is_empty(&self) -> bool {
        self.task.load(Ordering::Acquire).is_null()
    }
}

impl Drop for NextSlot {
    fn drop(&mut self) {
        // `Shared::drop` drains the slots first; an entry left here would only leak.
        debug_assert!(self.task.get_mut().is_null(), "next-task slot not drained");
    }
}
