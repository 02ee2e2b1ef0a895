//! The timer driver: a timing wheel behind a lock, turned by whichever worker drives the
//! reactor, and the runtime's [`Clock`].
//!
//! Invariants:
//! - Wheel time is whole microseconds (ticks) since `start`, read from the runtime's clock. A
//!   deadline is rounded *up* to the next microsecond and the wheel is advanced to the current
//!   time rounded *down*, so an entry fires only when `clock.now() >= deadline`: a sleep never
//!   completes early (the wheel's own proof, `wheel.rs`, covers the rest).
//! - The driving worker sleeps until the wheel's next expiration converted back to an instant
//!   (rounded up, so it never wakes before a due tick), with sub-millisecond precision (see
//!   `scheduler/driver.rs`).
//! - `parked_until` is the wheel time until which the driving worker sleeps in the reactor
//!   (`u64::MAX`: no timeout; 0: not parked). It is written and read under the wheel lock, so
//!   an insert either is seen by the parking worker's timeout or sees its sleep. Inserting an
//!   earlier deadline interrupts that sleep, so a new short timer is never delayed by an older
//!   long one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use super::clock::{Clock, Instant};
use super::wheel::{Key, Wheel};

/// Nanoseconds per wheel tick.
const TICK_NS: u128 = 1_000;

/// The timers of one runtime.
pub(crate) struct TimeDriver {
    start: Instant,
    clock: Clock,
    wheel: Mutex<Wheel<Waker>>,
    parked_until: AtomicU64,
}

impl TimeDriver {
    pub(crate) fn new(start_paused: bool) -> TimeDriver {
        let clock = Clock::new(start_paused);
        TimeDriver {
            start: clock.now(),
            clock,
            wheel: Mutex::new(Wheel::new()),
            parked_until: AtomicU64::new(0),
        }
    }

    /// The runtime's clock.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    fn lock(&self) -> MutexGuard<'_, Wheel<Waker>> {
        self.wheel.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `deadline` in wheel ticks, rounded up (saturating for far-away deadlines).
    pub(crate) fn deadline_ticks(&self, deadline: Instant) -> u64 {
        let ns = deadline.saturating_duration_since(self.start).as_nanos();
        let ticks = ns.div_ceil(TICK_NS);
        u64::try_from(ticks)
            .unwrap_or(u64::MAX / 2)
            .min(u64::MAX / 2)
    }

    /// `now` in wheel ticks, rounded down.
    fn now_ticks(&self, now: Instant) -> u64 {
        let ns = now.saturating_duration_since(self.start).as_nanos();
        u64::try_from(ns / TICK_NS).unwrap_or(u64::MAX / 2)
    }

    /// The instant at which wheel time `ticks` begins.
    fn instant_of(&self, ticks: u64) -> Instant {
        super::far_deadline(self.start, Duration::from_micros(ticks))
    }

    /// Registers `waker` to be woken at `deadline`. Returns the key and whether the driving
    /// worker must be interrupted (its reactor sleep lasts past this deadline).
    pub(crate) fn insert(&self, deadline: Instant, waker: Waker) -> (Key, bool) {
        let ticks = self.deadline_ticks(deadline);
        let mut wheel = self.lock();
        let key = wheel.insert(ticks, waker);
        let interrupt = ticks < self.parked_until.load(Ordering::SeqCst);
        drop(wheel);
        (key, interrupt)
    }

    /// Removes a registration; its waker (if it had not fired) is returned.
    pub(crate) fn cancel(&self, key: Key) -> Option<Waker> {
        self.lock().cancel(key)
    }

    /// Fires every timer due at the clock's current time; returns how many.
    pub(crate) fn process(&self) -> usize {
        let now = self.now_ticks(self.clock.now());
        let mut due = Vec::new();
        self.lock().advance(now, &mut |w| due.push(w));
        let n = due.len();
        for w in due {
            // A waker is user code: a panic in it must not unwind into the worker that turns
            // the driver, nor keep the other due timers from firing.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || w.wake()));
        }
        n
    }

    /// The earliest instant at which a timer may be due (`None`: no timer). Never later than
    /// the earliest deadline.
    pub(crate) fn next_expiration(&self) -> Option<Instant> {
        let next = self.lock().next_expiration();
        next.map(|t| self.instant_of(t))
    }

    /// How long the driving worker may sleep in the reactor: until the next timer (None: no
    /// timer). Records that sleep so an earlier insert interrupts it.
    pub(crate) fn park_timeout(&self) -> Option<Duration> {
        let wheel = self.lock();
        let next = wheel.next_expiration();
        // Stored under the lock: an insert that the read above missed sees this value.
        self.parked_until
            .store(next.unwrap_or(u64::MAX), Ordering::SeqCst);
        drop(wheel);
        let now = self.clock.now();
        next.map(|t| self.instant_of(t).saturating_duration_since(now))
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
