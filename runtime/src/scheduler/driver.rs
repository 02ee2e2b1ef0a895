//! The driver: the I/O reactor and the timers of one runtime, turned through one `park`.
//!
//! Invariants:
//! - At most one thread holds the driver at a time ([`Driver::try_lock`]); nobody ever blocks
//!   waiting for it. A worker that parks with it sleeps in the reactor until I/O, an
//!   [`unpark`](Driver::unpark), or the next timer deadline; busy workers turn it without
//!   blocking every `event_interval` ticks (skipping the system call while nothing but the
//!   driver's own timer is registered: [`DriverGuard::turn_nonblocking`]).
//! - Every turn fires the timers that are due when it returns, so a timer's waker runs at most
//!   one turn after its deadline passed, and never before it (see `time/driver.rs`).
//! - A sleep until a timer is exact to the microsecond where the OS allows: on Linux a timerfd
//!   registered with the reactor is armed for the sleep's length (the reactor's own timeout is
//!   in whole milliseconds, rounded up, and stays as the fallback). The timerfd is armed only
//!   for a blocking turn and disarmed when a later turn needs no timeout, so it never wakes an
//!   idle runtime for a timer that is gone.
//! - While the clock is paused real time does not move timers: a turn blocks until I/O or an
//!   unpark, except that when the caller says every worker is idle and no `block_on` thread is
//!   running, it jumps the clock to the next timer instead (auto-advance) and fires it.
//! - Wakers called from a turn (I/O readiness, timers) are user code: their panics are caught
//!   where they are called (`io/registration.rs`, `time/driver.rs`) and never unwind into the
//!   worker holding the driver.

use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use crate::io::{Handle as IoHandle, Reactor};
use crate::time::driver::TimeDriver;

/// The I/O reactor and the timers, behind one lock.
pub(crate) struct Driver {
    reactor: Mutex<Reactor>,
    /// The precise sleep timer; used only by the thread holding `reactor`.
    timer: Mutex<Option<timerfd::TimerFd>>,
    /// Registers sources and interrupts a blocked turn; usable without the lock.
    pub(crate) io: IoHandle,
    /// The timers; inserting and cancelling need no driver lock.
    pub(crate) time: TimeDriver,
}

/// The right to turn the driver, held by one thread.
#[must_use]
pub(crate) struct DriverGuard<'a> {
    reactor: MutexGuard<'a, Reactor>,
    timer: MutexGuard<'a, Option<timerfd::TimerFd>>,
    driver: &'a Driver,
}

