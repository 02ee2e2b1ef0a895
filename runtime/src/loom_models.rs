//! loom models of the lock-free core: the task state word under concurrent wake, poll,
//! completion, abort, join and shutdown; eager-inline completion; await-inlining against a
//! stealer; and the worker `Parker`.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p brisk --release --lib loom
//! ```
//!
//! # What is real and what is modelled
//!
//! The state word is the real `task::state::State` (its atomics come from `crate::loom`, so
//! loom explores every interleaving and every value a weak load may return). The steps around
//! it — run a queue entry, poll, settle, complete, notify the join side, drop a `JoinHandle`,
//! abort, eager spawn, await-inlining — are *transcriptions* of `task/harness.rs`,
//! `task/join.rs` and `scheduler/eager.rs` onto a model task whose future cell, join-waker
//! slot and "allocation" are loom `UnsafeCell`s. So loom also checks the *protocol*: two
//! unsynchronized accesses to the future or the join-waker slot (a double poll, a poll racing
//! a cancel, the handle reading the output while the task writes it) and any access after the
//! reference count reached zero (use after free) fail as causality violations. If the harness
//! changes, these transcriptions must follow it (each names the function it mirrors).
//!
//! `Sim::owned` stands for the owner reference wherever it lives: implicit with the task
//! until its first suspension, then in the runtime's owned list. Completion releases it either
//! way, and shutdown cancels through it (the runtime reaches a queued task through its queue
//! entry instead, which is the same transition on the state word). Registration itself (and a
//! registration refused by a closing runtime) is not modelled.
//!
//! The parker model runs the real `Parker` on its condvar path (the driver path sleeps in a
//! mio reactor, which loom cannot model; each model holds the driver lock so that `park`
//! takes the condvar path).

use std::collections::VecDeque;
use std::mem::ManuallyDrop;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use loom::sync::{Arc, Mutex};
use loom::thread;

use crate::task::state::*;

// ---- the model task ----

/// What the model future does when polled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behavior {
    /// Ready on the first poll.
    Ready,
    /// Ready once `Task::go` is set (by whoever wakes it); pending until then.
    WaitGo,
    /// Never ready (only cancellation ends it).
    Never,
}

#[derive(Debug)]
enum Stage {
    Running,
    Finished(Result<u32, Cancelled>),
    Consumed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cancelled;

/// The value a finished model future returns.
const OUTPUT: u32 = 42;

struct Task {
    state: State,
    behavior: Behavior,
    /// Set (Release) before a wake that must make the future ready.
    go: AtomicBool,
    /// The future / output cell: touched only by the `RUNNING` holder, or by the join side
    /// after `COMPLETE`, or by `dealloc`.
    stage: UnsafeCell<Stage>,
    /// The join waker slot (a model waker: a counter of wake-ups).
    join_waker: UnsafeCell<Option<Arc<AtomicUsize>>>,
    /// Logical liveness of the allocation: cleared by `dealloc`, read by every access, so
    /// loom reports an access after (or racing with) the free.
    alive: UnsafeCell<bool>,
    /// Number of deallocations (must end at exactly 1).
    freed: AtomicUsize,
    /// Polls of the future.
    polls: AtomicUsize,
    /// The output left the cell (read by the handle or dropped): must end at exactly 1.
    outputs_gone: AtomicUsize,
}

impl Task {
    fn new(initial: usize, behavior: Behavior) -> Arc<Task> {
        let task = Arc::new(Task {
            state: State::new(initial),
            behavior,
            go: AtomicBool::new(false),
            stage: UnsafeCell::new(Stage::Running),
            join_waker: UnsafeCell::new(None),
            alive: UnsafeCell::new(true),
            freed: AtomicUsize::new(0),
            polls: AtomicUsize::new(0),
            outputs_gone: AtomicUsize::new(0),
        });
        // Create the loom atomic of the state word on this thread (see `crate::loom`).
        let _ = task.state.load();
        task
    }

    fn check_alive(&self) {
        self.alive.with(|a| {
            // SAFETY: loom's UnsafeCell checks this read against the free in `dealloc`.
            assert!(unsafe { *a }, "use after free")
        });
    }

    fn state(&self) -> &State {
        self.check_alive();
        &self.state
    }
}

/// `raw::dealloc`: frees the cell (drops what is left in the stage).
fn dealloc(task: &Task) {
    task.alive.with_mut(|a| {
        // SAFETY: the count reached zero; loom checks no other access races with this one.
        let a = unsafe { &mut *a };
        assert!(*a, "double free");
        *a = false;
    });
    task.stage.with_mut(|s| {
        // SAFETY: as above.
        let s = unsafe { &mut *s };
        if matches!(s, Stage::Finished(_)) {
            task.outputs_gone.fetch_add(1, Relaxed);
        }
        *s = Stage::Consumed;
    });
    task.freed.fetch_add(1, Relaxed);
}

/// A counted reference (`raw::TaskRef`): a queue entry, the owner reference, a holder.
struct Ref(Arc<Task>);

impl Ref {
    /// Takes over a reference the caller holds (`TaskRef::from_raw`).
    fn from_counted(task: &Arc<Task>) -> Ref {
        Ref(task.clone())
    }

