//! The multi-threaded work-stealing scheduler.
//!
//! Each worker owns a FIFO [`Worker`] deque; the others hold its [`Stealer`]. One shared
//! [`Injector`] takes spawns and wakes from threads outside the runtime. New work wakes at most
//! one parked worker (see `idle.rs`).
//!
//! Invariants:
//! - A queue entry is a [`TaskRef`] owning one reference; popping it hands that reference to
//!   the runner (`task::harness::run_queued`), which skips stale entries.
//! - Only a worker pushes to its own deque; every other thread pushes to the injector.
//! - After shutdown starts, every entry pushed anywhere is dropped (not run): the owned-task
//!   list cancels the tasks themselves.
//! - A task woken on a worker thread (by the task running there, or by the driver turned
//!   there) goes to that worker's next-task slot (`next.rs`), the task it displaces to the back
//!   of the deque. A task that woke itself while it ran (a yield, a spent coop budget) and a
//!   task released after a deferred `yield_now` go to the back of the deque, never to the slot.
//!   The bounds (F3, F9, F10) are in `docs/FAIRNESS.md`.

pub(crate) mod context;
pub(crate) mod driver;
pub(crate) mod eager;
pub(crate) mod idle;
pub(crate) mod next;
pub(crate) mod park;
pub(crate) mod worker;

use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_deque::{Injector, Steal, Stealer};

use crate::builder::Config;
use crate::metrics::Metrics;
use crate::task::harness;
use crate::task::owned::OwnedTasks;
use crate::task::raw::TaskRef;
use crate::task::schedule::Schedule;
use idle::{Idle, Notify};
use next::NextSlot;
use park::Parker;

