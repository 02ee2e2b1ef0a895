//! The unsafe task core: one allocation per task, reached through a type-erased header.
//!
//! Layout: `Cell<F, S>` is `#[repr(C)]` with a `Core<S>` first and the `Header` first in it, so
//! a `NonNull<Header>` is also a pointer to the core and to the whole cell. The header's
//! [`Vtable`] holds the functions that know `F` and `S`; code that knows `S` but not `F` (the
//! harness) reaches the scheduler slot through `Core<S>`, whose layout does not depend on `F`.
//!
//! Invariants (see `state.rs` for the state word):
//! - The stage (future / output) is touched only by the holder of `RUNNING`, or, once `COMPLETE`
//!   is set, by the `JoinHandle` side (to take or drop the output), or by `dealloc`.
//! - The scheduler slot and `Header::owned_slot` are written only while the writer holds
//!   `RUNNING`, before the state transition that lets a waker see the task as idle; wakers read
//!   the scheduler slot only after a transition to `NOTIFIED` that observed that idle state.
//! - Nothing reads a task's memory after the reference that kept it alive was handed to a queue
//!   or dropped: a waker that schedules keeps its own reference until `schedule` returns.
//! - The cell is freed exactly once, by whoever drops the reference count to zero; or, for a
//!   task that finished in its eager first poll while its state word was still
//!   `INLINE_START` (no waker kept, no other reference), by `poll_first` at once, which hands
//!   the output to the `JoinHandle` (`join.rs`).
//! - The `Waker` of a task is its header pointer with [`WAKER_VTABLE`]: cloning adds a
//!   reference, no allocation.
//! - User code (a future's poll or drop, an output's drop) runs with the task's id current
//!   (`task::id()`), and a panic in it never unwinds out of this module: a panicking poll drops
//!   the future while the panic unwinds, then stores the panic as the task's output.

use std::alloc::Layout;
use std::future::Future;
use std::mem::{needs_drop, ManuallyDrop};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::alloc;
use super::error::JoinError;
use super::join::JoinHandle;
use super::schedule::Schedule;
use super::state::{OnWake, State, INLINE_START};
use super::{catch_user_panic, enter_task, Id};
use crate::loom::cell::UnsafeCell;

/// The functions that know the future's and the scheduler's types.
pub(crate) struct Vtable {
    /// Polls the future; on `Ready` (or a panic) stores the output and returns true.
    poll: unsafe fn(NonNull<Header>) -> bool,
    /// Drops the future and stores the cancellation (or drop-panic) error.
    cancel: unsafe fn(NonNull<Header>),
    /// Moves the output into `*mut Poll<Result<T, JoinError>>`.
    read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops the output if it is still stored.
    drop_output: unsafe fn(NonNull<Header>),
    /// Queues the task with the scheduler stored in its cell.
    schedule: unsafe fn(TaskRef),
    /// Frees the cell.
    dealloc: unsafe fn(NonNull<Header>),
}

/// The type-erased part of every task.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static Vtable,
    pub(crate) id: Id,
    /// The scheduler the task was spawned on, as an identity only (`Schedule::identity`): never
    /// dereferenced. Await-inlining compares it with the current thread's.
    pub(crate) scheduler_id: *const (),
    /// The task's slot in its scheduler's owned-task list (written by `OwnedTasks::insert`).
    pub(crate) owned_slot: UnsafeCell<usize>,
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
}