    /// Gives up the counted reference without dropping it (`TaskRef::into_raw`).
    fn into_uncounted(self) -> Arc<Task> {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again: its `Arc` moves out exactly once.
        unsafe { std::ptr::read(&this.0) }
    }
}

impl Drop for Ref {
    fn drop(&mut self) {
        if self.0.state().ref_dec() {
            dealloc(&self.0);
        }
    }
}

/// A waker clone (`raw::waker_*`): owns one reference.
struct Waker {
    task: Arc<Task>,
}

impl Waker {
    /// `Waker::clone` (`waker_clone`).
    fn new(task: &Arc<Task>) -> Waker {
        task.state().ref_inc();
        Waker { task: task.clone() }
    }

    /// `waker_wake`.
    fn wake(self, sim: &Sim) {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again: its `Arc` moves out exactly once.
        let task = unsafe { std::ptr::read(&this.task) };
        match task.state().wake_by_val() {
            OnWake::Nothing => {}
            OnWake::Dealloc => dealloc(&task),
            // The waker's reference becomes the entry's.
            OnWake::Submit => sim.push(Ref(task)),
        }
    }

    /// `waker_wake_by_ref`.
    fn wake_by_ref(&self, sim: &Sim) {
        if self.task.state().wake_by_ref() == OnWake::Submit {
            sim.push(Ref::from_counted(&self.task));
        }
    }
}

impl Drop for Waker {
    /// `waker_drop`.
    fn drop(&mut self) {
        if self.task.state().ref_dec() {
            dealloc(&self.task);
        }
    }
}

/// The runtime around one task: a run queue and the owned-task list.
struct Sim {
    queue: Mutex<VecDeque<Ref>>,
    owned: Mutex<Option<Ref>>,
    /// Stale queue entries skipped (`ToRunning::Skip`).
    skips: AtomicUsize,
    /// After shutdown, pushed entries are dropped, not run (`Shared::push_remote`).
    shutdown: AtomicBool,
}

impl Sim {
    fn new() -> Arc<Sim> {
        Arc::new(Sim {
            queue: Mutex::new(VecDeque::new()),
            owned: Mutex::new(None),
            skips: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
        })
    }

    fn push(&self, entry: Ref) {
        self.queue.lock().unwrap().push_back(entry);
    }

    fn pop(&self) -> Option<Ref> {
        self.queue.lock().unwrap().pop_front()
    }

