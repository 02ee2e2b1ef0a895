//! The scheduling trace (cargo feature `trace`): what the real scheduler did, event by event,
//! so that tests can check the fairness bounds on it, and so that people can look at it.
//!
//! [`Runtime::take_trace`](crate::Runtime::take_trace) returns the [`Record`]s;
//! [`Timeline`] turns them into lanes of nested poll slices, and two writers render that:
//! [`write_chrome_json`] (Chrome trace-event JSON, for Perfetto and `about:tracing`) and
//! [`write_svg`] (a standalone SVG timeline, readable offline in any browser).
//!
//! The example (run as a doctest with the feature on):
#![cfg_attr(
    feature = "trace",
    doc = r#"
```
let rt = brisk::Runtime::builder().worker_threads(2).build().unwrap();
rt.block_on(async {
    // Ready at once: polled inline, inside the `block_on` poll.
    let child = brisk::spawn(async { 2 });
    child.await.unwrap()
});
let records = rt.take_trace();
let mut json = Vec::new();
brisk::trace::write_chrome_json(&records, &mut json).unwrap();
assert!(json.starts_with(b"{\"traceEvents\":["));
let mut svg = Vec::new();
brisk::trace::write_svg(&records, &brisk::trace::SvgOptions::default(), &mut svg).unwrap();
assert!(svg.starts_with(b"<svg"));
```
"#
)]
//!
//! Invariants: recording never changes a scheduling decision (it only appends to a buffer);
//! with the feature off every hook is an empty inline function. Each worker appends to its own
//! buffer, so a worker's events are in the order it performed them; threads inside `block_on`
//! share one more buffer (each record names its thread). Events on threads outside the runtime
//! (remote wakes) are not recorded. A record's timestamp is in nanoseconds since the runtime
//! was built, from the CPU's invariant time stamp counter where there is one (x86_64), else
//! from `Instant`.

use std::panic::Location;

use crate::task::Id;

#[cfg(feature = "trace")]
mod chrome;
#[cfg(feature = "trace")]
mod clock;
#[cfg(feature = "trace")]
mod svg;
#[cfg(feature = "trace")]
mod timeline;

#[cfg(feature = "trace")]
pub use chrome::write_chrome_json;
#[cfg(feature = "trace")]
pub use svg::{write_svg, SvgOptions};
#[cfg(feature = "trace")]
pub use timeline::{Flow, FlowKind, Lane, Mark, MarkKind, Slice, SliceKind, Timeline};

/// Where a worker took a task from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Its own local deque.
    Local,
    /// The shared injector queue.
    Injector,
    /// Another worker's deque, or its next-task slot.
    Steal,
    /// Its own next-task slot (a task woken by the previous poll or by the driver; see
    /// `docs/FAIRNESS.md`, bound F9).
    Slot,
}

#[cfg(feature = "trace")]
pub(crate) use imp::Buffers;
#[cfg(feature = "trace")]
pub use imp::{Event, Record};

#[cfg(feature = "trace")]
mod imp {
    use std::cell::Cell;
    use std::panic::Location;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;

    use super::clock::Clock;
    use super::Source;
    use crate::scheduler::context;
    use crate::task::Id;