/// The part of a cell that depends on the scheduler type only.
#[repr(C)]
pub(crate) struct Core<S> {
    header: Header,
    /// The scheduler wakers push to: set the first time the task suspends (`harness.rs`);
    /// tasks that never wait never get one (no reference-count traffic on the ready path).
    scheduler: UnsafeCell<Option<S>>,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future, S> {
    core: Core<S>,
    stage: UnsafeCell<Stage<F>>,
}

/// Allocates a task cell for `future` with the given initial state word; returns its header.
/// The caller owns every reference counted in `initial_state`.
///
/// `F` need not be `Send`: the public spawn functions require it, except `spawn_local`, whose
/// scheduler (`local.rs`) polls and cancels its tasks only on the thread that owns them; a
/// task's future is never dropped by a waker or a handle (only by a poll, a cancellation or
/// shutdown, all run by the scheduler).
#[inline(always)]
pub(crate) fn allocate<F, S>(
    future: F,
    id: Id,
    initial_state: usize,
    scheduler: &S,
) -> NonNull<Header>
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let layout = Layout::new::<Cell<F, S>>();
    let ptr = alloc::allocate(layout).cast::<Cell<F, S>>();
    let cell = Cell {
        core: Core {
            header: Header {
                state: State::new(initial_state),
                vtable: &Cell::<F, S>::VTABLE,
                id,
                scheduler_id: scheduler.identity(),
                owned_slot: UnsafeCell::new(usize::MAX),
                join_waker: UnsafeCell::new(None),
            },
            scheduler: UnsafeCell::new(None),
        },
        stage: UnsafeCell::new(Stage::Running(future)),
    };
    // SAFETY: `ptr` is a fresh block with the layout of `Cell<F, S>`.
    unsafe { ptr.as_ptr().write(cell) };
    // Under loom the state's atomic is created on first use (see `crate::loom`): create it
    // here, before the task is shared.
    #[cfg(loom)]
    // SAFETY: written just above.
    let _ = unsafe { ptr.as_ref() }.core.header.state.load();
    ptr.cast()
}

/// What an eager first poll left (see [`poll_first`]).
pub(crate) enum FirstPoll<T> {
    /// The task suspended; the caller registers it.
    Pending,
    /// The task finished and its cell is freed: here is the output, for the `JoinHandle`.
    Ready(T),
    /// The task finished; its output (or error) is stored in the cell, the caller completes it.
    Stored,
}

/// The eager first poll of a fresh cell (state `INLINE_START`), for a caller that knows its
/// types: a direct call, not through the vtable.
///
/// # Safety
/// The caller holds the only references to `ptr`, a `Cell<F, S>` just allocated with
/// `INLINE_START`, and gives them up on `Ready` (the cell is freed).
#[inline(always)]
pub(crate) unsafe fn poll_first<F: Future, S: Schedule>(
    ptr: NonNull<Header>,
) -> FirstPoll<F::Output> {
    // SAFETY: forwarded from the caller.
    unsafe { Cell::<F, S>::poll_first(ptr) }
}

/// The scheduler slot of a task whose scheduler type is `S`.
///
/// # Safety
/// `ptr` is a live task allocated with scheduler type `S`; the slot is accessed only under the
/// module invariants (through `with` to read, `with_mut` to write).
pub(crate) unsafe fn scheduler_slot<'a, S>(ptr: NonNull<Header>) -> &'a UnsafeCell<Option<S>> {
    // SAFETY: `Core<S>` is the `#[repr(C)]` prefix of every `Cell<_, S>`, header first; the
    // caller keeps the task alive while it uses the slot.
    unsafe { &(*ptr.cast::<Core<S>>().as_ptr()).scheduler }
}

/// Drops a value, catching a panic from its destructor. Runs with the task's id current.
fn drop_caught<T>(id: Id, value: T) -> Result<(), JoinError> {
    if !needs_drop::<T>() {
        std::mem::forget(value);
        return Ok(());
    }
    let _task = enter_task(id);
    catch_user_panic(move || drop(value)).map_err(|p| JoinError::panic(id, p))
}

/// Drops the stage in place (not moved: a future can be large), catching a panic from its
/// destructor. Runs with the task's id current. Afterwards the stage is dropped and must be
/// written before it is read again.
///
/// # Safety
/// `stage` is valid, owned by the caller, and not used again until it is written.
unsafe fn drop_stage_in_place<F: Future>(id: Id, stage: *mut Stage<F>) -> Result<(), JoinError> {
    if !needs_drop::<Stage<F>>() {
        return Ok(());
    }
    // SAFETY: the caller's contract.
    if let Stage::Consumed = unsafe { &*stage } {
        return Ok(());
    }
    let _task = enter_task(id);
    // SAFETY: the caller's contract: dropped once, here.
    catch_user_panic(|| unsafe { std::ptr::drop_in_place(stage) })
        .map_err(|p| JoinError::panic(id, p))
}

