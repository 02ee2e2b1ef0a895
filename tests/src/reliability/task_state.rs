//! The fuzz check of the task state word (`runtime/src/task/state.rs`, compiled into this
//! crate as is) against an explicit model.
//!
//! The model keeps the lifecycle bits as booleans and, instead of a reference *count*, the
//! references themselves: the `JoinHandle`, the owner reference (in the owned-task list, or
//! held by the eager first poll or by shutdown), queue entries, waker clones, abort handles and
//! the reference of whoever holds `RUNNING`. The input picks, one after another, a transition
//! the runtime can make in the model's current state (the same steps `task/harness.rs`,
//! `task/join.rs` and `scheduler/eager.rs` take, from one thread at a time); each is applied to
//! the real `State` and to the model, and the return value and the whole state word must match.
//! At the end everything is dropped in order: the task must be freed exactly when its last
//! reference goes, complete, with its output taken or dropped exactly once.
//!
//! loom (`runtime/src/loom_models.rs`) checks the same transitions under concurrency; this
//! check covers long sequences and the rare paths (shutdown, join waker replacement, abort
//! handles, await-inlining after wakes) that small loom models leave out.

use arbitrary::Unstructured;

#[allow(dead_code, unreachable_pub)]
#[path = "../../../runtime/src/task/state.rs"]
mod state;

use state::{
    OnWake, Snapshot, State, ToIdle, ToRunning, CANCELLED, COMPLETE, INLINE_START, JOIN_INTEREST,
    JOIN_WAKER, NOTIFIED, QUEUED_START, REF_ONE, RUNNING,
};

/// Who holds `RUNNING`, and through which reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holder {
    /// The spawner's eager first poll, with the owner reference.
    Inline,
    /// A counted reference of its own: a popped queue entry, the one await-inlining takes, or
    /// the one `suspend_inline` adds to cancel.
    Ref,
    /// Runtime shutdown, with the owner reference it took out of the owned list.
    Shutdown,
}

/// What the `RUNNING` holder must do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    Poll,
    Cancel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    /// Not produced yet.
    None,
    /// Stored in the cell.
    Stored,
    /// Read by the handle or dropped.
    Gone,
}

/// One step the runtime can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Pop,
    AwaitInline,
    PollPending,
    PollReady,
    CancelComplete,
    CloneWaker,
    WakeByVal,
    WakeByRef,
    DropWaker,
    Abort,
    NewAbortHandle,
    DropAbortHandle,
    SetJoinWaker { same: bool },
    ReadOutput,
    DropHandle,
    Shutdown,
}

#[derive(Debug)]
struct Model {
    running: bool,
    complete: bool,
    notified: bool,
    cancelled: bool,
    join_interest: bool,
    join_waker: bool,
    handle: bool,
    /// The `JoinHandle` was returned to the spawner (after the eager first poll settles).
    published: bool,
    owner_in_list: bool,
    entries: usize,
    wakers: usize,
    abort_handles: usize,
    holder: Option<(Holder, Next)>,
    output: Output,
    /// The handle returned `Ready` (reading the output again is a bug in the caller).
    read: bool,
    shut_down: bool,
    freed: bool,
}

impl Model {
    fn inline_start() -> Model {
        Model {
            running: true,
            complete: false,
            notified: false,
            cancelled: false,
            join_interest: true,
            join_waker: false,
            handle: true,
            published: false,
            owner_in_list: false,
            entries: 0,
            wakers: 0,
            abort_handles: 0,
            holder: Some((Holder::Inline, Next::Poll)),
            output: Output::None,
            read: false,
            shut_down: false,
            freed: false,
        }
    }

    fn queued_start() -> Model {
        Model {
            running: false,
            notified: true,
            published: true,
            owner_in_list: true,
            entries: 1,
            holder: None,
            ..Model::inline_start()
        }
    }

    fn refs(&self) -> usize {
        usize::from(self.handle)
            + usize::from(self.owner_in_list)
            + self.entries
            + self.wakers
            + self.abort_handles
            + usize::from(self.holder.is_some())
    }

