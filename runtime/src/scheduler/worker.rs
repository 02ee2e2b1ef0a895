//! The worker loop: take a task, run it, look for more, park.
//!
//! Order of sources in a tick: a non-blocking driver turn first once `event_interval` polls
//! (queued or inline) have run since the last one;
//! then the next-task slot (at most [`MAX_SLOT_POLLS`] slot polls in a row, and only while the
//! coop budget of the tick that started the run lasts: slot polls do not reset it); then, at
//! the first tick that is not a slot poll after every `global_queue_interval` ticks, the
//! injector (so it is never starved by local work); then the local deque, then the injector (a batch), then stealing from a random victim (a batch from
//! its deque, else its next-task slot). A worker out of work becomes a "searcher" (at most half
//! the workers search at once), then parks. A searcher that finds work and was the last
//! searcher wakes another parked worker, so remaining work always has someone looking for it.
//!
//! A worker that parks while another runs, having been woken for work since it last slept
//! without a timeout, dozes: it sleeps at most [`DOZE`], and while it does, work that a worker
//! queues for itself does not wake anyone (`idle.rs`): the dozer looks for it when the doze
//! ends. A wake-up costs the waking worker a system call (an `eventfd` write or a futex wake)
//! and usually arrives after the waker has run the work itself; dozing turns those wake-ups
//! into one timed wake of the idle worker per `DOZE`, paid on its own core. It dozes again
//! only while wake-ups were owed to it, so an idle runtime, or one worker running long polls
//! that queue nothing, leaves the others asleep without a timeout (bound F11).
//!
//! Tasks that `yield_now` are deferred on their worker until its next driver turn, which comes
//! once `event_interval` polls have run since the last, or at once when the worker has nothing
//! else queued (bound F10 in `docs/FAIRNESS.md`). Every task moved by a batch steal is recorded in the trace
//! (`BatchMove`), so the trace accounts for every queue entry (bound F3).

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Waker;

use crossbeam_deque::Worker;
use crossbeam_utils::Backoff;

use super::context::{self, Context};
use super::steal_one;
use super::Shared;
use crate::runtime::Handle;
use crate::task::harness;
use crate::task::raw::TaskRef;
use crate::trace::{self, Source};

/// Rounds of exponential backoff (crossbeam `Backoff`: up to 64 pauses a round, or a yield of
/// the core in the later rounds when someone else watches the driver) before a worker out of
/// work parks: a few microseconds (see `Core::spin`).
const SPIN_ROUNDS: u32 = 10;

/// How long a dozing worker sleeps before it looks for the work whose wake-ups were owed to
/// it (`Core::park`): the longest that work queued behind a blocked worker waits for a dozer.
/// Measured (`compare --filter gather_mostly_ready`, 2 workers): 30 µs doze wakes cost more
/// than the wake-ups they replace (33-38 ns/task, against 36 with no dozing); 100 µs and
/// 300 µs both give 30 ns/task, 300 µs with fewer timed wakes; 100 µs keeps the bound short.
const DOZE: std::time::Duration = std::time::Duration::from_micros(100);

/// How many next-task slot polls may follow one poll taken from a queue (bound F9).
pub(crate) const MAX_SLOT_POLLS: u32 = if cfg!(brisk_mutant = "slot_uncapped") {
    u32::MAX
} else {
    3
};

thread_local! {
    /// Wakers of tasks that called `yield_now` on this worker, woken after its next driver
    /// turn (only a worker thread ever pushes here).
    static DEFERRED: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
    /// True while this worker wakes its deferred tasks: they go to the back of the deque.
    static RELEASING: Cell<bool> = const { Cell::new(false) };
}

/// Defers `waker` until this thread's next driver turn, if this thread is a worker; false
/// (nothing done) elsewhere. Called by `yield_now`.
pub(crate) fn defer_yield(waker: &Waker) -> bool {
    if cfg!(brisk_mutant = "no_yield_defer") {
        return false;
    }
    let on_worker = context::with_current(|ctx| ctx.is_some_and(|c| c.local.is_some()));
    if !on_worker {
        return false;
    }
    DEFERRED
        .try_with(|d| {
            let mut d = d.borrow_mut();
            // Only the last one is compared (a task yielding in a loop is deferred once per
            // turn); an older duplicate is harmless: its second wake finds the task queued.
            // Scanning them all made each yield cost O(deferred tasks).
            if !d.last().is_some_and(|w| w.will_wake(waker)) {
                d.push(waker.clone());
            }
        })
        .is_ok()
}

