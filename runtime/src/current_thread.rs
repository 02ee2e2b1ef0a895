//! The current-thread flavor: a runtime with one worker slot and no worker thread, driven by
//! the thread inside `block_on` (`Builder::new_current_thread`).
//!
//! It is the multi-thread scheduler with one worker (`worker_threads = 1`: one parker, one idle
//! slot, one metrics and trace lane), whose worker loop runs inside `block_on` instead of on a
//! thread of its own: the same injector, the same eager policy and limits, the same driver (I/O
//! and timers are turned when the thread parks, and every `event_interval` ticks), the same
//! `global_queue_interval` check of the injector.
//!
//! Invariants:
//! - At most one thread drives the runtime at a time: it holds the [`CoreSlot`]. Another thread
//!   in `block_on` only polls its own future, and takes the slot over when it is released.
//! - The driving thread's local deque exists only while it drives (no stealer is registered:
//!   nobody else could steal from it). Whatever is left in it when the thread stops driving
//!   (its future is ready, it panicked, or the runtime shuts down) moves to the injector, so no
//!   queued task is lost and shutdown cancels it there.
//! - Parking follows the worker's protocol (searching, then parked with a last check of the
//!   injector), so a wake-up from another thread is never lost; the `block_on` future's waker
//!   unparks the driving thread directly.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::thread::{self, Thread};

use crossbeam_deque::Worker;

use crate::runtime::Handle;
use crate::scheduler::context::{self, Context};
use crate::scheduler::{steal_one, worker, Shared};
use crate::task::harness;
use crate::task::raw::TaskRef;
use crate::trace::{self, Source};

/// Who drives a current-thread runtime.
#[derive(Default)]
pub(crate) struct CoreSlot {
    taken: AtomicBool,
    /// Threads in `block_on` waiting for the slot.
    waiters: Mutex<Vec<Waker>>,
}

impl CoreSlot {
    fn try_take(&self) -> Option<Taken<'_>> {
        // Not `then_some`: that would build (and drop, releasing the slot) a `Taken` even
        // when the slot is held by someone else.
        if self.taken.swap(true, Ordering::AcqRel) {
            None
        } else {
            Some(Taken(self))
        }
    }
}

/// The held slot; releasing it wakes the threads waiting for it.
struct Taken<'a>(&'a CoreSlot);

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.0.taken.store(false, Ordering::Release);
        let waiters =
            std::mem::take(&mut *self.0.waiters.lock().unwrap_or_else(|e| e.into_inner()));
        for w in waiters {
            w.wake();
        }
    }
}

/// The waker of the `block_on` future: wakes the thread, whether it drives or waits.
struct MainWaker {
    notified: AtomicBool,
    thread: Thread,
    shared: Weak<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            if let Some(shared) = self.shared.upgrade() {
                shared.parkers[0].unpark(&shared);
            }
            self.thread.unpark();
        }
    }
}

/// `block_on` on a current-thread runtime (the caller checked that this thread runs no tasks).
pub(crate) fn block_on<F: Future>(handle: &Handle, future: F) -> F::Output {
    let shared = &handle.shared;
    let main = Arc::new(MainWaker {
        notified: AtomicBool::new(true),
        thread: thread::current(),
        shared: Arc::downgrade(shared),
    });
    let waker = Waker::from(main.clone());
    let mut cx = TaskContext::from_waker(&waker);
    // Declared before the context is entered, so it is dropped after the context is left:
    // tasks its drop spawns or wakes go to the injector, not to a deque about to go away.
    let mut future = std::pin::pin!(future);
    loop {
        if !shared.is_shutdown() {
            if let Some(taken) = shared.core.try_take() {
                if let Some(out) = drive(handle, &main, &mut cx, future.as_mut()) {
                    drop(taken);
                    return out;
                }
                drop(taken);
            }
        }
        // Another thread drives (or the runtime is shut down): poll our future when woken,
        // and try again for the slot when it is released.
        let enter = context::enter(Context::new(handle.clone(), None, None));
        loop {
            if main.notified.swap(false, Ordering::AcqRel) {
                enter.context().start_tick();
                if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                    enter.check_in_order();
                    crate::coop::set_budget(None);
                    return out;
                }
            }
            if !shared.is_shutdown() {
                let mut waiters = shared
                    .core
                    .waiters
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if !waiters.iter().any(|w| w.will_wake(&waker)) {
                    waiters.push(waker.clone());
                }
                drop(waiters);
                if !shared.core.taken.load(Ordering::Acquire) {
                    break;
                }
            }
            if !main.notified.load(Ordering::Acquire) {
                thread::park();
            }
        }
        drop(enter);
        crate::coop::set_budget(None);
    }
}

/// Moves what is left in the driving thread's deque to the injector, gives up the searching
/// state, and clears the coop budget, when the thread stops driving (also by panic).
struct StopDriving<'a> {
    ctx: &'a Context,
    searching: &'a Cell<bool>,
}

impl Drop for StopDriving<'_> {
    fn drop(&mut self) {
        let shared = self.ctx.shared();
        if self.searching.replace(false) {
            shared.idle.transition_from_searching();
        }
        // Tasks that yielded here are woken (into the deque), then the deque and the next-task
        // slot go to the injector.
        worker::release_deferred();
        if let Some(local) = &self.ctx.local {
            while let Some(task) = local.pop() {
                shared.push_remote(task);
            }
        }
        if let Some(task) = shared.next[0].take() {
            shared.push_remote(task);
        }
        crate::coop::set_budget(None);
    }
}

