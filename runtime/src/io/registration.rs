//! Readiness state of one registered source.
//!
//! An [`IoState`] is shared (in an `Arc`) between the reactor, which sets readiness
//! when mio reports an event, and the [`Registered`](crate::io::Registered) wrapper, which
//! reads readiness, parks wakers per direction and clears readiness after a
//! `WouldBlock`.
//!
//! # Invariants
//!
//! * The state word holds readiness flags in its low byte and an event tick above
//!   them. Every event bumps the tick, so a clear that names an older tick than the
//!   current one is refused: readiness set between an operation and its clear is kept.
//! * The reactor sets readiness *before* it takes the waker of a direction; a poller
//!   stores its waker and re-reads readiness *under the same lock*. Either the poller
//!   sees the new readiness or the reactor finds the new waker.
//! * Each direction keeps a list of waiting wakers (no allocation for the usual single
//!   waiter; a waker that `will_wake` an already stored one is not stored twice), so
//!   several tasks may wait on one socket, e.g. accept loops sharing a listener.
//!   Wakers are taken out of the list and woken outside the lock: each is woken at most
//!   once per event, and a task that wants another wake-up polls again. The waker of a
//!   future dropped while waiting stays until the next event of its direction, which
//!   wakes it spuriously and discards it.
//! * Hang-up (both halves closed), error and reactor shutdown wake both directions.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

pub(crate) const READABLE: usize = 1 << 0;
pub(crate) const WRITABLE: usize = 1 << 1;
pub(crate) const READ_CLOSED: usize = 1 << 2;
pub(crate) const WRITE_CLOSED: usize = 1 << 3;
pub(crate) const ERROR: usize = 1 << 4;
/// The reactor was dropped: every operation fails from now on.
pub(crate) const SHUTDOWN: usize = 1 << 5;

const FLAGS: usize = 0xff;
const TICK_SHIFT: u32 = 8;

/// One direction of a full-duplex source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Reading (and accepting, and receiving datagrams).
    Read,
    /// Writing (and sending datagrams, and completing a connect).
    Write,
}

impl Direction {
    /// Readiness bits that make an operation in this direction worth trying; they are
    /// also the bits a `WouldBlock` in this direction clears.
    fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }
}

/// Readiness of one direction as observed at one moment, returned by
/// [`Registered::poll_read_ready`](crate::io::Registered::poll_read_ready) and friends.
///
/// Hand it back to [`Registered::clear_readiness`](crate::io::Registered::clear_readiness)
/// when the operation it allowed returned `WouldBlock`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReadyEvent {
    tick: usize,
    ready: usize,
    direction: Direction,
}

impl ReadyEvent {
    /// The direction this readiness is about.
    pub fn direction(&self) -> Direction {
        self.direction
    }
    /// The source was reported readable.
    pub fn is_readable(&self) -> bool {
        self.ready & READABLE != 0
    }
    /// The source was reported writable.
    pub fn is_writable(&self) -> bool {
        self.ready & WRITABLE != 0
    }
    /// The read half was reported closed (the peer shut down its writing, or hung up).
    pub fn is_read_closed(&self) -> bool {
        self.ready & READ_CLOSED != 0
    }
    /// The write half was reported closed (hang-up).
    pub fn is_write_closed(&self) -> bool {
        self.ready & WRITE_CLOSED != 0
    }
    /// An error was reported on the source (read it with the source's `take_error`).
    pub fn is_error(&self) -> bool {
        self.ready & ERROR != 0
    }
}

/// A set of readiness states, returned by the sockets' `ready(interest)` (the counterpart of
/// tokio's `io::Ready`).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready(usize);

impl Ready {
    /// No readiness.
    pub const EMPTY: Ready = Ready(0);
    /// Readable.
    pub const READABLE: Ready = Ready(READABLE);
    /// Writable.
    pub const WRITABLE: Ready = Ready(WRITABLE);
    /// The read half is closed.
    pub const READ_CLOSED: Ready = Ready(READ_CLOSED);
    /// The write half is closed.
    pub const WRITE_CLOSED: Ready = Ready(WRITE_CLOSED);
    /// An error is pending.
    pub const ERROR: Ready = Ready(ERROR);

    pub(crate) fn from_event(ev: &ReadyEvent) -> Ready {
        Ready(ev.ready)
    }

    /// No readiness at all.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Readable (or read-closed: a read will not block).
    pub fn is_readable(self) -> bool {
        self.0 & (READABLE | READ_CLOSED) != 0
    }
    /// Writable (or write-closed: a write will not block).
    pub fn is_writable(self) -> bool {
        self.0 & (WRITABLE | WRITE_CLOSED) != 0
    }
    /// The read half is closed.
    pub fn is_read_closed(self) -> bool {
        self.0 & READ_CLOSED != 0
    }
    /// The write half is closed.
    pub fn is_write_closed(self) -> bool {
        self.0 & WRITE_CLOSED != 0
    }
    /// An error is pending (read it with the socket's `take_error`).
    pub fn is_error(self) -> bool {
        self.0 & ERROR != 0
    }
}