/// Drops the future of a poll that panicked, while the panic unwinds (as a task's destructors
/// expect: `std::thread::panicking()` is true in them). Forgotten when the poll returns.
struct DropFutureOnUnwind<F: Future>(*mut Stage<F>);

impl<F: Future> Drop for DropFutureOnUnwind<F> {
    fn drop(&mut self) {
        // SAFETY: the poller holds RUNNING, so the stage is ours; the old value is moved out
        // before `Consumed` is written, and dropped once.
        unsafe {
            std::ptr::drop_in_place(self.0);
            std::ptr::write(self.0, Stage::Consumed);
        }
    }
}

impl<F: Future, S: Schedule> Cell<F, S> {
    const VTABLE: Vtable = Vtable {
        poll: Self::poll,
        cancel: Self::cancel,
        read_output: Self::read_output,
        drop_output: Self::drop_output,
        schedule: Self::schedule,
        dealloc: Self::dealloc,
    };

    /// The stage cell.
    ///
    /// # Safety
    /// `ptr` is the header of a live `Cell<F, S>` (kept alive while the result is used); the
    /// caller accesses the stage only under the module rules (RUNNING holder, or the join side
    /// after COMPLETE).
    unsafe fn stage<'a>(ptr: NonNull<Header>) -> &'a UnsafeCell<Stage<F>> {
        // SAFETY: forwarded from the caller.
        unsafe { &(*ptr.cast::<Cell<F, S>>().as_ptr()).stage }
    }

    /// Drops the stage in place and stores `out` (an output or an error; `None`: `Consumed`). A
    /// panic from dropping the old stage is stored instead of `out` (and `out` is dropped, its
    /// own panic discarded): nothing unwinds out.
    ///
    /// # Safety
    /// As for `stage`.
    #[inline]
    unsafe fn set_stage(ptr: NonNull<Header>, id: Id, out: Option<Result<F::Output, JoinError>>) {
        // SAFETY: forwarded from the caller.
        let cell = unsafe { Self::stage(ptr) };
        // SAFETY: we own the stage; it is written right below, before anything reads it.
        let dropped = cell.with_mut(|stage| unsafe { drop_stage_in_place(id, stage) });
        // Two accesses, not one closure holding `out`: the small write is inlined here, where
        // `out` still sits in registers (a large closure taking `out` through the stack made
        // every completion wait on a store-forwarding stall).
        match dropped {
            Ok(()) => {
                let next = out.map_or(Stage::Consumed, Stage::Finished);
                // SAFETY: as above: the dropped stage is overwritten without being read.
                cell.with_mut(|stage| unsafe { std::ptr::write(stage, next) });
            }
            Err(panic) => {
                // SAFETY: as above.
                cell.with_mut(|stage| unsafe {
                    std::ptr::write(stage, Stage::Finished(Err(panic)))
                });
                let _ = drop_caught(id, out);
            }
        }
    }

    /// Polls the future once, with the task's id current; a panic is caught (the future is
    /// then dropped and the stage is `Consumed`).
    ///
    /// # Safety
    /// The caller holds `RUNNING` on a live `Cell<F, S>` whose stage is `Running`.
    #[inline(always)]
    unsafe fn poll_once(ptr: NonNull<Header>, id: Id) -> std::thread::Result<Poll<F::Output>> {
        let waker = waker_ref(ptr);
        let mut cx = Context::from_waker(&waker);
        let _task = enter_task(id);
        // SAFETY: the caller holds RUNNING, which gives exclusive access to the stage.
        unsafe { Self::stage(ptr) }.with_mut(|stage| {
            catch_user_panic(|| {
                let guard = DropFutureOnUnwind(stage);
                // SAFETY: the stage is ours (RUNNING) and `Running` (caller's contract).
                let Stage::Running(future) = (unsafe { &mut *stage }) else {
                    unreachable!("brisk: polled task {id:?} whose future is gone")
                };
                // SAFETY: the future lives in the heap cell and is never moved until dropped.
                let out = unsafe { Pin::new_unchecked(future) }.poll(&mut cx);
                std::mem::forget(guard);
                out
            })
        })
    }