    fn word(&self) -> usize {
        let mut w = self.refs() * REF_ONE;
        for (on, bit) in [
            (self.running, RUNNING),
            (self.complete, COMPLETE),
            (self.notified, NOTIFIED),
            (self.cancelled, CANCELLED),
            (self.join_interest, JOIN_INTEREST),
            (self.join_waker, JOIN_WAKER),
        ] {
            if on {
                w |= bit;
            }
        }
        w
    }

    fn valid_ops(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        if self.entries > 0 {
            ops.push(Op::Pop);
        }
        let handle = self.handle && self.published;
        if handle && self.holder.is_none() && !self.read {
            ops.push(Op::AwaitInline);
        }
        match self.holder {
            Some((Holder::Shutdown, _)) | Some((_, Next::Cancel)) => ops.push(Op::CancelComplete),
            Some((_, Next::Poll)) => {
                ops.push(Op::PollPending);
                ops.push(Op::PollReady);
            }
            None => {}
        }
        if self.holder.is_some() || self.wakers > 0 {
            ops.push(Op::CloneWaker);
        }
        if self.wakers > 0 {
            ops.extend([Op::WakeByVal, Op::WakeByRef, Op::DropWaker]);
        }
        if handle || self.abort_handles > 0 {
            ops.push(Op::Abort);
        }
        if handle {
            ops.push(Op::NewAbortHandle);
            ops.push(Op::DropHandle);
            if !self.read {
                if self.complete {
                    ops.push(Op::ReadOutput);
                } else {
                    ops.push(Op::SetJoinWaker { same: false });
                    if self.join_waker {
                        ops.push(Op::SetJoinWaker { same: true });
                    }
                }
            }
        }
        if self.abort_handles > 0 {
            ops.push(Op::DropAbortHandle);
        }
        if self.owner_in_list {
            ops.push(Op::Shutdown);
        }
        ops
    }

    /// The next step of the final teardown: drop everything, finishing what runs.
    fn teardown_op(&self) -> Option<Op> {
        Some(match self.holder {
            Some((Holder::Shutdown, _)) | Some((_, Next::Cancel)) => Op::CancelComplete,
            Some((_, Next::Poll)) => Op::PollReady,
            None if self.entries > 0 => Op::Pop,
            None if self.wakers > 0 => Op::DropWaker,
            None if self.abort_handles > 0 => Op::DropAbortHandle,
            None if self.handle && self.complete && !self.read => Op::ReadOutput,
            None if self.handle => Op::DropHandle,
            None if self.owner_in_list => Op::Shutdown,
            None => return None,
        })
    }
}

/// The real state word and the model, stepped together.
struct Pair {
    real: State,
    model: Model,
    step: usize,
    /// Started with an eager first poll (`INLINE_START`) rather than queued.
    inline: bool,
    /// The operations so far (printed on a failure).
    history: Vec<Op>,
}

impl Pair {
    fn check(&self, what: &str) {
        let real = self.real.load();
        let model = Snapshot(self.model.word());
        assert_eq!(
            real, model,
            "step {} ({what}): state word differs from the model {:?}; ops {:?}",
            self.step, self.model, self.history
        );
    }

    /// A reference of the model was dropped in the real word; `last` is `ref_dec`'s answer.
    fn ref_dropped(&mut self, last: bool) {
        assert_eq!(
            last,
            self.model.refs() == 0,
            "step {}: last-reference answer wrong, model {:?}",
            self.step,
            self.model
        );
        if last {
            self.free();
        }
    }

    fn free(&mut self) {
        assert!(!self.model.freed, "step {}: freed twice", self.step);
        assert_eq!(
            self.model.refs(),
            0,
            "step {}: freed with references",
            self.step
        );
        assert!(
            self.model.complete,
            "step {}: freed before completing (the task was dropped without its JoinHandle \
             ever resolving); start {}, ops {:?}",
            self.step,
            if self.inline { "inline" } else { "queued" },
            self.history
        );
        assert_eq!(
            self.model.output,
            Output::Gone,
            "step {}: freed with the output still stored",
            self.step
        );
        self.model.freed = true;
    }

    fn drop_output(&mut self) {
        if self.model.output == Output::Stored {
            self.model.output = Output::Gone;
        }
    }