    /// A final worker: runs every entry left (or drops them after shutdown).
    fn drain(&self) {
        while let Some(entry) = self.pop() {
            if self.shutdown.load(Relaxed) {
                drop(entry);
            } else {
                run_queued(self, entry);
            }
        }
    }
}

/// A new queued task (`QUEUED_START`: handle, owner in the owned list, one queue entry).
fn spawn_queued(sim: &Sim, behavior: Behavior) -> (Arc<Task>, JoinHandle) {
    let task = Task::new(QUEUED_START, behavior);
    *sim.owned.lock().unwrap() = Some(Ref::from_counted(&task));
    sim.push(Ref::from_counted(&task));
    let handle = JoinHandle {
        task: Some(task.clone()),
    };
    (task, handle)
}

// ---- the harness, transcribed (task/harness.rs) ----

/// `Cell::poll`: true if the future finished (output stored).
fn poll_future(task: &Task) -> bool {
    task.polls.fetch_add(1, Relaxed);
    let ready = match task.behavior {
        Behavior::Ready => true,
        Behavior::WaitGo => task.go.load(Acquire),
        Behavior::Never => false,
    };
    task.stage.with_mut(|s| {
        // SAFETY: the caller holds RUNNING; loom checks nobody else touches the stage.
        let s = unsafe { &mut *s };
        assert!(matches!(s, Stage::Running), "polled a finished future");
        if ready {
            *s = Stage::Finished(Ok(OUTPUT));
        }
    });
    ready
}

/// `Cell::cancel`.
fn cancel_future(task: &Task) {
    task.stage.with_mut(|s| {
        // SAFETY: the caller holds RUNNING.
        let s = unsafe { &mut *s };
        assert!(matches!(s, Stage::Running), "cancelled a finished future");
        *s = Stage::Finished(Err(Cancelled));
    });
}

/// `Cell::drop_output`.
fn drop_output(task: &Task) {
    task.stage.with_mut(|s| {
        // SAFETY: COMPLETE is set and the caller is the single owner of the output.
        let s = unsafe { &mut *s };
        if matches!(s, Stage::Finished(_)) {
            task.outputs_gone.fetch_add(1, Relaxed);
        }
        *s = Stage::Consumed;
    });
}

/// `Cell::read_output`.
fn read_output(task: &Task) -> Result<u32, Cancelled> {
    task.stage.with_mut(|s| {
        // SAFETY: COMPLETE is set; only the join side touches the output now.
        let s = unsafe { &mut *s };
        match std::mem::replace(s, Stage::Consumed) {
            Stage::Finished(out) => {
                task.outputs_gone.fetch_add(1, Relaxed);
                out
            }
            other => panic!("read_output on {other:?}"),
        }
    })
}

/// `harness::run_queued`.
fn run_queued(sim: &Sim, entry: Ref) {
    match entry.0.state().transition_to_running() {
        ToRunning::Skip => {
            sim.skips.fetch_add(1, Relaxed);
            drop(entry)
        }
        ToRunning::Cancel => cancel_and_complete(sim, entry),
        ToRunning::Run => poll_and_settle(sim, entry),
    }
}

/// `harness::poll_and_settle`.
fn poll_and_settle(sim: &Sim, holder: Ref) {
    if poll_future(&holder.0) {
        complete(sim, &holder.0);
        drop(holder);
        return;
    }
    match holder.0.state().transition_to_idle() {
        ToIdle::Idle => drop(holder),
        ToIdle::Reschedule => sim.push(holder),
        ToIdle::Cancel => cancel_and_complete(sim, holder),
    }
}

/// `harness::cancel_and_complete`.
fn cancel_and_complete(sim: &Sim, holder: Ref) {
    cancel_future(&holder.0);
    complete(sim, &holder.0);
    drop(holder);
}

/// `harness::complete`: takes the owner reference out of the owned list.
fn complete(sim: &Sim, task: &Arc<Task>) {
    let owner = {
        let mut owned = sim.owned.lock().unwrap();
        match &*owned {
            Some(r) if Arc::ptr_eq(&r.0, task) => owned.take(),
            _ => None,
        }
    };
    complete_owned(task, owner);
}

/// `harness::complete_owned`.
fn complete_owned(task: &Arc<Task>, owner: Option<Ref>) {
    let prev = task.state().transition_to_complete();
    notify_join(task, prev);
    drop(owner);
}

/// `harness::notify_join`.
fn notify_join(task: &Task, prev: Snapshot) {
    if !prev.has(JOIN_INTEREST) {
        drop_output(task);
    } else if prev.has(JOIN_WAKER) {
        task.join_waker.with(|w| {
            // SAFETY: JOIN_WAKER was set before COMPLETE: the handle no longer writes it.
            if let Some(w) = unsafe { &*w } {
                w.fetch_add(1, Release);
            }
        });
    }
}

/// `harness::suspend_inline` (the runtime is not shutting down).
fn suspend_inline(sim: &Sim, owner: Ref) {
    let task = owner.0.clone();
    *sim.owned.lock().unwrap() = Some(owner);
    match task.state().transition_to_idle() {
        ToIdle::Idle => {}
        ToIdle::Reschedule => {
            task.state().ref_inc();
            sim.push(Ref::from_counted(&task));
        }
        ToIdle::Cancel => {
            task.state().ref_inc();
            cancel_and_complete(sim, Ref::from_counted(&task));
        }
    }
}

/// `eager::complete_inline`.
fn complete_inline(owner: Ref) {
    let task = owner.0.clone();
    let state = task.state().load();
    if task.state().try_complete_unshared(state) {
        // The owner reference was folded into the store.
        drop(owner.into_uncounted());
    } else {
        complete_owned(&task, Some(owner));
    }
}

/// `eager::inline_await` (this thread runs the task's runtime, budget and depth allow).
fn inline_await(sim: &Sim, task: &Arc<Task>) -> bool {
    match task.state().transition_to_running() {
        ToRunning::Skip => false,
        ToRunning::Cancel => {
            task.state().ref_inc();
            cancel_and_complete(sim, Ref::from_counted(task));
            true
        }
        ToRunning::Run => {
            task.state().ref_inc();
            poll_and_settle(sim, Ref::from_counted(task));
            true
        }
    }
}

/// `Shared::cancel_all_tasks` for the one task.
fn shutdown(sim: &Sim) {
    sim.shutdown.store(true, Relaxed);
    let owner = sim.owned.lock().unwrap().take();
    if let Some(owner) = owner {
        let task = owner.0.clone();
        if task.state().transition_to_shutdown() {
            cancel_future(&task);
            complete_owned(&task, Some(owner));
        }
    }
    // Entries pushed before the flag was seen are dropped here.
    while let Some(entry) = sim.pop() {
        drop(entry);
    }
}

// ---- the join side, transcribed (task/join.rs) ----

struct JoinHandle {
    task: Option<Arc<Task>>,
}

impl JoinHandle {
    fn task(&self) -> &Arc<Task> {
        self.task.as_ref().expect("handle dropped")
    }