impl Driver {
    /// A driver for `workers` workers whose clock starts paused if `start_paused`.
    pub(crate) fn new(workers: usize, start_paused: bool) -> std::io::Result<Driver> {
        let reactor = Reactor::new()?;
        let io = reactor.handle();
        // Without a timerfd sleeps are rounded up to whole milliseconds; still correct.
        let timer = timerfd::TimerFd::new(&io).ok();
        Ok(Driver {
            io,
            reactor: Mutex::new(reactor),
            timer: Mutex::new(timer),
            time: TimeDriver::new(workers, start_paused),
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
        // Only ever taken while holding `reactor`: never contended.
        let timer = self.timer.lock().unwrap_or_else(|e| e.into_inner());
        Some(DriverGuard {
            reactor,
            timer,
            driver: self,
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
        self.turn(timeout, false);
    }

    /// A turn that does not wait: fires the timers that are due and, if any source other than
    /// the driver's own timer is registered, polls the reactor without blocking. With no such
    /// source there is no readiness to collect, so the system call is skipped: busy workers
    /// (and `yield_now`, which waits for a driver turn) pay for I/O polls only when there is
    /// I/O.
    pub(crate) fn turn_nonblocking(&mut self) {
        let own = usize::from(self.timer.is_some());
        if self.reactor.sources() > own || self.driver.time.clock().is_paused() {
            self.park(Some(Duration::ZERO));
        } else {
            let time = &self.driver.time;
            time.unparked();
            time.process();
        }
    }

    /// The waiting half of a [`park`](Self::park) with no timeout, for an idle worker: returns
    /// on I/O (whose wakers it has called), an unpark or the next timer deadline, and leaves
    /// the due timers to [`fire_timers`](Self::fire_timers), which the caller must call next
    /// (the worker counts itself as searching meanwhile: `scheduler/park.rs`). When `all_idle`
    /// and time is paused, paused time jumps to the next timer instead of waiting.
    pub(crate) fn wait_idle(&mut self, timeout: Option<Duration>, all_idle: bool) {
        self.wait(timeout, all_idle);
    }

    /// Fires the timers that are due (after [`wait_idle`](Self::wait_idle)); returns how many.
    pub(crate) fn fire_timers(&mut self) -> usize {
        let time = &self.driver.time;
        time.unparked();
        time.process()
    }

    fn turn(&mut self, timeout: Option<Duration>, all_idle: bool) {
        self.wait(timeout, all_idle);
        self.fire_timers();
    }

    /// A turn without firing the timers.
    fn wait(&mut self, timeout: Option<Duration>, all_idle: bool) {
        let time = &self.driver.time;
        let clock = time.clock();
        let until_timer = time.park_timeout();
        if clock.is_paused() {
            // No reactor turn before deciding: a turn would consume a pending unpark (new
            // work, shutdown) that the blocking turn below must see. I/O that is ready now is
            // dispatched at the next turn, right after the timers this jump fires.
            if all_idle && clock.auto_advance(|| time.next_expiration()) {
                return;
            }
            // Paused: only I/O, an unpark or an advance can make progress.
            self.disarm();
            if self.reactor.turn(timeout).is_err() {
                std::thread::sleep(Duration::from_millis(1));
            }
            return;
        }
        let timeout = match (timeout, until_timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match timeout {
            Some(t) if !t.is_zero() => {
                if let Some(timer) = self.timer.as_mut() {
                    timer.arm(t);
                }
            }
            Some(_) => {}
            None => self.disarm(),
        }
        // An error here is not recoverable by waiting: fall back to a short sleep so the
        // worker keeps serving its queues.
        if self.reactor.turn(timeout).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn disarm(&mut self) {
        if let Some(timer) = self.timer.as_mut() {
            timer.disarm();
        }
    }
}

// Not under Miri, which does not emulate timerfd: it takes the millisecond fallback below.
#[cfg(all(target_os = "linux", not(miri)))]
mod timerfd {
    //! A `CLOCK_MONOTONIC` timerfd registered with the reactor (edge-triggered): it makes a
    //! blocked reactor turn return when it expires. Re-arming resets its expiration count, so
    //! it never needs reading.

    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::{Duration, Instant};

    use mio::unix::SourceFd;
    use mio::Interest;

    use crate::io::{Handle, Registration};

    pub(crate) struct TimerFd {
        fd: OwnedFd,
        registration: Option<Registration>,
        /// When the armed timer expires (`None`: disarmed).
        armed_until: Option<Instant>,
    }

    impl TimerFd {
        pub(crate) fn new(io: &Handle) -> io::Result<TimerFd> {
            // SAFETY: plain system call with constant arguments; the result is checked.
            let raw = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a freshly created descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let registration = io.register(&mut SourceFd(&fd.as_raw_fd()), Interest::READABLE)?;
            Ok(TimerFd {
                fd,
                registration: Some(registration),
                armed_until: None,
            })
        }

        fn set(&mut self, d: Duration) -> bool {
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
                    // Below 10^9: fits every platform's `c_long`.
                    tv_nsec: d.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: `fd` is a valid timerfd; `spec` is a valid itimerspec and the old value
            // pointer may be null.
            let r = unsafe {
                libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut())
            };
            r == 0
        }

        /// Arms the timer to expire `d` from now (`d` > 0).
        pub(crate) fn arm(&mut self, d: Duration) {
            if self.set(d) {
                self.armed_until = Instant::now().checked_add(d);
            }
        }

        /// Disarms the timer if it is armed for a time still ahead.
        pub(crate) fn disarm(&mut self) {
            if let Some(until) = self.armed_until {
                if until > Instant::now() {
                    self.set(Duration::ZERO);
                }
                self.armed_until = None;
            }
        }
    }

    impl Drop for TimerFd {
        fn drop(&mut self) {
            if let Some(registration) = self.registration.take() {
                let _ = registration.deregister(&mut SourceFd(&self.fd.as_raw_fd()));
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", not(miri))))]
mod timerfd {
    //! No precise sleep timer on this OS (or under Miri): reactor timeouts are whole
    //! milliseconds.

    use std::time::Duration;

    pub(crate) struct TimerFd(());

    impl TimerFd {
        pub(crate) fn new(_: &crate::io::Handle) -> std::io::Result<TimerFd> {
            Err(std::io::ErrorKind::Unsupported.into())
        }

        pub(crate) fn arm(&mut self, _: Duration) {}

        pub(crate) fn disarm(&mut self) {}
    }
}
