//! loom models of the lock-free core: the **real** task core (`task/raw.rs`, `harness.rs`,
//! `join.rs`, `state.rs`, `owned.rs`) driven by a loom scheduler, the worker `Parker` and the
//! idle-worker set.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p brisk --release --lib loom
//! ```
//!
//! # How the task core is modelled
//!
//! Nothing is transcribed. The task core is generic over `task::schedule::Schedule`; here it
//! runs with [`Sched`], a loom scheduler: a queue behind a loom `Mutex` that model threads pop
//! and run with `harness::run_queued`, exactly as workers do. Under `cfg(loom)` the core's
//! atomics (`crate::loom`) and its cells (the stage, the scheduler slot, the join waker slot,
//! the owned-list slot: `crate::loom::cell::UnsafeCell`) are loom's, so loom explores every
//! interleaving and reports any unsynchronized access: a double poll, a poll racing a cancel,
//! a racy output read, a read of a task's memory after it was released. Task cells are counted
//! and, under loom only, not really freed (`task/alloc.rs`), so every model can check that each
//! task was freed exactly once, and a read after release is reported by loom rather than being
//! undefined behaviour of the model itself.
//!
//! [`Sched::schedule`] reads its own state *after* it pushed the task, as the runtime's does
//! (it wakes a parked worker). `Sched` lives in the task's cell (a waker finds it there), so
//! this is the use-after-free of issue 12 bug 1 unless the caller keeps the task alive for the
//! call: `loom_wake_steal_complete_free` fails on the code before that fix.
//!
//! The parker model runs the real `Parker` on its condvar path (the driver path sleeps in a
//! mio reactor, which loom cannot model; each model holds the driver lock so that `park`
//! takes the condvar path).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use loom::sync::{Arc, Mutex};
use loom::thread;

use crate::task::owned::OwnedTasks;
use crate::task::raw::{self, TaskRef};
use crate::task::schedule::Schedule;
use crate::task::state::QUEUED_START;
use crate::task::{harness, Id, JoinHandle};

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
        let _ = crate::task::alloc::loom_counts::take();
        f();
        let (allocated, freed) = crate::task::alloc::loom_counts::take();
        assert_eq!(allocated, freed, "a task cell was leaked or freed twice");
    });
    println!(
        "{}: {} interleavings",
        std::panic::Location::caller(),
        iterations.load(std::sync::atomic::Ordering::Relaxed)
    );
}

// ---- the loom scheduler ----

struct Inner {
    queue: Mutex<VecDeque<TaskRef>>,
    owned: OwnedTasks,
}

/// A scheduler for the models. Each clone (the one stored in a task's cell, too) carries a
/// loom cell that its `schedule` reads after the push and its `drop` writes, so loom reports
/// a `schedule` still running on a released task.
struct Sched {
    inner: Arc<Inner>,
    alive: UnsafeCell<bool>,
}

// SAFETY: `alive` is only read through `&self` (concurrent reads are fine) and written in
// `drop` (exclusive); loom checks exactly that.
unsafe impl Sync for Sched {}

impl Sched {
    fn new() -> Sched {
        Sched {
            inner: Arc::new(Inner {
                queue: Mutex::new(VecDeque::new()),
                owned: OwnedTasks::new(),
            }),
            alive: UnsafeCell::new(true),
        }
    }

    fn push(&self, task: TaskRef) {
        self.inner.queue.lock().unwrap().push_back(task);
    }

    fn pop(&self) -> Option<TaskRef> {
        self.inner.queue.lock().unwrap().pop_front()
    }

    /// Pops until an entry comes (another model thread pushes it).
    fn pop_wait(&self) -> TaskRef {
        loop {
            if let Some(t) = self.pop() {
                return t;
            }
            thread::yield_now();
        }
    }

    /// A model thread acting as a worker: pops one entry (waiting for it) and runs it.
    fn worker(&self) -> thread::JoinHandle<()> {
        let s = self.clone();
        thread::spawn(move || {
            let entry = s.pop_wait();
            harness::run_queued(&s, entry);
        })
    }