    /// `JoinHandle::poll`; `inline` allows await-inlining (eager policy, on a runtime thread).
    fn poll(&self, sim: &Sim, waker: &Arc<AtomicUsize>, inline: bool) -> Option<u32> {
        let task = self.task();
        let mut state = task.state().load();
        if inline
            && state.has(NOTIFIED)
            && !state.has(RUNNING | COMPLETE)
            && inline_await(sim, task)
        {
            state = task.state().load();
        }
        if state.has(COMPLETE) {
            return Some(self.output());
        }
        match self.set_join_waker(state, waker) {
            Ok(()) => None,
            Err(_) => Some(self.output()),
        }
    }

    fn output(&self) -> u32 {
        match read_output(self.task()) {
            Ok(v) => v,
            Err(Cancelled) => u32::MAX,
        }
    }

    /// `JoinHandle::set_join_waker`.
    fn set_join_waker(&self, state: Snapshot, waker: &Arc<AtomicUsize>) -> Result<(), Snapshot> {
        let task = self.task();
        if state.has(JOIN_WAKER) {
            let same = task.join_waker.with(|w| {
                // SAFETY: JOIN_WAKER is set: the slot is stable and only this handle writes it.
                unsafe { &*w }
                    .as_ref()
                    .is_some_and(|w| Arc::ptr_eq(w, waker))
            });
            if same {
                return Ok(());
            }
            task.state().unset_join_waker()?;
        }
        task.join_waker.with_mut(|w| {
            // SAFETY: JOIN_WAKER is clear, so the completer does not read the slot.
            unsafe { *w = Some(waker.clone()) }
        });
        task.state().set_join_waker()
    }
}

/// `join::abort_task` (`JoinHandle::abort`, `AbortHandle::abort`).
fn abort_task(sim: &Sim, task: &Arc<Task>) {
    if task.state().transition_to_cancelled() == OnWake::Submit {
        sim.push(Ref::from_counted(task));
    }
}

impl Drop for JoinHandle {
    /// `JoinHandle::drop`.
    fn drop(&mut self) {
        let Some(task) = self.task.take() else { return };
        let state = task.state().load();
        if state.has(COMPLETE) && state.refs() == 1 {
            drop_output(&task);
            dealloc(&task);
            return;
        }
        let prev = task.state().drop_join_interest();
        if prev.has(COMPLETE) {
            drop_output(&task);
        }
        if task.state().ref_dec() {
            dealloc(&task);
        }
    }
}

/// An `AbortHandle`: one reference, can abort.
struct AbortHandle(Arc<Task>);

impl AbortHandle {
    fn new(task: &Arc<Task>) -> AbortHandle {
        task.state().ref_inc();
        AbortHandle(task.clone())
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        if self.0.state().ref_dec() {
            dealloc(&self.0);
        }
    }
}

/// End-of-model checks once every reference is gone: freed exactly once, output gone exactly
/// once.
fn assert_freed(task: &Task) {
    assert_eq!(task.freed.load(Relaxed), 1, "freed exactly once");
    assert_eq!(
        task.outputs_gone.load(Relaxed),
        1,
        "output taken or dropped exactly once"
    );
}

/// Runs `f` under every interleaving loom explores (`LOOM_MAX_PREEMPTIONS`, default 3) and
/// prints how many there were (`--nocapture` shows it).
#[track_caller]
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    let iterations = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = iterations.clone();
    builder.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    println!(
        "{}: {} interleavings",
        std::panic::Location::caller(),
        iterations.load(std::sync::atomic::Ordering::Relaxed)
    );
}

// ---- task state models ----

/// A wake from another thread while a worker polls: the task is polled again after the wake
/// (no lost wake), a wake during `RUNNING` leads to exactly one queue entry (no stale entry is
/// ever popped), and the task is freed exactly once.
#[test]
fn loom_wake_races_poll() {
    model(|| {
        let sim = Sim::new();
        let (task, handle) = spawn_queued(&sim, Behavior::WaitGo);
        let waker = Waker::new(&task);
        let worker = {
            let sim = sim.clone();
            thread::spawn(move || {
                let entry = sim.pop().expect("the spawn's entry");
                run_queued(&sim, entry);
            })
        };
        let waking = {
            let sim = sim.clone();
            let task = task.clone();
            thread::spawn(move || {
                task.go.store(true, Release);
                waker.wake(&sim);
            })
        };
        worker.join().unwrap();
        waking.join().unwrap();
        sim.drain();
        let join = Arc::new(AtomicUsize::new(0));
        assert_eq!(
            handle.poll(&sim, &join, false),
            Some(OUTPUT),
            "lost wake-up"
        );
        assert_eq!(
            sim.skips.load(Relaxed),
            0,
            "a stale (duplicate) entry was queued"
        );
        assert!(task.polls.load(Relaxed) <= 2);
        drop(handle);
        assert_freed(&task);
    });
}

