//! Runtime metrics: per-worker counters, summed on demand.
//!
//! Invariants: each worker's counters are written only by that worker (a relaxed load and
//! store, no read-modify-write) and sit on their own cache line; threads inside `block_on` and
//! threads outside the runtime share one extra set updated with `fetch_add`. A
//! [`RuntimeMetrics`] reads the live sums at each call.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use crate::scheduler::Shared;

/// The counters of one worker (or of the shared external slot).
#[derive(Default)]
pub(crate) struct WorkerMetrics {
    pub(crate) spawned: AtomicU64,
    pub(crate) polls: AtomicU64,
    pub(crate) eager_completed: AtomicU64,
    pub(crate) eager_suspended: AtomicU64,
    pub(crate) eager_deferred: AtomicU64,
    pub(crate) await_inlined: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) injector_pops: AtomicU64,
}

/// All counters of a runtime.
pub(crate) struct Metrics {
    workers: Box<[CachePadded<WorkerMetrics>]>,
    external: CachePadded<WorkerMetrics>,
}

impl Metrics {
    pub(crate) fn new(num_workers: usize) -> Metrics {
        Metrics {
            workers: (0..num_workers).map(|_| CachePadded::default()).collect(),
            external: CachePadded::default(),
        }
    }

    /// Adds one to the counter `pick` selects, for worker `worker` (or the external slot).
    #[inline]
    pub(crate) fn count(&self, worker: Option<usize>, pick: impl Fn(&WorkerMetrics) -> &AtomicU64) {
        match worker {
            Some(i) => {
                let c = pick(&self.workers[i]);
                c.store(c.load(Relaxed) + 1, Relaxed);
            }
            None => {
                pick(&self.external).fetch_add(1, Relaxed);
            }
        }
    }

    fn sum(&self, pick: impl Fn(&WorkerMetrics) -> &AtomicU64) -> u64 {
        self.workers
            .iter()
            .map(|w| pick(w).load(Relaxed))
            .sum::<u64>()
            + pick(&self.external).load(Relaxed)
    }
}

/// A live view of a runtime's counters: each method reads the current sums.
///
/// ```
/// let rt = brisk::Runtime::builder().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     brisk::spawn(async { 1 }).await.unwrap();
/// });
/// let m = rt.metrics();
/// assert_eq!(m.num_workers(), 2);
/// assert_eq!(m.spawned_tasks(), 1);
/// assert_eq!(m.eager_completed(), 1);
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    pub(crate) shared: Arc<Shared>,
}

impl RuntimeMetrics {
    /// The number of worker threads.
    pub fn num_workers(&self) -> usize {
        self.shared.config.worker_threads
    }

    /// Tasks spawned, by any means.
    pub fn spawned_tasks(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.spawned)
    }

    /// Task polls taken from a queue (ticks), plus polls of `block_on` futures.
    pub fn polls(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.polls)
    }

    /// Eager spawns that finished during their inline first poll.
    pub fn eager_completed(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.eager_completed)
    }

    /// Eager spawns whose inline first poll returned `Pending`.
    pub fn eager_suspended(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.eager_suspended)
    }

    /// Spawns eligible for an inline poll that were queued instead (budget or depth spent).
    pub fn eager_deferred(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.eager_deferred)
    }

    /// Queued tasks run inline by awaiting their `JoinHandle`.
    pub fn await_inlined(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.await_inlined)
    }

    /// Tasks taken from another worker's queue.
    pub fn steals(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.steals)
    }

    /// Timers (sleeps, timeouts, intervals) registered in the timing wheel right now.
    pub fn active_timers(&self) -> usize {
        self.shared.driver.time.len()
    }

    /// Tasks taken from the shared injector queue.
    pub fn injector_pops(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.injector_pops)
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("num_workers", &self.num_workers())
            .field("spawned_tasks", &self.spawned_tasks())
            .field("polls", &self.polls())
            .field("eager_completed", &self.eager_completed())
            .field("eager_suspended", &self.eager_suspended())
            .field("eager_deferred", &self.eager_deferred())
            .field("await_inlined", &self.await_inlined())
            .field("steals", &self.steals())
            .field("injector_pops", &self.injector_pops())
            .finish()
    }
}
