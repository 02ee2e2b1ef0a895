//! Time: sleeping, timeouts and intervals, on a hierarchical timing wheel.
//!
//! Timers live in the runtime's timing wheel (6 levels × 64 slots, 1 ms resolution; O(1)
//! insert and cancel), turned by the worker that drives the reactor: it sleeps in the reactor
//! until the next deadline, and busy workers advance the wheel every `event_interval` ticks.
//! A sleep never completes before its deadline; dropping a [`Sleep`] removes its entry.
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

pub(crate) mod driver;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod wheel;

pub use interval::{interval, interval_at, Interval};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, Timeout};

/// A point in time: brisk uses `std::time::Instant` directly.
pub type Instant = std::time::Instant;

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
pub(crate) fn far_deadline(now: Instant, d: std::time::Duration) -> Instant {
    now.checked_add(d).unwrap_or_else(|| {
        // About 30 years: beyond any wheel range, far enough to mean "never".
        now + std::time::Duration::from_secs(86_400 * 365 * 30)
    })
}
