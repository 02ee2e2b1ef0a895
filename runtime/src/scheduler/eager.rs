//! The eager-first spawn policy, in one place.
//!
//! `spawn(fut)` on a thread that runs this runtime's tasks (a worker, or a thread inside
//! `block_on`) polls the new task at once, inline, when all of these hold:
//! 1. the policy asks for it: `SpawnPolicy::Adaptive` (the default) unless the spawn site is
//!    demoted (below), `SpawnPolicy::Eager`, or `spawn_eager`; never `spawn_lazy` or `Lazy`;
//! 2. the tick's budgets are not spent (bound F2): at most `eager_budget` inline polls run
//!    between two queue pops of a worker, and (under every policy but `Eager`, which stays
//!    deterministic: no clock) an inline poll starts only while the latest clock reading is
//!    less than `eager_budget_time` after the start of the tick's first inline poll. So a tick
//!    spends at most `eager_budget_time` plus one timed inline poll plus the untimed inline
//!    polls since the latest reading (at most [`UNTIMED_RUN`], each of a sampled site, below)
//!    on inline work;
//! 3. the inline nesting depth is below `eager_depth` (bound F1): a child spawning a child
//!    spawning ... goes to the queue at that depth instead of growing the stack.
//!
//! Then:
//! - `Ready`: the output is stored and the `JoinHandle` is complete before `spawn` returns. No
//!   queue push, no wake-up of another worker, no lock, and (when no waker was cloned) not a
//!   single atomic read-modify-write. Counted in `eager_completed`.
//! - `Pending`: the task is handed to the runtime's owned list and waits for its own waker,
//!   like any suspended task. Counted in `eager_suspended`.
//!
//! Otherwise the task is pushed to the worker's local deque, where idle workers can steal it
//! (bound F8: eager work never piles up unstealable on the spawning worker once the budget is
//! spent). Counted in `eager_deferred` when it was eligible for an inline poll. Spawns from
//! other threads go to the injector.
//!
//! The clock: the time stamp counter (x86_64 with an invariant TSC) or `Instant`. A reading
//! costs about 10 ns on the project's machine, a quarter of a whole ready `spawn(..).await`,
//! so the ready path avoids it. A *timed* inline poll reads the clock when it starts and when
//! it ends; its *own time* is that duration less the durations of the timed inline polls
//! nested in it, so a parent is not blamed for its eager children (a recursive spawn site
//! stays inline). The budget check before a poll uses the latest reading: a check costs no
//! reading of its own.
//!
//! Sampling: a site whose last [`SHORT_STREAK`] timed polls each took less than
//! [`SHORT_POLL`] (1 µs) of their own is *sampled*: its next [`UNTIMED_RUN`] inline polls are
//! untimed (no reading at all, unless another inline poll ran inside one: then its end is read
//! and its duration counted from the latest reading, an upper bound), then one is timed again;
//! any timed poll of 1 µs or more ends the sampling. And a thread never runs more than
//! `UNTIMED_RUN` untimed inline polls in a row: the next one is timed whatever its site. So a
//! site that turns CPU-bound is noticed within 16 of its polls, and the time budget is checked
//! at least every 16 inline polls.
//!
//! Adaptation (`SpawnPolicy::Adaptive`), per spawn site (the `#[track_caller]` `Location` of
//! the `spawn` call): each thread keeps a table of [`SITES`] entries, direct-mapped by the
//! site's address (a colliding site evicts the other: memory stays bounded, at worst a site is
//! relearned). An entry holds an exponential moving average of the site's timed inline poll
//! durations (weight 1/[`EWMA_WEIGHT`] for the new sample, starting from 0). When the average
//! reaches [`LONG_POLL`] (20 µs) the site is *demoted*: its next
//! `LAZY_SPAWNS << backoff` spawns on this thread are queued (stealable, so CPU-bound children
//! run in parallel again), after which one spawn is polled inline again as a probe (the average
//! restarts at the threshold, so a probe decides alone). A probe
//! that still runs long demotes the site again for twice as long (`backoff` up to
//! [`MAX_BACKOFF`]); each short inline poll lowers `backoff` by one, so decisions decay.
//! Why 20 µs: a queued spawn costs ~0.1-1 µs more than an inline one (push, pop, maybe a
//! steal and a wake-up), under 5% of a 20 µs child, while running such a child inline keeps
//! every other core from helping. Sites whose children suspend are not
//! demoted: their first poll usually costs less than queueing would. All of it is plain `Cell`
//! state of the thread: no lock, no atomic read-modify-write, and no clock reading beyond the
//! one per timed inline poll. Counted in `sites_demoted` and `adaptive_deferred`.
//!
//! Await-inlining: awaiting the `JoinHandle` of a task that is queued but not running claims it
//! and polls it right there, under the same budgets and depth, unless the policy is `Lazy`. Its
//! stale queue entry is skipped when popped. Counted in `await_inlined`.
//!
//! The stall report (`Builder::stall_threshold`, on by default in debug builds): each worker
//! publishes, with plain atomic stores, when its current poll started and, for an inline poll,
//! the spawn site; a watchdog thread looks every quarter threshold and writes one line to
//! stderr per poll that has run longer than the threshold. Off, it costs one branch per poll.
//!
//! During an inline poll the current task id is the child's, then the parent's again; the coop
//! budget is not reset, so inline polls spend the budget of the tick they run in (bound F7).