    /// Runs every queued entry (after the model's threads joined).
    fn drain(&self) {
        while let Some(t) = self.pop() {
            harness::run_queued(self, t);
        }
    }

    /// Runtime shutdown: cancels every owned and queued task.
    fn shutdown(&self) {
        for t in self.inner.owned.close_and_take_all() {
            harness::shutdown::<Sched>(t);
        }
        while let Some(t) = self.pop() {
            harness::shutdown::<Sched>(t);
        }
    }
}

impl Clone for Sched {
    fn clone(&self) -> Sched {
        Sched {
            inner: self.inner.clone(),
            alive: UnsafeCell::new(true),
        }
    }
}

impl Drop for Sched {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: nobody else holds this clone.
        self.alive.with_mut(|a| unsafe { *a = false });
    }
}

impl Schedule for Sched {
    fn schedule(&self, task: TaskRef) {
        self.push(task);
        // Like the runtime waking a parked worker: `self` is used after the push.
        // SAFETY: shared read; loom reports it if `drop` runs concurrently.
        let alive = self.alive.with(|a| unsafe { *a });
        assert!(alive, "schedule on a dropped scheduler");
    }

    fn owned(&self) -> &OwnedTasks {
        &self.inner.owned
    }

    fn identity(&self) -> *const () {
        Arc::as_ptr(&self.inner).cast()
    }
}

fn spawn_queued<F>(s: &Sched, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let ptr = raw::allocate(future, Id::next(), QUEUED_START, s);
    // SAFETY: QUEUED_START counted the entry's reference.
    s.push(unsafe { TaskRef::from_raw(ptr) });
    // SAFETY: QUEUED_START counted the handle's reference; the output type is F::Output.
    unsafe { JoinHandle::from_raw(ptr) }
}

/// An eager spawn as the runtimes make it (`harness::spawn_inline`: a task
/// that finishes at once unshared gives its output to the handle and its cell is freed).
fn spawn_inline<F>(s: &Sched, future: F) -> (JoinHandle<F::Output>, bool)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    harness::spawn_inline(s, Id::next(), future)
}

// ---- futures and wakers of the models ----

const OUTPUT: u32 = 7;

/// The "outside world" of a waiting future: a flag and the waker to call when it is set.
#[derive(Clone)]
struct Signal(Arc<(AtomicBool, Mutex<Option<Waker>>)>);

impl Signal {
    fn new() -> Signal {
        Signal(Arc::new((AtomicBool::new(false), Mutex::new(None))))
    }

    /// Sets the flag and wakes the waiter (by value), if it registered.
    fn set(&self) {
        self.0 .0.store(true, Release);
        let waker = self.0 .1.lock().unwrap().take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Pending until its `Signal` is set; counts its polls and its drop.
struct Wait {
    signal: Signal,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    polls: AtomicUsize,
    future_drops: AtomicUsize,
    output_drops: AtomicUsize,
}

impl Future for Wait {
    type Output = Out;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Out> {
        self.counts.polls.fetch_add(1, Relaxed);
        let (flag, slot) = &*self.signal.0;
        if flag.load(Acquire) {
            return Poll::Ready(Out(self.counts.clone()));
        }
        *slot.lock().unwrap() = Some(cx.waker().clone());
        // Re-check after publishing the waker: a `set` in between found no waker.
        if flag.load(Acquire) {
            return Poll::Ready(Out(self.counts.clone()));
        }
        Poll::Pending
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        self.counts.future_drops.fetch_add(1, Relaxed);
    }
}

/// The output: counts its drop, so a model can check it was taken or dropped exactly once.
struct Out(Arc<Counts>);

impl Drop for Out {
    fn drop(&mut self) {
        self.0.output_drops.fetch_add(1, Relaxed);
    }
}

fn wait(signal: &Signal) -> (Wait, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    (
        Wait {
            signal: signal.clone(),
            counts: counts.clone(),
        },
        counts,
    )
}

/// A waker that counts wake-ups (a `JoinHandle`'s awaiter).
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Release);
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, Release);
    }
}