/// True while this worker is releasing its deferred yields (`Shared::schedule` then queues
/// at the back of the deque, not in the slot).
pub(crate) fn releasing_yields() -> bool {
    RELEASING.try_with(Cell::get).unwrap_or(false)
}

pub(crate) fn has_deferred() -> bool {
    DEFERRED
        .try_with(|d| !d.borrow().is_empty())
        .unwrap_or(false)
}

/// Wakes every deferred task (they are queued at the back of this worker's deque).
pub(crate) fn release_deferred() {
    let wakers = DEFERRED
        .try_with(|d| std::mem::take(&mut *d.borrow_mut()))
        .unwrap_or_default();
    if wakers.is_empty() {
        return;
    }
    set_releasing(true);
    for w in wakers {
        w.wake();
    }
    set_releasing(false);
}

fn set_releasing(v: bool) {
    let _ = RELEASING.try_with(|r| r.set(v));
}

/// One worker thread's own state.
struct Core {
    index: usize,
    searching: bool,
    rng: u64,
    /// Slot polls since the last poll taken from a queue.
    slot_run: u32,
    /// A multiple of `global_queue_interval` ticks passed: the injector goes first at the next
    /// tick that is not a slot poll.
    injector_due: bool,
    /// The next park may be a doze: this worker was woken for work (or its last doze was owed
    /// wake-ups) since it last slept without a timeout.
    may_doze: bool,
}

/// Runs worker `index` until the runtime shuts down.
pub(crate) fn run(shared: Arc<Shared>, index: usize, local: Worker<TaskRef>) {
    run_while(shared, index, local, || true, false);
}

/// Stands in for worker `index` while its thread is inside `task::block_in_place`, until
/// `stop` is set (or the runtime shuts down). Its own deque has no stealer, so what is left
/// there when it stops goes to the injector; it leaves the idle state as it found it.
pub(crate) fn run_stand_in(shared: Arc<Shared>, index: usize, stop: &AtomicBool) {
    let local = Worker::new_fifo();
    let (shared, core) = run_while(shared, index, local, || !stop.load(Ordering::Acquire), true);
    if core.searching {
        shared.idle.transition_from_searching();
    }
}

/// The worker loop, while `keep_going` says so and the runtime runs. Returns the runtime and
/// the worker's state. With `hand_off`, the deque's leftovers then go to the injector.
fn run_while(
    shared: Arc<Shared>,
    index: usize,
    local: Worker<TaskRef>,
    keep_going: impl Fn() -> bool,
    hand_off: bool,
) -> (Arc<Shared>, Core) {
    let enter = context::enter(Context::new(Handle { shared }, Some(index), Some(local)));
    let ctx = enter.context();
    let mut core = Core {
        index,
        searching: false,
        rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
        slot_run: 0,
        injector_due: false,
        may_doze: false,
    };
    let shared = ctx.shared();
    while !shared.is_shutdown() && keep_going() {
        if let Some((task, source)) = core.next_task(ctx) {
            core.run_task(ctx, task, source);
            continue;
        }
        if has_deferred() {
            // Only yielded tasks are left here: turn the driver, then run them again.
            core.turn_driver(ctx);
            continue;
        }
        if let Some(task) = core.steal(ctx) {
            core.run_task(ctx, task, Source::Steal);
            continue;
        }
        core.park(ctx);
    }
    if hand_off {
        // A stand-in (its deque has no stealer) hands its work on: deferred yielders are woken
        // (to the back of its deque), then the deque goes to the injector. The next-task slot
        // is worker `index`'s and stays for it.
        release_deferred();
        let local = ctx.local.as_ref().expect("worker has a local queue");
        while let Some(task) = local.pop() {
            shared.push_remote(task);
        }
    } else {
        // This worker's queued tasks stay in its deque and slot: shutdown cancels them through
        // the stealers and slots (scheduler/mod.rs). Deferred yielders are owned tasks:
        // dropping their wakers here leaves them to the owned list.
        drop(DEFERRED.try_with(|d| std::mem::take(&mut *d.borrow_mut())));
    }
    (shared.clone(), core)
}

