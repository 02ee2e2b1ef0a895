//! The reactor: a `mio::Poll`, the registration slab and the thread's current handle.
//!
//! # Invariants
//!
//! * A registration's token is `generation << INDEX_BITS | index`. Freeing a slot
//!   bumps its generation before the slot can be reused, so [`Reactor::turn`] drops
//!   events whose generation does not match the slot's current one.
//! * The index `INDEX_MASK` is never allocated; the token with every bit set belongs to
//!   the `mio::Waker` used by [`Handle::unpark`].
//! * The slab lock is never held while a waker runs: `turn` collects the states to
//!   notify under the lock and wakes them after releasing it.
//! * Shutdown (dropping the [`Reactor`]) and registration both happen under the slab
//!   lock, so every registration either fails or is woken with the shutdown error.
//! * `unpark` makes the turn in progress, or if none the next turn, return without
//!   blocking. It calls into mio only if no unpark is already pending.

#[cfg(test)]
use std::cell::RefCell;
use std::fmt;
use std::io;
#[cfg(test)]
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Token};

use crate::io::registration::{
    IoState, ERROR, READABLE, READ_CLOSED, SHUTDOWN, WRITABLE, WRITE_CLOSED,
};

const INDEX_BITS: u32 = 24;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Largest generation value; generations wrap to 0 after it.
const GENERATION_MASK: usize = usize::MAX >> INDEX_BITS;
/// Slots `0..MAX_SLOTS` can be allocated; `INDEX_MASK` itself is the waker's index.
const MAX_SLOTS: usize = INDEX_MASK;
const WAKER_TOKEN: Token = Token(usize::MAX);
const EVENTS_CAPACITY: usize = 1024;

const NO_REACTOR: &str =
    "there is no brisk reactor running: I/O types must be created from within a brisk runtime";

fn token_of(index: usize, generation: usize) -> Token {
    Token((generation << INDEX_BITS) | index)
}

fn split_token(token: Token) -> (usize, usize) {
    (token.0 & INDEX_MASK, token.0 >> INDEX_BITS)
}

struct Slot {
    generation: usize,
    state: Option<Arc<IoState>>,
}

/// The registration slab: one slot per live registration, a free list for reuse.
#[derive(Default)]
struct Slab {
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
    shutdown: bool,
}