/// Polls a join handle once with `waker`.
fn poll_join<T>(handle: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, crate::JoinError>> {
    Pin::new(handle).poll(&mut Context::from_waker(waker))
}

/// The handle's result, which must be ready now.
fn join_now<T>(mut handle: JoinHandle<T>) -> Result<T, crate::JoinError> {
    let waker = Waker::from(std::sync::Arc::new(CountWaker(AtomicUsize::new(0))));
    match poll_join(&mut handle, &waker) {
        Poll::Ready(r) => r,
        Poll::Pending => panic!("the task did not finish: lost wake-up"),
    }
}

// ---- task core models ----

/// Issue 12 bug 1: a waker queues a suspended task while another thread pops it, runs it to
/// completion and releases it; the waker's `schedule` call must not outlive the task's cell.
#[test]
fn loom_wake_steal_complete_free() {
    model(|| {
        let s = Sched::new();
        let signal = Signal::new();
        let (fut, counts) = wait(&signal);
        let (handle, finished) = spawn_inline(&s, fut);
        assert!(!finished);
        drop(handle); // detached: only the owned list, the entry and the waker hold it
        let waking = thread::spawn(move || signal.set());
        let worker = s.worker();
        waking.join().unwrap();
        worker.join().unwrap();
        s.drain();
        assert_eq!(counts.future_drops.load(Relaxed), 1);
        assert_eq!(counts.output_drops.load(Relaxed), 1);
    });
}

/// A wake from another thread while a worker polls: no lost wake-up, at most one entry at a
/// time, and the task is freed exactly once.
#[test]
fn loom_wake_races_poll() {
    model(|| {
        let s = Sched::new();
        let signal = Signal::new();
        let (fut, counts) = wait(&signal);
        let handle = spawn_queued(&s, fut);
        let worker = s.worker();
        let waking = thread::spawn(move || signal.set());
        worker.join().unwrap();
        waking.join().unwrap();
        s.drain();
        assert!(join_now(handle).is_ok(), "lost wake-up");
        assert!(counts.polls.load(Relaxed) <= 2);
        assert_eq!(counts.future_drops.load(Relaxed), 1);
        assert_eq!(counts.output_drops.load(Relaxed), 1);
    });
}

/// Pending until `flag` is set; never registers a waker itself (the models wake it with
/// wakers made from the task, as a channel that already holds one would).
struct UntilSet(Arc<AtomicBool>);

impl Future for UntilSet {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<u32> {
        if self.0.load(Acquire) {
            Poll::Ready(OUTPUT)
        } else {
            Poll::Pending
        }
    }
}

/// A waker of the task behind `handle` (a clone of the one its polls get).
fn task_waker<T>(handle: &JoinHandle<T>) -> Waker {
    // SAFETY: the handle keeps the task alive for the call; the clone holds its own reference.
    let borrowed = raw::waker_ref(unsafe { handle_ptr(handle) });
    (*borrowed).clone()
}

/// Two wakers (one by reference, one by value) racing a poll from two threads: no lost
/// wake-up, the references the wakes add are counted (the cell is freed exactly once).
#[test]
fn loom_two_wakes_race_poll() {
    model(|| {
        let s = Sched::new();
        let flag = Arc::new(AtomicBool::new(false));
        let handle = spawn_queued(&s, UntilSet(flag.clone()));
        let (a, b) = (task_waker(&handle), task_waker(&handle));
        let worker = s.worker();
        let waking = thread::spawn(move || {
            flag.store(true, Release);
            a.wake_by_ref();
            drop(a);
        });
        b.wake();
        worker.join().unwrap();
        waking.join().unwrap();
        s.drain();
        assert_eq!(join_now(handle).unwrap(), OUTPUT, "lost wake-up");
    });
}

/// Regression (found by the model above, before issue 12): a `wake_by_ref` that finds the task
/// already `NOTIFIED` must still publish what the waker wrote before it to the poll that
/// consumes that notification; if the wake wrote nothing, the worker's `transition_to_running`
/// would not synchronize with it, the poll could read the old flag and return `Pending`, and
/// nobody would wake the task again.
#[test]
fn loom_wake_by_ref_on_notified_task_is_not_lost() {
    model(|| {
        let s = Sched::new();
        let flag = Arc::new(AtomicBool::new(false));
        // Queued: NOTIFIED, with its entry.
        let handle = spawn_queued(&s, UntilSet(flag.clone()));
        let waker = task_waker(&handle);
        let waking = thread::spawn(move || {
            flag.store(true, Release);
            waker.wake_by_ref();
            drop(waker);
        });
        let entry = s.pop_wait();
        harness::run_queued(&s, entry);
        waking.join().unwrap();
        s.drain();
        assert_eq!(join_now(handle).unwrap(), OUTPUT, "lost wake-up");
    });
}

/// The awaiter registers its join waker while another thread completes the task: the awaiter
/// either sees the output or is woken, and its waker is released.
#[test]
fn loom_join_waker_races_completion() {
    model(|| {
        let s = Sched::new();
        let signal = Signal::new();
        let (fut, counts) = wait(&signal);
        let (mut handle, _) = spawn_inline(&s, fut);
        let worker = {
            let s = s.clone();
            thread::spawn(move || {
                signal.set();
                let entry = s.pop_wait();
                harness::run_queued(&s, entry);
            })
        };
        let awaiter = std::sync::Arc::new(CountWaker(AtomicUsize::new(0)));
        let waker = Waker::from(awaiter.clone());
        let first = poll_join(&mut handle, &waker);
        worker.join().unwrap();
        match first {
            Poll::Ready(r) => {
                assert!(r.is_ok());
                drop(handle);
            }
            Poll::Pending => {
                assert_eq!(awaiter.0.load(Acquire), 1, "join waker not woken");
                assert!(join_now(handle).is_ok());
            }
        }
        drop(waker);
        assert_eq!(std::sync::Arc::strong_count(&awaiter), 1, "join waker kept");
        assert_eq!(counts.output_drops.load(Relaxed), 1);
    });
}

/// The handle is dropped while another thread completes the task: the output is dropped
/// exactly once (by one side or the other), the join waker released, the cell freed once.
#[test]
fn loom_join_drop_races_completion() {
    model(|| {
        let s = Sched::new();
        let signal = Signal::new();
        let (fut, counts) = wait(&signal);
        let (mut handle, _) = spawn_inline(&s, fut);
        let awaiter = std::sync::Arc::new(CountWaker(AtomicUsize::new(0)));
        let waker = Waker::from(awaiter.clone());
        assert!(poll_join(&mut handle, &waker).is_pending());
        let worker = {
            let s = s.clone();
            thread::spawn(move || {
                signal.set();
                let entry = s.pop_wait();
                harness::run_queued(&s, entry);
            })
        };
        drop(handle);
        worker.join().unwrap();
        drop(waker);
        assert_eq!(std::sync::Arc::strong_count(&awaiter), 1, "join waker kept");
        assert_eq!(counts.output_drops.load(Relaxed), 1);
        assert_eq!(counts.future_drops.load(Relaxed), 1);
    });
}

/// `abort` from another thread races a wake and the poll: the task is polled or cancelled,
/// never both at once, the handle resolves, everything is dropped once.
#[test]
fn loom_abort_races_poll_and_wake() {
    model(|| {
        let s = Sched::new();
        let signal = Signal::new();
        let (fut, counts) = wait(&signal);
        let (handle, _) = spawn_inline(&s, fut);
        let abort = handle.abort_handle();
        let aborting = thread::spawn(move || abort.abort());
        let worker = {
            let s = s.clone();
            thread::spawn(move || {
                signal.set();
                let entry = s.pop_wait();
                harness::run_queued(&s, entry);
            })
        };
        aborting.join().unwrap();
        worker.join().unwrap();
        s.drain();
        match join_now(handle) {
            Ok(out) => drop(out),
            Err(e) => assert!(e.is_cancelled()),
        }
        assert_eq!(counts.future_drops.load(Relaxed), 1);
    });
}

/// A future that clones its waker into its slot and finishes at once.
struct CloneAndFinish(Arc<Mutex<Option<Waker>>>);

impl Future for CloneAndFinish {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        *self.0.lock().unwrap() = Some(cx.waker().clone());
        Poll::Ready(OUTPUT)
    }
}

