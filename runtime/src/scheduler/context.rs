//! The per-thread runtime context: which runtime this thread serves (its scheduler, I/O and
//! timers, all reached through one [`Handle`]), its local queue (on workers), and the eager
//! policy's per-tick counters.
//!
//! Invariants:
//! - A thread's contexts form a stack owned by the thread (`STACK`); `CURRENT` caches a pointer
//!   to the top one. A context stays alive while it is on the stack, and `with_current` holds
//!   its own count on the context for the duration of the call, so no safe code (guards dropped
//!   in any order, leaked out of `block_on`, or forgotten) can leave `CURRENT` dangling. When
//!   the thread's stack is destroyed at thread exit it clears `CURRENT` first.
//! - Entering returns a `#[must_use]` [`EnterGuard`]; guards must drop in the reverse order of
//!   their creation. A guard dropped out of order removes its own context (wherever it is on
//!   the stack) and then panics with a clear message, unless the thread is already panicking.
//! - A context that runs tasks (a worker, or `block_on`) is never entered on top of another
//!   one that runs tasks: `block_on` checks [`runs_tasks`] first.
//! - `eager_left`, `depth` and the tick's inline clock (`inline_start`, `last_reading`) are
//!   reset at each tick (one poll of a task taken from a queue, or one poll of the `block_on`
//!   future); they, and the per-site table `sites`, are only read and written by their own
//!   thread (plain `Cell`s: no lock, no atomic read-modify-write).

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;

use crossbeam_deque::Worker;

use super::eager::{self, clock};
use super::Shared;
use crate::builder::SpawnPolicy;
use crate::runtime::Handle;
use crate::task::raw::TaskRef;

/// The runtime state of one thread.
pub(crate) struct Context {
    pub(crate) handle: Handle,
    /// The worker index, or `None` on a `block_on` thread (or one that runs no tasks).
    pub(crate) worker: Option<usize>,
    /// The local run queue (workers only).
    pub(crate) local: Option<Worker<TaskRef>>,
    /// Inline polls left in this tick.
    pub(crate) eager_left: Cell<u32>,
    /// Current inline nesting depth.
    pub(crate) depth: Cell<u32>,
    /// Ticks so far on this thread.
    pub(crate) tick: Cell<u64>,
    /// Polls (queued and inline) on this worker since its last driver turn; the worker turns
    /// the driver when they reach `event_interval` (bound F10).
    pub(crate) polls_since_turn: Cell<u32>,
    /// Clock reading when this tick's first inline poll started; 0 before it.
    pub(crate) inline_start: Cell<u64>,
    /// The latest clock reading of this tick's inline polls (the end of the last timed one).
    pub(crate) last_reading: Cell<u64>,
    /// Inline polls that ended since `last_reading` without a reading of their own.
    pub(crate) unread: Cell<u32>,
    /// The summed durations of the timed inline polls that ended inside the current inline
    /// poll (or tick), and how many inline polls ended there.
    pub(crate) nested_time: Cell<u64>,
    pub(crate) nested_polls: Cell<u32>,
    /// `eager_budget_time` in clock ticks.
    pub(crate) budget_ticks: u64,
    /// True if inline polls are timed (every policy but `SpawnPolicy::Eager`, which stays
    /// deterministic: count and depth only, no clock).
    pub(crate) timed: bool,
    /// The adaptive policy's per-site table (`scheduler/eager.rs`).
    pub(crate) sites: eager::SiteTable,
    /// A thread that knows its runtime but runs none of its tasks: a `spawn_blocking` thread,
    /// or one inside `Runtime::enter`. Spawns from it are queued, and `block_on` may start there
    /// (unless a context below it on the stack runs tasks).
    pub(crate) blocking: bool,
}

/// The thread's stack of entered contexts. Clears `CURRENT` when destroyed (thread exit).
struct Stack {
    contexts: RefCell<Vec<Rc<Context>>>,
    /// How many contexts on the stack run tasks.
    running: Cell<usize>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(ptr::null()));
    }
}