    /// `harness::notify_join` after `transition_to_complete` returned `prev`.
    fn notify_join(&mut self, prev: Snapshot) {
        if !prev.has(JOIN_INTEREST) {
            self.drop_output();
        } else if prev.has(JOIN_WAKER) {
            // Woken, then the slot is handed to the handle (the single-threaded model never
            // sees the handle drop in between).
            let expected = Snapshot(self.model.word());
            let before = self.real.unset_join_waker_after_complete();
            assert_eq!(
                before, expected,
                "step {}: unset_join_waker_after_complete",
                self.step
            );
            self.model.join_waker = false;
        }
    }

    /// `transition_to_complete` as the model sees it; returns the real `prev`.
    fn transition_to_complete(&mut self) -> Snapshot {
        let expected = Snapshot(self.model.word());
        let prev = self.real.transition_to_complete();
        assert_eq!(prev, expected, "step {}: transition_to_complete", self.step);
        self.model.running = false;
        self.model.complete = true;
        prev
    }

    /// Completion by a holder (output already stored): `harness::complete` (which takes the
    /// owner reference out of the list for a `Ref` holder) or `complete_owned` with the owner
    /// reference an `Inline` or `Shutdown` holder carries.
    fn complete(&mut self, holder: Holder) {
        let prev = self.transition_to_complete();
        self.notify_join(prev);
        if holder == Holder::Ref && self.model.owner_in_list {
            self.model.owner_in_list = false;
            let last = self.real.ref_dec();
            self.ref_dropped(last);
        }
        self.model.holder = None;
        let last = self.real.ref_dec();
        self.ref_dropped(last);
    }