/// Two wakers (one by reference, one by value) racing a poll from two threads: still exactly
/// one entry at a time, no lost wake, the reference a `wake_by_ref` adds for its entry is
/// counted.
#[test]
fn loom_two_wakes_race_poll() {
    model(|| {
        let sim = Sim::new();
        let (task, handle) = spawn_queued(&sim, Behavior::WaitGo);
        let (a, b) = (Waker::new(&task), Waker::new(&task));
        let worker = {
            let sim = sim.clone();
            thread::spawn(move || {
                let entry = sim.pop().expect("the spawn's entry");
                run_queued(&sim, entry);
            })
        };
        let waking = {
            let sim = sim.clone();
            let task = task.clone();
            thread::spawn(move || {
                task.go.store(true, Release);
                a.wake_by_ref(&sim);
                drop(a);
            })
        };
        b.wake(&sim);
        worker.join().unwrap();
        waking.join().unwrap();
        sim.drain();
        let join = Arc::new(AtomicUsize::new(0));
        assert_eq!(
            handle.poll(&sim, &join, false),
            Some(OUTPUT),
            "lost wake-up"
        );
        assert_eq!(
            sim.skips.load(Relaxed),
            0,
            "a stale (duplicate) entry was queued"
        );
        drop(handle);
        assert_freed(&task);
    });
}

/// Regression (found by `loom_two_wakes_race_poll`): a `wake_by_ref` that finds the task
/// already `NOTIFIED` must still publish what the waker wrote before it to the poll that
/// consumes that notification. Here the flag the future checks is set with `Release` right
/// before the wake, as an event or a one-shot channel would; if the wake makes no write, the
/// worker's `transition_to_running` does not synchronize with it, the poll may read the old
/// flag and return `Pending`, and nobody wakes the task again.
#[test]
fn loom_wake_by_ref_on_notified_task_is_not_lost() {
    model(|| {
        let sim = Sim::new();
        // Queued: NOTIFIED, with its entry.
        let (task, handle) = spawn_queued(&sim, Behavior::WaitGo);
        let waker = Waker::new(&task);
        let waking = {
            let sim = sim.clone();
            let task = task.clone();
            thread::spawn(move || {
                task.go.store(true, Release);
                waker.wake_by_ref(&sim);
                drop(waker);
            })
        };
        let entry = sim.pop().expect("the spawn's entry");
        run_queued(&sim, entry);
        waking.join().unwrap();
        sim.drain();
        let join = Arc::new(AtomicUsize::new(0));
        assert_eq!(
            handle.poll(&sim, &join, false),
            Some(OUTPUT),
            "lost wake-up"
        );
        drop(handle);
        assert_freed(&task);
    });
}

/// `abort` racing a poll and a wake: the task ends cancelled (its future never becomes
/// ready), the future is dropped exactly once, nobody polls it concurrently.
#[test]
fn loom_abort_races_poll_and_wake() {
    model(|| {
        let sim = Sim::new();
        let (task, handle) = spawn_queued(&sim, Behavior::Never);
        let waker = Waker::new(&task);
        let abort = AbortHandle::new(&task);
        let worker = {
            let sim = sim.clone();
            thread::spawn(move || {
                let entry = sim.pop().expect("the spawn's entry");
                run_queued(&sim, entry);
            })
        };
        let aborting = {
            let sim = sim.clone();
            thread::spawn(move || {
                abort_task(&sim, &abort.0);
                drop(abort);
            })
        };
        waker.wake(&sim);
        worker.join().unwrap();
        aborting.join().unwrap();
        sim.drain();
        let join = Arc::new(AtomicUsize::new(0));
        assert_eq!(
            handle.poll(&sim, &join, false),
            Some(u32::MAX),
            "not cancelled"
        );
        drop(handle);
        assert_freed(&task);
    });
}

/// The `JoinHandle` dropped while a worker completes the task: the output is dropped exactly
/// once (by whichever side sees the other) and the task freed exactly once.
#[test]
fn loom_join_drop_races_completion() {
    model(|| {
        let sim = Sim::new();
        let (task, handle) = spawn_queued(&sim, Behavior::Ready);
        let worker = {
            let sim = sim.clone();
            thread::spawn(move || {
                let entry = sim.pop().expect("the spawn's entry");
                run_queued(&sim, entry);
            })
        };
        drop(handle);
        worker.join().unwrap();
        assert_freed(&task);
    });
}

/// Abort, `JoinHandle` drop and completion from three threads.
#[test]
fn loom_abort_join_drop_and_completion() {
    model(|| {
        let sim = Sim::new();
        let (task, handle) = spawn_queued(&sim, Behavior::Ready);
        let abort = AbortHandle::new(&task);
        let worker = {
            let sim = sim.clone();
            thread::spawn(move || {
                let entry = sim.pop().expect("the spawn's entry");
                run_queued(&sim, entry);
            })
        };
        let aborting = {
            let sim = sim.clone();
            thread::spawn(move || {
                abort_task(&sim, &abort.0);
                drop(abort);
            })
        };
        drop(handle);
        worker.join().unwrap();
        aborting.join().unwrap();
        sim.drain();
        assert_freed(&task);
        // Polled once, or cancelled before its first poll.
        assert!(task.polls.load(Relaxed) <= 1);
    });
}

