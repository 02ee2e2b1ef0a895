//! The worker loop: take a task, run it, look for more, park.
//!
//! Order of sources in a tick: every `global_queue_interval` ticks the injector first (so it is
//! never starved by local work), otherwise the local deque, then the injector, then stealing
//! from a random victim (a batch). A worker out of work becomes a "searcher" (at most half the
//! workers search at once), then parks. A searcher that finds work and was the last searcher
//! wakes another parked worker, so remaining work always has someone looking for it.

use std::sync::Arc;

use crossbeam_deque::Worker;
use crossbeam_utils::Backoff;

use super::context::{self, Context};
use super::steal_one;
use super::Shared;
use crate::runtime::Handle;
use crate::task::harness;
use crate::task::raw::TaskRef;
use crate::trace::{self, Source};

/// Rounds of exponential busy-waiting (crossbeam `Backoff::spin`, up to 64 pauses a round)
/// before a worker out of work parks: a few microseconds.
const SPIN_ROUNDS: u32 = 10;

/// One worker thread's own state.
struct Core {
    index: usize,
    searching: bool,
    rng: u64,
}

/// Runs worker `index` until the runtime shuts down.
pub(crate) fn run(shared: Arc<Shared>, index: usize, local: Worker<TaskRef>) {
    let enter = context::enter(Context::new(Handle { shared }, Some(index), Some(local)));
    let ctx = enter.context();
    let mut core = Core {
        index,
        searching: false,
        rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
    };
    let shared = ctx.shared();
    while !shared.is_shutdown() {
        if let Some((task, source)) = core.next_task(ctx) {
            core.run_task(ctx, task, source);
            continue;
        }
        if let Some(task) = core.steal(ctx) {
            core.run_task(ctx, task, Source::Steal);
            continue;
        }
        core.park(ctx);
    }
    // This worker's queued tasks stay in its deque: shutdown cancels them through the
    // stealers (scheduler/mod.rs).
}

impl Core {
    fn next_task(&mut self, ctx: &Context) -> Option<(TaskRef, Source)> {
        let shared = ctx.shared();
        let local = ctx.local.as_ref().expect("worker has a local queue");
        let tick = ctx.tick.get() + 1;
        if tick % u64::from(shared.config.event_interval) == 0 {
            shared.poll_driver_nonblocking();
        }
        if tick % u64::from(shared.config.global_queue_interval) == 0 {
            if let Some(task) = steal_one(|| shared.injector.steal()) {
                return Some((task, Source::Injector));
            }
        }
        if let Some(task) = local.pop() {
            return Some((task, Source::Local));
        }
        steal_one(|| shared.injector.steal_batch_and_pop(local)).map(|t| (t, Source::Injector))
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
                return Some(task);
            }
        }
        steal_one(|| shared.injector.steal_batch_and_pop(local))
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
            Source::Local => {}
        }
        ctx.start_tick();
        ctx.count(|m| &m.polls);
        let id = task.header().id;
        trace::queue_pop(id, source);
        harness::run_queued(shared, task);
        ctx.end_tick();
        trace::poll_end(id);
    }

    fn park(&mut self, ctx: &Context) {
        let shared = ctx.shared();
        // Spin briefly first: new work (a reply, a remote spawn) often arrives within
        // microseconds, and a park/unpark pair costs two system calls. A searcher that spins
        // also keeps new work from waking a sleeper for nothing.
        // Busy-wait only (no `sched_yield`): on a machine with few cores a yield can hand the
        // core away for a whole time slice.
        let backoff = Backoff::new();
        for _ in 0..SPIN_ROUNDS {
            if shared.has_visible_work() || shared.is_shutdown() {
                return;
            }
            backoff.spin();
        }
        let was_searching = std::mem::take(&mut self.searching);
        let last_searcher = shared.idle.transition_to_parked(self.index, was_searching);
        if last_searcher && shared.has_visible_work() {
            // Work arrived while we were giving up: wake someone (possibly ourselves).
            shared.notify_parked();
        }
        trace::park();
        shared.parkers[self.index].park(shared);
        if shared.is_shutdown() {
            return;
        }
        trace::unpark(self.index);
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