impl Slab {
    fn insert(&mut self) -> io::Result<(Token, Arc<IoState>)> {
        if self.shutdown {
            return Err(crate::io::registration::shutdown_error());
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                if self.slots.len() >= MAX_SLOTS {
                    return Err(io::Error::other(
                        "the brisk reactor has reached its maximum number of registrations",
                    ));
                }
                self.slots.push(Slot {
                    generation: 0,
                    state: None,
                });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        debug_assert!(slot.state.is_none());
        let state = Arc::new(IoState::new());
        slot.state = Some(state.clone());
        self.live += 1;
        Ok((token_of(index, slot.generation), state))
    }

    fn get(&self, token: Token) -> Option<&Arc<IoState>> {
        let (index, generation) = split_token(token);
        let slot = self.slots.get(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.state.as_ref()
    }

    fn remove(&mut self, token: Token) -> bool {
        let (index, generation) = split_token(token);
        match self.slots.get_mut(index) {
            Some(slot) if slot.generation == generation && slot.state.is_some() => {
                slot.state = None;
                slot.generation = (slot.generation + 1) & GENERATION_MASK;
                self.free.push(index);
                self.live -= 1;
                true
            }
            _ => false,
        }
    }
}

/// State shared by a [`Reactor`] and all of its [`Handle`]s.
struct Inner {
    registry: mio::Registry,
    waker: mio::Waker,
    slab: Mutex<Slab>,
    /// `Slab::live`, readable without the lock (written under it).
    live: AtomicUsize,
    /// An unpark is pending: the waker was (or is being) signalled and no turn has
    /// consumed it yet.
    unparked: AtomicBool,
}

impl Inner {
    fn slab(&self) -> MutexGuard<'_, Slab> {
        // The slab is only mutated by short, non-panicking sections; a poisoned lock
        // still holds a consistent slab.
        self.slab.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The I/O driver: owns the `mio::Poll` and the events buffer.
///
/// Exactly one thread at a time calls [`turn`](Reactor::turn) (it takes `&mut self`);
/// everything else goes through a [`Handle`]. Dropping the reactor fails all pending and
/// future I/O on its registrations with an error.
pub(crate) struct Reactor {
    poll: mio::Poll,
    events: Events,
    inner: Arc<Inner>,
    /// Reused buffer of (state, readiness) pairs to notify after the slab lock is released.
    pending: Vec<(Arc<IoState>, usize)>,
}

impl Reactor {
    /// Creates a reactor (a `mio::Poll` and its waker).
    pub(crate) fn new() -> io::Result<Reactor> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(&registry, WAKER_TOKEN)?;
        Ok(Reactor {
            poll,
            events: Events::with_capacity(EVENTS_CAPACITY),
            inner: Arc::new(Inner {
                registry,
                waker,
                slab: Mutex::new(Slab::default()),
                live: AtomicUsize::new(0),
                unparked: AtomicBool::new(false),
            }),
            pending: Vec::new(),
        })
    }

    /// Returns a handle to this reactor.
    pub(crate) fn handle(&self) -> Handle {
        Handle {
            inner: self.inner.clone(),
        }
    }

    /// Polls mio once with `timeout` (None = block until an event or an unpark), dispatches readiness
    /// to registrations and wakes their wakers. Returns how many wakers it woke.
    ///
    /// A poll interrupted by a signal returns `Ok(0)`.
    pub(crate) fn turn(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        }
        // Consume any pending unpark. An unpark that raced with the poll either left a
        // waker event for the next poll or is absorbed here; the swap (acquire) makes
        // whatever the unparker did before unparking visible to our caller.
        self.inner.unparked.swap(false, Ordering::AcqRel);

        {
            let slab = self.inner.slab();
            for event in self.events.iter() {
                let token = event.token();
                if token == WAKER_TOKEN {
                    continue;
                }
                if let Some(state) = slab.get(token) {
                    self.pending.push((state.clone(), readiness_of(event)));
                }
            }
        }
        let mut woken = 0;
        for (state, ready) in self.pending.drain(..) {
            woken += state.set_readiness(ready);
        }
        Ok(woken)
    }

    /// Live registrations (a relaxed reading: one made on another thread just now may not be
    /// counted yet).
    pub(crate) fn sources(&self) -> usize {
        self.inner.live.load(Ordering::Relaxed)
    }

    /// Dispatches readiness for `token` as if mio had reported it (for tests).
    #[cfg(test)]
    fn dispatch(&mut self, token: Token, ready: usize) -> usize {
        let state = self.inner.slab().get(token).cloned();
        state.map_or(0, |s| s.set_readiness(ready))
    }
}

fn readiness_of(event: &mio::event::Event) -> usize {
    let mut ready = 0;
    if event.is_readable() || event.is_priority() {
        ready |= READABLE;
    }
    if event.is_writable() {
        ready |= WRITABLE;
    }
    if event.is_read_closed() {
        ready |= READ_CLOSED;
    }
    if event.is_write_closed() {
        ready |= WRITE_CLOSED;
    }
    if event.is_error() {
        ready |= ERROR;
    }
    ready
}

impl Drop for Reactor {
    fn drop(&mut self) {
        let states: Vec<Arc<IoState>> = {
            let mut slab = self.inner.slab();
            slab.shutdown = true;
            slab.slots
                .iter()
                .filter_map(|slot| slot.state.clone())
                .collect()
        };
        for state in states {
            state.set_readiness(SHUTDOWN);
        }
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("handle", &self.handle())
            .finish_non_exhaustive()
    }
}

/// A shared reference to a [`Reactor`]: registers sources, interrupts a blocked
/// [`turn`](Reactor::turn) and serves as a thread's current reactor.
#[derive(Clone)]
pub(crate) struct Handle {
    inner: Arc<Inner>,
}

#[cfg(test)]
thread_local! {
    /// Test scaffolding only: the reactor unit tests drive a `Reactor` without a runtime and
    /// enter it here. In the library a thread's reactor is its runtime context's.
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

impl Handle {
    /// Interrupts a `turn` blocked in another thread (mio::Waker). Cheap if called often.
    ///
    /// The turn in progress, or if none the next turn, returns without blocking. While an
    /// unpark is pending (not yet consumed by a turn), further unparks are a single atomic
    /// operation.
    pub(crate) fn unpark(&self) {
        if !self.inner.unparked.swap(true, Ordering::AcqRel) {
            // Waking can only fail on resource exhaustion of the eventfd/pipe, in which
            // case the poller is already woken.
            let _ = self.inner.waker.wake();
        }
    }

    /// Test scaffolding: makes this handle the current reactor of this thread (without a
    /// runtime) until the guard drops.
    #[cfg(test)]
    pub(crate) fn enter(&self) -> EnterGuard {
        let previous = CURRENT.with(|current| current.borrow_mut().replace(self.clone()));
        EnterGuard {
            previous,
            _not_send: PhantomData,
        }
    }

    /// Returns the current reactor of this thread.
    ///
    /// # Panics
    ///
    /// Panics with "there is no brisk reactor running: I/O types must be created from within a
    /// brisk runtime" on a thread outside a brisk runtime's context.
    #[track_caller]
    pub(crate) fn current() -> Handle {
        match Handle::try_current() {
            Some(handle) => handle,
            None => panic!("{}", NO_REACTOR),
        }
    }

    /// Returns the current reactor of this thread, if any.
    pub(crate) fn try_current() -> Option<Handle> {
        let handle =
            crate::scheduler::context::with_current(|c| c.map(|c| c.shared().driver.io.clone()));
        #[cfg(test)]
        let handle = handle.or_else(|| CURRENT.try_with(|c| c.borrow().clone()).ok().flatten());
        handle
    }

    /// Registers `source` with `interest` and allocates its slab slot.
    pub(crate) fn register<S: Source + ?Sized>(
        &self,
        source: &mut S,
        interest: Interest,
    ) -> io::Result<Registration> {
        let (token, state) = {
            let mut slab = self.inner.slab();
            let inserted = slab.insert()?;
            self.inner.live.store(slab.live, Ordering::Relaxed);
            inserted
        };
        if let Err(e) = self.inner.registry.register(source, token, interest) {
            self.remove(token);
            return Err(e);
        }
        Ok(Registration {
            handle: self.clone(),
            token,
            state,
        })
    }

    /// Frees `token`'s slot (if it is still that token's).
    fn remove(&self, token: Token) -> bool {
        let mut slab = self.inner.slab();
        let removed = slab.remove(token);
        self.inner.live.store(slab.live, Ordering::Relaxed);
        removed
    }

    /// Number of live registrations.
    #[cfg(test)]
    pub(crate) fn registrations(&self) -> usize {
        self.inner.slab().live
    }

    /// Whether two handles refer to the same reactor.
    #[cfg(test)]
    pub(crate) fn same_reactor(&self, other: &Handle) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("reactor", &Arc::as_ptr(&self.inner))
            .finish()
    }
}

/// Guard returned by [`Handle::enter`] (tests only); restores the previous reactor on drop.
#[cfg(test)]
pub(crate) struct EnterGuard {
    previous: Option<Handle>,
    _not_send: PhantomData<*const ()>,
}

#[cfg(test)]
impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // During thread teardown the thread-local may already be gone; nothing to restore.
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

#[cfg(test)]
impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard")
            .field("previous", &self.previous)
            .finish()
    }
}

