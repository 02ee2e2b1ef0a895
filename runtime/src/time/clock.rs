//! The runtime's clock, which tests can pause and move by hand, and brisk's [`Instant`].
//!
//! Invariants:
//! - A clock that was never paused reads `std::time::Instant::now()` directly, without a lock.
//!   Once paused it reads `base` while paused and `base + unfrozen.elapsed()` after a resume, so
//!   its time never goes backwards and every [`advance`](Clock::advance) stays in its readings.
//! - [`Instant::now`] reads the clock of the runtime of the current thread once any clock of
//!   the process has been paused (`EVER_PAUSED`); before that it is `std`'s `Instant::now()`.
//! - Auto-advance (paused time jumping to the next timer) happens only when every worker is
//!   parked and no `block_on` thread is running (`busy` is 0), decided under the clock's lock: nothing could still create
//!   an earlier timer or observe the jump early.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Set once any runtime's clock has been paused; until then `Instant::now` skips the lookup.
static EVER_PAUSED: AtomicBool = AtomicBool::new(false);

/// A measurement of the runtime's monotonic clock, convertible to and from
/// `std::time::Instant`.
///
/// It is `std`'s instant, except that [`Instant::now`] inside a runtime whose time is paused
/// ([`pause`](crate::time::pause)) returns the paused time, so that code under test observes
/// [`advance`](crate::time::advance) the way its timers do.
///
/// ```
/// let std_now = std::time::Instant::now();
/// let now = brisk::time::Instant::from_std(std_now);
/// assert_eq!(now.into_std(), std_now);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    std: std::time::Instant,
}

impl Instant {
    /// The current time: the runtime's paused clock if this thread belongs to a runtime whose
    /// time has ever been paused, otherwise `std::time::Instant::now()`.
    pub fn now() -> Instant {
        if EVER_PAUSED.load(Ordering::Relaxed) {
            if let Some(now) = crate::scheduler::context::with_current(|ctx| {
                ctx.map(|c| c.shared().driver.time.clock().now())
            }) {
                return now;
            }
        }
        Instant::from_std(std::time::Instant::now())
    }

    /// Wraps a `std::time::Instant`.
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant { std }
    }

    /// The `std::time::Instant` of this instant.
    pub fn into_std(self) -> std::time::Instant {
        self.std
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// Time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.std.checked_duration_since(earlier.std)
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// Time since this instant, by [`Instant::now`] (so paused time counts as paused).
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self + duration`, or `None` on overflow.
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.std.checked_add(duration).map(Instant::from_std)
    }

    /// `self - duration`, or `None` on underflow.
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.std.checked_sub(duration).map(Instant::from_std)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Instant {
        Instant::from_std(std)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.into_std()
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        Instant::from_std(self.std + rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    fn sub(self, rhs: Duration) -> Instant {
        Instant::from_std(self.std - rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Saturates at zero, like [`Instant::duration_since`].
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}

/// The clock of one runtime; see the module docs.
pub(crate) struct Clock {
    /// True while paused; read without the lock on hot paths.
    paused: AtomicBool,
    /// True once paused at least once: readings then go through `inner`.
    was_paused: AtomicBool,
    inner: Mutex<Inner>,
    /// `block_on` threads running or woken right now (they inhibit auto-advance).
    busy: Arc<AtomicUsize>,
}

struct Inner {
    /// The time at the last pause, resume or advance.
    base: std::time::Instant,
    /// When the clock last resumed (`None` while paused).
    unfrozen: Option<std::time::Instant>,
}

impl Clock {
    /// A running clock, or a paused one if `start_paused`.
    pub(crate) fn new(start_paused: bool) -> Clock {
        let now = std::time::Instant::now();
        let clock = Clock {
            paused: AtomicBool::new(false),
            was_paused: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                base: now,
                unfrozen: Some(now),
            }),
            busy: Arc::new(AtomicUsize::new(0)),
        };
        if start_paused {
            clock.pause();
        }
        clock
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current time of this clock.
    pub(crate) fn now(&self) -> Instant {
        if !self.was_paused.load(Ordering::Acquire) {
            return Instant::from_std(std::time::Instant::now());
        }
        let inner = self.lock();
        let now = match inner.unfrozen {
            Some(unfrozen) => inner.base + unfrozen.elapsed(),
            None => inner.base,
        };
        Instant::from_std(now)
    }

    /// True while paused.
    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// Stops the clock at the current time. Panics if it is already paused.
    pub(crate) fn pause(&self) {
        let mut inner = self.lock();
        let Some(unfrozen) = inner.unfrozen.take() else {
            drop(inner);
            panic!("brisk::time::pause: time is already paused");
        };
        inner.base += unfrozen.elapsed();
        EVER_PAUSED.store(true, Ordering::Relaxed);
        self.was_paused.store(true, Ordering::Release);
        self.paused.store(true, Ordering::Release);
    }

    /// Lets the clock run again from its paused time. Panics if it is not paused.
    pub(crate) fn resume(&self) {
        let mut inner = self.lock();
        if inner.unfrozen.is_some() {
            drop(inner);
            panic!("brisk::time::resume: time is not paused");
        }
        inner.unfrozen = Some(std::time::Instant::now());
        self.paused.store(false, Ordering::Release);
    }

    /// Moves paused time forward by `duration`. Panics if time is not paused.
    pub(crate) fn advance(&self, duration: Duration) {
        let mut inner = self.lock();
        if inner.unfrozen.is_some() {
            drop(inner);
            panic!("brisk::time::advance: time is not paused (call brisk::time::pause first)");
        }
        inner.base += duration;
    }

    /// Auto-advance: if time is paused and no `block_on` thread runs, moves it forward to
    /// `next()` (the next timer) if that is later; true if it moved. Decided under the clock's
    /// lock, which [`busy`](Self::busy) also takes, so a `block_on` thread that starts running
    /// either sees the jump done or prevents it, never sees it happen while it runs.
    pub(crate) fn auto_advance(&self, next: impl FnOnce() -> Option<Instant>) -> bool {
        let mut inner = self.lock();
        if inner.unfrozen.is_some() || self.busy.load(Ordering::SeqCst) != 0 {
            return false;
        }
        match next() {
            Some(to) if to.into_std() > inner.base => {
                inner.base = to.into_std();
                true
            }
            _ => false,
        }
    }

    /// A `block_on` call starts running: no auto-advance until [`Clock::unbusy`]. Taken under
    /// the clock's lock, so it is ordered with every auto-advance decision.
    pub(crate) fn busy(&self) {
        let _inner = self.lock();
        self.busy.fetch_add(1, Ordering::SeqCst);
    }

    /// The count of running `block_on` threads, for their wakers: a sleeping `block_on`
    /// thread being woken is counted (incremented) by its waker before it can run. (Only a
    /// running thread wakes it, so no auto-advance decision falls in between.)
    pub(crate) fn busy_count(&self) -> Arc<AtomicUsize> {
        self.busy.clone()
    }

    /// The matching end of [`Clock::busy`] or of a waker's increment of [`Clock::busy_count`].
    pub(crate) fn unbusy(&self) {
        self.busy.fetch_sub(1, Ordering::SeqCst);
    }
}
