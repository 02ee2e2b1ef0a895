//! The eager-first spawn policy, in one place.
//!
//! `spawn(fut)` on a thread that runs this runtime's tasks (a worker, or a thread inside
//! `block_on`) polls the new task at once, inline, when all of these hold:
//! 1. the policy asks for it: `SpawnPolicy::Eager` (the default) or `spawn_eager`, never
//!    `spawn_lazy`;
//! 2. the tick's `eager_budget` is not spent: at most `eager_budget` inline polls run between
//!    two queue pops of a worker (bound F2);
//! 3. the inline nesting depth is below `eager_depth` (bound F1): a child spawning a child
//!    spawning ... goes to the queue at that depth instead of growing the stack.
//!
//! Then:
//! - `Ready`: the output is stored and the `JoinHandle` is complete before `spawn` returns. No
//!   queue push, no wake-up of another worker, no lock, and (when no waker was cloned) not a
//!   single atomic read-modify-write. Counted in `eager_completed`.
//! - `Pending`: the task is handed to the runtime's owned list and waits for its own waker,
//!   like any suspended task. Counted in `eager_suspended`.
//!
//! Otherwise the task is pushed to the worker's local deque, where idle workers can steal it
//! (bound F8: eager work never piles up unstealable on the spawning worker once the budget is
//! spent). Counted in `eager_deferred` when it was eligible for an inline poll. Spawns from
//! other threads go to the injector.
//!
//! Await-inlining: awaiting the `JoinHandle` of a task that is queued but not running claims it
//! and polls it right there, under the same budget and depth, with `SpawnPolicy::Eager` only.
//! Its stale queue entry is skipped when popped. Counted in `await_inlined`.
//!
//! During an inline poll the current task id is the child's, then the parent's again; the coop
//! budget is not reset, so inline polls spend the budget of the tick they run in (bound F7).

use std::future::Future;
use std::ptr::NonNull;
use std::sync::Arc;

use super::context::{self, Context};
use super::Shared;
use crate::builder::SpawnPolicy;
use crate::task::raw::{self, Header, TaskRef};
use crate::task::state::{ToRunning, INLINE_START, QUEUED_START};
use crate::task::{harness, Id, JoinHandle};
use crate::trace;

/// How one spawn call asks to be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Follow the runtime's `SpawnPolicy`.
    Policy,
    /// Poll inline if budget and depth allow, whatever the policy.
    Eager,
    /// Never poll inline.
    Lazy,
}

/// Spawns a task on the current runtime, polling it at once when the eager policy allows.
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

#[track_caller]
fn spawn_current<F>(future: F, mode: Mode) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let site = std::panic::Location::caller();
    context::with_current(|ctx| match ctx {
        Some(ctx) => spawn_in(ctx.shared(), Some(ctx), future, mode, site),
        None => panic!(
            "brisk::spawn must be called from within a brisk runtime (a task or `block_on`); \
             use `Handle::spawn` from other threads"
        ),
    })
}

/// Spawns onto `shared` from any thread (used by `Handle::spawn` and `Runtime::spawn`).
#[track_caller]
pub(crate) fn spawn_on<F>(shared: &Arc<Shared>, future: F, mode: Mode) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let site = std::panic::Location::caller();
    context::with_runtime(shared, |ctx| spawn_in(shared, ctx, future, mode, site))
}

