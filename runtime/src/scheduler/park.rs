//! `Parker`: how an idle worker sleeps. The first worker to park owns the driver (the I/O
//! reactor and the timers) and sleeps inside it until the next timer deadline; the others
//! sleep on a condvar.
//!
//! Invariants:
//! - `state` is `EMPTY`, `NOTIFIED`, `PARKED_CONDVAR` or `PARKED_DRIVER`. `unpark` swaps in
//!   `NOTIFIED` and then wakes the sleeper the way it sleeps (condvar or reactor waker), so a
//!   notification sent before, during or after the park is never lost.
//! - At most one worker holds the driver (a `try_lock`); nobody ever blocks waiting for it.
//! - A park with a doze timeout (`worker.rs`) ends by then at the latest, on either path (the
//!   driver's wait is bounded by it; the condvar's `wait_timeout`); a notification that races
//!   the timeout is consumed with it, and the worker is counted as woken by it (`idle.rs`).
//! - A `block_on` thread sleeps through a [`ThreadParker`], which counts it with the clock
//!   while it runs *or has been woken* (the waker counts it before unparking it), so paused
//!   time never auto-advances between a wake of `block_on` and its next poll.
//! - While time is paused, a worker that sleeps on the condvar first wakes the driving worker,
//!   so that the last worker to go idle is always seen by the driver's auto-advance check.
//! - The driving worker fires the due timers after its wait counted as a searcher (while it is
//!   still listed as parked): a woken task lands in its own next-task slot and wakes nobody
//!   else; work beyond that slot is re-checked when the count drops (see
//!   `Parker::fire_timers_searching`).

use crate::loom::sync::atomic::{fence, AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Condvar, Mutex};
use std::time::Duration;

use super::driver::DriverGuard;
use super::Shared;

const EMPTY: usize = 0;
const NOTIFIED: usize = 1;
const PARKED_CONDVAR: usize = 2;
const PARKED_DRIVER: usize = 3;

/// Sleeps one worker thread until it is notified.
#[derive(Default)]
pub(crate) struct Parker {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    /// Sleeps until `unpark`, the runtime's shutdown, or (when this worker gets the driver)
    /// an I/O event or timer deadline; with `doze`, also when that much time has passed.
    pub(crate) fn park(&self, shared: &Shared, doze: Option<Duration>) {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        if let Some(mut driver) = shared.driver.try_lock() {
            if self
                .state
                .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
                .is_err()
            {
                self.state.store(EMPTY, SeqCst); // it was NOTIFIED
                return;
            }
            // Paused time may jump to the next timer only when nobody else could run.
            driver.wait_idle(doze, shared.idle.all_parked());
            self.fire_timers_searching(shared, &mut driver);
            drop(driver);
            self.state.store(EMPTY, SeqCst);
            return;
        }
        let mut guard = self.mutex.lock().unwrap_or_else(|e| e.into_inner());
        if self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
            .is_err()
        {
            self.state.store(EMPTY, SeqCst); // it was NOTIFIED
            return;
        }
        if shared.driver.time.clock().is_paused() {
            // The driving worker may be waiting for this worker to go idle to auto-advance.
            shared.driver.unpark();
        }
        loop {
            guard = match doze {
                None => self.condvar.wait(guard).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let (guard, res) =
                        (self.condvar.wait_timeout(guard, d)).unwrap_or_else(|e| e.into_inner());
                    if res.timed_out() {
                        // NOTIFIED or not, the doze is over: a notification is consumed here.
                        self.state.store(EMPTY, SeqCst);
                        return;
                    }
                    guard
                }
            };
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return;
            }
            if shared.is_shutdown() {
                self.state.store(EMPTY, SeqCst);
                return;
            }
        }
    }

    /// Fires the due timers after a driver wait, counted meanwhile as a searching worker (if
    /// fewer than half the workers search already), so that a timer waking a task into this
    /// worker's own next-task slot wakes no other worker: this worker runs it next. Without
    /// this, each timer of an idle runtime would wake a second worker (and this one, through
    /// the reactor) for nothing. When the count drops back and no one else searches, any work
    /// other than this worker's slot (more than one woken task, remote spawns that came in
    /// meanwhile and whose notification the count suppressed) wakes a worker, as a last
    /// searcher's re-check does (`idle.rs`): nothing waits for this worker's next task.
    fn fire_timers_searching(&self, shared: &Shared, driver: &mut DriverGuard<'_>) {
        if cfg!(brisk_mutant = "timer_fire_notifies") {
            driver.fire_timers();
            return;
        }
        let searching = shared.idle.transition_to_searching();
        driver.fire_timers();
        if searching && shared.idle.transition_from_searching() {
            // Pairs with the notifier's fence (push, fence, read `state`): either it saw no
            // searcher and notified, or this reads its work.
            fence(SeqCst);
            let me = shared.parkers.iter().position(|p| std::ptr::eq(p, self));
            let others = !shared.injector.is_empty()
                || shared.stealers.iter().any(|s| !s.is_empty())
                || (shared.next.iter().enumerate()).any(|(i, s)| Some(i) != me && !s.is_empty());
            if others {
                shared.notify_parked();
            }
        }
    }

    /// True while this worker sleeps in the driver (so I/O and timers have a watcher).
    pub(crate) fn in_driver(&self) -> bool {
        self.state.load(SeqCst) == PARKED_DRIVER
    }

    /// Wakes the worker, or makes its next `park` return at once. True if it was asleep (the
    /// wake-up took a system call: the condvar's, or the reactor's waker).
    pub(crate) fn unpark(&self, shared: &Shared) -> bool {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => false,
            PARKED_CONDVAR => {
                drop(self.mutex.lock().unwrap_or_else(|e| e.into_inner()));
                self.condvar.notify_one();
                true
            }
            PARKED_DRIVER => {
                shared.driver.unpark();
                true
            }
            other => unreachable!("brisk: bad parker state {other}"),
        }
    }
}

