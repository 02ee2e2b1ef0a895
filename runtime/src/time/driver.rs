//! The timer driver: timing wheels sharded per worker, turned by whichever worker drives the
//! reactor, and the runtime's [`Clock`].
//!
//! Invariants:
//! - There is one wheel (shard) per worker plus one for every other thread. A timer is inserted
//!   into the shard of the thread that registers it, under that shard's own lock: workers never
//!   contend with each other to insert or cancel. Its [`TimerKey`] names the shard, so a cancel
//!   from any thread (a sleep moved to another worker, or dropped elsewhere) locks that shard
//!   and removes exactly that entry, or nothing if it fired (the wheel's keys are
//!   generation-checked). A cancel and a fire of the same entry are serialized by the shard's
//!   lock: exactly one of them takes the waker.
//! - All shards share one start and one clock, so they agree on wheel time; the driver advances
//!   every shard to the same time and takes the earliest expiration over the shards.
//! - Wheel time is whole microseconds (ticks) since `start`, read from the runtime's clock. A
//!   deadline is rounded *up* to the next microsecond and the wheel is advanced to the current
//!   time rounded *down*, so an entry fires only when `clock.now() >= deadline`: a sleep never
//!   completes early (the wheel's own proof, `wheel.rs`, covers the rest).
//! - The driving worker sleeps until the wheel's next expiration converted back to an instant
//!   (rounded up, so it never wakes before a due tick), with sub-millisecond precision (see
//!   `scheduler/driver.rs`).
//! - `parked_until` is the wheel time until which the driving worker sleeps in the reactor
//!   (`u64::MAX`: no timeout or still computing it; 0: not parked). The driver stores
//!   `u64::MAX` *before* it reads the shards and the real value after; an insert reads it
//!   after inserting (all `SeqCst`). So an insert that the driver's read of its shard missed
//!   sees `u64::MAX` or the final value, and interrupts the sleep if its deadline is earlier:
//!   a new short timer is never delayed by an older long one.
//! - Under `cfg(loom)` the shard locks and `parked_until` are loom's (`crate::loom`), so the
//!   models in `loom_models.rs` check the real insert, cancel, fire and park-timeout paths.

use std::sync::atomic::Ordering;
use std::task::Waker;
use std::time::Duration;

#[cfg(loom)]
use loom::sync::atomic::AtomicU64;
#[cfg(not(loom))]
use std::sync::atomic::AtomicU64;

use super::clock::{Clock, Instant};
use super::wheel::{Key, Wheel};
use crate::loom::sync::{Mutex, MutexGuard};

/// Identifies a registered timer: its shard and its key in that shard's wheel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TimerKey {
    shard: usize,
    key: Key,
}

/// Nanoseconds per wheel tick.
const TICK_NS: u128 = 1_000;

/// The timers of one runtime.
pub(crate) struct TimeDriver {
    start: Instant,
    clock: Clock,
    /// One wheel per worker (index = worker index), then one for every other thread.
    shards: Box<[Mutex<Wheel<Waker>>]>,
    parked_until: AtomicU64,
}

impl TimeDriver {
    /// Timers for `workers` workers (and any other thread), the clock paused if `start_paused`.
    pub(crate) fn new(workers: usize, start_paused: bool) -> TimeDriver {
        let clock = Clock::new(start_paused);
        TimeDriver {
            start: clock.now(),
            clock,
            shards: (0..=workers).map(|_| Mutex::new(Wheel::new())).collect(),
            parked_until: AtomicU64::new(0),
        }
    }

