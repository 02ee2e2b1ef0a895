//! Running a task: the type-erased steps between the state machine and the future.
//!
//! Every function here is called by the holder of `RUNNING` (or takes it first) and ends with
//! the task either idle (waiting for a wake), queued again, or complete. The eager policy
//! (`scheduler/eager.rs`) and the worker loop drive tasks only through these functions, and so
//! do the loom models: the functions are generic over [`Schedule`] and know nothing else of
//! the scheduler. `s` is always the scheduler of the thread running the task, which is the
//! task's own (queues hold only their scheduler's tasks; await-inlining checks
//! `Header::scheduler_id`), and which the caller keeps alive: nothing here reaches the
//! scheduler through the task's cell once the task may be released.
//!
//! Ownership of the owner reference: a task that has never suspended holds it implicitly (it is
//! released at completion). The first time a task returns `Pending`, before it becomes idle, it
//! is registered with its scheduler's owned-task list, which then holds the owner reference,
//! and its cell gets the scheduler its wakers need. Queued tasks need neither: shutdown finds
//! them in the queues. So a task that never waits never takes the list's lock.
//!
//! User code runs inside `raw` (polls and drops, with panics caught); the one other call out is
//! the join waker, which is woken here with its panics caught.

use std::future::Future;
use std::ptr::NonNull;

use super::join::JoinHandle;
use super::raw::{self, FirstPoll, Header, TaskRef};
use super::schedule::Schedule;
use super::state::{Snapshot, ToIdle, ToRunning, INLINE_START, JOIN_INTEREST, JOIN_WAKER};
use super::{catch_user_panic, Id};
use crate::trace;

/// Runs a task popped from one of `s`'s queues; `entry` is the queue entry's reference.
pub(crate) fn run_queued<S: Schedule>(s: &S, entry: TaskRef) {
    match entry.header().state.transition_to_running() {
        ToRunning::Skip => drop(entry),
        ToRunning::Cancel => cancel_and_complete::<S>(entry),
        ToRunning::Run => poll_and_settle(s, entry),
    }
}

/// Polls a task whose `RUNNING` the caller holds, then settles it. `holder` is a reference the
/// caller owns for the duration (a queue entry, or one taken by await-inlining).
pub(crate) fn poll_and_settle<S: Schedule>(s: &S, holder: TaskRef) {
    let ptr = holder.as_ptr();
    // SAFETY: the caller holds RUNNING; `holder` keeps the cell alive.
    if unsafe { raw::poll_future(ptr) } {
        complete::<S>(ptr);
        drop(holder);
        return;
    }
    if !register(s, ptr) {
        drop(holder);
        return;
    }
    match holder.header().state.transition_to_idle() {
        ToIdle::Idle => drop(holder),
        // The holder's reference becomes the new queue entry's. `s` is the caller's, not the
        // cell's: the entry may be run and the task freed before `schedule` returns.
        ToIdle::Reschedule => s.schedule_yield(holder),
        ToIdle::Cancel => cancel_and_complete::<S>(holder),
    }
}

/// The eager first poll: allocates a task for `future` and polls it on this thread. A task that
/// finishes at once with nothing else referring to it is freed right away and its output
/// handed to the `JoinHandle` itself (`raw::poll_first`), so a gather of ready children keeps
/// one cell hot instead of a thousand; any other finished task is completed in its cell (never
/// shared: no read-modify-write when no waker was cloned), and a suspended one registered as a
/// suspended task of `s`. Returns the handle and true if the task finished. Inlined so that the
/// future is moved once, into its cell (not once per call).
#[inline(always)]
pub(crate) fn spawn_inline<F, S>(s: &S, id: Id, future: F) -> (JoinHandle<F::Output>, bool)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let ptr = raw::allocate(future, id, INLINE_START, s);
    trace::inline_poll_start(id);
    // SAFETY: `allocate` just made `ptr` a `Cell<F, S>` with INLINE_START: we hold RUNNING and
    // its only two references (owner and handle).
    let first = unsafe { raw::poll_first::<F, S>(ptr) };
    trace::inline_poll_end(id);
    match first {
        FirstPoll::Ready(output) => {
            trace::complete(id);
            (JoinHandle::finished(id, output), true)
        }
        FirstPoll::Stored => {
            complete_first::<S>(ptr);
            // SAFETY: we hold the handle's reference; the output type is F::Output.
            (unsafe { JoinHandle::from_raw(ptr) }, true)
        }
        FirstPoll::Pending => {
            suspend_inline(s, ptr);
            // SAFETY: as above.
            (unsafe { JoinHandle::from_raw(ptr) }, false)
        }
    }
}

/// After an eager first poll that finished with its output (or panic) stored in the cell:
/// completes the task. The caller holds the owner and handle references.
#[inline(always)]
fn complete_first<S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: we hold the owner and handle references.
    let header = unsafe { ptr.as_ref() };
    if header.state.try_complete_unshared(header.state.load()) {
        // Nobody else ever saw the task: the owner reference was folded into the store.
        trace::complete(header.id);
    } else {
        complete::<S>(ptr);
    }
}

/// After an eager first poll returned `Pending`: registers the task and releases `RUNNING`.
/// The caller holds the (implicit) owner reference and the handle's.
fn suspend_inline<S: Schedule>(s: &S, ptr: NonNull<Header>) {
    if !register(s, ptr) {
        return;
    }
    // SAFETY: the owned list holds a reference; the handle (not yet returned) holds another.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_idle() {
        ToIdle::Idle => {}
        ToIdle::Reschedule => {
            header.state.ref_inc();
            // SAFETY: we just counted the reference the entry owns.
            s.schedule_yield(unsafe { TaskRef::from_raw(ptr) });
        }
        ToIdle::Cancel => {
            header.state.ref_inc();
            // SAFETY: as above; we still hold RUNNING.
            cancel_and_complete::<S>(unsafe { TaskRef::from_raw(ptr) });
        }
    }
}

