//! The scheduling trace (cargo feature `trace`): what the real scheduler did, event by event,
//! so that tests can check the fairness bounds on it.
//!
//! Invariants: recording never changes a scheduling decision (it only appends to a buffer);
//! with the feature off every hook is an empty inline function. Each worker appends to its own
//! buffer, so a worker's events are in the order it performed them; threads inside `block_on`
//! share one more buffer. Events on threads outside the runtime (remote wakes) are not recorded.

use crate::task::Id;

/// Where a worker took a task from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Its own local deque.
    Local,
    /// The shared injector queue.
    Injector,
    /// Another worker's deque.
    Steal,
}

#[cfg(feature = "trace")]
pub(crate) use imp::Buffers;
#[cfg(feature = "trace")]
pub use imp::{Event, Record};

#[cfg(feature = "trace")]
mod imp {
    use std::sync::Mutex;

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
    }

    /// An event with where and when it happened.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Record {
        /// The worker index, or `None` for a thread inside `block_on`.
        pub worker: Option<usize>,
        /// The tick count of that thread when the event happened.
        pub tick: u64,
        /// What happened.
        pub event: Event,
    }

    /// One buffer per worker, plus one for `block_on` threads.
    pub(crate) struct Buffers {
        workers: Box<[Mutex<Vec<Record>>]>,
        external: Mutex<Vec<Record>>,
    }

    impl Buffers {
        pub(crate) fn new(n: usize) -> Buffers {
            Buffers {
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
            all
        }
    }

    pub(crate) fn record(event: Event) {
        context::with_current(|ctx| {
            if let Some(ctx) = ctx {
                let record = Record {
                    worker: ctx.worker,
                    tick: ctx.tick.get(),
                    event,
                };
                let buf = ctx.shared().trace.slot(ctx.worker);
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
    /// A spawn (`inline`: polled now).
    fn spawn(task: Id, inline: bool) => imp::Event::Spawn {
        parent: crate::task::try_id(),
        task,
        inline,
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
