//! `timeout`: a future with a deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::error::Elapsed;
use super::{sleep, sleep_until, Instant, Sleep};

/// Runs `future` for at most `duration`: `Ok(output)` if it completes first, otherwise
/// `Err(Elapsed)` (and the future is dropped with the `Timeout`). A future that is ready at
/// once passes through even with `Duration::ZERO`.
///
/// ```
/// use std::time::Duration;
/// let rt = brisk::Runtime::new().unwrap();
/// rt.block_on(async {
///     assert_eq!(brisk::time::timeout(Duration::ZERO, async { 1 }).await, Ok(1));
/// });
/// ```
///
/// # Panics
/// If called outside a brisk runtime.
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// Runs `future` until `deadline`: `Ok(output)` if it completes first, otherwise
/// `Err(Elapsed)`. A future that is ready at once passes through even if `deadline` has
/// passed.
///
/// ```
/// use std::time::Duration;
/// let rt = brisk::Builder::new().start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let deadline = brisk::time::Instant::now() + Duration::from_secs(1);
///     let slow = brisk::time::sleep(Duration::from_secs(2));
///     assert!(brisk::time::timeout_at(deadline, slow).await.is_err());
///     assert_eq!(brisk::time::Instant::now(), deadline);
/// });
/// ```
///
/// # Panics
/// If called outside a brisk runtime.
#[track_caller]
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

/// The future of [`timeout`] and [`timeout_at`].
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The wrapped future, mutably.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// Unwraps the future.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of a pinned `Timeout`
        // (`into_inner` takes `self` by value, which requires `Timeout: Unpin` when pinned);
        // `sleep` is `Unpin` and not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(out) = future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        // A due deadline always wins, even when the future spent the whole coop budget (a
        // future that keeps finding ready resources): check it before the budgeted poll.
        if this.sleep.is_elapsed() {
            return Poll::Ready(Err(Elapsed(())));
        }
        match this.sleep.poll_elapsed(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("sleep", &self.sleep)
            .finish_non_exhaustive()
    }
}
