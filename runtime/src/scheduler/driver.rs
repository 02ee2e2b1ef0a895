//! The driver: the I/O reactor and the timers of one runtime, turned through one `park`.
//!
//! Invariants:
//! - At most one thread holds the driver at a time ([`Driver::try_lock`]); nobody ever blocks
//!   waiting for it. A worker that parks with it sleeps in the reactor until I/O, an
//!   [`unpark`](Driver::unpark), or the next timer deadline; busy workers turn it without
//!   blocking every `event_interval` ticks.
//! - Every turn fires the timers that are due when it returns, so a timer's waker runs at most
//!   one turn after its deadline passed, and never before it (see `time/driver.rs`).
//! - Wakers called from a turn (I/O readiness, timers) are user code: their panics are caught
//!   where they are called (`io/registration.rs`, `time/driver.rs`) and never unwind into the
//!   worker holding the driver.

use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use crate::io::{Handle as IoHandle, Reactor};
use crate::time::driver::TimeDriver;

/// The I/O reactor and the timers, behind one lock.
pub(crate) struct Driver {
    reactor: Mutex<Reactor>,
    /// Registers sources and interrupts a blocked turn; usable without the lock.
    pub(crate) io: IoHandle,
    /// The timers; inserting and cancelling need no driver lock.
    pub(crate) time: TimeDriver,
}

/// The right to turn the driver, held by one thread.
#[must_use]
pub(crate) struct DriverGuard<'a> {
    reactor: MutexGuard<'a, Reactor>,
    time: &'a TimeDriver,
}

impl Driver {
    pub(crate) fn new() -> std::io::Result<Driver> {
        let reactor = Reactor::new()?;
        Ok(Driver {
            io: reactor.handle(),
            reactor: Mutex::new(reactor),
            time: TimeDriver::new(),
        })
    }

    /// Takes the driver unless another thread holds it.
    pub(crate) fn try_lock(&self) -> Option<DriverGuard<'_>> {
        let reactor = match self.reactor.try_lock() {
            Ok(r) => r,
            // The lock is never held across user code, but stay usable if it was poisoned.
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        Some(DriverGuard {
            reactor,
            time: &self.time,
        })
    }

    /// Interrupts the thread sleeping in the driver (new work, or an earlier timer).
    pub(crate) fn unpark(&self) {
        self.io.unpark();
    }
}

impl DriverGuard<'_> {
    /// Turns the driver: waits for I/O at most `timeout` (`None`: until an unpark) and never
    /// past the next timer deadline, then fires the timers that are due.
    pub(crate) fn park(&mut self, timeout: Option<Duration>) {
        let until_timer = self.time.park_timeout(Instant::now());
        let timeout = match (timeout, until_timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // An error here is not recoverable by waiting: fall back to a short sleep so the
        // worker keeps serving its queues.
        if self.reactor.turn(timeout).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.time.unparked();
        self.time.process(Instant::now());
    }
}