    fn apply(&mut self, op: Op) {
        self.step += 1;
        self.history.push(op);
        let step = self.step;
        match op {
            Op::Pop => {
                // The popped entry's reference stays counted as an entry until it is dropped
                // or becomes the holder's.
                if self.model.shut_down {
                    // After shutdown, entries are dropped, not run.
                    self.model.entries -= 1;
                    let last = self.real.ref_dec();
                    self.ref_dropped(last);
                } else {
                    let m = &self.model;
                    let expected = if m.running || m.complete || !m.notified {
                        ToRunning::Skip
                    } else if m.cancelled {
                        ToRunning::Cancel
                    } else {
                        ToRunning::Run
                    };
                    let got = self.real.transition_to_running();
                    assert_eq!(got, expected, "step {step}: pop");
                    self.model.entries -= 1;
                    match got {
                        ToRunning::Skip => {
                            let last = self.real.ref_dec();
                            self.ref_dropped(last);
                        }
                        ToRunning::Run | ToRunning::Cancel => {
                            self.model.notified = false;
                            self.model.running = true;
                            let next = if got == ToRunning::Run {
                                Next::Poll
                            } else {
                                Next::Cancel
                            };
                            self.model.holder = Some((Holder::Ref, next));
                        }
                    }
                }
            }
            Op::AwaitInline => {
                let s = self.real.load();
                // `JoinHandle::poll`'s pre-check, then `eager::inline_await`.
                if s.has(NOTIFIED) && !s.has(RUNNING | COMPLETE) {
                    let expected = if self.model.cancelled {
                        ToRunning::Cancel
                    } else {
                        ToRunning::Run
                    };
                    let got = self.real.transition_to_running();
                    assert_eq!(got, expected, "step {step}: await-inline claim");
                    self.model.notified = false;
                    self.model.running = true;
                    self.real.ref_inc();
                    let next = if got == ToRunning::Run {
                        Next::Poll
                    } else {
                        Next::Cancel
                    };
                    self.model.holder = Some((Holder::Ref, next));
                }
            }
            Op::PollPending => {
                let (holder, _) = self.model.holder.expect("a holder");
                if holder == Holder::Inline {
                    // `suspend_inline`: the owner goes to the list, then the idle transition;
                    // the spawner returns the handle.
                    self.model.owner_in_list = true;
                    self.model.holder = None;
                    self.model.published = true;
                    let expected = self.expected_to_idle();
                    let got = self.real.transition_to_idle();
                    assert_eq!(got, expected, "step {step}: suspend_inline");
                    match got {
                        ToIdle::Idle => self.model.running = false,
                        ToIdle::Reschedule => {
                            self.model.running = false;
                            self.real.ref_inc();
                            self.model.entries += 1;
                        }
                        ToIdle::Cancel => {
                            self.real.ref_inc();
                            self.model.holder = Some((Holder::Ref, Next::Cancel));
                        }
                    }
                } else {
                    let expected = self.expected_to_idle();
                    let got = self.real.transition_to_idle();
                    assert_eq!(got, expected, "step {step}: transition_to_idle");
                    match got {
                        ToIdle::Idle => {
                            self.model.running = false;
                            self.model.holder = None;
                            let last = self.real.ref_dec();
                            self.ref_dropped(last);
                        }
                        ToIdle::Reschedule => {
                            // The holder's reference becomes the new entry's.
                            self.model.running = false;
                            self.model.holder = None;
                            self.model.entries += 1;
                        }
                        ToIdle::Cancel => self.model.holder = Some((holder, Next::Cancel)),
                    }
                }
            }
            Op::PollReady | Op::CancelComplete => {
                let (holder, _) = self.model.holder.expect("a holder");
                self.model.output = Output::Stored;
                if holder == Holder::Inline {
                    // `eager::complete_inline`.
                    self.model.published = true;
                    let s = self.real.load();
                    let unshared = self.model.word() == INLINE_START;
                    assert_eq!(
                        self.real.try_complete_unshared(s),
                        unshared,
                        "step {step}: try_complete_unshared on {s:?}"
                    );
                    if unshared {
                        self.model.running = false;
                        self.model.complete = true;
                        self.model.holder = None;
                    } else {
                        self.complete(holder);
                    }
                } else {
                    self.complete(holder);
                }
            }
            Op::CloneWaker => {
                self.real.ref_inc();
                self.model.wakers += 1;
            }
            Op::WakeByVal => {
                self.model.wakers -= 1;
                let m = &self.model;
                let got = self.real.wake_by_val();
                if m.complete || m.notified {
                    let expected = if m.refs() == 0 {
                        OnWake::Dealloc
                    } else {
                        OnWake::Nothing
                    };
                    assert_eq!(got, expected, "step {step}: wake_by_val (no-op)");
                    if got == OnWake::Dealloc {
                        self.free();
                    }
                } else if m.running {
                    assert_eq!(got, OnWake::Nothing, "step {step}: wake_by_val (running)");
                    self.model.notified = true;
                } else {
                    assert_eq!(got, OnWake::Submit, "step {step}: wake_by_val (idle)");
                    self.model.notified = true;
                    self.model.entries += 1;
                    // The waker's own reference is released after the entry was queued.
                    let last = self.real.ref_dec();
                    self.ref_dropped(last);
                }
            }
            Op::WakeByRef => {
                let m = &self.model;
                let got = self.real.wake_by_ref();
                if m.complete || m.notified {
                    assert_eq!(got, OnWake::Nothing, "step {step}: wake_by_ref (no-op)");
                } else if m.running {
                    assert_eq!(got, OnWake::Nothing, "step {step}: wake_by_ref (running)");
                    self.model.notified = true;
                } else {
                    assert_eq!(got, OnWake::Submit, "step {step}: wake_by_ref (idle)");
                    self.model.notified = true;
                    self.model.entries += 1;
                    // The guard reference held while the entry was queued.
                    let last = self.real.ref_dec();
                    self.ref_dropped(last);
                }
            }
            Op::DropWaker => {
                self.model.wakers -= 1;
                let last = self.real.ref_dec();
                self.ref_dropped(last);
            }
            Op::Abort => {
                let m = &self.model;
                let got = self.real.transition_to_cancelled();
                if m.complete || m.cancelled {
                    assert_eq!(got, OnWake::Nothing, "step {step}: abort (no-op)");
                } else if m.running || m.notified {
                    assert_eq!(got, OnWake::Nothing, "step {step}: abort (running/queued)");
                    self.model.cancelled = true;
                } else {
                    assert_eq!(got, OnWake::Submit, "step {step}: abort (idle)");
                    self.model.cancelled = true;
                    self.model.notified = true;
                    self.model.entries += 1;
                }
            }
            Op::NewAbortHandle => {
                self.real.ref_inc();
                self.model.abort_handles += 1;
            }
            Op::DropAbortHandle => {
                self.model.abort_handles -= 1;
                let last = self.real.ref_dec();
                self.ref_dropped(last);
            }
            Op::SetJoinWaker { same } => {
                // `JoinHandle::set_join_waker` (the task is not complete).
                if self.model.join_waker {
                    if same {
                        return self.check("set_join_waker (same)");
                    }
                    assert!(
                        self.real.unset_join_waker().is_ok(),
                        "step {step}: unset_join_waker"
                    );
                    self.model.join_waker = false;
                    self.check("unset_join_waker");
                }
                assert!(
                    self.real.set_join_waker().is_ok(),
                    "step {step}: set_join_waker"
                );
                self.model.join_waker = true;
            }
            Op::ReadOutput => {
                // `JoinHandle::poll` on a complete task reads the output.
                assert!(self.real.load().has(COMPLETE), "step {step}: not complete");
                assert_eq!(self.model.output, Output::Stored, "step {step}: no output");
                self.model.output = Output::Gone;
                self.model.read = true;
            }
            Op::DropHandle => {
                // `JoinHandle::drop`.
                self.model.handle = false;
                let s = self.real.load();
                if s.has(COMPLETE) && s.refs() == 1 {
                    assert_eq!(self.model.refs(), 0, "step {step}: handle fast path");
                    self.drop_output();
                    self.free();
                } else {
                    let expected = Snapshot(self.model.word() + REF_ONE);
                    let prev = self.real.drop_join_interest();
                    assert_eq!(prev, expected, "step {step}: drop_join_interest");
                    self.model.join_interest = false;
                    if !prev.has(COMPLETE) {
                        // The handle takes the join waker slot back and drops the waker.
                        self.model.join_waker = false;
                    }
                    if prev.has(COMPLETE) {
                        self.drop_output();
                    }
                    let last = self.real.ref_dec();
                    self.ref_dropped(last);
                }
            }
            Op::Shutdown => {
                // `Shared::cancel_all_tasks`: the owner reference comes out of the list.
                self.model.shut_down = true;
                let expected = !(self.model.running || self.model.complete);
                let got = self.real.transition_to_shutdown();
                assert_eq!(got, expected, "step {step}: transition_to_shutdown");
                self.model.owner_in_list = false;
                if got {
                    self.model.running = true;
                    self.model.cancelled = true;
                    self.model.holder = Some((Holder::Shutdown, Next::Cancel));
                } else {
                    if self.model.running {
                        // Polled elsewhere right now: marked cancelled, so that its poller
                        // cancels it when the poll returns `Pending` (else nobody would: the
                        // owned list is closed, and its JoinHandle would never resolve).
                        self.model.cancelled = true;
                    }
                    // The owner reference is dropped here.
                    let last = self.real.ref_dec();
                    self.ref_dropped(last);
                }
            }
        }
        if !self.model.freed {
            // (The handle's fast path frees without touching the word.)
            self.check(&format!("{op:?}"));
        }
    }

