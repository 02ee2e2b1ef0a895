//! The checks behind the fuzz targets (`fuzz/`) and their stable corpus replay
//! (`tests/tests/corpus_replay.rs`): each target is one `check(&[u8])` function here, so the
//! fuzzer and the replay run exactly the same code. A check panics on a failure and ignores
//! input it cannot decode.
//!
//! - [`timer_wheel`]: the runtime's timing wheel (compiled in with `#[path]`) against a
//!   `BTreeMap` model.
//! - [`task_state`]: the task state word (compiled in with `#[path]`) against a model of its
//!   bits and references, under random sequences of the transitions the runtime makes.
//! - [`scheduler_program`]: random programs (`crate::program`, plus sleeps, aborts and
//!   detached tasks) on a real runtime with a random configuration, against the runtime-free
//!   reference evaluation, under a watchdog, with no task left behind.
//!
//! [`alloc`] is a counting global allocator that the replay and leak tests install.

pub mod alloc;
pub mod scheduler_program;
pub mod task_state;
pub mod timer_wheel;

/// Lists the files of `dir` (sorted), for replaying a corpus. Empty if `dir` does not exist.
pub fn corpus_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Polls `fut` to completion on the calling thread (which must not run a brisk runtime),
/// parking between polls; `None` if it is still pending after `limit`. For awaiting
/// `JoinHandle`s from plain threads, and after their runtime is gone.
pub fn wait_outside<F: std::future::Future>(
    fut: F,
    limit: std::time::Duration,
) -> Option<F::Output> {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    let deadline = std::time::Instant::now() + limit;
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::park_timeout(deadline - now);
    }
}

/// Runs `f` on this thread under a watchdog that aborts the process (after printing `what`)
/// if `f` takes longer than `limit`.
///
/// Unlike [`crate::with_watchdog`], the waiting thread allocates nothing while `f` runs (it
/// parks), so a leak check inside `f` sees only `f`'s own allocations. A hang ends the
/// process, as libFuzzer's own timeout would.
pub fn with_abort_watchdog<T>(limit: std::time::Duration, what: &str, f: impl FnOnce() -> T) -> T {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::{Arc, Barrier};

    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(2));
    let what = what.to_string();
    let watchdog = {
        let (done, started) = (done.clone(), started.clone());
        std::thread::spawn(move || {
            started.wait();
            let deadline = std::time::Instant::now() + limit;
            while !done.load(SeqCst) {
                let now = std::time::Instant::now();
                if now >= deadline {
                    eprintln!(
                        "watchdog: {what} did not finish within {limit:?} (hang or lost wake-up)"
                    );
                    std::process::abort();
                }
                std::thread::park_timeout(deadline - now);
            }
        })
    };
    // From here on the watchdog thread only parks and loads a flag.
    started.wait();
    let out = f();
    done.store(true, SeqCst);
    watchdog.thread().unpark();
    watchdog.join().expect("watchdog thread");
    out
}
