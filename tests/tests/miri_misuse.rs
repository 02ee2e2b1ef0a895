//! Misuse from safe code that must stay sound, for Miri (`scripts/miri.sh`): `EnterGuard`s
//! dropped out of order or returned out of `block_on` (issue 12, bug 2). A file of its own,
//! because Miri stops a test binary at its first report: a finding here must not hide the
//! results of `miri_core.rs`.
//!
//! Natively these are undefined behaviour until the bug is fixed (a read of freed memory or
//! of a dead stack frame, which may or may not crash), so they are ignored outside Miri;
//! under Miri they run and Miri reports the dangling reference.

use std::panic::{catch_unwind, AssertUnwindSafe};

use brisk::Runtime;

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().unwrap()
}

#[test]
#[cfg_attr(
    not(miri),
    ignore = "known bug (issue 12, bug 2): out-of-order EnterGuard drops leave a dangling context"
)]
fn enter_guards_dropped_out_of_order_leave_no_dangling_context() {
    let rt = rt(1);
    let h = rt.handle().clone();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let a = h.enter();
        let b = h.enter();
        drop(a);
        drop(b);
    }));
    // The misuse may be reported (a panic); either way the context must be sound afterwards.
    let current = brisk::Handle::try_current();
    assert!(
        r.is_err() || current.is_none(),
        "all guards dropped without a panic, yet the thread is still in a runtime"
    );
}

#[test]
#[cfg_attr(
    not(miri),
    ignore = "known bug (issue 12, bug 2): a guard returned out of block_on points at its dead frame"
)]
fn enter_guard_returned_out_of_block_on_leaves_no_dangling_context() {
    let rt = rt(1);
    let r = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { brisk::Handle::current().enter() })
    }));
    if let Ok(guard) = r {
        drop(guard);
    }
    let current = brisk::Handle::try_current();
    assert!(current.is_none(), "the thread is still in a runtime");
}