/// The awaiting task registers its join waker while a worker completes the task: if the
/// poll returned `Pending`, the join waker fires, and the next poll is `Ready`.
#[test]
fn loom_join_waker_races_completion() {
    model(|| {
        let sim = Sim::new();
        let (task, handle) = spawn_queued(&sim, Behavior::Ready);
        let worker = {
            let sim = sim.clone();
            thread::spawn(move || {
                let entry = sim.pop().expect("the spawn's entry");
                run_queued(&sim, entry);
            })
        };
        let join = Arc::new(AtomicUsize::new(0));
        let first = handle.poll(&sim, &join, false);
        worker.join().unwrap();
        match first {
            Some(v) => assert_eq!(v, OUTPUT),
            None => {
                assert_eq!(join.load(Acquire), 1, "join waker lost");
                assert_eq!(handle.poll(&sim, &join, false), Some(OUTPUT));
            }
        }
        drop(handle);
        assert_freed(&task);
    });
}

/// Runtime shutdown (`transition_to_shutdown`) racing a wake: the future is dropped exactly
/// once, the entry pushed by the wake is dropped, the task freed exactly once.
#[test]
fn loom_shutdown_races_wake() {
    model(|| {
        let sim = Sim::new();
        let (task, handle) = spawn_queued(&sim, Behavior::Never);
        // The worker polled it once already: pending, idle, waiting for its waker.
        let entry = sim.pop().unwrap();
        let waker = Waker::new(&task);
        run_queued(&sim, entry);
        let waking = {
            let sim = sim.clone();
            thread::spawn(move || waker.wake(&sim))
        };
        shutdown(&sim);
        waking.join().unwrap();
        shutdown(&sim);
        let join = Arc::new(AtomicUsize::new(0));
        assert_eq!(handle.poll(&sim, &join, false), Some(u32::MAX));
        drop(handle);
        assert_freed(&task);
    });
}

// ---- eager-inline completion ----

/// How the thread holding a waker clone from the eager first poll uses it.
#[derive(Clone, Copy)]
enum WakerUse {
    Wake,
    WakeByRefThenDrop,
    Drop,
}

/// Eager spawn whose first poll completes while another thread holds a clone of its waker:
/// `try_complete_unshared` must refuse (the clone is a reference it cannot see otherwise) or
/// see that the clone is gone; either way the task is freed exactly once and the handle gets
/// the output.
fn eager_completion_races(use_: WakerUse) {
    model(move || {
        let sim = Sim::new();
        // `spawn_in`: allocate with INLINE_START and poll right here.
        let task = Task::new(INLINE_START, Behavior::Ready);
        // The future clones its waker and sends it to another thread during the poll.
        let clone = Waker::new(&task);
        let other = {
            let sim = sim.clone();
            thread::spawn(move || match use_ {
                WakerUse::Wake => clone.wake(&sim),
                WakerUse::WakeByRefThenDrop => {
                    clone.wake_by_ref(&sim);
                    drop(clone)
                }
                WakerUse::Drop => drop(clone),
            })
        };
        assert!(poll_future(&task));
        complete_inline(Ref::from_counted(&task));
        let handle = JoinHandle {
            task: Some(task.clone()),
        };
        let join = Arc::new(AtomicUsize::new(0));
        assert_eq!(handle.poll(&sim, &join, false), Some(OUTPUT));
        drop(handle);
        other.join().unwrap();
        assert!(sim.pop().is_none(), "a completed task was queued");
        assert_freed(&task);
    });
}

#[test]
fn loom_eager_completion_races_wake() {
    eager_completion_races(WakerUse::Wake);
}

#[test]
fn loom_eager_completion_races_wake_by_ref() {
    eager_completion_races(WakerUse::WakeByRefThenDrop);
}

#[test]
fn loom_eager_completion_races_waker_drop() {
    eager_completion_races(WakerUse::Drop);
}

/// The fast path with no waker clone at all takes the single store, and the handle then
/// frees the task on its own fast path.
#[test]
fn loom_eager_completion_unshared() {
    model(|| {
        let sim = Sim::new();
        let task = Task::new(INLINE_START, Behavior::Ready);
        assert!(poll_future(&task));
        let state = task.state().load();
        assert!(task.state().try_complete_unshared(state));
        let handle = JoinHandle {
            task: Some(task.clone()),
        };
        let reader = thread::spawn(move || {
            let join = Arc::new(AtomicUsize::new(0));
            let sim = Sim::new();
            assert_eq!(handle.poll(&sim, &join, false), Some(OUTPUT));
        });
        reader.join().unwrap();
        assert!(sim.pop().is_none());
        assert_freed(&task);
    });
}