/// A task finishes in its eager first poll after cloning its waker, while another thread takes
/// the clone and hands it to `use_clone`: the output is read once and the cell freed once.
#[track_caller]
fn eager_completion_races_clone(use_clone: fn(Waker)) {
    model(move || {
        let s = Sched::new();
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let other = {
            let slot = slot.clone();
            thread::spawn(move || loop {
                if let Some(w) = slot.lock().unwrap().take() {
                    use_clone(w);
                    return;
                }
                thread::yield_now();
            })
        };
        let (handle, finished) = spawn_inline(&s, CloneAndFinish(slot));
        assert!(finished);
        assert_eq!(join_now(handle).unwrap(), OUTPUT);
        other.join().unwrap();
    });
}

/// A task completes during its eager first poll while another thread wakes (by value) a waker
/// it cloned: the unshared fast completion must not race the waker's reference.
#[test]
fn loom_eager_completion_races_waker() {
    eager_completion_races_clone(Waker::wake);
}

/// As above, but the other thread drops the clone without waking: if the drop comes first, the
/// state word is back to `INLINE_START` and `poll_first` frees the cell and hands the output to
/// the handle; if it comes later, the clone's reference keeps the cell and the output is stored
/// in it.
#[test]
fn loom_eager_ready_output_races_waker_drop() {
    eager_completion_races_clone(drop);
}