/// The state every worker and every handle of one runtime shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) injector: Injector<TaskRef>,
    pub(crate) stealers: Box<[Stealer<TaskRef>]>,
    /// Each worker's next-task slot (indexed like `stealers`).
    pub(crate) next: Box<[NextSlot]>,
    pub(crate) idle: Idle,
    pub(crate) parkers: Box<[Parker]>,
    pub(crate) owned: OwnedTasks,
    pub(crate) metrics: Metrics,
    /// The I/O reactor and the timers, turned by whichever worker holds them.
    pub(crate) driver: driver::Driver,
    /// The threads of `spawn_blocking`.
    pub(crate) blocking: crate::blocking::BlockingPool,
    /// Who drives a current-thread runtime (unused by the multi-thread flavor).
    pub(crate) core: crate::current_thread::CoreSlot,
    shutdown: AtomicBool,
    #[cfg(feature = "trace")]
    pub(crate) trace: crate::trace::Buffers,
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        stealers: Box<[Stealer<TaskRef>]>,
    ) -> std::io::Result<Shared> {
        let n = config.worker_threads;
        Ok(Shared {
            driver: driver::Driver::new(n, config.start_paused)?,
            blocking: crate::blocking::BlockingPool::new(
                config.max_blocking_threads,
                config.thread_keep_alive,
                config.thread_name.clone(),
            ),
            core: Default::default(),
            injector: Injector::new(),
            // One per worker slot: a current-thread runtime has one and no stealer.
            next: (0..config.worker_threads)
                .map(|_| NextSlot::new())
                .collect(),
            stealers,
            idle: Idle::new(n),
            parkers: (0..n).map(|_| Parker::default()).collect(),
            owned: OwnedTasks::new(),
            metrics: Metrics::new(n),
            shutdown: AtomicBool::new(false),
            #[cfg(feature = "trace")]
            trace: crate::trace::Buffers::new(n),
            config,
        })
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Queues a notified task: on this runtime's worker thread, to its next-task slot (or,
    /// for a yield, to the back of its local deque); anywhere else, to the injector.
    pub(crate) fn schedule(this: &Arc<Shared>, task: TaskRef, yielded: bool) {
        let queued = context::with_runtime(this, |ctx| {
            let Some((index, local)) = ctx.and_then(|c| Some((c.worker?, c.local.as_ref()?)))
            else {
                return Err(task);
            };
            let to_back = yielded || !USE_SLOT || worker::releasing_yields();
            let back = if to_back {
                if yielded {
                    // The slot's task was woken before this yield: keep it ahead.
                    if let Some(earlier) = this.next[index].take() {
                        crate::trace::slot_move(earlier.header().id);
                        local.push(earlier);
                    }
                }
                Some(task)
            } else {
                crate::trace::slot_put(task.header().id);
                if let Some(old) = this.next[index].put(task) {
                    crate::trace::slot_move(old.header().id);
                    local.push(old);
                }
                None
            };
            if let Some(task) = back {
                crate::trace::schedule(task.header().id, false);
                local.push(task);
            }
            Ok(index)
        });
        match queued {
            Ok(worker) => this.notify_parked_local(worker),
            Err(task) => this.push_remote(task),
        }
    }

    /// Pushes to the injector and wakes a worker if needed.
    pub(crate) fn push_remote(&self, task: TaskRef) {
        crate::trace::schedule(task.header().id, true);
        self.injector.push(task);
        fence(Ordering::SeqCst);
        if self.is_shutdown() {
            // Shutdown may have drained the queues already: cancel what we pushed ourselves.
            self.cancel_queued();
        } else {
            self.notify_parked();
        }
    }

    /// Wakes one parked worker if new work needs one.
    pub(crate) fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.unpark_worker(index);
        }
    }

    /// Like [`notify_parked`](Self::notify_parked), for work that worker `worker` (the caller)
    /// queued on its own deque or slot: while another worker dozes, the wake-up is owed to it
    /// instead of sent (`idle.rs`).
    pub(crate) fn notify_parked_local(&self, worker: usize) {
        match self.idle.worker_to_notify_local() {
            Notify::Nobody => {}
            Notify::Wake(index) => self.unpark_worker(index),
            Notify::Owed => self.metrics.count(Some(worker), |m| &m.owed_wakeups),
        }
    }

    /// Wakes worker `index`, which `Idle` just counted as unparked and searching.
    fn unpark_worker(&self, index: usize) {
        crate::trace::unpark(index);
        if self.parkers[index].unpark(self) {
            self.metrics.count(None, |m| &m.wakeups);
        }
    }

    /// A busy worker's turn of the driver: polls I/O without blocking and fires due timers,
    /// unless another worker holds the driver. True if this thread turned it.
    pub(crate) fn poll_driver_nonblocking(&self) -> bool {
        if let Some(mut driver) = self.driver.try_lock() {
            driver.turn_nonblocking();
            true
        } else {
            false
        }
    }

    /// True if any queue or next-task slot may hold work (used by the last searcher before it
    /// sleeps).
    pub(crate) fn has_visible_work(&self) -> bool {
        !self.injector.is_empty()
            || self.stealers.iter().any(|s| !s.is_empty())
            || self.next.iter().any(|s| !s.is_empty())
    }

    /// Shutdown: cancels every task waiting in a queue (the injector and every worker's
    /// deque, through its stealer) unless it is running, and drops the entries.
    ///
    /// Iterative: cancelling a task drops its future, which may wake other tasks and so push
    /// them (through `push_remote`) while we drain. A nested call on this thread returns at
    /// once and the loop below picks those entries up, so the stack does not grow with the
    /// length of a chain of wake-ups.
    pub(crate) fn cancel_queued(&self) {
        thread_local! {
            static DRAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        }
        struct Draining;
        impl Drop for Draining {
            fn drop(&mut self) {
                let _ = DRAINING.try_with(|d| d.set(false));
            }
        }
        if DRAINING.try_with(|d| d.replace(true)).unwrap_or(false) {
            return;
        }
        let _draining = Draining;
        loop {
            let mut found = false;
            while let Some(task) = steal_one(|| self.injector.steal()) {
                found = true;
                harness::shutdown::<Arc<Shared>>(task);
            }
            for stealer in self.stealers.iter() {
                while let Some(task) = steal_one(|| stealer.steal()) {
                    found = true;
                    harness::shutdown::<Arc<Shared>>(task);
                }
            }
            for slot in self.next.iter() {
                if let Some(task) = slot.take() {
                    found = true;
                    harness::shutdown::<Arc<Shared>>(task);
                }
            }
            if !found {
                break;
            }
        }
    }

    /// Starts shutdown: no new work runs, parked workers wake up and exit.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for parker in self.parkers.iter() {
            parker.unpark(self);
        }
    }

    /// Finishes shutdown once the workers stopped (or were given up on): cancels every task
    /// the runtime still owns — suspended ones through the owned list, queued ones through the
    /// queues — dropping each future exactly once.
    pub(crate) fn cancel_all_tasks(&self) {
        // Cancelling one task may wake others (their entries are pushed and drained below).
        for owner in self.owned.close_and_take_all() {
            harness::shutdown::<Arc<Shared>>(owner);
        }
        self.cancel_queued();
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: TaskRef) {
        Shared::schedule(self, task, false);
    }

    fn schedule_yield(&self, task: TaskRef) {
        Shared::schedule(self, task, true);
    }

    fn owned(&self) -> &OwnedTasks {
        &self.owned
    }

    fn identity(&self) -> *const () {
        Arc::as_ptr(self).cast()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Entries pushed after shutdown by a worker that outlived it (shutdown_timeout) are
        // still in the queues: cancel their tasks so no future or allocation is left behind.
        self.cancel_queued();
    }
}

/// Whether wake-ups on a worker go to its next-task slot (the `no_slot` mutant turns it off,
/// for comparison runs).
const USE_SLOT: bool = !cfg!(brisk_mutant = "no_slot");

/// Retries a steal until it succeeds or finds the queue empty.
pub(crate) fn steal_one(mut f: impl FnMut() -> Steal<TaskRef>) -> Option<TaskRef> {
    loop {
        match f() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}