/// Await-inlining's claim: takes `RUNNING` on the queued task `ptr` (whose scheduler is `s`)
/// and polls it here. True if it ran (the task may still be pending afterwards); false if the
/// entry was stale (the task runs elsewhere or is done). The caller holds a reference.
pub(crate) fn claim_and_poll<S: Schedule>(s: &S, ptr: NonNull<Header>) -> bool {
    // SAFETY: the caller holds a reference.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_running() {
        ToRunning::Skip => false,
        ToRunning::Cancel => {
            header.state.ref_inc();
            // SAFETY: we counted the reference the holder owns; we hold RUNNING.
            cancel_and_complete::<S>(unsafe { TaskRef::from_raw(ptr) });
            true
        }
        ToRunning::Run => {
            header.state.ref_inc();
            trace::inline_poll_start(header.id);
            // SAFETY: we counted the reference the holder owns; we hold RUNNING.
            poll_and_settle(s, unsafe { TaskRef::from_raw(ptr) });
            trace::inline_poll_end(header.id);
            true
        }
    }
}

/// Registers a task that is about to become idle (the caller holds `RUNNING`), once. Returns
/// false if the scheduler is shutting down: the task was then cancelled and completed.
fn register<S: Schedule>(s: &S, ptr: NonNull<Header>) -> bool {
    // SAFETY: `ptr` was allocated with scheduler type `S` (module doc); the caller holds
    // RUNNING, which gives it the slot; nobody reads it before the idle transition that
    // follows. The access is a plain read or write through the raw pointer, no reference kept.
    let slot = unsafe { raw::scheduler_slot::<S>(ptr) };
    // SAFETY: as above.
    if slot.with(|p| unsafe { (*p).is_some() }) {
        return true;
    }
    // SAFETY: as above.
    slot.with_mut(|p| unsafe { *p = Some(s.clone()) });
    // SAFETY: the implicit owner reference moves into the list.
    if let Err(owner_ref) = s.owned().insert(unsafe { TaskRef::from_raw(ptr) }) {
        // SAFETY: we still hold RUNNING.
        unsafe { raw::cancel_future(ptr) };
        trace::cancel(owner_ref.header().id);
        complete_owned(ptr, Some(owner_ref));
        return false;
    }
    true
}

/// Cancels a task whose `RUNNING` the caller holds, then completes it.
pub(crate) fn cancel_and_complete<S: Schedule>(holder: TaskRef) {
    let ptr = holder.as_ptr();
    trace::cancel(holder.header().id);
    // SAFETY: the caller holds RUNNING; `holder` keeps the cell alive.
    unsafe { raw::cancel_future(ptr) };
    complete::<S>(ptr);
    drop(holder);
}

/// Completes a task (output stored, `RUNNING` held): releases `RUNNING`, tells the join side,
/// and drops the owner reference (from the owned list if the task was registered).
fn complete<S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: `ptr` has scheduler type `S`; the caller holds RUNNING (so the slot is stable)
    // and a reference for the duration. The `&S` is dropped before the task can be released.
    let slot = unsafe { raw::scheduler_slot::<S>(ptr) };
    // SAFETY: as above.
    let owner_ref = slot.with(|p| match unsafe { &*p } {
        // `None` if shutdown already took the task out of the list (it owns the reference).
        Some(s) => s.owned().remove(ptr),
        // SAFETY: an unregistered task's owner reference is implicit; completion releases it.
        None => Some(unsafe { TaskRef::from_raw(ptr) }),
    });
    complete_owned(ptr, owner_ref);
}

/// Completes a task and drops `owner` (the owner reference, if the caller has it).
fn complete_owned(ptr: NonNull<Header>, owner: Option<TaskRef>) {
    // SAFETY: the caller keeps a reference for the duration.
    let header = unsafe { ptr.as_ref() };
    trace::complete(header.id);
    let prev = header.state.transition_to_complete();
    notify_join(ptr, prev);
    drop(owner);
}

/// Shutdown: cancels a task found in a queue or in the owned list unless it is running or
/// complete. `holder` is the reference the caller found it by.
pub(crate) fn shutdown<S: Schedule>(holder: TaskRef) {
    if holder.header().state.transition_to_shutdown() {
        cancel_and_complete::<S>(holder);
    }
}

/// Tells the join side that the task completed (`prev`: the state before `COMPLETE`).
fn notify_join(ptr: NonNull<Header>, prev: Snapshot) {
    if !prev.has(JOIN_INTEREST) {
        // Nobody will read the output: drop it here (panics in its drop are caught in `raw`).
        // SAFETY: COMPLETE is set and the handle is gone, so the output is ours.
        unsafe { raw::drop_output(ptr) };
    } else if prev.has(JOIN_WAKER) {
        // SAFETY: the caller keeps a reference.
        let header = unsafe { ptr.as_ref() };
        // SAFETY: with JOIN_WAKER set the slot is written and, once COMPLETE is set, not
        // touched by the handle until we clear the bit below (state.rs invariants).
        header.join_waker.with(|w| {
            // SAFETY: as just said.
            if let Some(w) = unsafe { &*w } {
                // The join waker is user code: a panic in it must not unwind into the worker.
                let _ = catch_user_panic(|| w.wake_by_ref());
            }
        });
        if !header
            .state
            .unset_join_waker_after_complete()
            .has(JOIN_INTEREST)
        {
            // The handle went meanwhile: the slot is ours to clear.
            // SAFETY: as just said.
            let waker = header.join_waker.with_mut(|w| unsafe { (*w).take() });
            let _ = catch_user_panic(move || drop(waker));
        }
    }
}
