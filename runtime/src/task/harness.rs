//! Running a task: the type-erased steps between the state machine and the future.
//!
//! Every function here is called by the holder of `RUNNING` (or takes it first) and ends with
//! the task either idle (waiting for a wake), queued again, or complete. The eager policy
//! (`scheduler/eager.rs`) and the worker loop both drive tasks only through these functions.
//!
//! Ownership of the owner reference: a task that has never suspended holds it implicitly (it is
//! released at completion). The first time a task returns `Pending`, before it becomes idle, it
//! is registered with its runtime's owned-task list, which then holds the owner reference, and
//! it gets the `Arc` to its runtime that its wakers need. Queued tasks need neither: shutdown
//! finds them in the queues. So a task that never waits never takes the list's lock.

use std::ptr::NonNull;
use std::sync::Arc;

use super::raw::{self, Header, TaskRef};
use super::state::{Snapshot, ToIdle, ToRunning, JOIN_INTEREST, JOIN_WAKER};
use crate::scheduler::{context, Shared};
use crate::trace;

/// Runs a task popped from a queue of `shared`; `entry` is the queue entry's reference.
pub(crate) fn run_queued(shared: &Arc<Shared>, entry: TaskRef) {
    match entry.header().state.transition_to_running() {
        ToRunning::Skip => drop(entry),
        ToRunning::Cancel => cancel_and_complete(entry),
        ToRunning::Run => poll_and_settle(shared, entry),
    }
}

/// Polls a task whose `RUNNING` the caller holds, then settles it. `holder` is a reference the
/// caller owns for the duration (a queue entry, or one taken by await-inlining); `shared` is
/// the task's runtime.
pub(crate) fn poll_and_settle(shared: &Arc<Shared>, holder: TaskRef) {
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
    if !register(shared, ptr) {
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

/// After an eager first poll returned `Pending`: registers the task and releases `RUNNING`.
/// The caller holds the (implicit) owner reference and the handle's.
pub(crate) fn suspend_inline(shared: &Arc<Shared>, ptr: NonNull<Header>) {
    if !register(shared, ptr) {
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

/// Registers a task that is about to become idle (the caller holds `RUNNING`), once. Returns
/// false if the runtime is shutting down: the task was then cancelled and completed.
fn register(shared: &Arc<Shared>, ptr: NonNull<Header>) -> bool {
    // SAFETY: the caller holds RUNNING, which gives it `owner`; nobody reads `owner.shared`
    // before the idle transition that follows.
    let owner = unsafe { &mut *ptr.as_ref().owner.get() };
    if owner.shared.is_some() {
        return true;
    }
    owner.shared = Some(shared.clone());
    // SAFETY: the implicit owner reference moves into the list.
    if let Err(owner_ref) = shared.owned.insert(unsafe { TaskRef::from_raw(ptr) }) {
        // SAFETY: we still hold RUNNING.
        unsafe { raw::cancel_future(ptr) };
        trace::cancel(owner_ref.header().id);
        complete_owned(ptr, Some(owner_ref));
        return false;
    }
    true
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

/// Completes a task (output stored, `RUNNING` held): releases `RUNNING`, tells the join side,
/// and drops the owner reference (from the owned list if the task was registered).
pub(crate) fn complete(ptr: NonNull<Header>) {
    // SAFETY: the caller holds RUNNING and keeps a reference for the duration.
    let owner = unsafe { &*ptr.as_ref().owner.get() };
    let owner_ref = match &owner.shared {
        // `None` if shutdown already took the task out of the list (it owns the reference).
        Some(shared) => shared.owned.remove(ptr),
        // SAFETY: an unregistered task's owner reference is implicit; completion releases it.
        None => Some(unsafe { TaskRef::from_raw(ptr) }),
    };
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

/// Runtime shutdown: cancels a task found in a queue or in the owned list unless it is running
/// or complete. `holder` is the reference the caller found it by.
pub(crate) fn shutdown(holder: TaskRef) {
    if holder.header().state.transition_to_shutdown() {
        cancel_and_complete(holder);
    }
}

/// Tells the join side that the task completed (`prev`: the state before `COMPLETE`).
fn notify_join(ptr: NonNull<Header>, prev: Snapshot) {
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
