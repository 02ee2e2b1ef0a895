//! The task state word: lifecycle bits and the reference count in one `AtomicUsize`.
//!
//! Invariants:
//! - `RUNNING` is held by exactly one thread, the one polling (or cancelling) the future. Only
//!   that thread touches the future cell.
//! - `COMPLETE` is set once, by the thread that held `RUNNING`, after the output (or the
//!   cancellation error) is stored; it is never cleared. After it, nobody touches the future.
//! - `NOTIFIED` means "the task must be polled again". While it is set and `RUNNING` is not, at
//!   least one queue entry for the task exists (or is being pushed). Entries whose task is not
//!   `NOTIFIED` when popped are stale and are skipped.
//! - `JOIN_WAKER` set means the join waker slot is written and owned by the completer side; the
//!   `JoinHandle` only writes the slot while the bit is clear and `COMPLETE` is not set. After
//!   waking it, the completer clears the bit: the slot is then the handle's, which drops the
//!   waker when it goes (or the completer drops it at once if the handle is already gone). So
//!   a completed task never keeps its awaiter's waker (and with it the awaiter's allocation)
//!   alive, and freeing a task never cascades into freeing a chain of awaiters.
//! - The reference count (upper bits) counts: the `JoinHandle`, the owner reference (held by the
//!   inline poller or by the runtime's owned-task list until completion), every queue entry and
//!   every `Waker`. The task is freed when it drops to zero.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};

/// The future is being polled or cancelled.
pub(crate) const RUNNING: usize = 1 << 0;
/// The output (or the cancellation / panic error) is stored.
pub(crate) const COMPLETE: usize = 1 << 1;
/// The task must be polled again.
pub(crate) const NOTIFIED: usize = 1 << 2;
/// The task was aborted; its next transition cancels it.
pub(crate) const CANCELLED: usize = 1 << 3;
/// A `JoinHandle` exists.
pub(crate) const JOIN_INTEREST: usize = 1 << 4;
/// The join waker slot holds a waker.
pub(crate) const JOIN_WAKER: usize = 1 << 5;

const REF_SHIFT: usize = 6;
/// One reference in the count.
pub(crate) const REF_ONE: usize = 1 << REF_SHIFT;

/// The state of a freshly allocated task that its spawner polls inline: running, with a join
/// handle and two references (the handle and the owner).
pub(crate) const INLINE_START: usize = RUNNING | JOIN_INTEREST | (2 * REF_ONE);
/// The state of a freshly allocated task that goes to a queue: notified, with a join handle and
/// three references (the handle, the owner and the queue entry).
pub(crate) const QUEUED_START: usize = NOTIFIED | JOIN_INTEREST | (3 * REF_ONE);

/// What a queue pop (or an await-inline claim) should do with a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// The caller now holds `RUNNING` and must poll.
    Run,
    /// The caller now holds `RUNNING` and must cancel (the task was aborted).
    Cancel,
    /// Stale entry: the task is running elsewhere, complete, or not notified.
    Skip,
}

/// What the poller should do after a poll returned `Pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// The task now waits for a wake.
    Idle,
    /// A wake arrived during the poll: the task is notified and must be queued again.
    Reschedule,
    /// The task was aborted during the poll: the caller still holds `RUNNING` and must cancel.
    Cancel,
}

/// What a waker should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnWake {
    /// Nothing (already notified, running, or complete).
    Nothing,
    /// Push a queue entry; the entry owns one reference (already counted).
    Submit,
    /// Nothing, and the last reference was dropped: free the task.
    Dealloc,
}

/// The atomic state word.
pub(crate) struct State(AtomicUsize);

/// A snapshot of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(pub(crate) usize);

impl Snapshot {
    pub(crate) fn has(self, bits: usize) -> bool {
        self.0 & bits != 0
    }
    pub(crate) fn refs(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("running", &self.has(RUNNING))
            .field("complete", &self.has(COMPLETE))
            .field("notified", &self.has(NOTIFIED))
            .field("cancelled", &self.has(CANCELLED))
            .field("join_interest", &self.has(JOIN_INTEREST))
            .field("join_waker", &self.has(JOIN_WAKER))
            .field("refs", &self.refs())
            .finish()
    }
}