use std::cell::Cell;
use std::future::Future;
use std::panic::Location;
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicPtr, AtomicU64};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::context::{self, Context};
use super::Shared;
use crate::builder::SpawnPolicy;
use crate::task::raw::{self, Header, TaskRef};
use crate::task::state::QUEUED_START;
use crate::task::{harness, Id, JoinHandle};
use crate::trace;

/// How one spawn call asks to be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Follow the runtime's `SpawnPolicy`.
    Policy,
    /// Poll inline if budget and depth allow, whatever the policy.
    Eager,
    /// Never poll inline.
    Lazy,
}

/// Spawns on the current thread's runtime (`brisk::spawn` and its variants).
///
/// # Panics
/// Outside a brisk runtime, at the caller's line.
#[track_caller]
pub(crate) fn spawn_current<F>(future: F, mode: Mode) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let site = Location::caller();
    let spawned = context::with_current(|ctx| {
        let ctx = ctx?;
        Some(spawn_in(
            ctx.shared(),
            Some(ctx),
            Id::next(),
            future,
            mode,
            site,
        ))
    });
    match spawned {
        Some(handle) => handle,
        None => panic!(
            "brisk::spawn must be called from within a brisk runtime (a task or `block_on`); \
             use `Handle::spawn` from other threads"
        ),
    }
}

/// Spawns onto `shared` from any thread (used by `Handle::spawn` and `spawn_blocking`).
#[track_caller]
pub(crate) fn spawn_on<F>(
    shared: &Arc<Shared>,
    id: Id,
    future: F,
    mode: Mode,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let site = Location::caller();
    context::with_runtime(shared, |ctx| spawn_in(shared, ctx, id, future, mode, site))
}

/// The decision. `ctx` is `Some` only if this thread runs `shared`'s tasks.
fn spawn_in<F>(
    shared: &Arc<Shared>,
    ctx: Option<&Context>,
    id: Id,
    future: F,
    mode: Mode,
    site: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Some(ctx) = ctx else {
        shared.metrics.count(None, |m| &m.spawned);
        trace::spawn(id, false, site);
        let ptr = raw::allocate(future, id, QUEUED_START, shared);
        // SAFETY: QUEUED_START counted the entry's reference.
        shared.push_remote(unsafe { TaskRef::from_raw(ptr) });
        // SAFETY: QUEUED_START counted the handle's reference; the output type is F::Output.
        return unsafe { JoinHandle::from_raw(ptr) };
    };
    ctx.count(|m| &m.spawned);
    let (eligible, adaptive) = match mode {
        Mode::Policy => match shared.config.spawn_policy {
            SpawnPolicy::Adaptive => (true, true),
            SpawnPolicy::Eager => (true, false),
            SpawnPolicy::Lazy => (false, false),
        },
        Mode::Eager => (true, false),
        Mode::Lazy => (false, false),
    };
    if eligible {
        let entry = adaptive.then(|| ctx.sites.entry(site));
        let decision = entry.map_or(Decision::Timed, |e| e.decide());
        if decision == Decision::Queue {
            ctx.count(|m| &m.adaptive_deferred);
        } else if let Some(slot) = ctx.take_inline_slot(decision == Decision::Timed) {
            trace::spawn(id, true, site);
            let outer = watch_inline(ctx, site);
            let (handle, finished) = harness::spawn_inline(shared, id, future);
            let reading = ctx.finish_inline(slot);
            unwatch_inline(ctx, outer);
            if let (Some(e), Some(own)) = (entry, reading) {
                if e.record(own) {
                    ctx.count(|m| &m.sites_demoted);
                }
            }
            if finished {
                ctx.count(|m| &m.eager_completed);
            } else {
                ctx.count(|m| &m.eager_suspended);
            }
            return handle;
        } else {
            ctx.count(|m| &m.eager_deferred);
        }
    }
    trace::spawn(id, false, site);
    let ptr = raw::allocate(future, id, QUEUED_START, shared);
    // SAFETY: QUEUED_START counted the entry's reference.
    let entry = unsafe { TaskRef::from_raw(ptr) };
    match &ctx.local {
        Some(local) if !shared.is_shutdown() => {
            trace::schedule(id, false);
            local.push(entry);
            shared.notify_parked_local(ctx.worker.expect("a local queue is a worker's"));
        }
        _ => shared.push_remote(entry),
    }
    // SAFETY: QUEUED_START counted the handle's reference; the output type is F::Output.
    unsafe { JoinHandle::from_raw(ptr) }
}

