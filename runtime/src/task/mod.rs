//! Tasks: spawning, joining, ids, and yielding.
//!
//! The unsafe core is `raw.rs` (one allocation per task) driven by `state.rs` (the atomic state
//! word) and `harness.rs` (the type-erased run steps). The core is generic over `Schedule`
//! (`schedule.rs`) and never names the runtime's scheduler, so the loom models drive the very
//! same code with a scheduler of their own. The public `spawn*` functions are in `spawn.rs`;
//! the eager policy that decides where a spawned task is first polled lives in
//! `scheduler/eager.rs`.

pub(crate) mod alloc;
mod block_in_place;
mod budget;
pub(crate) mod error;
mod group;
pub(crate) mod harness;
pub(crate) mod join;
mod local;
pub(crate) mod owned;
pub(crate) mod raw;
pub(crate) mod schedule;
mod spawn;
pub(crate) mod state;
mod yield_now;

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::blocking::spawn_blocking;
pub use block_in_place::block_in_place;
pub use budget::{consume_budget, unconstrained, Unconstrained};
pub use error::JoinError;
pub use group::TaskGroup;

/// tokio's name for [`TaskGroup`], so that code migrating from `tokio::task::JoinSet` compiles
/// unchanged: the same type, with the same methods (children start eagerly).
pub type JoinSet<T> = TaskGroup<T>;
pub use join::{AbortHandle, JoinHandle};
pub use local::{spawn_local, LocalSet, RunUntil};
pub use spawn::{spawn, spawn_eager, spawn_lazy};
pub use yield_now::yield_now;

/// A task's id: unique among the tasks of the process while it runs.
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// rt.block_on(async {
///     let handle = brisk::spawn(async { brisk::task::id() });
///     let id = handle.id();
///     assert_eq!(handle.await.unwrap(), id);
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    /// Takes the next id. Ids come from a per-thread block so that spawning does not contend on
    /// one shared counter.
    pub(crate) fn next() -> Id {
        const BLOCK: u64 = 1024;
        static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
        thread_local! {
            static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        RANGE.with(|r| {
            let (mut next, mut end) = r.get();
            if next == end {
                next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
                end = next + BLOCK;
            }
            r.set((next + 1, end));
            Id(NonZeroU64::new(next).expect("brisk: task ids start at 1"))
        })
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The id of the task being polled on this thread.
///
/// During an eager inline poll this is the child's id, and the parent's again once the inline
/// poll returns. It is also the task's id while its future or output is dropped (cancelled,
/// completed, or dropped with its `JoinHandle`) and inside a
/// [`spawn_blocking`] closure.
///
/// # Panics
/// If called outside a task (use [`try_id`] to get an `Option`).
#[track_caller]
pub fn id() -> Id {
    match try_id() {
        Some(id) => id,
        None => panic!("brisk::task::id() called outside of a task"),
    }
}

/// The id of the task being polled on this thread, or `None` outside a task.
pub fn try_id() -> Option<Id> {
    CURRENT_TASK.try_with(Cell::get).ok().flatten()
}

thread_local! {
    static CURRENT_TASK: Cell<Option<Id>> = const { Cell::new(None) };
}

/// `catch_unwind` around user code that the task core calls (a poll, a drop, a waker). Under
/// loom it catches nothing: a failure loom reports (as a panic) inside such code must reach the
/// model, and the models run no panicking user code.
#[inline(always)]
pub(crate) fn catch_user_panic<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    #[cfg(not(loom))]
    return std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    #[cfg(loom)]
    return Ok(f());
}

/// Makes `id` the current task id until the guard drops (then the previous one again).
pub(crate) fn enter_task(id: Id) -> TaskIdGuard {
    TaskIdGuard {
        prev: CURRENT_TASK
            .try_with(|t| t.replace(Some(id)))
            .ok()
            .flatten(),
    }
}

/// Restores the previous task id.
#[must_use]
pub(crate) struct TaskIdGuard {
    prev: Option<Id>,
}

impl Drop for TaskIdGuard {
    fn drop(&mut self) {
        let _ = CURRENT_TASK.try_with(|t| t.set(self.prev));
    }
}