impl std::ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl std::ops::BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("readable", &(self.0 & READABLE != 0))
            .field("writable", &(self.0 & WRITABLE != 0))
            .field("read_closed", &self.is_read_closed())
            .field("write_closed", &self.is_write_closed())
            .field("error", &self.is_error())
            .finish()
    }
}

impl fmt::Debug for ReadyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadyEvent")
            .field("direction", &self.direction)
            .field("readable", &self.is_readable())
            .field("writable", &self.is_writable())
            .field("read_closed", &self.is_read_closed())
            .field("write_closed", &self.is_write_closed())
            .field("error", &self.is_error())
            .field("tick", &self.tick)
            .finish()
    }
}

/// Error returned by operations on a source whose reactor was dropped.
pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other("the brisk reactor this I/O object was registered with has shut down")
}

/// Readiness bits, event tick and parked wakers of one registered source.
pub(crate) struct IoState {
    state: AtomicUsize,
    reader: Mutex<Waiters>,
    writer: Mutex<Waiters>,
}

/// The wakers waiting on one direction.
#[derive(Default)]
struct Waiters {
    /// The usual single waiter, kept outside the `Vec` so that it costs no allocation.
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Waiters {
    fn add(&mut self, waker: &Waker) {
        match &self.first {
            None => self.first = Some(waker.clone()),
            Some(w) if w.will_wake(waker) => {}
            Some(_) => {
                if !self.rest.iter().any(|w| w.will_wake(waker)) {
                    self.rest.push(waker.clone());
                }
            }
        }
    }

    fn take(&mut self) -> Waiters {
        Waiters {
            first: self.first.take(),
            rest: std::mem::take(&mut self.rest),
        }
    }

    /// Wakes every waker; returns how many there were. A waker is user code: one that panics
    /// is skipped (its panic discarded) so that it cannot unwind into the thread turning the
    /// reactor (a runtime worker) nor keep the other wakers from being woken.
    fn wake_all(self) -> usize {
        let mut woken = 0;
        for waker in self.first.into_iter().chain(self.rest) {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || waker.wake()));
            woken += 1;
        }
        woken
    }
}

fn lock(slot: &Mutex<Waiters>) -> MutexGuard<'_, Waiters> {
    // A poisoned list only means a panic happened while a waker was being cloned;
    // the wakers already in the list are still valid.
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

impl IoState {
    pub(crate) fn new() -> IoState {
        IoState {
            state: AtomicUsize::new(0),
            reader: Mutex::new(Waiters::default()),
            writer: Mutex::new(Waiters::default()),
        }
    }

    fn slot(&self, dir: Direction) -> &Mutex<Waiters> {
        match dir {
            Direction::Read => &self.reader,
            Direction::Write => &self.writer,
        }
    }

    /// Adds `ready` to the readiness bits, bumps the tick and wakes the direction(s)
    /// that became ready. Returns how many wakers were woken.
    pub(crate) fn set_readiness(&self, ready: usize) -> usize {
        let ready = ready & FLAGS;
        // The closure always returns `Some`, so `fetch_update` cannot fail.
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                let tick = (cur >> TICK_SHIFT).wrapping_add(1);
                Some((tick << TICK_SHIFT) | (cur & FLAGS) | ready)
            });
        let mut woken = 0;
        for dir in [Direction::Read, Direction::Write] {
            if ready & (dir.mask() | SHUTDOWN) == 0 {
                continue;
            }
            let waiters = lock(self.slot(dir)).take();
            woken += waiters.wake_all();
        }
        woken
    }

    fn observe(cur: usize, dir: Direction) -> Option<io::Result<ReadyEvent>> {
        if cur & SHUTDOWN != 0 {
            return Some(Err(shutdown_error()));
        }
        let ready = cur & dir.mask();
        (ready != 0).then_some(Ok(ReadyEvent {
            tick: cur >> TICK_SHIFT,
            ready,
            direction: dir,
        }))
    }

    /// Returns the readiness of `dir`, or parks `cx`'s waker for it and returns `Pending`.
    pub(crate) fn poll_ready(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(ev) = Self::observe(self.state.load(Ordering::Acquire), dir) {
            return Poll::Ready(ev);
        }
        let mut waiters = lock(self.slot(dir));
        waiters.add(cx.waker());
        // Re-read under the lock: a reactor that set readiness before we stored the
        // waker has not taken the slot yet or has already published the bits.
        match Self::observe(self.state.load(Ordering::Acquire), dir) {
            Some(ev) => Poll::Ready(ev),
            None => Poll::Pending,
        }
    }

    /// The readiness of `dir` right now, without parking a waker: `None` if not ready.
    pub(crate) fn readiness(&self, dir: Direction) -> Option<io::Result<ReadyEvent>> {
        Self::observe(self.state.load(Ordering::Acquire), dir)
    }

    /// Clears the readiness of `ev.direction` if no event arrived since `ev` was observed.
    pub(crate) fn clear(&self, ev: ReadyEvent) {
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                if cur >> TICK_SHIFT != ev.tick {
                    None
                } else {
                    Some(cur & !ev.direction.mask())
                }
            });
    }

    #[cfg(test)]
    pub(crate) fn flags(&self) -> usize {
        self.state.load(Ordering::Acquire) & FLAGS
    }
}