    /// One scheduling event. `task` is always the id of the task the event is about.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Event {
        /// A task was spawned.
        Spawn {
            /// The spawning task (None outside a task, e.g. directly in `block_on`).
            parent: Option<Id>,
            /// The new task.
            task: Id,
            /// True if it is polled inline now.
            inline: bool,
            /// Where `spawn` was called (the caller of the public spawn function).
            site: &'static Location<'static>,
        },
        /// An inline poll (eager spawn or await-inlining) starts.
        InlinePollStart {
            /// The task polled inline.
            task: Id,
            /// Nesting depth (1 = child of the tick's task).
            depth: u32,
        },
        /// An inline poll returned.
        InlinePollEnd {
            /// The task polled inline.
            task: Id,
            /// Nesting depth.
            depth: u32,
        },
        /// A task was taken from a queue: this starts a tick.
        QueuePop {
            /// The popped task (the entry may be stale and skipped).
            task: Id,
            /// Which queue.
            source: Source,
        },
        /// The poll a [`QueuePop`](Event::QueuePop) started is over (the tick's end).
        PollEnd {
            /// The popped task.
            task: Id,
        },
        /// A `block_on` thread starts polling its future: this starts a tick.
        BlockOnPollStart,
        /// That poll returned.
        BlockOnPollEnd,
        /// A waker was woken.
        Wake {
            /// The woken task.
            task: Id,
        },
        /// A task was pushed to a run queue.
        Schedule {
            /// The queued task.
            task: Id,
            /// True for the shared injector, false for the worker's local deque.
            injector: bool,
        },
        /// A task completed (output, panic or cancellation stored).
        Complete {
            /// The completed task.
            task: Id,
        },
        /// A task was cancelled.
        Cancel {
            /// The cancelled task.
            task: Id,
        },
        /// The worker parks.
        Park,
        /// A worker is woken to look for work.
        Unpark {
            /// The woken worker's index.
            worker: usize,
        },
        /// A woken task was put in this worker's next-task slot (it runs before the local
        /// deque, bound F9). A task it displaced moves to the deque (a `SlotMove`).
        SlotPut {
            /// The task put in the slot.
            task: Id,
        },
        /// The entry in this worker's next-task slot moved to the back of its deque (displaced
        /// by a newer wake, past the cap of slot polls, after the coop budget was spent, or
        /// ahead of a yield). The entry may be stale (its task already ran elsewhere).
        SlotMove {
            /// The task of the moved entry.
            task: Id,
        },
        /// This worker took `task` from another worker's queue: recorded just before the
        /// `QueuePop` with `Source::Steal` of the same task.
        StealFrom {
            /// The stolen task.
            task: Id,
            /// The worker it was taken from.
            victim: usize,
            /// True if it was taken from the victim's next-task slot, false for its deque.
            slot: bool,
        },
        /// A batch steal moved `task` from another queue to the back of this worker's deque
        /// (one event per moved task, in deque order, right after the batch).
        BatchMove {
            /// The moved task.
            task: Id,
            /// The worker whose deque it left, or `None` for the injector.
            from: Option<usize>,
        },
        /// The worker gave the driver (I/O and timers) a non-blocking turn, or found another
        /// thread holding it (`busy`: that thread is turning it). Tasks deferred by
        /// `yield_now` on this worker are queued right after.
        DriverTurn {
            /// True if another thread held the driver.
            busy: bool,
        },
        /// `yield_now` deferred `task`: it is queued again after the worker's next driver
        /// turn (bound F10).
        YieldDefer {
            /// The yielding task.
            task: Id,
        },
    }

    /// An event with where and when it happened.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Record {
        /// The worker index, or `None` for a thread inside `block_on`.
        pub worker: Option<usize>,
        /// A small number naming the OS thread (unique in the process, from 1): tells
        /// `block_on` threads apart.
        pub thread: u32,
        /// The tick count of that thread when the event happened.
        pub tick: u64,
        /// Nanoseconds since the runtime was built (see the module docs for the clock).
        pub ts: u64,
        /// What happened.
        pub event: Event,
    }

    /// One buffer per worker, plus one for `block_on` threads.
    pub(crate) struct Buffers {
        clock: Clock,
        workers: Box<[Mutex<Vec<Record>>]>,
        external: Mutex<Vec<Record>>,
    }

    impl Buffers {
        pub(crate) fn new(n: usize) -> Buffers {
            Buffers {
                clock: Clock::new(),
                workers: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
                external: Mutex::new(Vec::new()),
            }
        }

        fn slot(&self, worker: Option<usize>) -> &Mutex<Vec<Record>> {
            worker.map_or(&self.external, |i| &self.workers[i])
        }

        /// Takes every record, worker by worker, then the `block_on` threads'.
        pub(crate) fn take(&self) -> Vec<Record> {
            let mut all = Vec::new();
            for b in self.workers.iter().chain(std::iter::once(&self.external)) {
                all.append(&mut b.lock().unwrap_or_else(|e| e.into_inner()));
            }
            let to_ns = self.clock.to_ns();
            for r in &mut all {
                r.ts = to_ns(r.ts);
            }
            all
        }
    }

    /// This thread's number for [`Record::thread`], assigned on its first record.
    fn thread_number() -> u32 {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        thread_local! {
            static THREAD: Cell<u32> = const { Cell::new(0) };
        }
        THREAD.with(|t| match t.get() {
            0 => {
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                t.set(n);
                n
            }
            n => n,
        })
    }

    pub(crate) fn record(event: Event) {
        context::with_current(|ctx| {
            if let Some(ctx) = ctx {
                let trace = &ctx.shared().trace;
                let record = Record {
                    worker: ctx.worker,
                    thread: thread_number(),
                    tick: ctx.tick.get(),
                    // Raw until `take` converts it.
                    ts: trace.clock.now(),
                    event,
                };
                let buf = trace.slot(ctx.worker);
                buf.lock().unwrap_or_else(|e| e.into_inner()).push(record);
            }
        })
    }
}