    /// The eager first poll of a cell allocated with `INLINE_START` that nobody else has seen.
    /// When the future is ready, its output fits a `JoinHandle` ([`JoinHandle::can_hold`]), no
    /// waker was kept and dropping the future does not panic, the cell is freed here and the
    /// output returned: the handle will hold it. Otherwise as `poll` (the output, or the
    /// panic, stored in the cell).
    ///
    /// # Safety
    /// As for `poll`, and the caller holds the cell's only references (owner and handle,
    /// `INLINE_START`) and gives them up if this returns `Ready`.
    #[inline(always)]
    unsafe fn poll_first(ptr: NonNull<Header>) -> FirstPoll<F::Output> {
        // SAFETY: `ptr` is live; the header outlives this call.
        let id = unsafe { ptr.as_ref() }.id;
        // SAFETY: forwarded from the caller.
        let output = match unsafe { Self::poll_once(ptr, id) } {
            Ok(Poll::Pending) => return FirstPoll::Pending,
            Ok(Poll::Ready(output)) => output,
            Err(panic) => {
                // SAFETY: we hold RUNNING.
                unsafe { Self::set_stage(ptr, id, Some(Err(JoinError::panic(id, panic)))) };
                return FirstPoll::Stored;
            }
        };
        // SAFETY: `ptr` is live.
        let header = unsafe { ptr.as_ref() };
        // The Acquire load orders any access of a waker clone made and dropped during the poll
        // before the free below; a clone still alive, or a wake, shows in the word.
        if JoinHandle::<F::Output>::can_hold(id) && header.state.load().0 == INLINE_START {
            // SAFETY: we hold RUNNING; the stage is `Running` (the future returned Ready).
            let dropped = unsafe { Self::stage(ptr) }
                .with_mut(|stage| unsafe { drop_stage_in_place(id, stage) });
            if dropped.is_ok() {
                // SAFETY: nobody else holds a reference (the word is `INLINE_START`, whose
                // two references are the caller's); the stage was just dropped and the
                // header owns nothing (no join waker before a handle exists, no scheduler
                // before a suspension): nothing is left to drop.
                unsafe { alloc::deallocate(ptr.cast(), Layout::new::<Self>()) };
                return FirstPoll::Ready(output);
            }
            // The future's destructor panicked: the stage is dropped; store the error (and
            // drop the output) like `set_stage` does.
            // SAFETY: the dropped stage is overwritten without being read.
            unsafe { Self::stage(ptr) }.with_mut(|stage| unsafe {
                std::ptr::write(stage, Stage::Finished(Err(dropped.unwrap_err())))
            });
            let _ = drop_caught(id, output);
            return FirstPoll::Stored;
        }
        // SAFETY: we hold RUNNING.
        unsafe { Self::set_stage(ptr, id, Some(Ok(output))) };
        FirstPoll::Stored
    }