/// Eager first poll returns `Pending` while another thread wakes the task (after making it
/// ready): the hand-over to the runtime (`suspend_inline`) loses no wake.
#[test]
fn loom_eager_suspend_races_wake() {
    model(|| {
        let sim = Sim::new();
        let task = Task::new(INLINE_START, Behavior::WaitGo);
        let clone = Waker::new(&task);
        let other = {
            let sim = sim.clone();
            let task = task.clone();
            thread::spawn(move || {
                task.go.store(true, Release);
                clone.wake(&sim);
            })
        };
        let finished = poll_future(&task);
        let owner = Ref::from_counted(&task);
        if finished {
            complete_inline(owner);
        } else {
            suspend_inline(&sim, owner);
        }
        let handle = JoinHandle {
            task: Some(task.clone()),
        };
        other.join().unwrap();
        sim.drain();
        let join = Arc::new(AtomicUsize::new(0));
        assert_eq!(
            handle.poll(&sim, &join, false),
            Some(OUTPUT),
            "lost wake-up"
        );
        drop(handle);
        assert_freed(&task);
    });
}

// ---- await-inlining against a stealer ----

/// The awaiting thread claims a queued task (`transition_to_running` from the join side)
/// while a stealer pops its entry: exactly one of them polls it, the other's entry is
/// skipped, and a `Pending` join poll is always woken.
#[test]
fn loom_await_inline_races_stealer() {
    model(|| {
        let sim = Sim::new();
        let (task, handle) = spawn_queued(&sim, Behavior::Ready);
        let stealer = {
            let sim = sim.clone();
            thread::spawn(move || {
                if let Some(entry) = sim.pop() {
                    run_queued(&sim, entry);
                }
            })
        };
        let join = Arc::new(AtomicUsize::new(0));
        let first = handle.poll(&sim, &join, true);
        stealer.join().unwrap();
        let out = match first {
            Some(v) => v,
            None => {
                assert_eq!(join.load(Acquire), 1, "join waker lost");
                handle.poll(&sim, &join, true).expect("woken but not ready")
            }
        };
        assert_eq!(out, OUTPUT);
        sim.drain();
        assert_eq!(task.polls.load(Relaxed), 1, "polled twice (or never)");
        drop(handle);
        assert_freed(&task);
    });
}

/// Await-inlining claims the task, a wake lands during the inline poll (so the task is
/// `RUNNING | NOTIFIED`), and a stealer pops the original, now stale, entry at the same time:
/// the stealer must not poll a task that is running, and the wake is not lost.
#[test]
fn loom_await_inline_races_stealer_and_wake() {
    model(|| {
        let sim = Sim::new();
        let (task, handle) = spawn_queued(&sim, Behavior::WaitGo);
        let waker = Waker::new(&task);
        let stealer = {
            let sim = sim.clone();
            thread::spawn(move || {
                if let Some(entry) = sim.pop() {
                    run_queued(&sim, entry);
                }
            })
        };
        let waking = {
            let sim = sim.clone();
            let task = task.clone();
            thread::spawn(move || {
                task.go.store(true, Release);
                waker.wake(&sim);
            })
        };
        let join = Arc::new(AtomicUsize::new(0));
        let first = handle.poll(&sim, &join, true);
        stealer.join().unwrap();
        waking.join().unwrap();
        sim.drain();
        let out = match first {
            Some(v) => v,
            None => handle.poll(&sim, &join, true).expect("lost wake-up"),
        };
        assert_eq!(out, OUTPUT);
        assert!(task.polls.load(Relaxed) <= 2);
        drop(handle);
        assert_freed(&task);
    });
}

/// Await-inlining racing an abort: the claim sees `CANCELLED` (and cancels) or the abort
/// lands during the inline poll; the future is never polled after the cancel.
#[test]
fn loom_await_inline_races_abort() {
    model(|| {
        let sim = Sim::new();
        let (task, handle) = spawn_queued(&sim, Behavior::WaitGo);
        let abort = AbortHandle::new(&task);
        let aborting = {
            let sim = sim.clone();
            thread::spawn(move || {
                abort_task(&sim, &abort.0);
                drop(abort);
            })
        };
        let join = Arc::new(AtomicUsize::new(0));
        let first = handle.poll(&sim, &join, true);
        aborting.join().unwrap();
        sim.drain();
        let out = match first {
            Some(v) => v,
            None => handle
                .poll(&sim, &join, true)
                .expect("cancelled task not complete"),
        };
        assert_eq!(out, u32::MAX);
        drop(handle);
        assert_freed(&task);
    });
}

// ---- the parker (condvar path) ----