/// Await-inlining: if this thread runs the task's runtime under a policy other than `Lazy`
/// and the budgets and depth allow, claims the queued task `ptr` and polls it here. True if it did
/// (the task may still be pending afterwards).
pub(crate) fn inline_await(ptr: NonNull<Header>) -> bool {
    // SAFETY: the caller (a JoinHandle) holds a reference.
    let header = unsafe { ptr.as_ref() };
    context::with_current(|ctx| {
        let Some(ctx) = ctx else { return false };
        let shared = ctx.shared();
        // Same runtime, so the task's scheduler type is `Arc<Shared>` (harness requirement).
        if !std::ptr::eq(Arc::as_ptr(shared).cast(), header.scheduler_id)
            || shared.config.spawn_policy == SpawnPolicy::Lazy
        {
            return false;
        }
        let Some(slot) = ctx.take_inline_slot(true) else {
            return false;
        };
        let ran = harness::claim_and_poll(shared, ptr);
        ctx.finish_inline(slot);
        if ran {
            ctx.count(|m| &m.await_inlined);
        }
        ran
    })
}

// ---------------------------------------------------------------------------------------------
// Adaptation: the per-site table

/// Entries in a thread's site table (a power of two).
pub(crate) const SITES: usize = 64;
/// A site whose inline polls average this long is demoted.
pub(crate) const LONG_POLL: Duration = Duration::from_micros(20);
/// A new sample's weight in a site's average is 1/`EWMA_WEIGHT`.
pub(crate) const EWMA_WEIGHT: u64 = 8;
/// Spawns a first demotion queues (`LAZY_SPAWNS << backoff` for later ones).
pub(crate) const LAZY_SPAWNS: u32 = 32;
/// The largest `backoff` exponent: a site is probed again after at most 32 << 5 = 1024 spawns.
pub(crate) const MAX_BACKOFF: u8 = 5;
/// A timed inline poll this short (its own time) counts toward a site's short streak.
pub(crate) const SHORT_POLL: Duration = Duration::from_micros(1);
/// Timed polls in a row, each shorter than [`SHORT_POLL`], after which a site is sampled.
pub(crate) const SHORT_STREAK: u8 = 4;
/// A sampled site's inline polls go unread `UNTIMED_RUN` at a time between two timed ones;
/// and a thread never runs more than `UNTIMED_RUN` untimed inline polls in a row.
pub(crate) const UNTIMED_RUN: u32 = 15;

/// What a thread knows of one spawn site.
#[derive(Clone, Copy)]
struct Site {
    /// The site's address; 0 for an empty entry.
    key: usize,
    /// Moving average of its inline poll durations, in clock ticks.
    avg: u64,
    /// Spawns still to queue before the next inline probe.
    lazy_left: u32,
    /// Demotions in a row, less the short polls since (the demotion length's exponent).
    backoff: u8,
    /// Timed polls in a row shorter than `SHORT_POLL` (up to `SHORT_STREAK`).
    short_streak: u8,
    /// Inline polls still to run untimed before the next timed one (a sampled site).
    untimed_left: u8,
}

impl Site {
    const EMPTY: Site = Site {
        key: 0,
        avg: 0,
        lazy_left: 0,
        backoff: 0,
        short_streak: 0,
        untimed_left: 0,
    };
}

/// How a spawn from one site is to be run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Queued: the site is demoted.
    Queue,
    /// Inline, and the poll's end is read on the clock.
    Timed,
    /// Inline, without a reading (a sampled site between two timed polls).
    Untimed,
}

/// A thread's table of spawn sites (module docs, "Adaptation"). Only its thread touches it.
pub(crate) struct SiteTable {
    entries: [Cell<Site>; SITES],
    long_ticks: u64,
    short_ticks: u64,
}

impl Default for SiteTable {
    fn default() -> Self {
        SiteTable {
            entries: [const { Cell::new(Site::EMPTY) }; SITES],
            long_ticks: clock::from_duration(LONG_POLL),
            short_ticks: clock::from_duration(SHORT_POLL),
        }
    }
}

