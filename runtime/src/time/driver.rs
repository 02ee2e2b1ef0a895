//! The timer driver: a timing wheel behind a lock, turned by whichever worker drives the
//! reactor.
//!
//! Invariants:
//! - Wheel time is whole milliseconds since `start`. A deadline is rounded *up* to the next
//!   millisecond and the wheel is advanced to the current time rounded *down*, so an entry fires
//!   only when `Instant::now() >= deadline`: a sleep never completes early.
//! - `parked_until` is the wheel time until which the driving worker sleeps in the reactor
//!   (`u64::MAX`: no timeout; 0: not parked). It is written and read under the wheel lock, so
//!   an insert either is seen by the parking worker's timeout or sees its sleep. Inserting an earlier deadline interrupts that sleep, so a new
//!   short timer is never delayed by an older long one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use super::wheel::{Key, Wheel};

/// The timers of one runtime.
pub(crate) struct TimeDriver {
    start: Instant,
    wheel: Mutex<Wheel<Waker>>,
    parked_until: AtomicU64,
}

impl TimeDriver {
    pub(crate) fn new() -> TimeDriver {
        TimeDriver {
            start: Instant::now(),
            wheel: Mutex::new(Wheel::new()),
            parked_until: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Wheel<Waker>> {
        self.wheel.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `deadline` in wheel milliseconds, rounded up (saturating for far-away deadlines).
    pub(crate) fn deadline_ms(&self, deadline: Instant) -> u64 {
        let d = deadline.saturating_duration_since(self.start);
        let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
        u64::try_from(ms).unwrap_or(u64::MAX / 2).min(u64::MAX / 2)
    }

    /// The current time in wheel milliseconds, rounded down.
    fn now_ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.start).as_millis()).unwrap_or(u64::MAX / 2)
    }

    /// Registers `waker` to be woken at `deadline`. Returns the key and whether the driving
    /// worker must be interrupted (its reactor sleep lasts past this deadline).
    pub(crate) fn insert(&self, deadline: Instant, waker: Waker) -> (Key, bool) {
        let ms = self.deadline_ms(deadline);
        let mut wheel = self.lock();
        let key = wheel.insert(ms, waker);
        let interrupt = ms < self.parked_until.load(Ordering::SeqCst);
        drop(wheel);
        (key, interrupt)
    }

    /// Removes a registration; its waker (if it had not fired) is dropped.
    pub(crate) fn cancel(&self, key: Key) -> Option<Waker> {
        self.lock().cancel(key)
    }

    /// Fires every timer due at `now`; returns how many.
    pub(crate) fn process(&self, now: Instant) -> usize {
        let mut due = Vec::new();
        self.lock().advance(self.now_ms(now), &mut |w| due.push(w));
        let n = due.len();
        for w in due {
            // A waker is user code: a panic in it must not unwind into the worker that turns
            // the driver, nor keep the other due timers from firing.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || w.wake()));
        }
        n
    }

    /// How long the driving worker may sleep in the reactor: until the next timer (None: no
    /// timer). Records that sleep so an earlier insert interrupts it.
    pub(crate) fn park_timeout(&self, now: Instant) -> Option<Duration> {
        let wheel = self.lock();
        let next = wheel.next_expiration();
        // Stored under the lock: an insert that the read above missed sees this value.
        self.parked_until
            .store(next.unwrap_or(u64::MAX), Ordering::SeqCst);
        drop(wheel);
        next.map(|ms| {
            let at = self.start + Duration::from_millis(ms);
            at.saturating_duration_since(now)
        })
    }

    /// The driving worker is awake again.
    pub(crate) fn unparked(&self) {
        self.parked_until.store(0, Ordering::SeqCst);
    }

    /// Number of registered timers.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}
