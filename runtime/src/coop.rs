//! The cooperative budget (bound F7): a task that keeps finding its operations ready must still
//! give its worker back.
//!
//! Invariants: each tick (one poll of a queued task or of a `block_on` future) starts with
//! [`DEFAULT_BUDGET`]; every join, I/O and timer poll spends one unit first; at zero the
//! operation wakes its task and returns `Pending` once, so the task goes to the back of the
//! queue. Eager inline polls run inside their parent's tick and spend the same budget. Outside
//! a runtime the budget is unconstrained.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Units of work per tick (the same unit tokio uses).
pub(crate) const DEFAULT_BUDGET: u32 = 128;

thread_local! {
    static BUDGET: Cell<Option<u32>> = const { Cell::new(None) };
}

/// Sets this thread's remaining budget (`None`: unconstrained).
pub(crate) fn set_budget(budget: Option<u32>) {
    BUDGET.with(|b| b.set(budget));
}

/// Spends one unit, or wakes the task and returns `Pending` when the budget is spent.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    BUDGET.with(|b| match b.get() {
        None => Poll::Ready(()),
        Some(0) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            b.set(Some(n - 1));
            Poll::Ready(())
        }
    })
}