    /// # Safety
    /// The caller holds `RUNNING` on a live `Cell<F, S>` whose stage is `Running`.
    unsafe fn poll(ptr: NonNull<Header>) -> bool {
        // SAFETY: `ptr` is live; the header outlives this call.
        let id = unsafe { ptr.as_ref() }.id;
        // SAFETY: forwarded from the caller.
        let polled = unsafe { Self::poll_once(ptr, id) };
        match polled {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(output)) => {
                // SAFETY: we hold RUNNING.
                unsafe { Self::set_stage(ptr, id, Some(Ok(output))) };
                true
            }
            Err(panic) => {
                // The future was dropped during the unwind; the stage is `Consumed`.
                // SAFETY: we hold RUNNING.
                unsafe { Self::set_stage(ptr, id, Some(Err(JoinError::panic(id, panic)))) };
                true
            }
        }
    }

    /// # Safety
    /// The caller holds `RUNNING` on a live `Cell<F, S>`.
    unsafe fn cancel(ptr: NonNull<Header>) {
        // SAFETY: `ptr` is live.
        let id = unsafe { ptr.as_ref() }.id;
        // SAFETY: the caller holds RUNNING.
        unsafe { Self::set_stage(ptr, id, Some(Err(JoinError::cancelled(id)))) };
    }

    /// # Safety
    /// `COMPLETE` is set, the caller is the join side, and `dst` points to a
    /// `Poll<Result<F::Output, JoinError>>`.
    unsafe fn read_output(ptr: NonNull<Header>, dst: *mut ()) {
        // SAFETY: after COMPLETE only the join side touches the stage. Only the output is moved
        // out (not the whole stage, which is as large as the future), then `Consumed` (which
        // owns nothing) is written over the moved-out value without dropping it.
        let out = unsafe { Self::stage(ptr) }.with_mut(|s| unsafe {
            match &*s {
                Stage::Finished(out) => {
                    let out = std::ptr::read(out);
                    std::ptr::write(s, Stage::Consumed);
                    Some(out)
                }
                _ => None,
            }
        });
        match out {
            Some(out) => {
                // SAFETY: the caller guarantees `dst`'s type; the old value is a plain `Poll`
                // which we overwrite without dropping (it is `Pending`, which owns nothing).
                unsafe {
                    dst.cast::<Poll<Result<F::Output, JoinError>>>()
                        .write(Poll::Ready(out))
                }
            }
            None => panic!("brisk: JoinHandle polled after it returned Ready"),
        }
    }

    /// # Safety
    /// `COMPLETE` is set and the caller has exclusive access to the output (see module doc).
    unsafe fn drop_output(ptr: NonNull<Header>) {
        // SAFETY: as above.
        if unsafe { Self::stage(ptr) }.with(|s| matches!(unsafe { &*s }, Stage::Consumed)) {
            return;
        }
        // SAFETY: `ptr` is live.
        let id = unsafe { ptr.as_ref() }.id;
        // SAFETY: as above. A panic from the output's drop is discarded (stage `Consumed`
        // then holds the panic error, which nobody reads).
        unsafe { Self::set_stage(ptr, id, None) };
    }

    /// # Safety
    /// `task` is notified and owns a queue entry's reference; the caller holds another
    /// reference for the duration; the scheduler slot was written (the task suspended before).
    unsafe fn schedule(task: TaskRef) {
        // SAFETY: module invariants: the slot was written before the idle transition the
        // caller's NOTIFIED transition observed; the caller's own reference keeps it alive
        // until we return, even if the entry is run and released meanwhile.
        let slot = unsafe { scheduler_slot::<S>(task.as_ptr()) };
        // SAFETY: as above: written before, never written again while the task lives.
        slot.with(|s| match unsafe { &*s } {
            Some(s) => s.schedule(task),
            None => unreachable!("brisk: internal error: a notified task has no scheduler"),
        })
    }

    /// # Safety
    /// The reference count reached zero: nobody else can reach the cell.
    unsafe fn dealloc(ptr: NonNull<Header>) {
        let cell = ptr.cast::<Cell<F, S>>();
        // SAFETY: `ptr` is live until freed below.
        let id = unsafe { ptr.as_ref() }.id;
        // A panic while dropping a leftover future or output must not unwind into a waker drop.
        {
            let _task = enter_task(id);
            // SAFETY: the cell is live and nobody else can reach it; it is dropped once, here.
            let _ = catch_user_panic(|| unsafe { std::ptr::drop_in_place(cell.as_ptr()) });
        }
        // SAFETY: allocated in `allocate` with this layout; never used again.
        unsafe { alloc::deallocate(cell.cast(), Layout::new::<Self>()) };
    }
}

/// A pointer to a task that owns one reference (a queue entry, an owned-list slot, the owner).
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: the task's shared parts are atomics or guarded by the state protocol; the future and
// output are `Send` (checked at `allocate`).
unsafe impl Send for TaskRef {}
// SAFETY: as above; `&TaskRef` only exposes the header.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// Takes ownership of one reference the caller holds.
    ///
    /// # Safety
    /// `ptr` is a live task and the caller gives up one counted reference.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> TaskRef {
        TaskRef(ptr)
    }

    pub(crate) fn as_ptr(&self) -> NonNull<Header> {
        self.0
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a `TaskRef` holds a reference, so the cell is live.
        unsafe { self.0.as_ref() }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        if self.header().state.ref_dec() {
            // SAFETY: that was the last reference.
            unsafe { dealloc(self.0) }
        }
    }
}