/// Await-inlining claims a queued task while a worker pops its entry: exactly one of them
/// polls it; the other's entry is stale and skipped.
#[test]
fn loom_await_inline_races_queue_pop() {
    model(|| {
        let s = Sched::new();
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        let handle = spawn_queued(&s, async move {
            c.polls.fetch_add(1, Relaxed);
            OUTPUT
        });
        let worker = s.worker();
        // SAFETY: the handle holds a reference to the task for the call.
        let ptr = unsafe { handle_ptr(&handle) };
        let _ran_here = harness::claim_and_poll(&s, ptr);
        worker.join().unwrap();
        assert_eq!(counts.polls.load(Relaxed), 1, "polled twice (or never)");
        assert_eq!(join_now(handle).unwrap(), OUTPUT);
    });
}

/// Await-inlining claims a queued task and polls it while a wake lands during that poll and a
/// worker pops the task's original entry: the entry must not start a second, concurrent poll
/// of the task that is `NOTIFIED` again but still `RUNNING` (loom reports two accesses to the
/// future at once).
#[test]
fn loom_await_inline_races_queue_pop_and_wake() {
    model(|| {
        let s = Sched::new();
        let flag = Arc::new(AtomicBool::new(false));
        let handle = spawn_queued(&s, UntilSet(flag.clone()));
        let waker = task_waker(&handle);
        let waking = thread::spawn(move || {
            flag.store(true, Release);
            waker.wake();
        });
        let worker = s.worker();
        // SAFETY: the handle holds a reference to the task for the call.
        let _ = harness::claim_and_poll(&s, unsafe { handle_ptr(&handle) });
        waking.join().unwrap();
        worker.join().unwrap();
        s.drain();
        assert_eq!(join_now(handle).unwrap(), OUTPUT, "lost wake-up");
    });
}

/// Shutdown cancels a suspended task while another thread wakes it: the future is dropped
/// exactly once, the handle resolves as cancelled or with the output.
#[test]
fn loom_shutdown_races_wake() {
    model(|| {
        let s = Sched::new();
        let signal = Signal::new();
        let (fut, counts) = wait(&signal);
        let (handle, _) = spawn_inline(&s, fut);
        let waking = thread::spawn(move || signal.set());
        s.shutdown();
        waking.join().unwrap();
        s.shutdown();
        match join_now(handle) {
            Ok(out) => drop(out),
            Err(e) => assert!(e.is_cancelled()),
        }
        assert_eq!(counts.future_drops.load(Relaxed), 1);
    });
}