thread_local! {
    /// The top of `STACK` (null if empty). No destructor, so readable during thread exit.
    static CURRENT: Cell<*const Context> = const { Cell::new(ptr::null()) };
    static STACK: Stack = const {
        Stack { contexts: RefCell::new(Vec::new()), running: Cell::new(0) }
    };
}

impl Context {
    pub(crate) fn new(
        handle: Handle,
        worker: Option<usize>,
        local: Option<Worker<TaskRef>>,
    ) -> Self {
        let config = &handle.shared.config;
        let timed = config.spawn_policy != SpawnPolicy::Eager;
        let budget_ticks = if timed {
            clock::from_duration(config.eager_budget_time)
        } else {
            u64::MAX
        };
        if worker == Some(0) {
            eager::start_watchdog(&handle.shared);
        }
        Context {
            handle,
            worker,
            local,
            eager_left: Cell::new(0),
            depth: Cell::new(0),
            tick: Cell::new(0),
            polls_since_turn: Cell::new(0),
            inline_start: Cell::new(0),
            last_reading: Cell::new(0),
            unread: Cell::new(0),
            nested_time: Cell::new(0),
            nested_polls: Cell::new(0),
            budget_ticks,
            timed,
            sites: eager::SiteTable::default(),
            blocking: false,
        }
    }

