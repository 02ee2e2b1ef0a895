//! Runtime metrics: per-worker counters, summed on demand.
//!
//! Invariants: each worker's counters are written only by that worker (a relaxed load and
//! store, no read-modify-write) and sit on their own cache line; threads inside `block_on` and
//! threads outside the runtime share one extra set updated with `fetch_add`, where any thread
//! also counts the wake-ups it sends (a slow path: a system call follows). A
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
    /// Queued polls and `block_on` polls (`RuntimeMetrics::queued_polls`).
    pub(crate) polls: AtomicU64,
    pub(crate) eager_completed: AtomicU64,
    pub(crate) eager_suspended: AtomicU64,
    pub(crate) eager_deferred: AtomicU64,
    pub(crate) eager_time_limited: AtomicU64,
    pub(crate) adaptive_deferred: AtomicU64,
    pub(crate) sites_demoted: AtomicU64,
    pub(crate) eager_ticks: AtomicU64,
    /// Nanoseconds.
    pub(crate) eager_time: AtomicU64,
    pub(crate) await_inlined: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) injector_pops: AtomicU64,
    /// Times this worker went to park (`RuntimeMetrics::parks`).
    pub(crate) parks: AtomicU64,
    /// Sleeping workers woken for new work (`RuntimeMetrics::wakeups`): counted in the
    /// external set by whichever thread sent the wake-up.
    pub(crate) wakeups: AtomicU64,
    /// Wake-ups owed to a dozing worker instead of sent (`RuntimeMetrics::owed_wakeups`).
    pub(crate) owed_wakeups: AtomicU64,
}

/// All counters of a runtime.
pub(crate) struct Metrics {
    workers: Box<[CachePadded<WorkerMetrics>]>,
    external: CachePadded<WorkerMetrics>,
    /// The polls the workers run now, and the stall watchdog (`scheduler/eager.rs`).
    pub(crate) watch: crate::scheduler::eager::Watch,
}

impl Metrics {
    pub(crate) fn new(num_workers: usize) -> Metrics {
        Metrics {
            workers: (0..num_workers).map(|_| CachePadded::default()).collect(),
            external: CachePadded::default(),
            watch: crate::scheduler::eager::Watch::new(num_workers),
        }
    }

    /// Adds one to the counter `pick` selects, for worker `worker` (or the external slot).
    #[inline]
    pub(crate) fn count(&self, worker: Option<usize>, pick: impl Fn(&WorkerMetrics) -> &AtomicU64) {
        self.add(worker, pick, 1);
    }

    /// Adds `n` to the counter `pick` selects, for worker `worker` (or the external slot).
    #[inline]
    pub(crate) fn add(
        &self,
        worker: Option<usize>,
        pick: impl Fn(&WorkerMetrics) -> &AtomicU64,
        n: u64,
    ) {
        match worker {
            Some(i) => {
                let c = pick(&self.workers[i]);
                c.store(c.load(Relaxed) + n, Relaxed);
            }
            None => {
                pick(&self.external).fetch_add(n, Relaxed);
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
/// // Every poll: the `block_on` future's one poll and its child's inline one.
/// assert_eq!(m.queued_polls(), 1);
/// assert_eq!(m.polls(), 2);
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

    /// Every poll of a task or of a `block_on` future, queued or inline:
    /// [`queued_polls`](Self::queued_polls) + [`eager_completed`](Self::eager_completed) +
    /// [`eager_suspended`](Self::eager_suspended) + [`await_inlined`](Self::await_inlined).
    pub fn polls(&self) -> u64 {
        self.queued_polls() + self.eager_completed() + self.eager_suspended() + self.await_inlined()
    }

    /// Polls of tasks taken from a queue (the ticks), plus polls of `block_on` futures; no
    /// inline poll.
    pub fn queued_polls(&self) -> u64 {
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

    /// Spawns eligible for an inline poll that were queued instead (count or time budget, or
    /// depth, spent). Does not include [`adaptive_deferred`](Self::adaptive_deferred).
    pub fn eager_deferred(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.eager_deferred)
    }

    /// Ticks whose inline polls were cut short by `eager_budget_time` (once per such tick).
    pub fn eager_time_limited(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.eager_time_limited)
    }

    /// Spawns queued by [`SpawnPolicy::Adaptive`](crate::SpawnPolicy::Adaptive) because their
    /// spawn site was demoted (its inline polls ran long).
    pub fn adaptive_deferred(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.adaptive_deferred)
    }

    /// Times a spawn site was demoted by [`SpawnPolicy::Adaptive`](crate::SpawnPolicy::Adaptive)
    /// (on some thread; a site demoted again after its probe counts again).
    pub fn sites_demoted(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.sites_demoted)
    }

    /// Ticks that ran at least one inline poll.
    pub fn eager_ticks(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.eager_ticks)
    }

    /// Inline time summed over [`eager_ticks`](Self::eager_ticks): per tick, from the start of
    /// its first inline poll to the end of its last (the parent's work in between included),
    /// the quantity `eager_budget_time` bounds. Divide by `eager_ticks` for the mean per tick.
    /// A tick is added when the next one starts.
    pub fn eager_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.shared.metrics.sum(|m| &m.eager_time))
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

    /// Times a worker ran out of work and went to sleep (it returns at once if it was notified
    /// meanwhile; the wait before parking, and parks ended by I/O or a timer, count too).
    pub fn parks(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.parks)
    }

    /// Times new work (a spawn, a wake-up, a remote push) woke a sleeping worker. Each costs
    /// the thread that queued the work a system call, and the woken worker a trip through the
    /// OS scheduler; workers woken by I/O or a timer are not counted.
    pub fn wakeups(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.wakeups)
    }

    /// Wake-ups not sent because another worker was dozing (sleeping with a short timeout
    /// after running out of work while others ran): work a worker queued for itself while a
    /// wake-up would have been due. The dozer looks for that work when its doze ends, within
    /// about 100 µs.
    pub fn owed_wakeups(&self) -> u64 {
        self.shared.metrics.sum(|m| &m.owed_wakeups)
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("num_workers", &self.num_workers())
            .field("spawned_tasks", &self.spawned_tasks())
            .field("polls", &self.polls())
            .field("queued_polls", &self.queued_polls())
            .field("eager_completed", &self.eager_completed())
            .field("eager_suspended", &self.eager_suspended())
            .field("eager_deferred", &self.eager_deferred())
            .field("eager_time_limited", &self.eager_time_limited())
            .field("adaptive_deferred", &self.adaptive_deferred())
            .field("sites_demoted", &self.sites_demoted())
            .field("eager_ticks", &self.eager_ticks())
            .field("eager_time", &self.eager_time())
            .field("await_inlined", &self.await_inlined())
            .field("steals", &self.steals())
            .field("injector_pops", &self.injector_pops())
            .field("parks", &self.parks())
            .field("wakeups", &self.wakeups())
            .field("owed_wakeups", &self.owed_wakeups())
            .finish()
    }
}