impl std::fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRef")
            .field("id", &self.header().id)
            .finish()
    }
}

/// # Safety
/// The caller holds `RUNNING` on the live task `ptr`.
pub(crate) unsafe fn poll_future(ptr: NonNull<Header>) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { (ptr.as_ref().vtable.poll)(ptr) }
}

/// # Safety
/// The caller holds `RUNNING` on the live task `ptr`.
pub(crate) unsafe fn cancel_future(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    unsafe { (ptr.as_ref().vtable.cancel)(ptr) }
}

/// # Safety
/// See `Vtable::read_output`.
pub(crate) unsafe fn read_output(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: forwarded from the caller.
    unsafe { (ptr.as_ref().vtable.read_output)(ptr, dst) }
}

/// # Safety
/// See `Vtable::drop_output`.
pub(crate) unsafe fn drop_output(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    unsafe { (ptr.as_ref().vtable.drop_output)(ptr) }
}

/// Queues a notified task with the scheduler stored in its cell.
///
/// # Safety
/// `task` owns the entry's reference, the caller holds another one for the duration, and the
/// task has a scheduler (it suspended before).
pub(crate) unsafe fn schedule(task: TaskRef) {
    let vtable = task.header().vtable;
    // SAFETY: forwarded from the caller.
    unsafe { (vtable.schedule)(task) }
}

/// # Safety
/// The reference count of `ptr` reached zero.
pub(crate) unsafe fn dealloc(ptr: NonNull<Header>) {
    // SAFETY: forwarded from the caller.
    unsafe { (ptr.as_ref().vtable.dealloc)(ptr) }
}

// ---- the waker: the task pointer itself ----

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

/// A waker borrowed for one poll: it holds no reference of its own (clones do).
pub(crate) fn waker_ref(ptr: NonNull<Header>) -> ManuallyDrop<Waker> {
    let raw = RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE);
    // SAFETY: the vtable functions uphold the RawWaker contract for task pointers; the result is
    // never dropped (ManuallyDrop), so it does not release a reference it does not own.
    ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
}

fn header_of<'a>(data: *const ()) -> &'a Header {
    // SAFETY: every RawWaker with WAKER_VTABLE carries a live task header pointer (it holds a
    // reference, or borrows one for the duration of a poll).
    unsafe { &*(data as *const Header) }
}

fn ptr_of(data: *const ()) -> NonNull<Header> {
    // SAFETY: waker data pointers are task headers, never null.
    unsafe { NonNull::new_unchecked(data as *mut Header) }
}

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    header_of(data).state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    let header = header_of(data);
    crate::trace::wake(header.id);
    match header.state.wake_by_val() {
        OnWake::Nothing => {}
        OnWake::Dealloc => {
            // SAFETY: the count reached zero in `wake_by_val`.
            unsafe { dealloc(ptr_of(data)) }
        }
        OnWake::Submit => {
            // SAFETY: `wake_by_val` counted the entry's reference; the waker's own reference
            // (released below, after `schedule` returned) keeps the cell alive meanwhile.
            unsafe { schedule(TaskRef::from_raw(ptr_of(data))) };
            // SAFETY: the waker's reference, given up here.
            drop(unsafe { TaskRef::from_raw(ptr_of(data)) });
        }
    }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    let header = header_of(data);
    crate::trace::wake(header.id);
    if header.state.wake_by_ref() == OnWake::Submit {
        // SAFETY: `wake_by_ref` counted the entry's reference and one more that keeps the cell
        // alive until `schedule` returned (the waker itself may be borrowed from a poll whose
        // task is completed and freed by another worker meanwhile).
        unsafe { schedule(TaskRef::from_raw(ptr_of(data))) };
        // SAFETY: the guard reference counted by `wake_by_ref`.
        drop(unsafe { TaskRef::from_raw(ptr_of(data)) });
    }
}

unsafe fn waker_drop(data: *const ()) {
    if header_of(data).state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { dealloc(ptr_of(data)) }
    }
}
