//! Cooperative scheduling budget (bound F7).
//!
//! A task that keeps finding its sockets ready would never return `Pending` and could
//! hold its worker thread forever. To prevent that, the runtime gives each scheduler
//! tick a budget ([`DEFAULT_BUDGET`] operations) with [`set_budget`]; every I/O, timer
//! and join poll calls [`poll_proceed`] first, which spends one unit, and once the
//! budget is spent answers `Pending` after waking the task, so the task goes back to
//! its run queue and other tasks get a turn. Each tick (one poll of a queued task or of a
//! `block_on` future) starts with [`DEFAULT_BUDGET`]; eager inline polls run inside their parent's
//! tick and spend the same budget. Join, timer and I/O polls all spend this one budget.
//!
//! # Invariants
//!
//! * The budget is per thread. Outside a runtime it is `None` (unconstrained), so code
//!   driven by a plain executor is never throttled.
//! * `poll_proceed` never returns `Pending` without first waking the task's waker: a
//!   task throttled by the budget is always rescheduled.
//! * A `Some(0)` budget stays at zero until the runtime sets a new one.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Budget for one scheduler tick (like tokio's coop budget).
pub(crate) const DEFAULT_BUDGET: u32 = 128;

thread_local! {
    static BUDGET: Cell<Option<u32>> = const { Cell::new(None) };
}

/// Sets this thread's remaining budget (None = unconstrained, which is the state outside a runtime).
pub(crate) fn set_budget(b: Option<u32>) {
    // If the thread-local is already destroyed (thread exit), there is nothing to set.
    let _ = BUDGET.try_with(|cell| cell.set(b));
}

/// Returns this thread's remaining budget (`None` = unconstrained).
pub(crate) fn budget() -> Option<u32> {
    BUDGET.try_with(Cell::get).unwrap_or(None)
}

/// Called by every I/O (and timer / join) poll before it tries an operation: if the budget is
/// `Some(0)` it wakes `cx.waker()` by ref and returns `Pending`; else it decrements (if `Some`)
/// and returns `Ready(())`.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    let spent = BUDGET
        .try_with(|cell| match cell.get() {
            Some(0) => true,
            Some(n) => {
                cell.set(Some(n - 1));
                false
            }
            None => false,
        })
        .unwrap_or(false);
    if spent {
        cx.waker().wake_by_ref();
        Poll::Pending
    } else {
        Poll::Ready(())
    }
}

/// Lifts this thread's budget (makes it unconstrained) until the guard drops, which restores
/// the budget it had before.
pub(crate) fn lift() -> Lifted {
    let saved = budget();
    set_budget(None);
    Lifted(saved)
}

/// The guard of [`lift`].
#[must_use]
pub(crate) struct Lifted(Option<u32>);

impl Drop for Lifted {
    fn drop(&mut self) {
        set_budget(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Waker;

    // The crate's one counting waker (`io/tests/support.rs`).
    use crate::io::tests::support::CountingWaker as Count;

    #[test]
    fn budget_counts_down_then_throttles() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);

        assert_eq!(budget(), None);
        assert!(poll_proceed(&mut cx).is_ready());
        assert_eq!(budget(), None);

        set_budget(Some(2));
        assert!(poll_proceed(&mut cx).is_ready());
        assert_eq!(budget(), Some(1));
        assert!(poll_proceed(&mut cx).is_ready());
        assert_eq!(budget(), Some(0));
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        assert!(poll_proceed(&mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(poll_proceed(&mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert_eq!(budget(), Some(0));

        set_budget(None);
        assert!(poll_proceed(&mut cx).is_ready());
    }
}
