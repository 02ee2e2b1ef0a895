//! Running a task: the type-erased steps between the state machine and the future.
//!
//! Every function here is called by the holder of `RUNNING` (or takes it first) and ends with
//! the task either idle (waiting for a wake), queued again, or complete. The eager policy
//! (`scheduler/eager.rs`) and the worker loop both drive tasks only through these functions.

use std::ptr::NonNull;

use super::raw::{self, Header, TaskRef};
use super::state::{Snapshot, ToIdle, ToRunning, JOIN_INTEREST, JOIN_WAKER};
use crate::scheduler::{context, Shared};
use crate::trace;

/// Runs a task popped from a queue; `entry` is the queue entry's reference.
pub(crate) fn run_queued(entry: TaskRef) {
    match entry.header().state.transition_to_running() {
        ToRunning::Skip => drop(entry),
        ToRunning::Cancel => cancel_and_complete(entry),
        ToRunning::Run => poll_and_settle(entry),
    }
}

/// Polls a task whose `RUNNING` the caller holds, then settles it. `holder` is a reference the
/// caller owns for the duration (a queue entry, or one taken by await-inlining).
pub(crate) fn poll_and_settle(holder: TaskRef) {
    let ptr = holder.as_ptr();
    let id = holder.header().id;
    let finished = {
        let _current = context::enter_task(id);
        // SAFETY: the caller holds RUNNING; `holder` keeps the cell alive.
        unsafe { raw::poll_future(ptr) }
    };
    if finished {
        complete(ptr);
        drop(holder);
        return;
    }
    match holder.header().state.transition_to_idle() {
        ToIdle::Idle => drop(holder),
        // The holder's reference becomes the new queue entry's.
        ToIdle::Reschedule => raw::schedule(holder),
        ToIdle::Cancel => cancel_and_complete(holder),
    }
}

/// After an eager first poll returned `Pending`: hands the owner reference to the runtime's
/// owned list and releases `RUNNING`. `owner` is the owner reference.
pub(crate) fn suspend_inline(shared: &std::sync::Arc<Shared>, owner: TaskRef) {
    let ptr = owner.as_ptr();
    // SAFETY: the caller holds RUNNING; nobody reads `owner.shared` before the idle transition.
    unsafe { (*owner.header().owner.get()).shared = Some(shared.clone()) };
    if let Err(owner) = shared.owned.insert(owner) {
        // The runtime is shutting down: cancel now, as shutdown would have.
        // SAFETY: we still hold RUNNING.
        unsafe { raw::cancel_future(ptr) };
        trace::cancel(owner.header().id);
        complete_owned(ptr, Some(owner));
        return;
    }
    // SAFETY: the owned list holds a reference; the handle (not yet returned) holds another.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_idle() {
        ToIdle::Idle => {}
        ToIdle::Reschedule => {
            header.state.ref_inc();
            // SAFETY: we just counted the reference the entry owns.
            raw::schedule(unsafe { TaskRef::from_raw(ptr) });
        }
        ToIdle::Cancel => {
            header.state.ref_inc();
            // SAFETY: as above; we still hold RUNNING.
            cancel_and_complete(unsafe { TaskRef::from_raw(ptr) });
        }
    }
}

/// Registers a new queued task (state `QUEUED_START`) with its runtime. On `Err` the runtime
/// is closed and the task has been cancelled; the entry reference comes back to be dropped.
pub(crate) fn register_queued(
    shared: &std::sync::Arc<Shared>,
    ptr: NonNull<Header>,
) -> Result<TaskRef, TaskRef> {
    // SAFETY: the task was just allocated by the caller and is not shared yet.
    let header = unsafe { ptr.as_ref() };
    // SAFETY: as above: the creator owns `owner`.
    unsafe { (*header.owner.get()).shared = Some(shared.clone()) };
    // SAFETY: QUEUED_START counts an owner reference and an entry reference for the caller.
    let (owner, entry) = unsafe { (TaskRef::from_raw(ptr), TaskRef::from_raw(ptr)) };
    match shared.owned.insert(owner) {
        Ok(()) => Ok(entry),
        Err(owner) => {
            drop(owner);
            if header.state.transition_to_shutdown() {
                // SAFETY: transition_to_shutdown gave us RUNNING.
                unsafe { raw::cancel_future(ptr) };
                trace::cancel(header.id);
                // The owner reference was dropped above; keep the entry's for the completion.
                complete_owned(ptr, None);
            }
            Err(entry)
        }
    }
}

/// Cancels a task whose `RUNNING` the caller holds, then completes it.
pub(crate) fn cancel_and_complete(holder: TaskRef) {
    let ptr = holder.as_ptr();
    trace::cancel(holder.header().id);
    // SAFETY: the caller holds RUNNING; `holder` keeps the cell alive.
    unsafe { raw::cancel_future(ptr) };
    complete(ptr);
    drop(holder);
}

/// Completes a registered task (output stored, `RUNNING` held): releases `RUNNING`, tells the
/// join side, and drops the owner reference held by the owned list.
pub(crate) fn complete(ptr: NonNull<Header>) {
    // SAFETY: the caller keeps a reference for the duration.
    let owner = unsafe { &*ptr.as_ref().owner.get() };
    let owner_ref = owner.shared.as_ref().and_then(|s| s.owned.remove(ptr));
    complete_owned(ptr, owner_ref);
}

/// Completes a task and drops `owner` (the owner reference, if the caller has it).
pub(crate) fn complete_owned(ptr: NonNull<Header>, owner: Option<TaskRef>) {
    // SAFETY: the caller keeps a reference for the duration.
    let header = unsafe { ptr.as_ref() };
    trace::complete(header.id);
    let prev = header.state.transition_to_complete();
    notify_join(ptr, prev);
    drop(owner);
}

/// Tells the join side that the task completed (`prev`: the state before `COMPLETE`).
pub(crate) fn notify_join(ptr: NonNull<Header>, prev: Snapshot) {
    if !prev.has(JOIN_INTEREST) {
        // Nobody will read the output: drop it here.
        // SAFETY: COMPLETE is set and the handle is gone, so the output is ours.
        unsafe { raw::drop_output(ptr) };
    } else if prev.has(JOIN_WAKER) {
        // SAFETY: with JOIN_WAKER set the slot is written and, once COMPLETE is set, never
        // written again by the handle (state.rs invariants).
        let waker = unsafe { &*ptr.as_ref().join_waker.get() };
        if let Some(w) = waker {
            w.wake_by_ref();
        }
    }
}