/// A source's slot in a reactor: its token and shared readiness state.
///
/// Dropping it frees the slot; the owner must deregister the source from mio first
/// (see [`Registration::deregister`]).
pub(crate) struct Registration {
    handle: Handle,
    token: Token,
    state: Arc<IoState>,
}

impl Registration {
    pub(crate) fn state(&self) -> &IoState {
        &self.state
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Removes `source` from the mio registry.
    pub(crate) fn deregister<S: Source + ?Sized>(&self, source: &mut S) -> io::Result<()> {
        self.handle.inner.registry.deregister(source)
    }

    #[cfg(test)]
    pub(crate) fn token(&self) -> Token {
        self.token
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.handle.remove(self.token);
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("token", &self.token)
            .field("state", &self.state)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::registration::Direction;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Poll, Waker};

    // The crate's one counting waker (`io/tests/support.rs`).
    use crate::io::tests::support::CountingWaker as Count;

    fn udp() -> mio::net::UdpSocket {
        mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap()
    }

    #[test]
    fn tokens_round_trip_and_never_collide_with_the_waker() {
        for (index, generation) in [(0, 0), (5, 1), (MAX_SLOTS - 1, GENERATION_MASK)] {
            let token = token_of(index, generation);
            assert_eq!(split_token(token), (index, generation));
            assert_ne!(token, WAKER_TOKEN);
        }
        assert_eq!(split_token(WAKER_TOKEN).0, INDEX_MASK);
    }

    #[test]
    fn dropping_a_registration_frees_its_slot_and_stale_tokens_are_ignored() {
        let mut reactor = Reactor::new().unwrap();
        let handle = reactor.handle();

        let mut a = udp();
        let reg_a = handle.register(&mut a, Interest::READABLE).unwrap();
        let stale = reg_a.token();
        assert_eq!(handle.registrations(), 1);
        reg_a.deregister(&mut a).unwrap();
        drop(reg_a);
        assert_eq!(handle.registrations(), 0);

        // The next registration reuses the slot with a new generation.
        let mut b = udp();
        let reg_b = handle.register(&mut b, Interest::READABLE).unwrap();
        let (stale_index, stale_gen) = split_token(stale);
        let (index, generation) = split_token(reg_b.token());
        assert_eq!(index, stale_index);
        assert_ne!(generation, stale_gen);

        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(reg_b
            .state()
            .poll_ready(Direction::Read, &mut cx)
            .is_pending());

        // An event for the freed registration must not reach the new one.
        assert_eq!(reactor.dispatch(stale, READABLE), 0);
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        assert_eq!(reg_b.state().flags(), 0);

        // The current token does reach it.
        assert_eq!(reactor.dispatch(reg_b.token(), READABLE), 1);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);

        // Removing with a stale token is refused too.
        assert!(!handle.remove(stale));
        assert_eq!(handle.registrations(), 1);
        // The lock-free count the driver reads follows the slab.
        assert_eq!(reactor.sources(), 1);
        reg_b.deregister(&mut b).unwrap();
        drop(reg_b);
        assert_eq!(handle.registrations(), 0);
        assert_eq!(reactor.sources(), 0);
    }

    #[test]
    fn dropping_the_reactor_fails_registrations() {
        let reactor = Reactor::new().unwrap();
        let handle = reactor.handle();
        let mut a = udp();
        let reg = handle.register(&mut a, Interest::READABLE).unwrap();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(reg
            .state()
            .poll_ready(Direction::Read, &mut cx)
            .is_pending());
        drop(reactor);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            reg.state().poll_ready(Direction::Read, &mut cx),
            Poll::Ready(Err(_))
        ));
        let mut b = udp();
        assert!(handle.register(&mut b, Interest::READABLE).is_err());
        reg.deregister(&mut a).unwrap();
    }

    #[test]
    fn enter_nests_and_restores() {
        assert!(Handle::try_current().is_none());
        let r1 = Reactor::new().unwrap();
        let r2 = Reactor::new().unwrap();
        let g1 = r1.handle().enter();
        assert!(Handle::current().same_reactor(&r1.handle()));
        {
            let _g2 = r2.handle().enter();
            assert!(Handle::current().same_reactor(&r2.handle()));
        }
        assert!(Handle::current().same_reactor(&r1.handle()));
        drop(g1);
        assert!(Handle::try_current().is_none());
    }
}