impl SiteTable {
    /// The entry of `site` (shared with whatever site last used the same slot).
    #[inline]
    pub(crate) fn entry(&self, site: &'static Location<'static>) -> SiteEntry<'_> {
        let key = ptr::from_ref(site) as usize;
        // Fibonacci hashing: the top bits of key × 2^64/φ.
        let index =
            (key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SITES.trailing_zeros());
        SiteEntry {
            cell: &self.entries[index as usize % SITES],
            key,
            table: self,
        }
    }
}

/// One site's slot in its thread's [`SiteTable`].
#[derive(Clone, Copy)]
pub(crate) struct SiteEntry<'a> {
    cell: &'a Cell<Site>,
    key: usize,
    table: &'a SiteTable,
}

impl SiteEntry<'_> {
    /// How this spawn is to run: queued while the site is demoted (counting the demotion
    /// down), untimed while a sampled site is between two timed polls, else timed.
    #[inline]
    pub(crate) fn decide(&self) -> Decision {
        let mut e = self.cell.get();
        if e.key != self.key {
            return Decision::Timed;
        }
        if e.lazy_left > 0 {
            e.lazy_left -= 1;
            self.cell.set(e);
            return Decision::Queue;
        }
        if e.untimed_left > 0 {
            e.untimed_left -= 1;
            self.cell.set(e);
            return Decision::Untimed;
        }
        Decision::Timed
    }

    /// Records a timed inline poll of the site that took `sample` clock ticks of its own (its
    /// nested inline polls' time excluded). True if that demoted the site.
    #[inline]
    pub(crate) fn record(&self, sample: u64) -> bool {
        let (long, short) = (self.table.long_ticks, self.table.short_ticks);
        let mut e = self.cell.get();
        if e.key != self.key {
            e = Site {
                key: self.key,
                ..Site::EMPTY
            };
        }
        e.avg = e.avg - e.avg / EWMA_WEIGHT + sample / EWMA_WEIGHT;
        let demote = e.avg >= long;
        if demote {
            e.lazy_left = LAZY_SPAWNS << e.backoff;
            e.backoff = (e.backoff + 1).min(MAX_BACKOFF);
            // The probe after the demotion starts from the threshold: one more long poll
            // demotes again, one short poll does not (and the average then decays).
            e.avg = long;
            e.short_streak = 0;
        } else if sample < long {
            e.backoff = e.backoff.saturating_sub(1);
        }
        if sample < short {
            e.short_streak = (e.short_streak + 1).min(SHORT_STREAK);
            if e.short_streak == SHORT_STREAK {
                e.untimed_left = UNTIMED_RUN as u8;
            }
        } else {
            e.short_streak = 0;
        }
        self.cell.set(e);
        demote
    }
}

// ---------------------------------------------------------------------------------------------
// The stall report

/// What a worker publishes about the poll it is running, for the watchdog. Written only by its
/// worker, with plain stores; `started` is 0 while the worker polls nothing.
#[derive(Default)]
pub(crate) struct RunningPoll {
    seq: AtomicU64,
    started: AtomicU64,
    site: AtomicPtr<Location<'static>>,
}

/// The published state of a poll, saved while an inline poll runs inside it.
#[derive(Clone, Copy)]
pub(crate) struct Outer {
    seq: u64,
    started: u64,
    site: *mut Location<'static>,
}

fn running(ctx: &Context) -> Option<&RunningPoll> {
    let shared = ctx.shared();
    shared.config.stall_threshold?;
    shared
        .metrics
        .watch
        .board
        .running
        .get(ctx.worker?)
        .map(|r| &**r)
}

fn publish(r: &RunningPoll, seq: u64, started: u64, site: *mut Location<'static>) {
    // The watchdog reads `started` before and after the rest and ignores a torn read.
    r.started.store(0, Release);
    r.site.store(site, Relaxed);
    r.seq.store(seq, Relaxed);
    r.started.store(started, Release);
}

/// A queued poll (a tick) starts on this worker.
pub(crate) fn watch_start(ctx: &Context) {
    if let Some(r) = running(ctx) {
        publish(
            r,
            r.seq.load(Relaxed) + 1,
            clock::now().max(1),
            ptr::null_mut(),
        );
    }
}

/// This worker's queued poll is over.
pub(crate) fn watch_end(ctx: &Context) {
    if let Some(r) = running(ctx) {
        r.started.store(0, Release);
    }
}

/// An inline poll of a task spawned at `site` starts; returns the outer poll's state.
#[inline]
fn watch_inline(ctx: &Context, site: &'static Location<'static>) -> Option<Outer> {
    ctx.shared().config.stall_threshold?;
    watch_inline_slow(ctx, site)
}

