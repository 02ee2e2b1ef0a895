//! The public spawn functions. Where the new task is first polled (inline, now, or from a
//! queue) is the eager policy's decision: see `scheduler/eager.rs`.

use std::future::Future;

use super::JoinHandle;
use crate::scheduler::eager::{spawn_current, Mode};

/// Spawns a task on the current runtime, polling it at once when the eager policy allows.
///
/// `spawn` **may run the child before it returns**: with the default eager policy the child's
/// first poll happens inside this call, on this thread, up to its first `.await` that has to
/// wait. So do not hold a `std::sync::Mutex` guard across `spawn` if the child takes the same
/// lock (that deadlocks), and set any state the child's first step must see *before* spawning.
/// Use [`spawn_lazy`] for a call where the child must not run first.
///
/// Must be called from within a brisk runtime: on a worker thread, inside a task, or inside
/// [`Runtime::block_on`](crate::Runtime::block_on). From other threads use
/// [`Handle::spawn`](crate::Handle::spawn).
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// rt.block_on(async {
///     let handle = brisk::spawn(async { 1 + 1 });
///     // A ready future finished during `spawn` itself.
///     assert!(handle.is_finished());
///     assert_eq!(handle.await.unwrap(), 2);
/// });
/// ```
///
/// # Panics
/// If called outside a brisk runtime.
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_current(future, Mode::Policy)
}

/// Like [`spawn`], but polls inline (within budget and depth) even on a `Lazy` runtime.
///
/// # Panics
/// If called outside a brisk runtime.
#[track_caller]
pub fn spawn_eager<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_current(future, Mode::Eager)
}

/// Like [`spawn`], but never polls inline: the task is queued, as on tokio. Use it where the
/// child must not run before `spawn` returns (for instance while holding a `std::sync::Mutex`
/// the child also locks).
///
/// # Panics
/// If called outside a brisk runtime.
#[track_caller]
pub fn spawn_lazy<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_current(future, Mode::Lazy)
}
