//! Time: sleeping, timeouts and intervals, on a hierarchical timing wheel.
//!
//! Timers live in the runtime's timing wheel (6 levels × 64 slots, 1 µs resolution; O(1)
//! insert and cancel), turned by the worker that drives the reactor: it sleeps in the reactor
//! until the next deadline (to the microsecond, through a timerfd on Linux), and busy workers
//! advance the wheel every `event_interval` ticks. A sleep never completes before its
//! deadline; dropping a [`Sleep`] removes its entry.
//!
//! Time can be paused for tests ([`pause`], [`resume`], [`advance`], `Builder::start_paused`,
//! `#[brisk::test(start_paused = true)]`): [`Instant::now`] then reads the runtime's paused
//! clock, and when every worker is idle the clock jumps to the next timer.
//!
//! ```
//! use std::time::Duration;
//!
//! let rt = brisk::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let start = brisk::time::Instant::now();
//!     brisk::time::sleep(Duration::from_millis(5)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(5));
//!
//!     let slow = brisk::time::sleep(Duration::from_secs(60));
//!     let r = brisk::time::timeout(Duration::from_millis(1), slow).await;
//!     assert!(r.is_err());
//! });
//! ```

pub(crate) mod clock;
pub(crate) mod driver;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod wheel;

pub use clock::Instant;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Timeout};

use std::time::Duration;

/// The current runtime's shared state, for the clock functions.
#[track_caller]
fn current(what: &str) -> std::sync::Arc<crate::scheduler::Shared> {
    match crate::Handle::try_current() {
        Some(handle) => handle.shared,
        None => panic!("brisk::time::{what} must be called from within a brisk runtime"),
    }
}

/// Pauses the current runtime's clock: [`Instant::now`] stops, and timers fire only when
/// [`advance`] moves the clock or, while every worker is idle and no `block_on` future is
/// being polled, when the runtime jumps the clock to the next timer (auto-advance). For tests
/// of time-dependent code; see also `Builder::start_paused` and
/// `#[brisk::test(start_paused = true)]`.
///
/// ```
/// use std::time::Duration;
/// let rt = brisk::Runtime::new().unwrap();
/// rt.block_on(async {
///     brisk::time::pause();
///     let start = brisk::time::Instant::now();
///     brisk::time::advance(Duration::from_secs(5)).await;
///     assert_eq!(start.elapsed(), Duration::from_secs(5));
/// });
/// ```
///
/// # Panics
/// Outside a brisk runtime, or if time is already paused.
#[track_caller]
pub fn pause() {
    current("pause").driver.time.clock().pause();
}

/// Lets the current runtime's clock run again, from the time it was paused at (plus every
/// advance).
///
/// # Panics
/// Outside a brisk runtime, or if time is not paused.
#[track_caller]
pub fn resume() {
    let shared = current("resume");
    shared.driver.time.clock().resume();
    // The driving worker may sleep without a timeout while paused: let it re-arm one.
    shared.driver.unpark();
}

/// Moves paused time forward by `duration` at once, fires every timer that is then due (their
/// tasks are woken before this returns), and yields once so that woken tasks can run.
///
/// ```
/// use std::time::Duration;
/// let rt = brisk::Builder::new().start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let sleep = brisk::time::sleep(Duration::from_millis(10));
///     brisk::time::advance(Duration::from_millis(9)).await;
///     assert!(!sleep.is_elapsed());
///     brisk::time::advance(Duration::from_millis(1)).await;
///     assert!(sleep.is_elapsed());
/// });
/// ```
///
/// # Panics
/// Outside a brisk runtime, or if time is not paused.
#[track_caller]
pub fn advance(duration: Duration) -> impl std::future::Future<Output = ()> {
    let shared = current("advance");
    shared.driver.time.clock().advance(duration);
    shared.driver.time.process();
    crate::task::yield_now()
}

/// Errors of the time module.
pub mod error {
    use std::fmt;

    /// The error of [`timeout`](super::timeout): the deadline passed before the future completed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Elapsed(pub(super) ());

    impl fmt::Display for Elapsed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("deadline has elapsed")
        }
    }

    impl std::error::Error for Elapsed {}

    impl From<Elapsed> for std::io::Error {
        fn from(_: Elapsed) -> std::io::Error {
            std::io::ErrorKind::TimedOut.into()
        }
    }
}

/// `now + d`, saturating at a far-future instant instead of overflowing.
pub(crate) fn far_deadline(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or_else(|| {
        // About 30 years: beyond any wheel range, far enough to mean "never".
        now + Duration::from_secs(86_400 * 365 * 30)
    })
}