/// The task pointer of a handle (test access).
///
/// # Safety
/// The result is used only while `handle` lives.
unsafe fn handle_ptr<T>(handle: &JoinHandle<T>) -> std::ptr::NonNull<raw::Header> {
    handle.raw_ptr()
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
            eager_budget_time: std::time::Duration::ZERO,
            eager_depth: 0,
            spawn_policy: SpawnPolicy::Eager,
            stall_threshold: None,
            global_queue_interval: 61,
            event_interval: 61,
            thread_name: "loom".into(),
            max_blocking_threads: 1,
            thread_keep_alive: std::time::Duration::from_secs(1),
            current_thread: false,
            hooks: Default::default(),
            name: None,
            id: std::num::NonZeroU64::MIN,
            start_paused: false,
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
            let _driver = shared.driver.try_lock().expect("the driver is free");
            let parker = Arc::new(Parker::default());
            let unparker = {
                let parker = parker.clone();
                let shared = shared.clone();
                thread::spawn(move || parker.unpark(&shared))
            };
            parker.park(&shared, None);
            unparker.join().unwrap();
        });
    }

    /// Two rounds: the state returns to empty after each park, so the second notification is
    /// not absorbed by the first.
    #[test]
    fn loom_park_unpark_twice() {
        model(|| {
            let shared = shared();
            let _driver = shared.driver.try_lock().expect("the driver is free");
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
            parker.park(&shared, None);
            first_done.store(true, Release);
            parker.park(&shared, None);
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

    /// A worker queues work for itself while the other worker dozes, and the doze ends at the
    /// same time: if the wake-up was owed (not sent), the dozer learns it was owed and finds
    /// the work when it looks after its doze (`Core::park`); otherwise a worker is woken the
    /// usual way, or the dozer was already back (unparked) and worker 0, awake, runs its work.
    #[test]
    fn loom_idle_owed_wakeup_vs_end_of_doze() {
        use crate::scheduler::idle::Notify;
        model(|| {
            let idle = Arc::new(Idle::new(2));
            assert_eq!(idle.num_searching(), 0);
            // Worker 1 dozes; worker 0 runs.
            assert!(idle.start_doze());
            assert!(!idle.transition_to_parked(1, false));
            let work = Arc::new(AtomicBool::new(false));
            let worker0 = {
                let idle = idle.clone();
                let work = work.clone();
                thread::spawn(move || {
                    // `Shared::schedule` on worker 0: queue locally, then notify.
                    work.store(true, Release);
                    idle.worker_to_notify_local()
                })
            };
            // Worker 1: its doze times out (`Core::park`), then it looks for work.
            let owed = idle.end_doze();
            let back = idle.unpark_self(1);
            let found = has_work(&work);
            let notify = worker0.join().unwrap();
            match notify {
                Notify::Owed => {
                    assert!(owed, "a wake-up owed to the dozer was not reported to it");
                    assert!(
                        found,
                        "the dozer looked after its doze and missed the owed work"
                    );
                }
                Notify::Wake(i) => assert_eq!(i, 1, "only worker 1 sleeps"),
                // Both workers awake: worker 0 runs its own work, as without dozing.
                Notify::Nobody => assert!(back, "no wake-up while worker 1 slept"),
            }
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

// ---- timers: cross-shard cancel vs fire, insert vs the driver's park timeout ----
//
// The real `TimeDriver` (`time/driver.rs`): under `cfg(loom)` its shard locks and
// `parked_until` are loom's, so loom interleaves every lock and atomic access of `insert`,
// `cancel`, `process` and `park_timeout`. Its clock is paused, so "now" is fixed and only the
// models decide what is due.

use crate::time::driver::TimeDriver;
use std::time::Duration;

/// A timer's waker: counts its wakes.
struct TimerWake {
    wakes: AtomicUsize,
}

impl Wake for TimerWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
    }
}

fn timer_waker() -> (std::sync::Arc<TimerWake>, Waker) {
    let counter = std::sync::Arc::new(TimerWake {
        wakes: AtomicUsize::new(0),
    });
    (counter.clone(), Waker::from(counter))
}

/// Worker 0's shard holds a timer due now and one due later. Another thread (worker 1
/// dropping both sleeps) cancels them while the driving thread fires the shard, and worker 0
/// inserts a third timer, due now, into its own shard meanwhile. Each timer is woken at most
/// once; never if its cancel returned the waker ("cancelled"); exactly once otherwise; the
/// later one is always cancellable (it cannot have fired); nothing is left in the shards and
/// no waker is leaked.
#[test]
fn loom_timer_cross_shard_cancel_races_fire() {
    model(|| {
        let driver = Arc::new(TimeDriver::new(2, true));
        let now = driver.clock().now();
        let (due_count, due_waker) = timer_waker();
        let (later_count, later_waker) = timer_waker();
        let (new_count, new_waker) = timer_waker();
        let (due, _) = driver.insert_into(0, now, due_waker);
        let (later, _) = driver.insert_into(0, now + Duration::from_millis(1), later_waker);

        let canceller = {
            let driver = driver.clone();
            thread::spawn(move || {
                let due_cancelled = driver.cancel(due).is_some();
                let later_cancelled = driver.cancel(later).is_some();
                (due_cancelled, later_cancelled)
            })
        };
        let owner = {
            let driver = driver.clone();
            thread::spawn(move || {
                driver.insert_into(0, now, new_waker);
            })
        };

        let fired = driver.process();
        let (due_cancelled, later_cancelled) = canceller.join().unwrap();
        owner.join().unwrap();

        let due_wakes = due_count.wakes.load(SeqCst);
        assert!(due_wakes <= 1, "the due timer was woken {due_wakes} times");
        assert_eq!(
            due_wakes + usize::from(due_cancelled),
            1,
            "due timer: woken {due_wakes} times, cancelled: {due_cancelled}"
        );
        assert!(
            later_cancelled,
            "a timer that had not fired could not be cancelled from another thread"
        );
        assert!(fired <= 2);

        // Past every deadline: only the owner's timer may still fire, and then exactly once.
        driver.clock().advance(Duration::from_millis(2));
        driver.process();
        assert_eq!(
            due_count.wakes.load(SeqCst),
            due_wakes,
            "woken after the race"
        );
        assert_eq!(later_count.wakes.load(SeqCst), 0, "woken after its cancel");
        assert_eq!(new_count.wakes.load(SeqCst), 1);
        assert_eq!(driver.len(), 0);
        assert!(driver.cancel(due).is_none() && driver.cancel(later).is_none());
        drop(driver);
        for count in [&due_count, &later_count, &new_count] {
            assert_eq!(
                std::sync::Arc::strong_count(count),
                1,
                "a timer's waker leaked"
            );
        }
    });
}

/// The driving worker computes its sleep (`park_timeout`) while another worker inserts a
/// timer earlier than every timer the driver knew of: the driver either sees the new timer in
/// its timeout or the insert reports that the sleep must be interrupted (module invariants of
/// `time/driver.rs`). A lost interrupt would delay the new timer by the older one's length.
#[test]
fn loom_timer_insert_races_park_timeout() {
    model(|| {
        let driver = Arc::new(TimeDriver::new(1, true));
        let now = driver.clock().now();
        // An older, long timer in the other shard.
        driver.insert_into(1, now + Duration::from_secs(1), Waker::noop().clone());

        let inserter = {
            let driver = driver.clone();
            thread::spawn(move || {
                let (_, interrupt) =
                    driver.insert_into(0, now + Duration::from_millis(1), Waker::noop().clone());
                interrupt
            })
        };
        let timeout = driver.park_timeout();
        let interrupt = inserter.join().unwrap();
        let sees_new = timeout.is_some_and(|t| t <= Duration::from_millis(1));
        assert!(
            sees_new || interrupt,
            "the driver sleeps {timeout:?} past the new 1 ms timer and nobody interrupts it"
        );
        driver.unparked();
    });
}