/// Drives the runtime as its worker until `future` is ready (`Some(output)`) or the runtime
/// shuts down (`None`).
fn drive<F: Future>(
    handle: &Handle,
    main: &Arc<MainWaker>,
    cx: &mut TaskContext<'_>,
    mut future: Pin<&mut F>,
) -> Option<F::Output> {
    let enter = context::enter(Context::new(
        handle.clone(),
        Some(0),
        Some(Worker::new_fifo()),
    ));
    let ctx = enter.context();
    let searching = Cell::new(false);
    let slot_run = Cell::new(0u32);
    let stop = StopDriving {
        ctx,
        searching: &searching,
    };
    let shared = ctx.shared();
    loop {
        if shared.is_shutdown() {
            drop(stop);
            return None;
        }
        if main.notified.swap(false, Ordering::AcqRel) {
            ctx.start_tick();
            ctx.count(|m| &m.polls);
            trace::block_on_poll_start();
            let poll = future.as_mut().poll(cx);
            trace::block_on_poll_end();
            if let Poll::Ready(out) = poll {
                drop(stop);
                enter.check_in_order();
                return Some(out);
            }
        }
        // Queued tasks, up to `event_interval` of them before the future gets another look
        // (even if it was woken meanwhile: a future that keeps waking itself must not starve
        // the tasks).
        let mut ran = 0;
        while ran < shared.config.event_interval {
            let Some((task, source)) = next_task(ctx, &searching, &slot_run) else {
                break;
            };
            run_task(ctx, task, source);
            ran += 1;
        }
        if ran > 0 || main.notified.load(Ordering::Acquire) {
            continue;
        }
        if worker::has_deferred() {
            // Only yielded tasks are left: turn the driver, then run them again.
            turn_driver(shared);
            continue;
        }
        park(ctx, &searching);
    }
}

/// A turn of the driver without blocking, then the tasks that yielded since the last one
/// (as on a worker: `yield_now` defers its wake-up to the next driver turn).
fn turn_driver(shared: &Shared) {
    let turned = shared.poll_driver_nonblocking();
    trace::driver_turn(!turned);
    worker::release_deferred();
}

/// The next queued task: the next-task slot, the injector first every
/// `global_queue_interval` ticks, then the local deque, then the injector. Turns the driver every `event_interval` ticks.
fn next_task(
    ctx: &Context,
    searching: &Cell<bool>,
    slot_run: &Cell<u32>,
) -> Option<(TaskRef, Source)> {
    let shared = ctx.shared();
    let local = ctx
        .local
        .as_ref()
        .expect("the driving thread has a local queue");
    let tick = ctx.tick.get() + 1;
    if tick % u64::from(shared.config.event_interval) == 0 {
        turn_driver(shared);
    }
    // The next-task slot first (at most `MAX_SLOT_POLLS` in a row, while the coop budget
    // lasts), as on a worker.
    if let Some(task) = shared.next[0].take() {
        if slot_run.get() < worker::MAX_SLOT_POLLS && crate::coop::budget() != Some(0) {
            slot_run.set(slot_run.get() + 1);
            if searching.replace(false) {
                shared.idle.transition_from_searching();
            }
            return Some((task, Source::Slot));
        }
        trace::slot_move(task.header().id);
        local.push(task);
    }
    slot_run.set(0);
    let found = if tick % u64::from(shared.config.global_queue_interval) == 0 {
        steal_one(|| shared.injector.steal())
            .map(|t| (t, Source::Injector))
            .or_else(|| local.pop().map(|t| (t, Source::Local)))
    } else {
        local.pop().map(|t| (t, Source::Local))
    };
    let found = found.or_else(|| {
        steal_one(|| shared.injector.steal_batch_and_pop(local)).map(|t| (t, Source::Injector))
    });
    if found.is_some() && searching.replace(false) {
        shared.idle.transition_from_searching();
    }
    found
}

fn run_task(ctx: &Context, task: TaskRef, source: Source) {
    if source == Source::Injector {
        ctx.count(|m| &m.injector_pops);
    }
    ctx.start_tick();
    ctx.count(|m| &m.polls);
    let id = task.header().id;
    trace::queue_pop(id, source);
    harness::run_queued(ctx.shared(), task);
    trace::poll_end(id);
}

/// Sleeps until new work, a wake-up of the `block_on` future, I/O or a timer (the driver is
/// turned while parked), with the worker's protocol: searching, last check, parked.
fn park(ctx: &Context, searching: &Cell<bool>) {
    let shared = ctx.shared();
    if !searching.get() && shared.idle.transition_to_searching() {
        searching.set(true);
    }
    let was_searching = searching.replace(false);
    let last_searcher = shared.idle.transition_to_parked(0, was_searching);
    if last_searcher && shared.has_visible_work() {
        shared.notify_parked();
    }
    trace::park();
    ctx.count(|m| &m.parks);
    shared.config.hooks.thread_park();
    shared.parkers[0].park(shared, None);
    shared.config.hooks.thread_unpark();
    if shared.is_shutdown() {
        return;
    }
    trace::unpark(0);
    searching.set(!shared.idle.unpark_self(0));
}