    /// The context of a thread that runs no tasks (`spawn_blocking`, `Runtime::enter`): no
    /// eager budget, so its spawns are queued.
    pub(crate) fn new_blocking(handle: Handle) -> Self {
        Context {
            blocking: true,
            ..Context::new(handle, None, None)
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// Starts a tick: one poll of a queued task or of the `block_on` future.
    pub(crate) fn start_tick(&self) {
        self.end_tick();
        if !cfg!(brisk_mutant = "budget_not_reset") {
            self.eager_left.set(self.shared().config.eager_budget);
        }
        self.tick.set(self.tick.get() + 1);
        crate::coop::set_budget(Some(crate::coop::DEFAULT_BUDGET));
        eager::watch_start(self);
    }

    /// The polls of the tick that just ended (or is running): its own and its inline ones, as
    /// counted by the count budget (all of it if the time budget ended the tick's inline work).
    pub(crate) fn tick_polls(&self) -> u32 {
        1 + self
            .shared()
            .config
            .eager_budget
            .saturating_sub(self.eager_left.get())
    }

    /// Ends the tick: adds its inline time to the metrics and tells the stall watchdog that
    /// this worker's poll is over. Idempotent; `start_tick` calls it first.
    pub(crate) fn end_tick(&self) {
        let start = self.inline_start.replace(0);
        self.unread.set(0);
        self.nested_time.set(0);
        self.nested_polls.set(0);
        if start != 0 {
            let spent = self.last_reading.get().saturating_sub(start);
            self.shared()
                .metrics
                .add(self.worker, |m| &m.eager_ticks, 1);
            self.shared()
                .metrics
                .add(self.worker, |m| &m.eager_time, clock::to_ns(spent));
        }
        eager::watch_end(self);
    }

    /// Takes one inline poll from this tick's budgets if the count, the time and the depth
    /// allow it (bounds F2 and F1). `timed`: the poll is to be timed on the clock
    /// (`SpawnPolicy::Eager` never reads it; `Adaptive` skips the readings for sampled sites,
    /// `scheduler/eager.rs`). The time check uses the latest reading: it costs no reading of
    /// its own. At most [`eager::UNTIMED_RUN`] inline polls in a row go untimed: the next one
    /// is timed whatever its site.
    #[inline(always)]
    pub(crate) fn take_inline_slot(&self, timed: bool) -> Option<InlineSlot<'_>> {
        let left = self.eager_left.get();
        let depth = self.depth.get();
        if left == 0 || depth >= self.shared().config.eager_depth || coop_spent() {
            return None;
        }
        if !self.timed {
            self.eager_left.set(left - 1);
            self.depth.set(depth + 1);
            return Some(InlineSlot {
                depth: &self.depth,
                from: 0,
                timed: false,
                outer_time: 0,
                outer_polls: 0,
            });
        }
        let start = self.inline_start.get();
        let timed = timed || start == 0 || self.unread.get() >= eager::UNTIMED_RUN;
        if start != 0 && self.last_reading.get().wrapping_sub(start) >= self.budget_ticks {
            // The time budget is spent: no more inline polls in this tick.
            self.eager_left.set(0);
            self.count(|m| &m.eager_time_limited);
            return None;
        }
        let from = if timed {
            let now = clock::now().max(1);
            if start == 0 {
                self.inline_start.set(now);
            }
            self.last_reading.set(now);
            now
        } else {
            self.last_reading.get()
        };
        self.eager_left.set(left - 1);
        self.depth.set(depth + 1);
        Some(InlineSlot {
            depth: &self.depth,
            from,
            timed,
            outer_time: self.nested_time.replace(0),
            outer_polls: self.nested_polls.replace(0),
        })
    }

    /// Ends an inline poll. A timed one (and an untimed one inside which other inline polls
    /// ran) reads the clock and returns the poll's own time in clock ticks: its duration less
    /// that of the timed inline polls nested in it (an untimed poll's duration is measured from
    /// the latest reading before it: an upper bound). An untimed leaf poll, and any poll under
    /// `SpawnPolicy::Eager`, returns `None`.
    #[inline(always)]
    pub(crate) fn finish_inline(&self, slot: InlineSlot<'_>) -> Option<u64> {
        if !self.timed {
            return None;
        }
        let inner_polls = self.nested_polls.replace(slot.outer_polls + 1);
        if !slot.timed && inner_polls == 0 {
            self.unread.set(self.unread.get() + 1);
            self.nested_time.set(slot.outer_time);
            return None;
        }
        let now = clock::now().max(1);
        self.last_reading.set(now);
        self.unread.set(0);
        let took = now.saturating_sub(slot.from);
        let own = took.saturating_sub(self.nested_time.get());
        self.nested_time.set(slot.outer_time + took);
        Some(own)
    }

    /// Adds one to a metrics counter of this thread.
    pub(crate) fn count(
        &self,
        pick: impl Fn(&crate::metrics::WorkerMetrics) -> &std::sync::atomic::AtomicU64,
    ) {
        self.shared().metrics.count(self.worker, pick);
    }
}

/// True if this tick's coop budget is spent: an inline child would find every await throttled
/// (inline polls spend the tick's budget, F7) and return `Pending` at its first one, so it is
/// queued instead, with a fresh budget when it runs.
#[inline]
fn coop_spent() -> bool {
    crate::coop::budget() == Some(0)
}

/// One level of inline nesting; dropping it returns to the parent's depth.
#[must_use]
pub(crate) struct InlineSlot<'a> {
    depth: &'a Cell<u32>,
    /// The clock reading the poll's duration is measured from.
    from: u64,
    /// The poll's start was read on the clock, and its end will be.
    timed: bool,
    /// The enclosing poll's `nested_time` and `nested_polls`, restored at the end.
    outer_time: u64,
    outer_polls: u32,
}

impl Drop for InlineSlot<'_> {
    fn drop(&mut self) {
        if !cfg!(brisk_mutant = "depth_not_decremented") {
            self.depth.set(self.depth.get() - 1);
        }
    }
}

/// Makes `ctx` this thread's context until the guard drops: its runtime's scheduler, reactor
/// (`io::Handle::current`) and timers are then this thread's.
pub(crate) fn enter(ctx: Context) -> EnterGuard {
    let ctx = Rc::new(ctx);
    STACK.with(|s| {
        s.contexts.borrow_mut().push(ctx.clone());
        if !ctx.blocking {
            s.running.set(s.running.get() + 1);
        }
    });
    CURRENT.with(|c| c.set(Rc::as_ptr(&ctx)));
    EnterGuard {
        ctx,
        _not_send: PhantomData,
    }
}

/// Leaves the context entered by [`enter`] when dropped (on the thread that entered it).
#[must_use = "the context is left when the guard drops"]
pub(crate) struct EnterGuard {
    ctx: Rc<Context>,
    _not_send: PhantomData<*const ()>,
}

