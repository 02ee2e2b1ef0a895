//! `Interval`: ticks at a fixed period, with a choice of what to do about missed ticks.
//!
//! Invariants: `sleep`'s deadline is the instant of the next tick; a tick is delivered only
//! once that instant has passed by the runtime's clock, and returns that instant. The next
//! deadline is computed from the delivered one (and, when the tick was missed by more than
//! [`MISSED_TOLERANCE`], from the time of delivery according to [`MissedTickBehavior`]).

use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{far_deadline, sleep_until, Instant, Sleep};

/// A tick delivered at most this late counts as on time, whatever the missed-tick behaviour.
const MISSED_TOLERANCE: Duration = Duration::from_millis(5);

/// Ticks every `period`; the first tick completes at once. Missed ticks are delivered as a
/// burst to catch up with the schedule unless [`Interval::set_missed_tick_behavior`] says
/// otherwise.
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
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when a tick is delivered late (by more than a few milliseconds),
/// because the task was busy or the runtime overloaded. Say the period is 50 ms and the tick
/// due at 150 ms is only taken at 230 ms:
///
/// ```
/// use std::time::Duration;
/// use brisk::time::{Instant, MissedTickBehavior};
///
/// let rt = brisk::Builder::new().start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let ms = Duration::from_millis;
///     for (behavior, expected) in [
///         (MissedTickBehavior::Burst, [150, 200, 250]),
///         (MissedTickBehavior::Delay, [150, 280, 330]),
///         (MissedTickBehavior::Skip, [150, 250, 300]),
///     ] {
///         let start = Instant::now();
///         let mut every = brisk::time::interval_at(start + ms(50), ms(50));
///         every.set_missed_tick_behavior(behavior);
///         every.tick().await; // at 50 ms
///         every.tick().await; // at 100 ms
///         brisk::time::advance(ms(130)).await; // now 230 ms: busy
///         for want in expected {
///             let tick = every.tick().await;
///             assert_eq!(tick - start, ms(want), "{behavior:?}");
///         }
///     }
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Deliver the missed ticks at once, one per `tick()`, until the schedule is caught up;
    /// the schedule itself never moves (the default).
    #[default]
    Burst,
    /// Deliver one late tick, then restart the schedule: the next tick is a whole period after
    /// the late one was taken.
    Delay,
    /// Deliver one late tick, then skip the missed ones: the next tick is the next instant of
    /// the original schedule after the late one was taken.
    Skip,
}

impl MissedTickBehavior {
    /// The next deadline after the tick due at `due` was taken late, at `now`.
    fn next(self, due: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => far_deadline(due, period),
            MissedTickBehavior::Delay => far_deadline(now, period),
            MissedTickBehavior::Skip => {
                let late = now.saturating_duration_since(due).as_nanos();
                let into_period = late % period.as_nanos();
                // `into_period < period`, so it fits a `Duration` built from `period`'s range.
                let into_period = Duration::from_nanos(u64::try_from(into_period).unwrap_or(0));
                far_deadline(now, period - into_period)
            }
        }
    }
}

/// The stream of ticks of [`interval`].
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
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
                let due = self.sleep.deadline();
                let now = Instant::now();
                let next = if now.saturating_duration_since(due) > MISSED_TOLERANCE {
                    self.missed_tick_behavior.next(due, now, self.period)
                } else {
                    far_deadline(due, self.period)
                };
                // Ready deregistered the sleep: this sets the deadline without waking anyone.
                self.sleep.reset(next);
                Poll::Ready(due)
            }
        }
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What happens to missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets what happens to missed ticks (from the next late tick on).
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(far_deadline(Instant::now(), self.period));
    }

    /// Restarts the schedule: the next tick completes at once, the ones after it a period
    /// apart.
    pub fn reset_immediately(&mut self) {
        self.sleep.reset(Instant::now());
    }

    /// Restarts the schedule: the next tick is `after` from now, the ones after it a period
    /// apart.
    pub fn reset_after(&mut self, after: Duration) {
        self.sleep.reset(far_deadline(Instant::now(), after));
    }

    /// Restarts the schedule: the next tick is at `deadline`, the ones after it a period
    /// apart.
    pub fn reset_at(&mut self, deadline: Instant) {
        self.sleep.reset(deadline);
    }
}
