//! Misuse from safe code that must stay sound, for Miri (`scripts/miri.sh`): `EnterGuard`s
//! dropped out of order or returned out of `block_on` (issue 12, bug 2). A file of its own,
//! because Miri stops a test binary at its first report: a finding here must not hide the
//! results of `miri_core.rs`.
//!
//! Before the fix these were undefined behaviour (a read of freed memory or of a dead stack
//! frame), which Miri reported; now the misuse panics with a clear message and the thread's
//! context stays sound. They run natively too (`regressions.rs` has the same cases).

use std::panic::{catch_unwind, AssertUnwindSafe};

use brisk::Runtime;

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().unwrap()
}

#[test]
fn enter_guards_dropped_out_of_order_leave_no_dangling_context() {
    let rt = rt(1);
    let h = rt.handle().clone();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let a = h.enter();
        let b = h.enter();
        drop(a);
        drop(b);
    }));
    assert!(r.is_err(), "out-of-order drops must panic");
    assert!(
        brisk::Handle::try_current().is_none(),
        "all guards dropped, yet the thread is still in a runtime"
    );
}

#[test]
fn enter_guard_returned_out_of_block_on_leaves_no_dangling_context() {
    let rt = rt(1);
    let r = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { brisk::Handle::current().enter() })
    }));
    assert!(
        r.is_err(),
        "a guard leaked out of block_on must be reported"
    );
    let current = brisk::Handle::try_current();
    assert!(current.is_none(), "the thread is still in a runtime");
}