    fn expected_to_idle(&self) -> ToIdle {
        if self.model.cancelled {
            ToIdle::Cancel
        } else if self.model.notified {
            ToIdle::Reschedule
        } else {
            ToIdle::Idle
        }
    }
}

/// Runs the transitions encoded in `data`; panics if the state word and the model disagree.
pub fn check(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let inline = u.arbitrary::<bool>().unwrap_or(true);
    let (word, model) = if inline {
        (INLINE_START, Model::inline_start())
    } else {
        (QUEUED_START, Model::queued_start())
    };
    let mut pair = Pair {
        real: State::new(word),
        model,
        step: 0,
        inline,
        history: Vec::new(),
    };
    pair.check("start");
    for _ in 0..1000 {
        if u.is_empty() || pair.model.freed {
            break;
        }
        let ops = pair.model.valid_ops();
        let Ok(i) = u.choose_index(ops.len()) else {
            break;
        };
        pair.apply(ops[i]);
    }
    // Teardown: finish what runs, drop every reference; freed exactly at the last one.
    let mut guard = 0;
    while !pair.model.freed {
        let op = pair
            .model
            .teardown_op()
            .unwrap_or_else(|| panic!("nothing left to drop, yet not freed: {:?}", pair.model));
        pair.apply(op);
        guard += 1;
        assert!(guard < 10_000, "teardown does not end: {:?}", pair.model);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_short_inputs() {
        check(&[]);
        check(&[0]);
        check(&[1]);
        check(&[0xFF; 64]);
    }
}