impl EnterGuard {
    /// The entered context.
    pub(crate) fn context(&self) -> &Context {
        &self.ctx
    }

    /// Panics (out of order) unless this guard's context is the current one. `block_on`
    /// checks this before it returns its output, so that a guard leaked in that output is
    /// dropped while the panic unwinds (Rust leaks a return value whose function panics in a
    /// destructor on the way out).
    pub(crate) fn check_in_order(&self) {
        if CURRENT.try_with(Cell::get).unwrap_or(ptr::null()) != Rc::as_ptr(&self.ctx) {
            out_of_order();
        }
    }
}

#[cold]
#[track_caller]
fn out_of_order() -> ! {
    panic!(
        "brisk: EnterGuard values dropped out of order. Guards returned by `Runtime::enter` and \
         `Handle::enter` must be dropped in the reverse order of their creation, and must not \
         outlive the `block_on` call or task that created them"
    )
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let in_order = STACK
            .try_with(|s| {
                let mut contexts = s.contexts.borrow_mut();
                let at = contexts.iter().rposition(|c| Rc::ptr_eq(c, &self.ctx));
                let in_order = at.is_some_and(|i| i + 1 == contexts.len());
                if let Some(i) = at {
                    contexts.remove(i);
                    if !self.ctx.blocking {
                        s.running.set(s.running.get() - 1);
                    }
                }
                let top = contexts.last().map_or(ptr::null(), Rc::as_ptr);
                let _ = CURRENT.try_with(|c| c.set(top));
                in_order
            })
            .unwrap_or(true);
        if !in_order && !std::thread::panicking() {
            out_of_order();
        }
    }
}

/// Runs `f` with this thread's context, if any.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    let ptr = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    if ptr.is_null() {
        return f(None);
    }
    // SAFETY: a non-null `CURRENT` points to the top context of this thread's stack, which
    // holds an `Rc` to it (module invariants), so it is alive here; we take a count of our own
    // (this thread only, `Rc` is not shared) so it stays alive while `f` runs, even if `f`
    // drops its guard.
    let current = ManuallyDrop::new(unsafe { Rc::from_raw(ptr) });
    let keep = Rc::clone(&current);
    f(Some(&keep))
}

/// True if this thread runs tasks: a worker, or a thread inside `block_on` (also while a
/// `Handle::enter` context sits on top of either).
pub(crate) fn runs_tasks() -> bool {
    STACK.try_with(|s| s.running.get() > 0).unwrap_or(false)
}

/// Runs `f` with this thread's context if it serves `shared`.
pub(crate) fn with_runtime<R>(shared: &Arc<Shared>, f: impl FnOnce(Option<&Context>) -> R) -> R {
    with_current(|ctx| f(ctx.filter(|c| Arc::ptr_eq(c.shared(), shared))))
}

/// The current inline nesting depth (0 outside an inline poll), for the trace.
#[cfg_attr(not(feature = "trace"), allow(dead_code))]
pub(crate) fn inline_depth() -> u32 {
    with_current(|ctx| ctx.map_or(0, |c| c.depth.get()))
}

/// Makes this thread a blocking thread of `handle`'s runtime until the guard drops
/// (`task::block_in_place`): a context that runs no tasks goes on top of the stack, and the
/// contexts below it stop counting as running tasks, so `block_on` may start here. The guard
/// restores both.
pub(crate) fn enter_blocking_region(handle: Handle) -> BlockingRegion {
    let running = STACK.with(|s| s.running.replace(0));
    BlockingRegion {
        _guard: enter(Context::new_blocking(handle)),
        running,
    }
}

/// The guard of [`enter_blocking_region`].
#[must_use = "the blocking region ends when the guard drops"]
pub(crate) struct BlockingRegion {
    _guard: EnterGuard,
    running: usize,
}

impl Drop for BlockingRegion {
    fn drop(&mut self) {
        // The blocking context (dropped right after this) never counted as running.
        let _ = STACK.try_with(|s| s.running.set(s.running.get() + self.running));
    }
}