/// The decision. `ctx` is `Some` only if this thread runs `shared`'s tasks.
fn spawn_in<F>(
    shared: &Arc<Shared>,
    ctx: Option<&Context>,
    future: F,
    mode: Mode,
    site: &'static std::panic::Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let id = Id::next();
    let Some(ctx) = ctx else {
        shared.metrics.count(None, |m| &m.spawned);
        trace::spawn(id, false, site);
        let ptr = raw::allocate(future, id, QUEUED_START, shared);
        // SAFETY: QUEUED_START counted the entry's reference.
        shared.push_remote(unsafe { TaskRef::from_raw(ptr) });
        // SAFETY: QUEUED_START counted the handle's reference; the output type is F::Output.
        return unsafe { JoinHandle::from_raw(ptr) };
    };
    ctx.count(|m| &m.spawned);
    let eligible = match mode {
        Mode::Policy => shared.config.spawn_policy == SpawnPolicy::Eager,
        Mode::Eager => true,
        Mode::Lazy => false,
    };
    if eligible {
        if let Some(slot) = ctx.take_inline_slot() {
            trace::spawn(id, true, site);
            let ptr = raw::allocate(future, id, INLINE_START, shared);
            let finished = {
                let _task = context::enter_task(id);
                trace::inline_poll_start(id, slot.depth());
                // SAFETY: INLINE_START gives us RUNNING; we hold the owner reference.
                let finished = unsafe { raw::poll_future(ptr) };
                trace::inline_poll_end(id, slot.depth());
                finished
            };
            drop(slot);
            if finished {
                ctx.count(|m| &m.eager_completed);
                complete_inline(ptr);
            } else {
                ctx.count(|m| &m.eager_suspended);
                harness::suspend_inline(shared, ptr);
            }
            // SAFETY: INLINE_START counted the handle's reference; the output type is F::Output.
            return unsafe { JoinHandle::from_raw(ptr) };
        }
        ctx.count(|m| &m.eager_deferred);
    }
    trace::spawn(id, false, site);
    let ptr = raw::allocate(future, id, QUEUED_START, shared);
    // SAFETY: QUEUED_START counted the entry's reference.
    let entry = unsafe { TaskRef::from_raw(ptr) };
    match &ctx.local {
        Some(local) if !shared.is_shutdown() => {
            trace::schedule(id, false);
            local.push(entry);
            shared.notify_parked();
        }
        _ => shared.push_remote(entry),
    }
    // SAFETY: QUEUED_START counted the handle's reference; the output type is F::Output.
    unsafe { JoinHandle::from_raw(ptr) }
}

/// Completes a task that finished in its eager first poll (never registered: the caller
/// holds the implicit owner reference and the handle's).
fn complete_inline(ptr: NonNull<Header>) {
    // SAFETY: the caller holds references.
    let header = unsafe { ptr.as_ref() };
    if header.state.try_complete_unshared(header.state.load()) {
        // Nobody else ever saw the task: the owner reference was folded into the store.
        trace::complete(header.id);
    } else {
        harness::complete(ptr);
    }
}

/// Await-inlining: if this thread runs the task's runtime under the eager policy and the
/// budget and depth allow, claims the queued task `ptr` and polls it here. True if it did
/// (the task may still be pending afterwards).
pub(crate) fn inline_await(ptr: NonNull<Header>) -> bool {
    // SAFETY: the caller (a JoinHandle) holds a reference.
    let header = unsafe { ptr.as_ref() };
    context::with_current(|ctx| {
        let Some(ctx) = ctx else { return false };
        let shared = ctx.shared();
        if !std::ptr::eq(Arc::as_ptr(shared), header.runtime)
            || shared.config.spawn_policy != SpawnPolicy::Eager
        {
            return false;
        }
        let Some(slot) = ctx.take_inline_slot() else {
            return false;
        };
        match header.state.transition_to_running() {
            ToRunning::Skip => false,
            ToRunning::Cancel => {
                header.state.ref_inc();
                // SAFETY: we counted the reference the holder owns; we hold RUNNING.
                harness::cancel_and_complete(unsafe { TaskRef::from_raw(ptr) });
                true
            }
            ToRunning::Run => {
                ctx.count(|m| &m.await_inlined);
                header.state.ref_inc();
                trace::inline_poll_start(header.id, slot.depth());
                // SAFETY: we counted the reference the holder owns; we hold RUNNING.
                harness::poll_and_settle(shared, unsafe { TaskRef::from_raw(ptr) });
                trace::inline_poll_end(header.id, slot.depth());
                true
            }
        }
    })
}
