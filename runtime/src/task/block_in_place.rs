//! `task::block_in_place`: run blocking code on a worker thread without stalling its tasks.
//!
//! The worker's thread becomes a blocking thread for the call: its queued tasks move to the
//! injector, and a stand-in thread runs worker `index`'s loop (its parker and idle slot, a
//! deque of its own) until the call returns. Then the stand-in stops, hands what it queued to
//! the injector, and the thread carries on as the worker, in the middle of the same poll.
//!
//! Invariants:
//! - While the closure runs, this thread's top context runs no tasks (spawns are queued,
//!   `block_on` may start here) and the worker context below it is left untouched, so the
//!   poll it belongs to (including an eager inline child's) resumes unchanged.
//! - Exactly one thread acts as worker `index` at a time: the stand-in is started after the
//!   worker stopped taking tasks and is joined before the worker takes any again.
//! - The coop budget of the poll is saved and restored around the call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::scheduler::context;
use crate::scheduler::worker;

/// Runs the blocking function `f` on this thread, first handing this worker's queued tasks and
/// its place in the scheduler to another thread, so that the runtime's other tasks keep
/// running meanwhile (tokio's `task::block_in_place`).
///
/// Use it where the blocking code needs what is on this thread's stack (borrowed data, a
/// non-`Send` value), which [`spawn_blocking`](crate::task::spawn_blocking) cannot take. The
/// surrounding task (and any eager parent it was polled inside) waits for `f`, on this thread;
/// inside `f`, [`Handle::block_on`](crate::Handle::block_on) works, and
/// [`brisk::spawn`](crate::spawn) queues (no inline poll). Each call starts a thread that
/// stands in for the worker.
///
/// Outside a worker (a plain thread, a blocking-pool thread, or inside
/// [`Runtime::block_on`](crate::Runtime::block_on), which is not a worker) `f` simply runs.
///
/// ```
/// let rt = brisk::Runtime::builder().worker_threads(1).build().unwrap();
/// let (tx, rx) = std::sync::mpsc::channel();
/// let out = rt.block_on(rt.spawn(async move {
///     // The only worker blocks here; the task below still runs, on the stand-in.
///     let _other = brisk::spawn_lazy(async move { tx.send(5).unwrap() });
///     brisk::task::block_in_place(|| rx.recv().unwrap())
/// }));
/// assert_eq!(out.unwrap(), 5);
/// ```
///
/// # Panics
/// On a current-thread runtime's thread (there is no other thread to hand the tasks to), as
/// tokio's does; and if the OS refuses to start the stand-in thread.
#[track_caller]
pub fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    let worker = context::with_current(|ctx| {
        let ctx = ctx?;
        if ctx.shared().config.current_thread && !ctx.blocking {
            panic!(
                "brisk::task::block_in_place can only be called on the multi-thread runtime: \
                 a current-thread runtime has no other thread to run its tasks meanwhile. \
                 Use `spawn_blocking`, or `Builder::new_multi_thread()`"
            );
        }
        if ctx.blocking {
            return None;
        }
        Some((
            ctx.handle.clone(),
            ctx.worker.filter(|_| ctx.local.is_some()),
        ))
    });
    let (handle, index) = match worker {
        None => return f(),
        // Inside `Runtime::block_on` (not a worker): nothing to hand off, but the thread
        // becomes a blocking one for the call, so `Handle::block_on` works in `f`.
        Some((handle, None)) => {
            let _region = context::enter_blocking_region(handle);
            return f();
        }
        Some((handle, Some(index))) => (handle, index),
    };
    let shared = handle.shared.clone();
    // This thread stops taking tasks: its yielded tasks are woken (into its deque), and what
    // is queued here goes where any worker finds it (its next-task slot is worker `index`'s:
    // the stand-in takes it).
    worker::release_deferred();
    context::with_current(|ctx| {
        if let Some(local) = ctx.and_then(|c| c.local.as_ref()) {
            while let Some(task) = local.pop() {
                shared.push_remote(task);
            }
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let stand_in = {
        let shared = shared.clone();
        let stop = stop.clone();
        std::thread::Builder::new()
            .name(format!("{}-{index}", shared.config.thread_name))
            .spawn(move || {
                // A runtime thread like the others: the start and stop hooks run on it.
                let hooks = shared.config.hooks.clone();
                hooks.thread_start();
                let _stop_hook = crate::blocking::StopHook(hooks);
                worker::run_stand_in(shared, index, &stop);
            })
            .unwrap_or_else(|e| panic!("brisk::task::block_in_place: cannot start a thread: {e}"))
    };
    /// Stops and joins the stand-in, and restores the budget (also if `f` panics).
    struct Resume {
        stop: Arc<AtomicBool>,
        stand_in: Option<std::thread::JoinHandle<()>>,
        shared: Arc<crate::scheduler::Shared>,
        index: usize,
        budget: Option<u32>,
    }
    impl Drop for Resume {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Release);
            self.shared.parkers[self.index].unpark(&self.shared);
            if let Some(t) = self.stand_in.take() {
                let _ = t.join();
            }
            crate::coop::set_budget(self.budget);
        }
    }
    let _resume = Resume {
        stop,
        stand_in: Some(stand_in),
        shared,
        index,
        budget: crate::coop::budget(),
    };
    let _region = context::enter_blocking_region(handle);
    crate::coop::set_budget(None);
    f()
}
