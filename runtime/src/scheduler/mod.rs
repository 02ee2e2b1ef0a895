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

pub(crate) mod context;
pub(crate) mod eager;
pub(crate) mod idle;
pub(crate) mod park;
pub(crate) mod worker;

use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_deque::{Injector, Steal, Stealer};

use crate::builder::Config;
use crate::metrics::Metrics;
use crate::task::harness;
use crate::task::owned::OwnedTasks;
use crate::task::raw::TaskRef;
use crate::time::driver::TimeDriver;
use idle::Idle;
use park::Parker;

/// The state every worker and every handle of one runtime shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) injector: Injector<TaskRef>,
    pub(crate) stealers: Box<[Stealer<TaskRef>]>,
    pub(crate) idle: Idle,
    pub(crate) parkers: Box<[Parker]>,
    pub(crate) owned: OwnedTasks,
    pub(crate) metrics: Metrics,
    /// The I/O reactor, owned by whichever parked worker drives it.
    pub(crate) driver: Mutex<crate::io::Reactor>,
    pub(crate) io: crate::io::Handle,
    pub(crate) time: TimeDriver,
    /// The threads of `spawn_blocking`.
    pub(crate) blocking: crate::blocking::BlockingPool,
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
        let reactor = crate::io::Reactor::new()?;
        Ok(Shared {
            io: reactor.handle(),
            driver: Mutex::new(reactor),
            time: TimeDriver::new(),
            blocking: crate::blocking::BlockingPool::new(
                config.max_blocking_threads,
                config.thread_keep_alive,
                config.thread_name.clone(),
            ),
            injector: Injector::new(),
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

    /// Queues a notified task: on this runtime's worker thread, to its local deque; anywhere
    /// else, to the injector.
    pub(crate) fn schedule(this: &Arc<Shared>, task: TaskRef) {
        let task = context::with_runtime(this, |ctx| match ctx.and_then(|c| c.local.as_ref()) {
            Some(local) => {
                crate::trace::schedule(task.header().id, false);
                local.push(task);
                None
            }
            None => Some(task),
        });
        match task {
            None => this.notify_parked(),
            Some(task) => this.push_remote(task),
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
            crate::trace::unpark(index);
            self.parkers[index].unpark(self);
        }
    }

    /// Interrupts the worker sleeping in the reactor (a new timer is due before it wakes).
    pub(crate) fn unpark_driver(&self) {
        self.io.unpark();
    }

    /// A busy worker's turn of the driver: polls I/O without blocking and fires due timers,
    /// unless another worker holds the driver.
    pub(crate) fn poll_driver_nonblocking(&self) {
        if let Ok(mut reactor) = self.driver.try_lock() {
            let _ = reactor.turn(Some(std::time::Duration::ZERO));
            drop(reactor);
            self.time.process(std::time::Instant::now());
        }
    }

    /// True if any queue may hold work (used by the last searcher before it sleeps).
    pub(crate) fn has_visible_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// Shutdown: cancels every task waiting in a queue (the injector and every worker's
    /// deque, through its stealer) unless it is running, and drops the entries.
    pub(crate) fn cancel_queued(&self) {
        loop {
            let mut found = false;
            while let Some(task) = steal_one(|| self.injector.steal()) {
                found = true;
                harness::shutdown(task);
            }
            for stealer in self.stealers.iter() {
                while let Some(task) = steal_one(|| stealer.steal()) {
                    found = true;
                    harness::shutdown(task);
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
        for owner in self.owned.close_and_take_all() {
            harness::shutdown(owner);
        }
        self.cancel_queued();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Entries pushed after shutdown by a worker that outlived it (shutdown_timeout) are
        // still in the queues: cancel their tasks so no future or allocation is left behind.
        self.cancel_queued();
    }
}

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