#[cfg(feature = "trace")]
macro_rules! hook {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),*) => $event:expr) => {
        $(#[$m])*
        pub(crate) fn $name($($arg: $ty),*) {
            imp::record($event)
        }
    };
}

#[cfg(not(feature = "trace"))]
macro_rules! hook {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),*) => $event:expr) => {
        $(#[$m])*
        #[inline(always)]
        pub(crate) fn $name($($arg: $ty),*) {
            let _ = ($($arg,)*);
        }
    };
}

hook!(
    /// A spawn (`inline`: polled now) called at `site`.
    fn spawn(task: Id, inline: bool, site: &'static Location<'static>) => imp::Event::Spawn {
        parent: crate::task::try_id(),
        task,
        inline,
        site,
    }
);
hook!(
    /// An inline poll starts.
    fn inline_poll_start(task: Id) => imp::Event::InlinePollStart {
        task,
        depth: crate::scheduler::context::inline_depth(),
    }
);
hook!(
    /// An inline poll ends.
    fn inline_poll_end(task: Id) => imp::Event::InlinePollEnd {
        task,
        depth: crate::scheduler::context::inline_depth(),
    }
);
hook!(
    /// A queue pop (a tick).
    fn queue_pop(task: Id, source: Source) => imp::Event::QueuePop { task, source }
);
hook!(
    /// The end of the poll a queue pop started.
    fn poll_end(task: Id) => imp::Event::PollEnd { task }
);
hook!(
    /// A `block_on` thread starts a poll of its future.
    fn block_on_poll_start() => imp::Event::BlockOnPollStart
);
hook!(
    /// A `block_on` poll returned.
    fn block_on_poll_end() => imp::Event::BlockOnPollEnd
);
hook!(
    /// A wake.
    fn wake(task: Id) => imp::Event::Wake { task }
);
hook!(
    /// A push to a run queue.
    fn schedule(task: Id, injector: bool) => imp::Event::Schedule { task, injector }
);
hook!(
    /// A completion.
    fn complete(task: Id) => imp::Event::Complete { task }
);
hook!(
    /// A cancellation.
    fn cancel(task: Id) => imp::Event::Cancel { task }
);
hook!(
    /// The worker parks.
    fn park() => imp::Event::Park
);
hook!(
    /// A worker is woken.
    fn unpark(worker: usize) => imp::Event::Unpark { worker }
);
hook!(
    /// A woken task was put in the worker's next-task slot.
    fn slot_put(task: Id) => imp::Event::SlotPut { task }
);
hook!(
    /// The slot's entry moved to the back of the deque.
    fn slot_move(task: Id) => imp::Event::SlotMove { task }
);
hook!(
    /// A task taken from another worker's deque or slot.
    fn steal_from(task: Id, victim: usize, slot: bool) => imp::Event::StealFrom { task, victim, slot }
);
hook!(
    /// A task moved by a batch steal into this worker's deque (only called with the feature:
    /// finding the moved tasks costs a pass over the deque).
    #[cfg_attr(not(feature = "trace"), allow(dead_code))]
    fn batch_move(task: Id, from: Option<usize>) => imp::Event::BatchMove { task, from }
);
hook!(
    /// A non-blocking driver turn (or the driver found busy).
    fn driver_turn(busy: bool) => imp::Event::DriverTurn { busy }
);
hook!(
    /// `yield_now` deferred a task until the next driver turn.
    fn yield_defer(task: Id) => imp::Event::YieldDefer { task }
);