impl fmt::Debug for IoState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cur = self.state.load(Ordering::Relaxed);
        f.debug_struct("IoState")
            .field("flags", &format_args!("{:#x}", cur & FLAGS))
            .field("tick", &(cur >> TICK_SHIFT))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    // The crate's one counting waker (`io/tests/support.rs`).
    use crate::io::tests::support::CountingWaker as Count;

    fn counter() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        let w = Waker::from(c.clone());
        (c, w)
    }

    #[test]
    fn readiness_set_after_observation_survives_clear() {
        let io = IoState::new();
        let (_c, w) = counter();
        let mut cx = Context::from_waker(&w);
        io.set_readiness(READABLE);
        let ev = match io.poll_ready(Direction::Read, &mut cx) {
            Poll::Ready(Ok(ev)) => ev,
            other => panic!("expected readable, got {other:?}"),
        };
        // A new event arrives between the operation and the clear.
        io.set_readiness(READABLE);
        io.clear(ev);
        assert!(io.poll_ready(Direction::Read, &mut cx).is_ready());
        // Now observe the latest tick and clear: readiness goes away.
        let ev = match io.poll_ready(Direction::Read, &mut cx) {
            Poll::Ready(Ok(ev)) => ev,
            other => panic!("expected readable, got {other:?}"),
        };
        io.clear(ev);
        assert!(io.poll_ready(Direction::Read, &mut cx).is_pending());
    }

    #[test]
    fn each_direction_wakes_its_own_waker() {
        let io = IoState::new();
        let (r, rw) = counter();
        let (w, ww) = counter();
        assert!(io
            .poll_ready(Direction::Read, &mut Context::from_waker(&rw))
            .is_pending());
        assert!(io
            .poll_ready(Direction::Write, &mut Context::from_waker(&ww))
            .is_pending());
        assert_eq!(io.set_readiness(WRITABLE), 1);
        assert_eq!(r.0.load(Ordering::SeqCst), 0);
        assert_eq!(w.0.load(Ordering::SeqCst), 1);
        // The write waker was consumed; a second event wakes nobody.
        assert_eq!(io.set_readiness(WRITABLE), 0);
        assert_eq!(io.set_readiness(READABLE), 1);
        assert_eq!(r.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn several_waiters_on_one_direction_are_all_woken_once() {
        let io = IoState::new();
        let (a, aw) = counter();
        let (b, bw) = counter();
        for w in [&aw, &bw, &aw, &bw] {
            assert!(io
                .poll_ready(Direction::Read, &mut Context::from_waker(w))
                .is_pending());
        }
        assert_eq!(io.set_readiness(READABLE), 2);
        assert_eq!(a.0.load(Ordering::SeqCst), 1);
        assert_eq!(b.0.load(Ordering::SeqCst), 1);
        assert_eq!(io.set_readiness(READABLE), 0);
    }

    #[test]
    fn hang_up_and_error_wake_both_directions() {
        for bits in [READ_CLOSED | WRITE_CLOSED, ERROR, SHUTDOWN] {
            let io = IoState::new();
            let (r, rw) = counter();
            let (w, ww) = counter();
            assert!(io
                .poll_ready(Direction::Read, &mut Context::from_waker(&rw))
                .is_pending());
            assert!(io
                .poll_ready(Direction::Write, &mut Context::from_waker(&ww))
                .is_pending());
            assert_eq!(io.set_readiness(bits), 2, "bits {bits:#x}");
            assert_eq!(r.0.load(Ordering::SeqCst), 1);
            assert_eq!(w.0.load(Ordering::SeqCst), 1);
        }
    }

    #[test]
    fn shutdown_fails_both_directions() {
        let io = IoState::new();
        let (_c, w) = counter();
        let mut cx = Context::from_waker(&w);
        io.set_readiness(SHUTDOWN);
        for dir in [Direction::Read, Direction::Write] {
            match io.poll_ready(dir, &mut cx) {
                Poll::Ready(Err(_)) => {}
                other => panic!("expected an error, got {other:?}"),
            }
        }
    }
}
