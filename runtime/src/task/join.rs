//! `JoinHandle`: the owned permission to await a task's output.
//!
//! A handle either refers to its task's cell (counting one reference), or, when the task
//! finished in its eager first poll with nothing else referring to it, holds the task's id and
//! output itself (the cell is already freed: `raw::poll_first`). Only outputs of at most one
//! word (and an alignment of at most a word) are held so: the handle is two words for any
//! output type, returned in registers; larger outputs stay in the cell.
//!
//! Invariant: `raw` is a cell address (aligned, so its two low bits are clear) or a finished
//! task's id tagged in its low bits (`HELD`: the output is in `output`; `TAKEN`: moved out).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::{align_of, needs_drop, size_of, MaybeUninit};
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
    /// The task's cell, or a finished task's id, `id << 2 | HELD` or `id << 2 | TAKEN`.
    raw: NonNull<Header>,
    /// A `T` while `raw` is tagged [`HELD`] (only if `T` fits, see `can_hold`).
    output: MaybeUninit<usize>,
    _output: PhantomData<T>,
}

/// The tag bits of `JoinHandle::raw` (clear in a cell address: a `Header` is word-aligned).
const TAG: usize = 0b11;
/// Tag of a handle that holds its finished task's output.
const HELD: usize = 0b01;
/// Tag of a handle whose held output was moved out.
const TAKEN: usize = 0b11;
const _: () = assert!(align_of::<Header>() > TAG);

/// `raw` for a tagged word (never dereferenced: the tag marks it as no cell address).
#[inline(always)]
fn tagged_word(word: usize) -> NonNull<Header> {
    // The word holds a non-zero id shifted left by two, or'ed with a tag: it is not zero.
    NonNull::new(word as *mut Header).expect("brisk: a tagged JoinHandle word is not zero")
}

// SAFETY: the handle only moves `T` out of the task (T: Send is required by spawn) and touches
// the shared header through atomics.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reads the id and the state word, and `abort` is thread-safe; an
// output held by the handle is only reached through `&mut` (poll, drop).
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `raw` is a task whose output type is `T`, and the caller gives the handle's reference.
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> JoinHandle<T> {
        JoinHandle {
            raw,
            output: MaybeUninit::uninit(),
            _output: PhantomData,
        }
    }

    /// True if the handle can hold task `id`'s output itself: a `T` of at most one word,
    /// word-aligned, and an id that fits the tagged word.
    #[inline(always)]
    pub(crate) fn can_hold(id: Id) -> bool {
        Self::fits() && id.0.get() <= (usize::MAX >> 2) as u64
    }

    /// True if a `T` fits the output word in size and alignment (a constant per `T`).
    #[inline(always)]
    const fn fits() -> bool {
        size_of::<T>() <= size_of::<usize>() && align_of::<T>() <= align_of::<usize>()
    }

    /// The handle of task `id`, finished in its eager first poll with `output` (its cell
    /// freed).
    ///
    /// # Panics
    /// If `T` does not fit the output word (`can_hold`, checked by `raw::poll_first` before it
    /// frees a cell; the size check is a constant, the id one is only debug-asserted here: a
    /// larger id would give a wrong id, never unsoundness).
    #[inline(always)]
    pub(crate) fn finished(id: Id, output: T) -> JoinHandle<T> {
        assert!(Self::fits(), "brisk: a JoinHandle cannot hold this output");
        debug_assert!(
            Self::can_hold(id),
            "brisk: task id {id:?} does not fit a JoinHandle"
        );
        let tagged = (id.0.get() as usize) << 2 | HELD;
        let mut handle = JoinHandle {
            raw: tagged_word(tagged),
            output: MaybeUninit::uninit(),
            _output: PhantomData,
        };
        // SAFETY: `T` fits the word in size and alignment (checked above).
        unsafe { handle.output.as_mut_ptr().cast::<T>().write(output) };
        handle
    }

    /// The id of a task that finished in its eager first poll (the handle holds or held its
    /// output), or `None` if the handle refers to a cell.
    #[inline(always)]
    fn finished_id(&self) -> Option<Id> {
        let word = self.raw.as_ptr() as usize;
        if word & TAG == 0 {
            return None;
        }
        // The word was made by `finished` from a non-zero id.
        Some(Id(std::num::NonZeroU64::new((word >> 2) as u64).unwrap()))
    }

    /// Moves the held output out, if it is still there.
    #[inline(always)]
    fn take_output(&mut self) -> Option<T> {
        let word = self.raw.as_ptr() as usize;
        if word & TAG != HELD {
            return None;
        }
        self.raw = tagged_word(word | TAKEN);
        // SAFETY: the tag was `HELD`: a `T` was written by `finished` and not yet moved out; it
        // is `TAKEN` now, so it is read once.
        Some(unsafe { self.output.as_ptr().cast::<T>().read() })
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
        if self.finished_id().is_none() {
            abort_task(self.raw);
        }
    }

    /// True once the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.finished_id().is_some() || self.header().state.load().has(COMPLETE)
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        match self.finished_id() {
            Some(id) => id,
            None => self.header().id,
        }
    }

    /// An [`AbortHandle`] for this task.
    pub fn abort_handle(&self) -> AbortHandle {
        if let Some(id) = self.finished_id() {
            return AbortHandle {
                target: Target::Finished(id),
            };
        }
        self.header().state.ref_inc();
        AbortHandle {
            target: Target::Task(self.raw),
        }
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
        if this.finished_id().is_some() {
            return match this.take_output() {
                Some(output) => Poll::Ready(Ok(output)),
                None => panic!("brisk: JoinHandle polled after it returned Ready"),
            };
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
        if let Some(id) = self.finished_id() {
            if let Some(output) = self.take_output() {
                if needs_drop::<T>() {
                    // Like an output left in a cell: a panic from its destructor is discarded.
                    let _task = super::enter_task(id);
                    let _ = super::catch_user_panic(move || drop(output));
                }
            }
            return;
        }
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
    target: Target,
}

/// The task of an [`AbortHandle`].
enum Target {
    /// A task's cell (the handle counts a reference).
    Task(NonNull<Header>),
    /// A task that finished in its eager first poll (its cell is freed).
    Finished(Id),
}

// SAFETY: only the atomic state and the immutable id are touched.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// Cancels the task, like [`JoinHandle::abort`].
    pub fn abort(&self) {
        if let Target::Task(raw) = self.target {
            abort_task(raw);
        }
    }

    /// True once the task has finished.
    pub fn is_finished(&self) -> bool {
        match self.target {
            // SAFETY: the handle holds a reference.
            Target::Task(raw) => unsafe { raw.as_ref() }.state.load().has(COMPLETE),
            Target::Finished(_) => true,
        }
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        match self.target {
            // SAFETY: the handle holds a reference.
            Target::Task(raw) => unsafe { raw.as_ref() }.id,
            Target::Finished(id) => id,
        }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        let Target::Task(raw) = self.target else {
            return;
        };
        // SAFETY: the handle holds a reference.
        if unsafe { raw.as_ref() }.state.ref_dec() {
            // SAFETY: that was the last reference.
            unsafe { raw::dealloc(raw) };
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