impl State {
    pub(crate) const fn new(initial: usize) -> State {
        State(AtomicUsize::new(initial))
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Acquire))
    }

    /// Applies `f` until the compare-exchange succeeds; `f` returns the new word (or `None` to
    /// leave it) and a result.
    fn update<R>(&self, mut f: impl FnMut(Snapshot) -> (Option<usize>, R)) -> R {
        let mut cur = self.0.load(Acquire);
        loop {
            let (next, r) = f(Snapshot(cur));
            let Some(next) = next else { return r };
            match self.0.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => return r,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Queue pop or await-inline claim: takes `RUNNING` if the task is notified and idle.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update(|s| {
            if s.has(RUNNING | COMPLETE) || !s.has(NOTIFIED) {
                return (None, ToRunning::Skip);
            }
            let next = (s.0 & !NOTIFIED) | RUNNING;
            let action = if s.has(CANCELLED) {
                ToRunning::Cancel
            } else {
                ToRunning::Run
            };
            (Some(next), action)
        })
    }

    /// After a `Pending` poll: releases `RUNNING` unless the task was aborted meanwhile.
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|s| {
            debug_assert!(s.has(RUNNING), "transition_to_idle without RUNNING: {s:?}");
            if s.has(CANCELLED) {
                return (None, ToIdle::Cancel);
            }
            let action = if s.has(NOTIFIED) {
                ToIdle::Reschedule
            } else {
                ToIdle::Idle
            };
            (Some(s.0 & !RUNNING), action)
        })
    }

    /// Stores `COMPLETE` and releases `RUNNING`; returns the state before.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(
            prev.has(RUNNING) && !prev.has(COMPLETE),
            "bad completion: {prev:?}"
        );
        prev
    }

    /// Fast completion for a task that nobody else can see: its only references are the ones the
    /// caller holds (`expected`, read by `load`). Returns false if anything else touched it.
    pub(crate) fn try_complete_unshared(&self, expected: Snapshot) -> bool {
        // Sound without a read-modify-write: with no waker clones, no published handle and no
        // queue entry, no other thread can hold a reference through which to modify the word.
        if expected.0 == INLINE_START {
            self.0
                .store((INLINE_START ^ (RUNNING | COMPLETE)) - REF_ONE, Release);
            true
        } else {
            false
        }
    }

    /// Runtime shutdown: takes `RUNNING` to cancel the task unless it is complete; a task being
    /// polled right now is marked `CANCELLED` for its poller.
    /// Ignores `NOTIFIED`: at shutdown no worker will pop the entry any more.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update(|s| {
            if s.has(COMPLETE) {
                (None, false)
            } else if s.has(RUNNING) {
                // Being polled by a worker that outlived shutdown_timeout: its poller cancels
                // it when the poll returns Pending (found by the task_state fuzzer).
                (Some(s.0 | CANCELLED), false)
            } else {
                (Some(s.0 | RUNNING | CANCELLED), true)
            }
        })
    }

    /// `abort()`: marks the task cancelled. Returns `Submit` if it was idle and must be queued
    /// so a worker cancels it (one reference added for the entry).
    pub(crate) fn transition_to_cancelled(&self) -> OnWake {
        self.update(|s| {
            if s.has(COMPLETE | CANCELLED) {
                (None, OnWake::Nothing)
            } else if s.has(RUNNING | NOTIFIED) {
                (Some(s.0 | CANCELLED), OnWake::Nothing)
            } else {
                (Some((s.0 | CANCELLED | NOTIFIED) + REF_ONE), OnWake::Submit)
            }
        })
    }

    /// `Waker::wake_by_ref`. On `Submit` two references are added: the queue entry's, and one
    /// the caller holds until it queued the entry (the waker may be one borrowed for a poll,
    /// which holds none).
    pub(crate) fn wake_by_ref(&self) -> OnWake {
        self.update(|s| {
            if s.has(COMPLETE) {
                (None, OnWake::Nothing)
            } else if s.has(NOTIFIED) {
                // Write the word unchanged: the release makes what the waker published visible
                // to the poll that consumes NOTIFIED (without it, a store-buffering race can
                // make that poll miss it and return Pending for good; found by loom).
                (Some(s.0), OnWake::Nothing)
            } else if s.has(RUNNING) {
                (Some(s.0 | NOTIFIED), OnWake::Nothing)
            } else {
                (Some((s.0 | NOTIFIED) + 2 * REF_ONE), OnWake::Submit)
            }
        })
    }

    /// `Waker::wake`: like `wake_by_ref`, consuming the waker's reference. On `Submit` one
    /// reference is added for the queue entry; the waker's own is released by the caller after
    /// it queued the entry (so the cell outlives the call to the scheduler).
    pub(crate) fn wake_by_val(&self) -> OnWake {
        self.update(|s| {
            if s.has(COMPLETE | NOTIFIED) {
                let next = s.0 - REF_ONE;
                let action = if next >> REF_SHIFT == 0 {
                    OnWake::Dealloc
                } else {
                    OnWake::Nothing
                };
                (Some(next), action)
            } else if s.has(RUNNING) {
                // The poller holds a reference, so this cannot be the last one.
                (Some((s.0 | NOTIFIED) - REF_ONE), OnWake::Nothing)
            } else {
                (Some((s.0 | NOTIFIED) + REF_ONE), OnWake::Submit)
            }
        })
    }

    /// Adds one reference.
    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Relaxed);
        if prev > isize::MAX as usize {
            // Like `Arc`: a count this large means leaked clones; continuing would overflow.
            std::process::abort();
        }
    }

    /// Drops one reference; true if it was the last.
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = Snapshot(self.0.fetch_sub(REF_ONE, AcqRel));
        debug_assert!(prev.refs() >= 1, "task reference count underflow");
        prev.refs() == 1
    }

    /// `JoinHandle` drop: clears `JOIN_INTEREST`, and `JOIN_WAKER` too unless the task is
    /// complete; returns the state before. If `JOIN_WAKER` was cleared here, the join waker slot
    /// is the handle's again (the completer will not read it) and the handle drops the waker.
    pub(crate) fn drop_join_interest(&self) -> Snapshot {
        self.update(|s| {
            let next = if s.has(COMPLETE) {
                s.0 & !JOIN_INTEREST
            } else {
                s.0 & !(JOIN_INTEREST | JOIN_WAKER)
            };
            (Some(next), s)
        })
    }

    /// Sets `JOIN_WAKER` unless the task completed; `Err` carries the completed state.
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(!s.has(JOIN_WAKER));
            if s.has(COMPLETE) {
                (None, Err(s))
            } else {
                (Some(s.0 | JOIN_WAKER), Ok(()))
            }
        })
    }

    /// The completer, after waking the join waker: clears `JOIN_WAKER`, handing the slot to the
    /// `JoinHandle` (which drops the waker when it goes), or, if the handle is already gone
    /// (`JOIN_INTEREST` clear in the returned state), to the completer itself.
    pub(crate) fn unset_join_waker_after_complete(&self) -> Snapshot {
        Snapshot(self.0.fetch_and(!JOIN_WAKER, AcqRel))
    }

    /// Clears `JOIN_WAKER` unless the task completed, so the slot can be rewritten.
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(s.has(JOIN_WAKER));
            if s.has(COMPLETE) {
                (None, Err(s))
            } else {
                (Some(s.0 & !JOIN_WAKER), Ok(()))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_while_running_reschedules_once() {
        let s = State::new(INLINE_START);
        assert_eq!(s.wake_by_ref(), OnWake::Nothing);
        assert_eq!(s.wake_by_ref(), OnWake::Nothing);
        assert_eq!(s.transition_to_idle(), ToIdle::Reschedule);
        // Now notified: the queue entry pops it.
        assert_eq!(s.transition_to_running(), ToRunning::Run);
        assert_eq!(
            s.transition_to_running(),
            ToRunning::Skip,
            "second entry is stale"
        );
    }

    #[test]
    fn idle_wake_submits_with_a_reference() {
        let s = State::new(INLINE_START);
        assert_eq!(s.transition_to_idle(), ToIdle::Idle);
        let before = s.load().refs();
        assert_eq!(s.wake_by_ref(), OnWake::Submit);
        assert_eq!(
            s.load().refs(),
            before + 2,
            "the entry's and the caller's guard"
        );
        assert_eq!(s.wake_by_ref(), OnWake::Nothing, "already notified");
    }

    #[test]
    fn unshared_completion_only_when_untouched() {
        let s = State::new(INLINE_START);
        assert!(s.try_complete_unshared(s.load()));
        let done = s.load();
        assert!(done.has(COMPLETE) && !done.has(RUNNING) && done.refs() == 1);

        let s = State::new(INLINE_START);
        s.ref_inc(); // a waker clone is alive
        assert!(!s.try_complete_unshared(s.load()));
    }

    #[test]
    fn abort_idle_submits_and_cancels_on_pop() {
        let s = State::new(INLINE_START);
        assert_eq!(s.transition_to_idle(), ToIdle::Idle);
        assert_eq!(s.transition_to_cancelled(), OnWake::Submit);
        assert_eq!(s.transition_to_cancelled(), OnWake::Nothing);
        assert_eq!(s.transition_to_running(), ToRunning::Cancel);
    }

    #[test]
    fn wake_after_complete_is_a_noop_and_frees_last() {
        let s = State::new(INLINE_START);
        s.ref_inc(); // waker
        let _ = s.transition_to_complete();
        assert!(!s.ref_dec()); // owner
        assert!(!s.ref_dec()); // handle
        assert_eq!(s.wake_by_val(), OnWake::Dealloc);
    }

    #[test]
    fn join_waker_refused_after_complete() {
        let s = State::new(INLINE_START);
        assert!(s.set_join_waker().is_ok());
        assert!(s.unset_join_waker().is_ok());
        let _ = s.transition_to_complete();
        assert!(s.set_join_waker().is_err());
    }
}