    /// The runtime's clock.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Wheel<Waker>> {
        self.shards[shard].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shard of the calling thread: its worker's, or the shared last one.
    fn current_shard(&self) -> usize {
        let last = self.shards.len() - 1;
        crate::scheduler::context::with_current(|ctx| ctx.and_then(|c| c.worker))
            .filter(|&w| w < last)
            .unwrap_or(last)
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
    pub(crate) fn insert(&self, deadline: Instant, waker: Waker) -> (TimerKey, bool) {
        self.insert_into(self.current_shard(), deadline, waker)
    }

    /// [`insert`](Self::insert) into a given shard (`0..=workers`).
    pub(crate) fn insert_into(
        &self,
        shard: usize,
        deadline: Instant,
        waker: Waker,
    ) -> (TimerKey, bool) {
        let ticks = self.deadline_ticks(deadline);
        let key = self.lock(shard).insert(ticks, waker);
        // After the insert (module invariants).
        let interrupt = ticks < self.parked_until.load(Ordering::SeqCst);
        (TimerKey { shard, key }, interrupt)
    }

    /// Removes a registration, from any thread; its waker (if it had not fired) is returned.
    pub(crate) fn cancel(&self, key: TimerKey) -> Option<Waker> {
        self.lock(key.shard).cancel(key.key)
    }

    /// Fires every timer due at the clock's current time; returns how many.
    pub(crate) fn process(&self) -> usize {
        let now = self.now_ticks(self.clock.now());
        let mut due = Vec::new();
        for shard in 0..self.shards.len() {
            self.lock(shard).advance(now, &mut |w| due.push(w));
        }
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
        self.next_ticks().map(|t| self.instant_of(t))
    }

    /// The earliest expiration over all shards, in ticks: O(shards × levels).
    fn next_ticks(&self) -> Option<u64> {
        (0..self.shards.len())
            .filter_map(|shard| self.lock(shard).next_expiration())
            .min()
    }

    /// How long the driving worker may sleep in the reactor: until the next timer (None: no
    /// timer). Records that sleep so an earlier insert interrupts it.
    pub(crate) fn park_timeout(&self) -> Option<Duration> {
        // Before reading the shards: an insert the reads miss sees this (module invariants).
        self.parked_until.store(u64::MAX, Ordering::SeqCst);
        let next = self.next_ticks();
        self.parked_until
            .store(next.unwrap_or(u64::MAX), Ordering::SeqCst);
        let now = self.clock.now();
        next.map(|t| self.instant_of(t).saturating_duration_since(now))
    }

    /// The driving worker is awake again.
    pub(crate) fn unparked(&self) {
        self.parked_until.store(0, Ordering::SeqCst);
    }

    /// Number of registered timers.
    pub(crate) fn len(&self) -> usize {
        (0..self.shards.len()).map(|s| self.lock(s).len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    // The crate's one counting waker (`io/tests/support.rs`).
    use crate::io::tests::support::CountingWaker as Count;

    #[test]
    fn cross_shard_cancel_races_fire_and_exactly_one_wins() {
        let driver = Arc::new(TimeDriver::new(2, false));
        for round in 0..200 {
            // Due at once, spread over both worker shards and the shared one.
            let counts: Vec<_> = (0..64)
                .map(|_| Arc::new(Count(AtomicUsize::new(0))))
                .collect();
            let now = driver.clock().now();
            let keys: Vec<_> = counts
                .iter()
                .enumerate()
                .map(|(i, c)| driver.insert_into(i % 3, now, Waker::from(c.clone())).0)
                .collect();
            let firer = {
                let driver = driver.clone();
                std::thread::spawn(move || {
                    for _ in 0..4 {
                        driver.process();
                    }
                })
            };
            // Cancel from this thread, in reverse, while the other one fires.
            let cancelled: Vec<bool> = keys
                .iter()
                .rev()
                .map(|&k| driver.cancel(k).is_some())
                .collect();
            firer.join().unwrap();
            driver.process();
            for (i, c) in counts.iter().enumerate() {
                let fired = c.0.load(Ordering::SeqCst);
                let was_cancelled = cancelled[keys.len() - 1 - i];
                assert_eq!(
                    fired + usize::from(was_cancelled),
                    1,
                    "round {round}, timer {i}: fired {fired} times, cancelled: {was_cancelled}"
                );
                // A stale key (fired or cancelled) matches nothing.
                assert!(driver.cancel(keys[i]).is_none());
            }
            assert_eq!(driver.len(), 0);
        }
    }

    #[test]
    fn earliest_expiration_is_the_minimum_over_shards() {
        let driver = TimeDriver::new(3, true);
        let now = driver.clock().now();
        let waker = Waker::noop().clone();
        // Within 64 ticks: level 0, where a slot's start is its deadline.
        let us = Duration::from_micros;
        driver.insert_into(0, now + us(40), waker.clone());
        let (k, _) = driver.insert_into(2, now + us(20), waker.clone());
        driver.insert_into(3, now + us(30), waker.clone());
        assert_eq!(driver.next_expiration(), Some(now + us(20)));
        driver.cancel(k);
        assert_eq!(driver.next_expiration(), Some(now + us(30)));
        assert_eq!(driver.len(), 2);
    }
}
