//! The public face of the cooperative budget (`coop.rs`): [`consume_budget`] and
//! [`unconstrained`].
//!
//! Invariants: [`Unconstrained`] lifts the budget only for the duration of its inner poll and
//! restores the thread's previous budget afterwards, also when the inner poll panics; the
//! budget an inline child spends inside it is therefore not taken from the surrounding tick.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Spends one unit of the task's cooperative budget, and yields to the scheduler if it is
/// spent: the way for a loop that does not otherwise touch brisk's I/O, timers or join
/// handles to take its turn like one that does.
///
/// Each poll of a task gets a budget (128 units); every I/O, timer, join and group poll
/// spends one. Outside a runtime, and inside [`unconstrained`], this is free and never yields.
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     let mut sum = 0u64;
///     for i in 0..10_000u64 {
///         sum += i;
///         // Every 128 rounds this yields, so other tasks on this thread get a turn.
///         brisk::task::consume_budget().await;
///     }
///     sum
/// });
/// assert_eq!(sum, 49_995_000);
/// ```
pub async fn consume_budget() {
    poll_fn(crate::coop::poll_proceed).await
}

/// Runs `future` without the cooperative budget: inside it, I/O, timer, join and group polls
/// never yield because the budget is spent (tokio's `task::unconstrained`).
///
/// Use it sparingly: a future that keeps finding work ready can then hold its thread, and so
/// delay every other task queued there, for as long as it wants.
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// rt.block_on(brisk::task::unconstrained(async {
///     for _ in 0..1_000 {
///         // Never yields: the budget does not apply here.
///         brisk::task::consume_budget().await;
///     }
/// }));
/// ```
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

/// The future of [`unconstrained`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Unconstrained<F> {
    future: F,
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: `Unconstrained` never moves it or hands out
        // an unpinned `&mut F`, has no `Drop` impl, is not `repr(packed)`, and is `Unpin` only
        // when `F` is.
        let future = unsafe { self.map_unchecked_mut(|u| &mut u.future) };
        let _lifted = crate::coop::lift();
        future.poll(cx)
    }
}

impl<F> fmt::Debug for Unconstrained<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unconstrained").finish_non_exhaustive()
    }
}