/// A `block_on` thread's sleep and its waker (see the module docs).
pub(crate) struct ThreadParker {
    thread: std::thread::Thread,
    state: std::sync::atomic::AtomicUsize,
    /// The clock's count of running `block_on` threads (not the runtime itself: a waker may
    /// outlive the runtime and must not keep it alive).
    busy: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// `ThreadParker` states: running (counted by the clock), asleep (not counted), woken (counted),
/// finished (`block_on` returned; wakes are ignored).
const T_RUNNING: usize = 0;
const T_IDLE: usize = 1;
const T_NOTIFIED: usize = 2;
const T_DONE: usize = 3;

impl ThreadParker {
    /// A parker for the current thread, counted as running until [`finish`](Self::finish).
    pub(crate) fn new(shared: &Shared) -> ThreadParker {
        let clock = shared.driver.time.clock();
        clock.busy();
        ThreadParker {
            thread: std::thread::current(),
            state: std::sync::atomic::AtomicUsize::new(T_RUNNING),
            busy: clock.busy_count(),
        }
    }

    /// Sleeps until woken (returns at once if woken since the last `park`).
    pub(crate) fn park(&self, shared: &Shared) {
        use std::sync::atomic::Ordering::{Acquire, SeqCst};
        if self
            .state
            .compare_exchange(T_NOTIFIED, T_RUNNING, Acquire, Acquire)
            .is_ok()
        {
            return;
        }
        if self
            .state
            .compare_exchange(T_RUNNING, T_IDLE, SeqCst, SeqCst)
            .is_err()
        {
            // Woken in between: still counted, keep running.
            self.state.store(T_RUNNING, SeqCst);
            return;
        }
        let clock = shared.driver.time.clock();
        clock.unbusy();
        if clock.is_paused() {
            // The driving worker may wait for this thread to sleep to auto-advance.
            shared.driver.unpark();
        }
        while self
            .state
            .compare_exchange(T_NOTIFIED, T_RUNNING, Acquire, Acquire)
            .is_err()
        {
            std::thread::park();
        }
    }

    /// `block_on` returns: stops counting this thread; later wakes do nothing.
    pub(crate) fn finish(&self) {
        let prev = self.state.swap(T_DONE, std::sync::atomic::Ordering::SeqCst);
        if prev == T_RUNNING || prev == T_NOTIFIED {
            self.busy.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

impl std::task::Wake for ThreadParker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        use std::sync::atomic::Ordering::SeqCst;
        loop {
            match self.state.load(SeqCst) {
                T_RUNNING => {
                    if self
                        .state
                        .compare_exchange(T_RUNNING, T_NOTIFIED, SeqCst, SeqCst)
                        .is_ok()
                    {
                        return;
                    }
                }
                T_IDLE => {
                    // Counted before it can run, so no auto-advance slips in between.
                    self.busy.fetch_add(1, SeqCst);
                    if self
                        .state
                        .compare_exchange(T_IDLE, T_NOTIFIED, SeqCst, SeqCst)
                        .is_ok()
                    {
                        self.thread.unpark();
                        return;
                    }
                    self.busy.fetch_sub(1, SeqCst);
                }
                _ => return,
            }
        }
    }
}
