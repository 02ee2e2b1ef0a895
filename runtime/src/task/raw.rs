//! The unsafe task core: one allocation per task, reached through a type-erased header.
//!
//! Layout: `Cell<F>` is `#[repr(C)]` with the [`Header`] first, so a `NonNull<Header>` is also a
//! pointer to the whole cell; the header's [`Vtable`] holds the functions that know `F`.
//!
//! Invariants (see `state.rs` for the state word):
//! - The stage (future / output) is touched only by the holder of `RUNNING`, or, once `COMPLETE`
//!   is set, by the `JoinHandle` side (to take or drop the output), or by `dealloc`.
//! - `Header::owner` is written only while the writer holds `RUNNING` (or before the task is
//!   shared), and before the state transition that lets a waker see the task as idle; wakers read
//!   it only after a state transition to `NOTIFIED` that observed that idle state.
//! - The cell is freed exactly once, by whoever drops the reference count to zero.
//! - The `Waker` of a task is its header pointer with [`WAKER_VTABLE`]: cloning adds a
//!   reference, no allocation.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::future::Future;
use std::mem::{needs_drop, ManuallyDrop};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::alloc;
use super::error::JoinError;
use super::state::State;
use super::Id;
use crate::scheduler::Shared;

/// The functions that know the future's type.
pub(crate) struct Vtable {
    /// Polls the future; on `Ready` (or a panic) stores the output and returns true.
    poll: unsafe fn(NonNull<Header>) -> bool,
    /// Drops the future and stores the cancellation (or drop-panic) error.
    cancel: unsafe fn(NonNull<Header>),
    /// Moves the output into `*mut Poll<Result<T, JoinError>>`.
    read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops the output if it is still stored.
    drop_output: unsafe fn(NonNull<Header>),
    /// Frees the cell.
    dealloc: unsafe fn(NonNull<Header>),
}

/// A suspended task's registration: the runtime its wakers push to, and its slot in the
/// runtime's owned-task list. Set the first time the task returns `Pending` (see
/// `harness.rs`); tasks that never wait never get one.
pub(crate) struct Owner {
    pub(crate) shared: Option<Arc<Shared>>,
    pub(crate) slot: usize,
}

/// The type-erased part of every task.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static Vtable,
    pub(crate) id: Id,
    /// The runtime the task was spawned on, as an identity only: never dereferenced (a task
    /// may outlive it). Await-inlining compares it with the current thread's runtime.
    pub(crate) runtime: *const Shared,
    pub(crate) owner: UnsafeCell<Owner>,
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
}

/// Allocates a task cell for `future` with the given initial state word; returns its header.
/// The caller owns every reference counted in `initial_state`.
pub(crate) fn allocate<F>(
    future: F,
    id: Id,
    initial_state: usize,
    runtime: &Arc<Shared>,
) -> NonNull<Header>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let layout = Layout::new::<Cell<F>>();
    let ptr = alloc::allocate(layout).cast::<Cell<F>>();
    let cell = Cell {
        header: Header {
            state: State::new(initial_state),
            vtable: &Cell::<F>::VTABLE,
            id,
            runtime: Arc::as_ptr(runtime),
            owner: UnsafeCell::new(Owner {
                shared: None,
                slot: usize::MAX,
            }),
            join_waker: UnsafeCell::new(None),
        },
        stage: UnsafeCell::new(Stage::Running(future)),
    };
    // SAFETY: `ptr` is a fresh block with the layout of `Cell<F>`.
    unsafe { ptr.as_ptr().write(cell) };
    ptr.cast()
}

impl<F: Future> Cell<F> {
    const VTABLE: Vtable = Vtable {
        poll: Self::poll,
        cancel: Self::cancel,
        read_output: Self::read_output,
        drop_output: Self::drop_output,
        dealloc: Self::dealloc,
    };

    /// # Safety
    /// `ptr` is the header of a live `Cell<F>`.
    unsafe fn stage<'a>(ptr: NonNull<Header>) -> &'a mut Stage<F> {
        // SAFETY: the caller guarantees the cell is live and that it has exclusive access to the
        // stage under the rules in the module doc (RUNNING holder, or handle after COMPLETE).
        unsafe { &mut *(*ptr.cast::<Cell<F>>().as_ptr()).stage.get() }
    }

    /// Replaces the stage, catching a panic from dropping the old one. Values whose types
    /// need no drop are not touched at all.
    #[inline]
    fn set_stage(stage: &mut Stage<F>, id: Id, next: Stage<F>) {
        let dropped = match stage {
            Stage::Consumed => Ok(()),
            Stage::Running(_) if !needs_drop::<F>() => Ok(()),
            Stage::Finished(Ok(_)) if !needs_drop::<F::Output>() => Ok(()),
            _ => {
                // SAFETY: the old value is moved out here and `stage` is overwritten below
                // without being dropped again, whatever the drop does.
                let old = unsafe { std::ptr::read(stage) };
                catch_unwind(AssertUnwindSafe(move || drop(old)))
            }
        };
        let next = match dropped {
            Ok(()) => next,
            Err(panic) => Stage::Finished(Err(JoinError::panic(id, panic))),
        };
        // SAFETY: the old value was dropped (or needs none); writing does not drop it again.
        unsafe { std::ptr::write(stage, next) };
    }

