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
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::Arc;

use super::context::{self, Context};
use super::Shared;
use crate::builder::SpawnPolicy;
use crate::task::raw::{self, Header, TaskRef};
use crate::task::state::QUEUED_START;
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

/// Spawns on the current thread's runtime (`brisk::spawn` and its variants).
///
/// # Panics
/// Outside a brisk runtime, at the caller's line.
#[track_caller]
pub(crate) fn spawn_current<F>(future: F, mode: Mode) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let site = Location::caller();
    let spawned = context::with_current(|ctx| {
        let ctx = ctx?;
        let shared = ctx.shared().clone();
        Some(spawn_in(&shared, Some(ctx), Id::next(), future, mode, site))
    });
    match spawned {
        Some(handle) => handle,
        None => panic!(
            "brisk::spawn must be called from within a brisk runtime (a task or `block_on`); \
             use `Handle::spawn` from other threads"
        ),
    }
}

/// Spawns onto `shared` from any thread (used by `Handle::spawn` and `spawn_blocking`).
#[track_caller]
pub(crate) fn spawn_on<F>(
    shared: &Arc<Shared>,
    id: Id,
    future: F,
    mode: Mode,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let site = Location::caller();
    context::with_runtime(shared, |ctx| spawn_in(shared, ctx, id, future, mode, site))
}

/// The decision. `ctx` is `Some` only if this thread runs `shared`'s tasks.
fn spawn_in<F>(
    shared: &Arc<Shared>,
    ctx: Option<&Context>,
    id: Id,
    future: F,
    mode: Mode,
    site: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
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
            let (ptr, finished) = harness::spawn_inline(shared, id, future);
            drop(slot);
            if finished {
                ctx.count(|m| &m.eager_completed);
            } else {
                ctx.count(|m| &m.eager_suspended);
            }
            // SAFETY: `spawn_inline` returns the handle's reference; the output type is
            // F::Output.
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

/// Await-inlining: if this thread runs the task's runtime under the eager policy and the
/// budget and depth allow, claims the queued task `ptr` and polls it here. True if it did
/// (the task may still be pending afterwards).
pub(crate) fn inline_await(ptr: NonNull<Header>) -> bool {
    // SAFETY: the caller (a JoinHandle) holds a reference.
    let header = unsafe { ptr.as_ref() };
    context::with_current(|ctx| {
        let Some(ctx) = ctx else { return false };
        let shared = ctx.shared();
        // Same runtime, so the task's scheduler type is `Arc<Shared>` (harness requirement).
        if !std::ptr::eq(Arc::as_ptr(shared).cast(), header.scheduler_id)
            || shared.config.spawn_policy != SpawnPolicy::Eager
        {
            return false;
        }
        let Some(_slot) = ctx.take_inline_slot() else {
            return false;
        };
        let ran = harness::claim_and_poll(shared, ptr);
        if ran {
            ctx.count(|m| &m.await_inlined);
        }
        ran
    })
}