mod parker {
    use super::*;
    use crate::builder::{Config, SpawnPolicy};
    use crate::scheduler::park::Parker;
    use crate::scheduler::Shared;

    fn shared() -> std::sync::Arc<Shared> {
        let config = Config {
            worker_threads: 1,
            eager_budget: 0,
            eager_depth: 0,
            spawn_policy: SpawnPolicy::Eager,
            global_queue_interval: 61,
            event_interval: 61,
            thread_name: "loom".into(),
            max_blocking_threads: 1,
            thread_keep_alive: std::time::Duration::from_secs(1),
        };
        std::sync::Arc::new(Shared::new(config, Box::new([])).expect("a reactor"))
    }

    /// `unpark` before, during or after `park`: `park` returns (loom reports a deadlock if
    /// the notification is lost), on the condvar path.
    #[test]
    fn loom_park_unpark() {
        model(|| {
            let shared = shared();
            // Hold the driver: `park` must take the condvar path.
            let _driver = shared.driver.lock().unwrap();
            let parker = Arc::new(Parker::default());
            let unparker = {
                let parker = parker.clone();
                let shared = shared.clone();
                thread::spawn(move || parker.unpark(&shared))
            };
            parker.park(&shared);
            unparker.join().unwrap();
        });
    }

    /// Two rounds: the state returns to empty after each park, so the second notification is
    /// not absorbed by the first.
    #[test]
    fn loom_park_unpark_twice() {
        model(|| {
            let shared = shared();
            let _driver = shared.driver.lock().unwrap();
            let parker = Arc::new(Parker::default());
            let first_done = Arc::new(AtomicBool::new(false));
            let unparker = {
                let parker = parker.clone();
                let shared = shared.clone();
                let first_done = first_done.clone();
                thread::spawn(move || {
                    parker.unpark(&shared);
                    while !first_done.load(Acquire) {
                        thread::yield_now();
                    }
                    parker.unpark(&shared);
                })
            };
            parker.park(&shared);
            first_done.store(true, Release);
            parker.park(&shared);
            unparker.join().unwrap();
        });
    }
}

// ---- idle workers: notify vs the last searcher's re-check ----

mod idle {
    use super::*;
    use crate::scheduler::idle::Idle;

    /// `Shared::has_visible_work` on a queue whose emptiness check is a `SeqCst` fence and a
    /// load (crossbeam's `Stealer::is_empty`; the injector's `is_empty` uses `SeqCst` loads,
    /// which loom models only as acquire loads, so a fence stands in for them).
    fn has_work(work: &AtomicBool) -> bool {
        loom::sync::atomic::fence(SeqCst);
        work.load(Acquire)
    }

    /// A searching worker gives up and parks (as the last searcher it re-checks the queues)
    /// while another thread publishes work and asks for a worker to wake: one of the two must
    /// wake a worker, or the work sits in a queue with every worker asleep.
    #[test]
    fn loom_idle_last_searcher_vs_notify() {
        model(|| {
            let idle = Arc::new(Idle::new(2));
            // Create the loom atomic before sharing it (see `crate::loom`).
            assert_eq!(idle.num_searching(), 0);
            // Worker 1 sleeps; worker 0 searches.
            assert!(!idle.transition_to_parked(1, false));
            assert!(idle.transition_to_searching());
            let work = Arc::new(AtomicBool::new(false));
            let spawner = {
                let idle = idle.clone();
                let work = work.clone();
                thread::spawn(move || {
                    // `push_remote`: publish, then `notify_parked`.
                    work.store(true, Release);
                    idle.worker_to_notify()
                })
            };
            // Worker 0: `Core::park`.
            let last = idle.transition_to_parked(0, true);
            let by_parker = if last && has_work(&work) {
                idle.worker_to_notify()
            } else {
                None
            };
            let by_spawner = spawner.join().unwrap();
            assert!(
                by_parker.is_some() || by_spawner.is_some(),
                "work published, every worker asleep, nobody woken"
            );
            assert!(
                by_parker.is_none() || by_spawner.is_none(),
                "two wake-ups for one piece of work"
            );
        });
    }

    /// Two spawners publish work at once while the only worker parks: at most one wake-up
    /// per searcher (no thundering herd), at least one in all.
    #[test]
    fn loom_idle_two_notifiers() {
        model(|| {
            let idle = Arc::new(Idle::new(2));
            assert_eq!(idle.num_searching(), 0);
            assert!(!idle.transition_to_parked(0, false));
            assert!(!idle.transition_to_parked(1, false));
            let notifier = {
                let idle = idle.clone();
                thread::spawn(move || idle.worker_to_notify())
            };
            let mine = idle.worker_to_notify();
            let theirs = notifier.join().unwrap();
            assert!(mine.is_some() || theirs.is_some(), "nobody woken");
            assert!(
                mine.is_none() || theirs.is_none(),
                "two workers woken while one searches"
            );
            assert_eq!(idle.num_searching(), 1);
        });
    }
}
