//! A mio source registered with a reactor.
//!
//! [`Registered`] owns a source and its registration and implements the readiness
//! protocol that all socket types use.
//!
//! # Invariants
//!
//! * The source is registered with the reactor for as long as the `Registered` lives,
//!   and deregistered (then its slot freed) when it drops or is unwrapped with
//!   [`Registered::into_inner`].
//! * [`Registered::poll_io`] spends one unit of cooperative budget per call,
//!   then clears readiness only when the operation returns `WouldBlock`, and retries:
//!   it returns `Pending` only when the reactor reports the direction not ready, with
//!   the task's waker parked for that direction.

use std::fmt;
use std::io;
use std::task::{ready, Context, Poll};

use mio::event::Source;
use mio::Interest;

use crate::coop;
use crate::io::reactor::{Handle, Registration};
use crate::io::registration::{Direction, Ready, ReadyEvent};

/// A mio source plus its registration with a reactor: the bridge
/// between a nonblocking source and `Waker`-based futures (like tokio's `PollEvented`).
pub struct Registered<S: Source> {
    // `None` only after `into_inner` took the source out.
    source: Option<S>,
    registration: Registration,
}

impl<S: Source> Registered<S> {
    /// Registers `source` for `interest` with the current reactor of this thread.
    ///
    /// # Panics
    ///
    /// Panics if there is no current reactor (the thread is not in a brisk runtime).
    #[track_caller]
    pub fn new(source: S, interest: Interest) -> io::Result<Registered<S>> {
        Registered::with_handle(source, interest, &Handle::current())
    }

    /// Registers `source` for `interest` with the reactor of `handle`.
    pub(crate) fn with_handle(
        mut source: S,
        interest: Interest,
        handle: &Handle,
    ) -> io::Result<Registered<S>> {
        let registration = handle.register(&mut source, interest)?;
        Ok(Registered {
            source: Some(source),
            registration,
        })
    }

    /// The source.
    pub fn get_ref(&self) -> &S {
        self.source
            .as_ref()
            .expect("Registered source is present until into_inner")
    }

    /// The source, mutably (for sources whose nonblocking operations take `&mut self`).
    pub(crate) fn get_mut(&mut self) -> &mut S {
        self.source
            .as_mut()
            .expect("Registered source is present until into_inner")
    }

    /// The handle of the reactor this source is registered with.
    pub(crate) fn handle(&self) -> &Handle {
        self.registration.handle()
    }

    /// Polls for read readiness; spends coop budget. On `Pending` the task's waker is
    /// parked for the read direction.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        ready!(coop::poll_proceed(cx));
        self.registration.state().poll_ready(Direction::Read, cx)
    }

    /// Polls for write readiness; spends coop budget. On `Pending` the task's waker is
    /// parked for the write direction.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        ready!(coop::poll_proceed(cx));
        self.registration.state().poll_ready(Direction::Write, cx)
    }

    /// Polls for readiness of `dir` without spending budget (callers spend it once per
    /// operation).
    pub(crate) fn poll_ready_unbudgeted(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.registration.state().poll_ready(dir, cx)
    }

    /// Forgets the readiness in `event`, unless an event arrived since it was observed.
    /// Call it when the operation that `event` allowed returned `WouldBlock`.
    pub fn clear_readiness(&self, event: ReadyEvent) {
        self.registration.state().clear(event);
    }

    /// Runs the nonblocking operation `op` in direction `dir` until it does not return
    /// `WouldBlock`, waiting for readiness in between.
    ///
    /// Spends one unit of coop budget first. `op` is only called when `dir` is ready;
    /// a `WouldBlock` clears the readiness (edge-triggered events) and the loop polls
    /// readiness again, which parks the task's waker if nothing new arrived. `Interrupted`
    /// is retried at once. Any other result is returned.
    pub fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        ready!(coop::poll_proceed(cx));
        loop {
            let event = ready!(self.poll_ready_unbudgeted(dir, cx))?;
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(event),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return Poll::Ready(result),
            }
        }
    }

    /// Like [`poll_io`](Self::poll_io) for a read on a stream into a buffer of `len` bytes: a
    /// short read (`0 < n < len`) drained the socket, so the read readiness is cleared right
    /// away (unless a newer event arrived, or the peer hung up) instead of costing one more
    /// `read` that would return `WouldBlock`.
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        mut op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        ready!(coop::poll_proceed(cx));
        loop {
            let event = ready!(self.poll_ready_unbudgeted(Direction::Read, cx))?;
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(event),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(n) if n > 0 && n < len => {
                    // A hang-up or error stays visible: the next read must see it at once.
                    if !event.is_read_closed() && !event.is_error() {
                        self.clear_readiness(event);
                    }
                    return Poll::Ready(Ok(n));
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// Polls until one of the directions in `interest` is ready; spends coop budget once.
    /// On `Pending` the task's waker is parked for every direction of `interest`.
    pub(crate) fn poll_ready_interest(
        &self,
        interest: Interest,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Ready>> {
        ready!(coop::poll_proceed(cx));
        let mut ready = Ready::EMPTY;
        let mut pending = false;
        for (wanted, dir) in [
            (interest.is_readable(), Direction::Read),
            (interest.is_writable(), Direction::Write),
        ] {
            if !wanted {
                continue;
            }
            match self.poll_ready_unbudgeted(dir, cx) {
                Poll::Ready(Ok(ev)) => ready |= Ready::from_event(&ev),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => pending = true,
            }
        }
        if ready.is_empty() && pending {
            Poll::Pending
        } else {
            Poll::Ready(Ok(ready))
        }
    }

    /// Runs `op` once if `dir` is ready by the reactor's account, else fails with
    /// `WouldBlock` without calling it; a `WouldBlock` from `op` clears the readiness.
    /// Never parks a waker and spends no budget (the `try_*` methods).
    pub fn try_io<R>(&self, dir: Direction, op: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        let event = match self.registration.state().readiness(dir) {
            Some(event) => event?,
            None => return Err(io::ErrorKind::WouldBlock.into()),
        };
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_readiness(event);
                Err(e)
            }
            result => result,
        }
    }

    /// Deregisters the source and returns it.
    pub fn into_inner(mut self) -> io::Result<S> {
        let mut source = self
            .source
            .take()
            .expect("Registered source is present until into_inner");
        self.registration.deregister(&mut source)?;
        Ok(source)
    }
}

impl<S: Source> Drop for Registered<S> {
    fn drop(&mut self) {
        if let Some(source) = self.source.as_mut() {
            // Failure means the source is not registered any more; either way the
            // slot is freed when `registration` drops right after this.
            let _ = self.registration.deregister(source);
        }
    }
}

impl<S: Source + fmt::Debug> fmt::Debug for Registered<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registered")
            .field("source", &self.source)
            .field("registration", &self.registration)
            .finish()
    }
}
