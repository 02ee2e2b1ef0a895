//! Tasks: spawning, joining, ids, and yielding.
//!
//! The unsafe core is `raw.rs` (one allocation per task) driven by `state.rs` (the atomic state
//! word) and `harness.rs` (the type-erased run steps). The eager policy that decides where a
//! spawned task is first polled lives in `scheduler/eager.rs`.

mod alloc;
pub(crate) mod error;
mod group;
pub(crate) mod harness;
pub(crate) mod join;
pub(crate) mod owned;
pub(crate) mod raw;
pub(crate) mod state;
mod yield_now;

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::blocking::spawn_blocking;
pub use crate::scheduler::eager::{spawn, spawn_eager, spawn_lazy};
pub use error::JoinError;
pub use group::TaskGroup;
pub use join::{AbortHandle, JoinHandle};
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
/// poll returns.
///
/// # Panics
/// If called outside a task (use [`try_id`] to get an `Option`).
pub fn id() -> Id {
    try_id().expect("brisk::task::id() called outside of a task")
}

/// The id of the task being polled on this thread, or `None` outside a task.
pub fn try_id() -> Option<Id> {
    crate::scheduler::context::current_task()
}
