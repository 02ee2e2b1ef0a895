//! `Parker`: how an idle worker sleeps. The first worker to park owns the driver (the I/O
//! reactor and the timers) and sleeps inside it until the next timer deadline; the others
//! sleep on a condvar.
//!
//! Invariants:
//! - `state` is `EMPTY`, `NOTIFIED`, `PARKED_CONDVAR` or `PARKED_DRIVER`. `unpark` swaps in
//!   `NOTIFIED` and then wakes the sleeper the way it sleeps (condvar or reactor waker), so a
//!   notification sent before, during or after the park is never lost.
//! - At most one worker holds the driver (a `try_lock`); nobody ever blocks waiting for it.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Condvar, Mutex};

use super::Shared;

const EMPTY: usize = 0;
const NOTIFIED: usize = 1;
const PARKED_CONDVAR: usize = 2;
const PARKED_DRIVER: usize = 3;

/// Sleeps one worker thread until it is notified.
#[derive(Default)]
pub(crate) struct Parker {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    /// Sleeps until `unpark`, the runtime's shutdown, or (when this worker gets the driver)
    /// an I/O event or timer deadline.
    pub(crate) fn park(&self, shared: &Shared) {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        if let Some(mut driver) = shared.driver.try_lock() {
            if self
                .state
                .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
                .is_err()
            {
                self.state.store(EMPTY, SeqCst); // it was NOTIFIED
                return;
            }
            driver.park(None);
            drop(driver);
            self.state.store(EMPTY, SeqCst);
            return;
        }
        let mut guard = self.mutex.lock().unwrap_or_else(|e| e.into_inner());
        if self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
            .is_err()
        {
            self.state.store(EMPTY, SeqCst); // it was NOTIFIED
            return;
        }
        loop {
            guard = self.condvar.wait(guard).unwrap_or_else(|e| e.into_inner());
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return;
            }
            if shared.is_shutdown() {
                self.state.store(EMPTY, SeqCst);
                return;
            }
        }
    }

    /// Wakes the worker, or makes its next `park` return at once.
    pub(crate) fn unpark(&self, shared: &Shared) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                drop(self.mutex.lock().unwrap_or_else(|e| e.into_inner()));
                self.condvar.notify_one();
            }
            PARKED_DRIVER => shared.driver.unpark(),
            other => unreachable!("brisk: bad parker state {other}"),
        }
    }
}