#[cold]
fn watch_inline_slow(ctx: &Context, site: &'static Location<'static>) -> Option<Outer> {
    let r = running(ctx)?;
    let outer = Outer {
        seq: r.seq.load(Relaxed),
        started: r.started.load(Relaxed),
        site: r.site.load(Relaxed),
    };
    let site = ptr::from_ref(site).cast_mut();
    publish(r, outer.seq + 1, clock::now().max(1), site);
    Some(outer)
}

/// The inline poll is over: the outer poll is this worker's again.
#[inline]
fn unwatch_inline(ctx: &Context, outer: Option<Outer>) {
    let Some(o) = outer else { return };
    if let Some(r) = running(ctx) {
        // A new sequence number for the outer poll would report it again; its own is kept.
        publish(r, o.seq, o.started, o.site);
    }
}

/// The stall watchdog of one runtime (held in its metrics): the workers' published polls and
/// the watchdog thread, which is stopped and joined when the runtime's state is dropped.
pub(crate) struct Watch {
    board: Arc<Board>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What the workers and the watchdog thread share.
struct Board {
    running: Box<[CachePadded<RunningPoll>]>,
    stop: Mutex<bool>,
    stopped: Condvar,
}

impl Watch {
    pub(crate) fn new(workers: usize) -> Watch {
        Watch {
            board: Arc::new(Board {
                running: (0..workers).map(|_| CachePadded::default()).collect(),
                stop: Mutex::new(false),
                stopped: Condvar::new(),
            }),
            thread: Mutex::new(None),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        *self
            .board
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.board.stopped.notify_all();
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// Starts the watchdog of `shared` if its `stall_threshold` is set (called once, by worker 0's
/// context).
pub(crate) fn start_watchdog(shared: &Arc<Shared>) {
    let Some(threshold) = shared.config.stall_threshold else {
        return;
    };
    let board = shared.metrics.watch.board.clone();
    let name = format!("{}-watchdog", shared.config.thread_name);
    // Without a watchdog there is no report; the runtime itself works the same.
    if let Ok(thread) = std::thread::Builder::new()
        .name(name)
        .spawn(move || watchdog(&board, threshold))
    {
        let mut slot = shared
            .metrics
            .watch
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *slot = Some(thread);
    }
}

fn watchdog(board: &Board, threshold: Duration) {
    let limit = clock::from_duration(threshold);
    let period = (threshold / 4).max(Duration::from_millis(1));
    let mut reported = vec![0u64; board.running.len()];
    let mut stop = board.stop.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        // Wakes every `period` to sample (a stall is reported within 1.25 thresholds), or at
        // once when the runtime's state is dropped.
        stop = board
            .stopped
            .wait_timeout(stop, period)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        if *stop {
            return;
        }
        for (i, (r, last)) in board.running.iter().zip(&mut reported).enumerate() {
            let started = r.started.load(Acquire);
            let site = r.site.load(Relaxed);
            let seq = r.seq.load(Relaxed);
            if started == 0 || r.started.load(Acquire) != started || seq == *last {
                continue;
            }
            let ran = clock::now().saturating_sub(started);
            if ran < limit {
                continue;
            }
            *last = seq;
            let secs = clock::to_ns(ran) as f64 / 1e9;
            // SAFETY: a non-null `site` is a `&'static Location` published by `watch_inline`.
            let line = match unsafe { site.as_ref() } {
                Some(site) => format!(
                    "brisk: worker {i} has been polling the task spawned at {site} for {secs:.1} s \
                     (inline, in spawn). A blocking call or a lock held across spawn?"
                ),
                None => format!(
                    "brisk: worker {i} has been polling a queued task for {secs:.1} s. \
                     A blocking call in async code?"
                ),
            };
            eprintln!("{line}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The clock

/// The policy's clock: raw readings in "ticks" (TSC cycles, or nanoseconds with `Instant`).
pub(crate) mod clock {
    use crate::tsc;
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    struct Calibration {
        tsc: bool,
        epoch: Instant,
        ticks_per_us: u64,
    }

    fn calibration() -> &'static Calibration {
        static CAL: OnceLock<Calibration> = OnceLock::new();
        CAL.get_or_init(|| {
            let epoch = Instant::now();
            if !tsc::invariant() {
                return Calibration {
                    tsc: false,
                    epoch,
                    ticks_per_us: 1000,
                };
            }
            // The counter's rate against `Instant`, over a 200 µs spin (once per process).
            let c0 = tsc::read();
            let mut elapsed = epoch.elapsed();
            while elapsed < Duration::from_micros(200) {
                std::hint::spin_loop();
                elapsed = epoch.elapsed();
            }
            let ticks = tsc::read().wrapping_sub(c0);
            Calibration {
                tsc: true,
                epoch,
                ticks_per_us: (ticks / elapsed.as_micros().max(1) as u64).max(1),
            }
        })
    }

    #[cfg(test)]
    thread_local! {
        /// A deterministic clock for this thread's readings, in tests.
        pub(crate) static FAKE: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
        /// Readings of `FAKE` so far.
        pub(crate) static FAKE_READS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    /// A reading.
    #[inline]
    pub(crate) fn now() -> u64 {
        #[cfg(test)]
        if let Some(t) = FAKE.with(std::cell::Cell::get) {
            FAKE_READS.with(|r| r.set(r.get() + 1));
            return t;
        }
        let cal = calibration();
        if cal.tsc {
            tsc::read()
        } else {
            cal.epoch.elapsed().as_nanos() as u64
        }
    }

    /// `d` in ticks.
    pub(crate) fn from_duration(d: Duration) -> u64 {
        let ticks = d.as_nanos() * u128::from(calibration().ticks_per_us) / 1000;
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    /// `ticks` in nanoseconds.
    pub(crate) fn to_ns(ticks: u64) -> u64 {
        let ns = u128::from(ticks) * 1000 / u128::from(calibration().ticks_per_us);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    //! The time budget (F2 in time) and the adaptation, on a deterministic clock: this thread's
    //! readings come from `clock::FAKE`, which the children advance; `block_on` runs the
    //! inline polls on this thread.
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::Arc;
    use std::time::Duration;

    use super::clock::{self, FAKE, FAKE_READS};
    use super::{LAZY_SPAWNS, LONG_POLL, SHORT_POLL, SHORT_STREAK, UNTIMED_RUN};
    use crate::{Runtime, SpawnPolicy};

    fn runtime(policy: SpawnPolicy, budget_time: Duration) -> Runtime {
        Runtime::builder()
            .worker_threads(1)
            .spawn_policy(policy)
            .eager_budget(1_000_000)
            .eager_budget_time(budget_time)
            .stall_threshold(None)
            .build()
            .unwrap()
    }

    /// A child that "runs" for `ticks` on the fake clock; true if it ran on a thread with the
    /// fake clock, i.e. inline in the test thread's `block_on` (queued children run on the
    /// worker).
    fn work(ticks: u64) -> bool {
        FAKE.with(|f| match f.get() {
            Some(t) => {
                f.set(Some(t + ticks));
                true
            }
            None => false,
        })
    }

    /// Spawns `n` children of `ticks(i)` each from one poll; which ones ran inline.
    fn inline_pattern(rt: &Runtime, n: usize, ticks: impl Fn(usize) -> u64) -> Vec<bool> {
        let ran: Arc<Vec<AtomicBool>> = Arc::new((0..n).map(|_| AtomicBool::new(false)).collect());
        FAKE.with(|f| f.set(Some(1_000)));
        rt.block_on(async {
            for i in 0..n {
                let (ran, ticks) = (ran.clone(), ticks(i));
                // Detached: the queued ones run on the worker.
                drop(crate::spawn(
                    async move { ran[i].store(work(ticks), SeqCst) },
                ));
            }
            // The next tick of this `block_on` adds this one's inline time to the metrics.
            crate::task::yield_now().await;
        });
        FAKE.with(|f| f.set(None));
        ran.iter().map(|b| b.load(SeqCst)).collect()
    }

    #[test]
    fn a_tick_spends_at_most_the_time_budget_plus_one_inline_poll() {
        let budget = Duration::from_micros(10);
        // Steps below `LONG_POLL`: the site is never demoted, only the budget ends inline work.
        for step_us in [1, 2, 3, 7, 10, 19] {
            let rt = runtime(SpawnPolicy::Adaptive, budget);
            let step = clock::from_duration(Duration::from_micros(step_us));
            let pattern = inline_pattern(&rt, 100, |_| step);
            let inline = pattern.iter().filter(|&&b| b).count() as u64;
            // The inline ones are the first ones, then none: the budget ends the tick's inline work.
            assert!(
                pattern[..inline as usize].iter().all(|&b| b),
                "step {step_us}: {pattern:?}"
            );
            let spent = inline * step;
            let budget_ticks = clock::from_duration(budget);
            assert!(
                spent < budget_ticks + step,
                "step {step_us} µs: {inline} inline polls spent {spent} ticks > budget {budget_ticks} + one poll"
            );
            assert!(
                spent >= budget_ticks.min(100 * step),
                "step {step_us} µs: stopped early after {inline} inline polls"
            );
            let m = rt.metrics();
            assert_eq!(m.eager_time_limited(), 1, "step {step_us} µs");
            assert_eq!(m.eager_completed() + m.eager_deferred(), 100);
            let time = m.eager_time().as_nanos() as u64;
            assert_eq!(time, clock::to_ns(spent), "step {step_us} µs");
        }
    }

    #[test]
    fn the_count_budget_still_applies() {
        let rt = Runtime::builder()
            .worker_threads(1)
            .spawn_policy(SpawnPolicy::Eager)
            .eager_budget(5)
            .eager_budget_time(Duration::from_secs(3600))
            .build()
            .unwrap();
        let pattern = inline_pattern(&rt, 20, |_| 1);
        assert_eq!(pattern.iter().filter(|&&b| b).count(), 5, "{pattern:?}");
        assert_eq!(rt.metrics().eager_time_limited(), 0);
    }

    #[test]
    fn adaptive_demotes_a_long_running_site_and_retries_it() {
        let rt = runtime(SpawnPolicy::Adaptive, Duration::from_secs(3600));
        let long = clock::from_duration(LONG_POLL * 40);
        let pattern = inline_pattern(&rt, 200, |_| long);
        let inline: Vec<usize> = (0..200).filter(|&i| pattern[i]).collect();
        // Inline, then LAZY_SPAWNS queued, a probe (still long), then twice as many queued ...
        let first = LAZY_SPAWNS as usize;
        assert_eq!(
            inline,
            [0, first + 1, first + 1 + 2 * first + 1],
            "{pattern:?}"
        );
        let m = rt.metrics();
        assert_eq!(m.sites_demoted(), 3);
        assert_eq!(m.adaptive_deferred(), 200 - 3);
        assert_eq!(m.eager_deferred(), 0);
    }

    /// Regression: a demotion reset the site's average to 0, so the probe after it had to
    /// learn from scratch: a child of 2x `LONG_POLL` ran inline 6 times in a row at every probe
    /// (and one of 1.5x, 9 times) before the site was demoted again.
    #[test]
    fn a_probe_that_still_runs_long_demotes_the_site_again_at_once() {
        let rt = runtime(SpawnPolicy::Adaptive, Duration::from_secs(3600));
        let moderate = clock::from_duration(LONG_POLL * 2);
        let pattern = inline_pattern(&rt, 300, |_| moderate);
        let first_queued = pattern
            .iter()
            .position(|&b| !b)
            .expect("the site is demoted");
        let probes: Vec<usize> = (first_queued..300).filter(|&i| pattern[i]).collect();
        assert!(probes.len() >= 2, "{pattern:?}");
        for &i in &probes {
            assert!(
                i + 1 == 300 || !pattern[i + 1],
                "probe at child {i} was followed by more inline polls: {pattern:?}"
            );
        }
    }

    #[test]
    fn a_demoted_site_that_became_short_is_inline_again_and_others_are_unaffected() {
        let rt = runtime(SpawnPolicy::Adaptive, Duration::from_secs(3600));
        let long = clock::from_duration(LONG_POLL * 40);
        let short = clock::from_duration(LONG_POLL / 100);
        // Long only for the first child: demoted once, then its probe is short.
        let pattern = inline_pattern(&rt, 100, |i| if i == 0 { long } else { short });
        let first = LAZY_SPAWNS as usize;
        for (i, &inline) in pattern.iter().enumerate() {
            assert_eq!(inline, i == 0 || i > first, "child {i}: {pattern:?}");
        }
        // The same runtime's other site (another line) was never demoted.
        let other = inline_pattern(&rt, 10, |_| short);
        assert!(other.iter().all(|&b| b), "{other:?}");
        assert_eq!(rt.metrics().sites_demoted(), 1);
    }

    #[test]
    fn a_short_site_is_timed_on_a_sample_only() {
        let rt = runtime(SpawnPolicy::Adaptive, Duration::from_secs(3600));
        let short = clock::from_duration(SHORT_POLL / 10);
        FAKE_READS.with(|r| r.set(0));
        let pattern = inline_pattern(&rt, 320, |_| short);
        assert!(pattern.iter().all(|&b| b), "{pattern:?}");
        let reads = FAKE_READS.with(std::cell::Cell::get);
        // The tick's start, SHORT_STREAK timed polls, then one timed poll in UNTIMED_RUN + 1.
        // Two readings per timed poll.
        let timed = u64::from(SHORT_STREAK) + (320 - u64::from(SHORT_STREAK)).div_ceil(16);
        assert!(
            reads <= 2 * timed + 1,
            "{reads} clock readings for 320 short inline polls (expected about {})",
            2 * timed
        );
        assert!(reads >= 2 * timed - 2, "only {reads} clock readings");
    }

    /// A node of a tree of inline spawns from one recursive site: `own` ticks of its own work,
    /// then `fanout` children, to `depth` levels; counts the nodes that ran inline.
    fn tree(
        depth: u32,
        fanout: usize,
        own: u64,
        inline: Arc<std::sync::atomic::AtomicU64>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            if work(own) {
                inline.fetch_add(1, SeqCst);
            }
            if depth > 0 {
                for _ in 0..fanout {
                    drop(crate::spawn(tree(depth - 1, fanout, own, inline.clone())));
                }
            }
        })
    }

    #[test]
    fn a_recursive_site_is_not_blamed_for_its_eager_children() {
        let rt = runtime(SpawnPolicy::Adaptive, Duration::from_secs(3600));
        // Each node's own work is short (5 µs), but a subtree of 43 nodes takes 215 µs, far
        // beyond LONG_POLL: only nested polls' time, not a node's own, would demote the site.
        let own = clock::from_duration(SHORT_POLL * 5);
        let inline = Arc::new(std::sync::atomic::AtomicU64::new(0));
        FAKE.with(|f| f.set(Some(1_000)));
        rt.block_on(tree(3, 6, own, inline.clone()));
        FAKE.with(|f| f.set(None));
        assert_eq!(rt.metrics().sites_demoted(), 0);
        // The root is the `block_on` future; its 258 descendants all ran inline.
        assert_eq!(inline.load(SeqCst), 259);
    }

    #[test]
    fn untimed_polls_of_several_sampled_sites_still_meet_a_reading_every_16() {
        let budget = Duration::from_micros(10);
        let rt = runtime(SpawnPolicy::Adaptive, budget);
        let step = clock::from_duration(SHORT_POLL / 2);
        let ran = Arc::new(std::sync::atomic::AtomicU64::new(0));
        FAKE.with(|f| f.set(Some(1_000)));
        rt.block_on(async {
            for _ in 0..200 {
                // Two sites, alternating, each sampled on its own: without the thread's own
                // limit their untimed runs would add up to 30 polls without a reading.
                let child = |ran: Arc<std::sync::atomic::AtomicU64>| async move {
                    if work(step) {
                        ran.fetch_add(1, SeqCst);
                    }
                };
                drop(crate::spawn(child(ran.clone())));
                drop(crate::spawn(child(ran.clone())));
            }
            crate::task::yield_now().await;
        });
        FAKE.with(|f| f.set(None));
        let spent = ran.load(SeqCst) * step;
        let budget_ticks = clock::from_duration(budget);
        assert!(
            spent < budget_ticks + (u64::from(UNTIMED_RUN) + 1) * step,
            "{} inline polls spent {spent} ticks > budget {budget_ticks} + 16 polls",
            ran.load(SeqCst)
        );
    }

    #[test]
    fn a_sampled_site_that_turns_long_is_demoted_within_untimed_run_polls() {
        let rt = runtime(SpawnPolicy::Adaptive, Duration::from_secs(3600));
        let short = clock::from_duration(SHORT_POLL / 10);
        let long = clock::from_duration(LONG_POLL * 40);
        let turn = 40;
        let pattern = inline_pattern(&rt, 100, |i| if i < turn { short } else { long });
        let inline_long = pattern[turn..].iter().take_while(|&&b| b).count();
        assert!(
            inline_long >= 1 && inline_long <= UNTIMED_RUN as usize + 1,
            "{inline_long} long children ran inline before the site was demoted: {pattern:?}"
        );
        // Then queued, and its probes (still long) demote it again.
        assert!(rt.metrics().sites_demoted() >= 1);
    }

    #[test]
    fn sampled_polls_stretch_the_time_bound_by_at_most_untimed_run_polls() {
        let budget = Duration::from_micros(10);
        let rt = runtime(SpawnPolicy::Adaptive, budget);
        // Short enough to be sampled: the time budget is checked only at timed polls.
        let step = clock::from_duration(SHORT_POLL / 2);
        let pattern = inline_pattern(&rt, 400, |_| step);
        let inline = pattern.iter().filter(|&&b| b).count() as u64;
        let spent = inline * step;
        let budget_ticks = clock::from_duration(budget);
        assert!(
            spent < budget_ticks + (u64::from(UNTIMED_RUN) + 1) * step,
            "{inline} inline polls spent {spent} ticks > budget {budget_ticks} + 16 polls"
        );
        assert!(
            spent >= budget_ticks,
            "stopped early after {inline} inline polls"
        );
    }

    #[test]
    fn eager_policy_neither_adapts_nor_reads_the_clock() {
        let rt = runtime(SpawnPolicy::Eager, Duration::ZERO);
        let long = clock::from_duration(LONG_POLL * 40);
        let pattern = inline_pattern(&rt, 50, |_| long);
        assert!(pattern.iter().all(|&b| b), "{pattern:?}");
        let m = rt.metrics();
        assert_eq!((m.sites_demoted(), m.eager_time_limited()), (0, 0));
        assert_eq!(m.eager_ticks(), 0, "no clock, no inline time");
    }
}
