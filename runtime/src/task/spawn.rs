//! The public spawn functions. Where the new task is first polled (inline, now, or from a
//! queue) is the eager policy's decision: see `scheduler/eager.rs`.

use std::future::Future;

use super::JoinHandle;
use crate::scheduler::eager::{spawn_current, Mode};

/// Spawns a task on the current runtime, polling it at once when the eager policy allows.
///
/// `spawn` **may run the child before it returns**: with the default policy
/// ([`SpawnPolicy::Adaptive`](crate::SpawnPolicy::Adaptive)) the child's first poll happens
/// inside this call, on this thread, up to its first `.await` that has to wait (within the
/// runtime's eager budgets). Two hazards follow:
///
/// - **A lock held across `spawn`.** Holding a `std::sync::Mutex` (or `RwLock`, or any
///   blocking lock) guard across `spawn` while the child takes the same lock deadlocks this
///   thread: the child blocks inside `spawn`, the guard is never dropped. Drop the guard before
///   spawning, or use [`spawn_lazy`]. In debug builds brisk's stall report names this `spawn`
///   call's file and line on stderr after 1 s
///   ([`Builder::stall_threshold`](crate::Builder::stall_threshold)).
/// - **State set after `spawn`.** The child's first step (up to its first wait) has already
///   run when `spawn` returns, so it sees the state as it was *before* the call. Set what it
///   must see first, or use [`spawn_lazy`].
///
/// A child that computes for long without waiting also runs inside `spawn`, on this thread;
/// under `Adaptive` a call site whose children run long (~20 µs or more) is spawned lazily for
/// a while, so that other workers can steal its children.
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