    /// # Safety
    /// The caller holds `RUNNING` on a live `Cell<F>` whose stage is `Running`.
    unsafe fn poll(ptr: NonNull<Header>) -> bool {
        // SAFETY: the caller holds RUNNING, which gives exclusive access to the stage.
        let stage = unsafe { Self::stage(ptr) };
        // SAFETY: `ptr` is live; the header outlives this call.
        let id = unsafe { ptr.as_ref() }.id;
        let Stage::Running(future) = stage else {
            unreachable!("brisk: polled task {id:?} whose future is gone")
        };
        // SAFETY: the future lives in the heap cell and is never moved until it is dropped.
        let future = unsafe { Pin::new_unchecked(future) };
        let waker = waker_ref(ptr);
        let mut cx = Context::from_waker(&waker);
        match catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx))) {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(output)) => {
                Self::set_stage(stage, id, Stage::Finished(Ok(output)));
                true
            }
            Err(panic) => {
                let err = Stage::Finished(Err(JoinError::panic(id, panic)));
                Self::set_stage(stage, id, err);
                true
            }
        }
    }

    /// # Safety
    /// The caller holds `RUNNING` on a live `Cell<F>`.
    unsafe fn cancel(ptr: NonNull<Header>) {
        // SAFETY: the caller holds RUNNING, which gives exclusive access to the stage.
        let stage = unsafe { Self::stage(ptr) };
        // SAFETY: `ptr` is live.
        let id = unsafe { ptr.as_ref() }.id;
        Self::set_stage(stage, id, Stage::Finished(Err(JoinError::cancelled(id))));
    }

    /// # Safety
    /// `COMPLETE` is set, the caller is the join side, and `dst` points to a
    /// `Poll<Result<F::Output, JoinError>>`.
    unsafe fn read_output(ptr: NonNull<Header>, dst: *mut ()) {
        // SAFETY: after COMPLETE only the join side touches the stage.
        let stage = unsafe { Self::stage(ptr) };
        // SAFETY: the value is moved out and `Consumed` (which owns nothing) written over it.
        match unsafe { std::ptr::replace(stage, Stage::Consumed) } {
            Stage::Finished(out) => {
                // SAFETY: the caller guarantees `dst`'s type; the old value is a plain `Poll`
                // which we overwrite without dropping (it is `Pending`, which owns nothing).
                unsafe {
                    dst.cast::<Poll<Result<F::Output, JoinError>>>()
                        .write(Poll::Ready(out))
                }
            }
            _ => panic!("brisk: JoinHandle polled after it returned Ready"),
        }
    }

    /// # Safety
    /// `COMPLETE` is set and the caller has exclusive access to the output (see module doc).
    unsafe fn drop_output(ptr: NonNull<Header>) {
        // SAFETY: as above.
        let stage = unsafe { Self::stage(ptr) };
        if let Stage::Consumed = stage {
            return;
        }
        // SAFETY: `ptr` is live.
        let id = unsafe { ptr.as_ref() }.id;
        Self::set_stage(stage, id, Stage::Consumed);
    }

    /// # Safety
    /// The reference count reached zero: nobody else can reach the cell.
    unsafe fn dealloc(ptr: NonNull<Header>) {
        let cell = ptr.cast::<Cell<F>>();
        // A panic while dropping a leftover future or output must not unwind into a waker drop.
        // SAFETY: the cell is live and nobody else can reach it; it is dropped once, here.
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
            std::ptr::drop_in_place(cell.as_ptr())
        }));
        // SAFETY: allocated in `allocate` with this layout; never used again.
        unsafe { alloc::deallocate(cell.cast(), Layout::new::<Cell<F>>()) };
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

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    header_of(data).state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    let header = header_of(data);
    crate::trace::wake(header.id);
    match header.state.wake_by_val() {
        super::state::OnWake::Nothing => {}
        super::state::OnWake::Dealloc => {
            // SAFETY: the count reached zero in `wake_by_val`.
            unsafe { dealloc(NonNull::new_unchecked(data as *mut Header)) }
        }
        super::state::OnWake::Submit => {
            // SAFETY: the waker's reference becomes the queue entry's.
            let task = unsafe { TaskRef::from_raw(NonNull::new_unchecked(data as *mut Header)) };
            schedule(task);
        }
    }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    let header = header_of(data);
    crate::trace::wake(header.id);
    if header.state.wake_by_ref() == super::state::OnWake::Submit {
        // SAFETY: `wake_by_ref` counted one reference for the entry.
        let task = unsafe { TaskRef::from_raw(NonNull::new_unchecked(data as *mut Header)) };
        schedule(task);
    }
}

unsafe fn waker_drop(data: *const ()) {
    if header_of(data).state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { dealloc(NonNull::new_unchecked(data as *mut Header)) }
    }
}

/// Pushes a notified task to its runtime.
pub(crate) fn schedule(task: TaskRef) {
    // SAFETY: a task can be notified from idle only after it was registered, which wrote `owner`
    // before the transition that published the idle state (module invariants). The `Arc` lives
    // as long as the task, and `task` holds a reference.
    let owner = unsafe { &*task.header().owner.get() };
    let shared = owner
        .shared
        .as_ref()
        .expect("brisk: internal error: a notified task has no runtime");
    Shared::schedule(shared, task);
}
