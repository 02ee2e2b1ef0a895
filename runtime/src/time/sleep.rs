//! `Sleep`: a future that completes at a deadline.
//!
//! Invariants: while `entry` is `Some`, the wheel holds an entry for `deadline` whose waker is
//! the one stored beside its key (until it fires); every path that forgets the entry cancels
//! it first. "Now" is always the runtime's clock, so paused time applies.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::driver::TimerKey;
use super::{far_deadline, Instant};
use crate::scheduler::Shared;
use crate::Handle;

/// Waits until `duration` has elapsed. `Duration::ZERO` completes on the first poll; very
/// long durations (years) are fine.
///
/// # Panics
/// If called outside a brisk runtime.
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let handle = Handle::try_current().expect(
        "brisk::time::sleep must be called from within a brisk runtime (a task or block_on)",
    );
    let now = handle.shared.driver.time.clock().now();
    Sleep {
        deadline: far_deadline(now, duration),
        shared: handle.shared,
        entry: None,
    }
}

/// Waits until `deadline`.
///
/// # Panics
/// If called outside a brisk runtime.
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    let handle = Handle::try_current().expect(
        "brisk::time::sleep must be called from within a brisk runtime (a task or block_on)",
    );
    Sleep {
        deadline,
        shared: handle.shared,
        entry: None,
    }
}

/// The future of [`sleep`] and [`sleep_until`]. Dropping it cancels its timer.
pub struct Sleep {
    deadline: Instant,
    shared: Arc<Shared>,
    /// The wheel entry and the waker it holds, while registered.
    entry: Option<(TimerKey, Waker)>,
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True if the deadline has passed (by the runtime's clock).
    pub fn is_elapsed(&self) -> bool {
        self.now() >= self.deadline
    }

    fn now(&self) -> Instant {
        self.shared.driver.time.clock().now()
    }

    /// Moves the deadline, whether or not this sleep has completed: it completes again at the
    /// new deadline (at once if that has passed). If it was registered, the task that last
    /// polled it is woken at the new deadline even without another poll, as with tokio.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = brisk::Builder::new().start_paused(true).build().unwrap();
    /// rt.block_on(async {
    ///     let start = brisk::time::Instant::now();
    ///     let mut sleep = brisk::time::sleep(Duration::from_millis(10));
    ///     (&mut sleep).await;
    ///     sleep.reset(brisk::time::Instant::now() + Duration::from_millis(5));
    ///     (&mut sleep).await;
    ///     assert_eq!(start.elapsed(), Duration::from_millis(15));
    /// });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        let waker = self.entry.take().and_then(|(key, waker)| {
            // Still registered (not fired): keep waking the same task at the new deadline.
            self.shared.driver.time.cancel(key).map(|_| waker)
        });
        self.deadline = deadline;
        if let Some(waker) = waker {
            self.register(waker);
        }
    }

    fn register(&mut self, waker: Waker) {
        let (key, interrupt) = self.shared.driver.time.insert(self.deadline, waker.clone());
        if interrupt {
            self.shared.driver.unpark();
        }
        self.entry = Some((key, waker));
    }

    fn deregister(&mut self) {
        if let Some((key, _)) = self.entry.take() {
            self.shared.driver.time.cancel(key);
        }
    }

    /// Polls the sleep (also usable without pinning: `Sleep` is `Unpin`).
    pub fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if crate::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        if self.now() >= self.deadline {
            self.deregister();
            return Poll::Ready(());
        }
        match &self.entry {
            // Registered with a waker that still wakes this task: the wheel will fire it.
            Some((_, w)) if w.will_wake(cx.waker()) => {
                // A spurious poll after the entry fired cannot happen before the deadline
                // (deadlines round up), so the entry is still in the wheel.
            }
            _ => {
                self.deregister();
                self.register(cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_elapsed(cx)
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.entry.is_some())
            .finish()
    }
}
