//! `Interval`: ticks at a fixed period.

use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{sleep_until, Instant, Sleep};

/// Ticks every `period`; the first tick completes at once (as tokio's does). Missed ticks are
/// delivered as a burst to catch up with the schedule.
///
/// ```
/// use std::time::Duration;
/// let rt = brisk::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut every = brisk::time::interval(Duration::from_millis(2));
///     let first = every.tick().await;
///     let second = every.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// ```
///
/// # Panics
/// If `period` is zero, or if called outside a brisk runtime.
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Like [`interval`], with the first tick at `start`.
///
/// # Panics
/// If `period` is zero, or if called outside a brisk runtime.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "brisk::time::interval: the period must be non-zero"
    );
    Interval {
        sleep: sleep_until(start),
        period,
    }
}

/// The stream of ticks of [`interval`].
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        match self.sleep.poll_elapsed(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let at = self.sleep.deadline();
                self.sleep.reset(super::far_deadline(at, self.period));
                Poll::Ready(at)
            }
        }
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep
            .reset(super::far_deadline(Instant::now(), self.period));
    }
}
