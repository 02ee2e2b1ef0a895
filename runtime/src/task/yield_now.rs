//! `yield_now`: give the worker to other tasks once.
//!
//! Invariant (bound F10, `docs/FAIRNESS.md`): on a worker thread the yielding task is not
//! queued at once: its waker is deferred until the worker's next driver turn, so a task that
//! yields in a loop lets I/O and timers be polled between its polls. Elsewhere (a `block_on`
//! thread) it is woken at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields once to the scheduler: the current task is queued behind the tasks already waiting on
/// this worker and polled again later, after the worker has polled I/O and timers once (so
/// readiness found by that turn runs first).
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// rt.block_on(async {
///     brisk::task::yield_now().await;
/// });
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        if crate::scheduler::worker::defer_yield(cx.waker()) {
            if let Some(id) = crate::task::try_id() {
                crate::trace::yield_defer(id);
            }
        } else {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}
