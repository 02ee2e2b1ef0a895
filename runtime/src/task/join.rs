//! `JoinHandle`: the owned permission to await a task's output.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::error::JoinError;
use super::raw::{self, Header};
use super::state::{Snapshot, COMPLETE, JOIN_WAKER, NOTIFIED, RUNNING};
use super::Id;
use crate::scheduler::eager;

/// An owned permission to await a spawned task's output, returned by [`spawn`](crate::spawn).
///
/// Awaiting it yields `Ok(output)`, or `Err(JoinError)` if the task panicked or was cancelled.
/// Dropping it detaches the task: the task keeps running. Under the eager policy, awaiting the
/// handle of a task that is still queued runs that task right here, inline (await-inlining).
///
/// ```
/// let rt = brisk::Runtime::new().unwrap();
/// let answer = rt.block_on(async {
///     let handle = brisk::spawn(async { 6 * 7 });
///     handle.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct JoinHandle<T> {
    raw: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves `T` out of the task (T: Send is required by spawn) and touches
// the shared header through atomics.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reads the id and the state word, and `abort` is thread-safe.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `raw` is a task whose output type is `T`, and the caller gives the handle's reference.
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> JoinHandle<T> {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    /// The task (loom models drive await-inlining's claim with it).
    #[cfg(all(test, loom))]
    pub(crate) fn raw_ptr(&self) -> NonNull<Header> {
        self.raw
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle holds a reference.
        unsafe { self.raw.as_ref() }
    }

    /// Cancels the task. A task that is suspended or queued is dropped without being polled
    /// again; a task that is being polled right now is cancelled when that poll returns
    /// `Pending`. Awaiting the handle then yields an error with
    /// [`is_cancelled`](JoinError::is_cancelled). Aborting a finished task does nothing: the
    /// handle still yields its output.
    pub fn abort(&self) {
        abort_task(self.raw);
    }

    /// True once the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.header().state.load().has(COMPLETE)
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.header().id
    }

    /// An [`AbortHandle`] for this task.
    pub fn abort_handle(&self) -> AbortHandle {
        self.header().state.ref_inc();
        AbortHandle { raw: self.raw }
    }

    fn read_output(&mut self) -> Poll<Result<T, JoinError>> {
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: COMPLETE is set (checked by every caller) and `out` has the right type.
        unsafe { raw::read_output(self.raw, &mut out as *mut _ as *mut ()) };
        out
    }

    /// Stores `waker` as the join waker; `Err` if the task completed meanwhile.
    fn set_join_waker(&self, state: Snapshot, waker: &Waker) -> Result<(), Snapshot> {
        let header = self.header();
        let slot = &header.join_waker;
        if state.has(JOIN_WAKER) {
            // SAFETY: JOIN_WAKER is set and the task is not complete: the slot is stable and
            // only this handle writes it.
            if slot.with(|w| unsafe { (*w).as_ref() }.is_some_and(|w| w.will_wake(waker))) {
                return Ok(());
            }
            header.state.unset_join_waker()?;
        }
        // SAFETY: JOIN_WAKER is clear, so the completer does not read the slot.
        let old = slot.with_mut(|w| unsafe { std::ptr::replace(w, Some(waker.clone())) });
        drop(old);
        header.state.set_join_waker()
    }
}

pub(crate) fn abort_task(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_cancelled() == super::state::OnWake::Submit {
        // SAFETY: `transition_to_cancelled` counted a reference for the entry; the caller's
        // handle keeps its own for the duration; an idle task has a scheduler.
        unsafe { raw::schedule(raw::TaskRef::from_raw(ptr)) };
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        // Every join poll spends coop budget, ready or not: a loop over finished handles must
        // still give the worker back (bound F7).
        if crate::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let mut state = this.header().state.load();
        if state.has(NOTIFIED) && !state.has(RUNNING | COMPLETE) && eager::inline_await(this.raw) {
            state = this.header().state.load();
        }
        if state.has(COMPLETE) {
            return this.read_output();
        }
        match this.set_join_waker(state, cx.waker()) {
            Ok(()) => Poll::Pending,
            Err(_completed) => this.read_output(),
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let header = self.header();
        let state = header.state.load();
        if state.has(COMPLETE) && state.refs() == 1 {
            // The last reference, on a completed task: nobody else can touch it.
            // SAFETY: COMPLETE with only our reference: the output and the cell are ours.
            unsafe {
                raw::drop_output(self.raw);
                raw::dealloc(self.raw);
            }
            return;
        }
        let prev = header.state.drop_join_interest();
        if prev.has(COMPLETE) {
            // SAFETY: the completer left the output to us (it saw JOIN_INTEREST).
            unsafe { raw::drop_output(self.raw) };
        }
        if !prev.has(COMPLETE) || !prev.has(JOIN_WAKER) {
            // Before completion we cleared JOIN_WAKER ourselves; after it the completer did
            // (or never set it). Either way the slot is ours and nobody else reads it: release
            // the awaiting task's waker now, not when this task is freed.
            // SAFETY: as just said.
            drop(header.join_waker.with_mut(|w| unsafe { (*w).take() }));
        }
        if header.state.ref_dec() {
            // SAFETY: that was the last reference.
            unsafe { raw::dealloc(self.raw) };
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

/// A handle that can abort a task without awaiting it (see [`JoinHandle::abort_handle`]).
pub struct AbortHandle {
    raw: NonNull<Header>,
}

// SAFETY: only the atomic state and the immutable id are touched.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// Cancels the task, like [`JoinHandle::abort`].
    pub fn abort(&self) {
        abort_task(self.raw);
    }

    /// True once the task has finished.
    pub fn is_finished(&self) -> bool {
        // SAFETY: the handle holds a reference.
        unsafe { self.raw.as_ref() }.state.load().has(COMPLETE)
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        // SAFETY: the handle holds a reference.
        unsafe { self.raw.as_ref() }.id
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: the handle holds a reference.
        if unsafe { self.raw.as_ref() }.state.ref_dec() {
            // SAFETY: that was the last reference.
            unsafe { raw::dealloc(self.raw) };
        }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}