/// Records, under the `trace` feature, the tasks a batch steal just moved into `local` (which
/// was empty before it), in deque order.
fn trace_batch(local: &Worker<TaskRef>, from: Option<usize>) {
    if cfg!(brisk_mutant = "batch_untraced") {
        return;
    }
    #[cfg(feature = "trace")]
    {
        let mut moved = Vec::new();
        while let Some(t) = local.pop() {
            moved.push(t);
        }
        for t in moved {
            trace::batch_move(t.header().id, from);
            local.push(t);
        }
    }
    #[cfg(not(feature = "trace"))]
    let _ = (local, from);
}

impl Core {
    fn next_task(&mut self, ctx: &Context) -> Option<(TaskRef, Source)> {
        let shared = ctx.shared();
        let local = ctx.local.as_ref().expect("worker has a local queue");
        let tick = ctx.tick.get() + 1;
        if ctx.polls_since_turn.get() >= shared.config.event_interval
            && !cfg!(brisk_mutant = "no_driver_turn")
        {
            self.turn_driver(ctx);
        }
        if tick % u64::from(shared.config.global_queue_interval) == 0 {
            self.injector_due = true;
        }
        if let Some(task) = shared.next[self.index].take() {
            let coop_left = crate::coop::budget() != Some(0);
            if self.slot_run < MAX_SLOT_POLLS && coop_left {
                self.slot_run += 1;
                return Some((task, Source::Slot));
            }
            // Cap reached or budget spent: behind the work already waiting.
            trace::slot_move(task.header().id);
            local.push(task);
        }
        self.slot_run = 0;
        // The injector's turn, due since the last multiple of `global_queue_interval` (a run of
        // slot polls may have put it off by up to `MAX_SLOT_POLLS` ticks).
        if std::mem::take(&mut self.injector_due) && !cfg!(brisk_mutant = "no_global_interval") {
            if let Some(task) = steal_one(|| shared.injector.steal()) {
                return Some((task, Source::Injector));
            }
        }
        if let Some(task) = local.pop() {
            return Some((task, Source::Local));
        }
        let task = steal_one(|| shared.injector.steal_batch_and_pop(local))?;
        trace_batch(local, None);
        Some((task, Source::Injector))
    }

    /// A non-blocking driver turn, then the deferred yielders go back to the deque.
    fn turn_driver(&mut self, ctx: &Context) {
        ctx.polls_since_turn.set(0);
        let turned = ctx.shared().poll_driver_nonblocking();
        trace::driver_turn(!turned);
        release_deferred();
        if turned {
            // Like a wake-up from a park, a driver turn starts a new run: a task it put in the
            // slot gets a fresh coop budget, not what the previous tick left (often none,
            // which would send it behind the whole deque).
            // (The cap of slot polls per queue poll, F9, still counts on.)
            crate::coop::set_budget(Some(crate::coop::DEFAULT_BUDGET));
        }
    }

    fn steal(&mut self, ctx: &Context) -> Option<TaskRef> {
        let shared = ctx.shared();
        if !self.searching {
            if !shared.idle.transition_to_searching() {
                return None;
            }
            self.searching = true;
        }
        let local = ctx.local.as_ref().expect("worker has a local queue");
        let n = shared.stealers.len();
        let start = self.next_random() as usize % n;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == self.index {
                continue;
            }
            if let Some(task) = steal_one(|| shared.stealers[victim].steal_batch_and_pop(local)) {
                trace::steal_from(task.header().id, victim, false);
                trace_batch(local, Some(victim));
                return Some(task);
            }
        }
        if !cfg!(brisk_mutant = "slot_not_stealable") {
            for i in 0..n {
                let victim = (start + i) % n;
                if victim == self.index {
                    continue;
                }
                if let Some(task) = shared.next[victim].take() {
                    trace::steal_from(task.header().id, victim, true);
                    return Some(task);
                }
            }
        }
        let task = steal_one(|| shared.injector.steal_batch_and_pop(local))?;
        trace_batch(local, None);
        Some(task)
    }

    fn run_task(&mut self, ctx: &Context, task: TaskRef, source: Source) {
        let shared = ctx.shared();
        if self.searching {
            self.searching = false;
            if shared.idle.transition_from_searching() {
                // We were the last searcher and found work: there may be more for someone else.
                shared.notify_parked();
            }
        }
        match source {
            Source::Steal => ctx.count(|m| &m.steals),
            Source::Injector => ctx.count(|m| &m.injector_pops),
            Source::Local | Source::Slot => {}
        }
        // Slot polls continue the coop budget of the poll that started the run (bound F9).
        let coop = crate::coop::budget();
        ctx.start_tick();
        if source == Source::Slot && !cfg!(brisk_mutant = "slot_fresh_coop") {
            crate::coop::set_budget(Some(coop.unwrap_or(crate::coop::DEFAULT_BUDGET)));
        }
        ctx.count(|m| &m.polls);
        let id = task.header().id;
        trace::queue_pop(id, source);
        harness::run_queued(shared, task);
        // Inline polls count toward the next driver turn like queued ones (bound F10): a tick
        // full of eager work does not put readiness off for `event_interval` more ticks.
        ctx.polls_since_turn
            .set(ctx.polls_since_turn.get().saturating_add(
                if cfg!(brisk_mutant = "driver_turn_ticks_only") {
                    1
                } else {
                    ctx.tick_polls()
                },
            ));
        ctx.end_tick();
        trace::poll_end(id);
    }

    /// The wait before parking; true if it ended for work (or shutdown), false if the worker
    /// should park.
    ///
    /// New work (a reply, a remote spawn) often arrives within microseconds, and a park/unpark
    /// pair costs two system calls; a searcher that waits also keeps new work from waking a
    /// sleeper for nothing. So the worker first polls its chances for [`SPIN_ROUNDS`] rounds
    /// of exponential backoff:
    /// - Visible work ends the wait only if this worker may go and take it. One that may not
    ///   search (half the workers search already) parks instead of looping back at full speed:
    ///   the searchers take that work, and the last of them wakes a sleeper if more is left
    ///   (`idle.rs`). A searcher woken onto this worker's core could not run at all while this
    ///   worker spun, until the OS preempted it a scheduler tick later.
    /// - The rounds busy-wait, except that when someone else watches the driver (a worker
    ///   sleeps in it, or another worker is awake and not waiting like this one: it turns the
    ///   driver at its next tick or parks into it) the later rounds yield the core
    ///   (`Backoff::snooze`): a process sharing the cores (an HTTP load client, say) gets it,
    ///   instead of this worker burning it. With nobody watching, a yield could hand the core
    ///   away for a whole time slice while a timer falls due unseen, so it busy-waits.
    fn spin(&mut self, shared: &Shared) -> bool {
        let watched = shared.idle.another_awake() || shared.parkers.iter().any(|p| p.in_driver());
        let _spinning = shared.idle.spinning();
        let backoff = Backoff::new();
        for _ in 0..SPIN_ROUNDS {
            if shared.is_shutdown() {
                return true;
            }
            if shared.has_visible_work()
                && (self.searching
                    || shared.idle.may_search()
                    || cfg!(brisk_mutant = "spin_without_search"))
            {
                return true;
            }
            if watched {
                backoff.snooze();
            } else {
                backoff.spin();
            }
        }
        false
    }

    fn park(&mut self, ctx: &Context) {
        let shared = ctx.shared();
        if self.spin(shared) {
            return;
        }
        let was_searching = std::mem::take(&mut self.searching);
        let doze = std::mem::take(&mut self.may_doze)
            && shared.idle.another_awake()
            && !shared.driver.time.clock().is_paused()
            && shared.idle.start_doze();
        let last_searcher = shared.idle.transition_to_parked(self.index, was_searching);
        if last_searcher && shared.has_visible_work() {
            // Work arrived while we were giving up: wake someone (possibly ourselves).
            shared.notify_parked();
        }
        trace::park();
        ctx.count(|m| &m.parks);
        shared.config.hooks.thread_park();
        // Counted as dozing by `start_doze`; `end_doze` below ends it however the park ended.
        let timeout = if cfg!(brisk_mutant = "doze_forever") {
            None
        } else {
            doze.then_some(DOZE)
        };
        shared.parkers[self.index].park(shared, timeout);
        shared.config.hooks.thread_unpark();
        // Dozed: doze again next time only if wake-ups were owed meanwhile. Woken otherwise:
        // the next park may doze.
        self.may_doze = !doze || shared.idle.end_doze() || cfg!(brisk_mutant = "doze_always");
        if shared.is_shutdown() {
            return;
        }
        trace::unpark(self.index);
        // A wake-up starts a new run: the slot task it may have brought gets a fresh budget.
        crate::coop::set_budget(Some(crate::coop::DEFAULT_BUDGET));
        // Woken by I/O or a timer: we are still listed as sleeping; take ourselves off.
        // Otherwise a notification already counted us as searching and unparked.
        self.searching = !shared.idle.unpark_self(self.index);
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: cheap, good enough to spread victims.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::{mpsc, Arc};
    use std::time::{Duration, Instant};

    use super::super::{context, Shared};

    /// Polls `cond` until it holds or `limit` passes; true if it held.
    fn eventually(limit: Duration, cond: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        while !cond() {
            if start.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Regression: a worker that may not search (half the workers search already) returned
    /// from `park` at once whenever some other worker's queue or slot held work, and so looped
    /// at full speed without ever parking. When the searcher had been woken onto the same
    /// core, it could not run until the scheduler's next tick preempted the spinning worker:
    /// timers fired 3-4 ms late in bursts (`rpc_mostly_cached_timer`, 1 ms timers, rounds of
    /// 4 ms). Here the searcher is held by the test, so the other worker must go to sleep.
    #[test]
    fn a_worker_that_may_not_search_parks_instead_of_spinning() {
        let parks = Arc::new(AtomicUsize::new(0));
        let counted = parks.clone();
        let rt = crate::Builder::new_multi_thread()
            .worker_threads(2)
            .on_thread_park(move || {
                counted.fetch_add(1, SeqCst);
            })
            .build()
            .unwrap();
        assert!(
            eventually(Duration::from_secs(10), || parks.load(SeqCst) >= 2),
            "both workers park when idle"
        );
        let ran = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<(Arc<Shared>, usize)>();
        let seen = parks.clone();
        let flag = ran.clone();
        rt.spawn(async move {
            let (shared, me) =
                context::with_current(|c| c.map(|c| (c.shared().clone(), c.worker.unwrap())))
                    .expect("on a worker");
            // Pose as the one searcher two workers may have (once the worker the spawn woke,
            // if any, has stopped searching).
            while !shared.idle.transition_to_searching() {
                std::thread::yield_now();
            }
            // Work this worker can see but not take: a task in the other worker's slot.
            drop(crate::spawn_lazy(async move { flag.store(true, SeqCst) }));
            let task = context::with_current(|c| c.unwrap().local.as_ref().unwrap().pop())
                .expect("the lazy spawn is in this worker's deque");
            assert!(shared.next[1 - me].put(task).is_none());
            // Counted while this worker runs and the other one sleeps un-notified.
            let base = seen.load(SeqCst);
            tx.send((shared, base)).unwrap();
        });
        let (shared, base) = rx.recv().unwrap();
        let parked = eventually(Duration::from_secs(5), || parks.load(SeqCst) > base);
        // The search ends: the last searcher's rule wakes a worker for the slot's task.
        if shared.idle.transition_from_searching() {
            shared.notify_parked();
        }
        assert!(
            parked,
            "a worker that may not search spun instead of parking while the searcher held on"
        );
        assert!(
            eventually(Duration::from_secs(10), || ran.load(SeqCst)),
            "the task left in the slot ran once the search ended"
        );
    }
}
