//! Shared helpers for brisk's integration tests: tiny synchronization futures written against
//! `std` only, so the tests depend on nothing but the runtime under test.

mod loom;
pub mod program;
pub mod reliability;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A one-shot flag: `wait()` completes once `set()` was called, from any thread.
#[derive(Clone, Default, Debug)]
pub struct Flag {
    inner: Arc<Mutex<(bool, Vec<Waker>)>>,
}

impl Flag {
    /// A new, unset flag.
    pub fn new() -> Flag {
        Flag::default()
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        let wakers = {
            let mut g = self.inner.lock().unwrap();
            g.0 = true;
            std::mem::take(&mut g.1)
        };
        for w in wakers {
            w.wake();
        }
    }

    /// True once set.
    pub fn is_set(&self) -> bool {
        self.inner.lock().unwrap().0
    }

    /// Completes once the flag is set.
    pub fn wait(&self) -> FlagWait {
        FlagWait { flag: self.clone() }
    }
}

/// The future of [`Flag::wait`].
#[derive(Debug)]
pub struct FlagWait {
    flag: Flag,
}

impl Future for FlagWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.flag.inner.lock().unwrap();
        if g.0 {
            Poll::Ready(())
        } else {
            g.1.push(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// A future that is pending `n` times (waking itself each time), then ready.
#[derive(Debug)]
pub struct PendingN(pub u32);

impl Future for PendingN {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            Poll::Ready(())
        } else {
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Runs `f` on a thread and fails the test (instead of hanging CI) if it takes longer than
/// `limit`.
pub fn with_watchdog<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let start = Instant::now();
    let t = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            t.join().unwrap();
            v
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The closure panicked: surface its panic.
            match t.join() {
                Err(p) => std::panic::resume_unwind(p),
                Ok(()) => unreachable!(),
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!(
                "watchdog: {what} did not finish within {:?} (hang or lost wake-up)",
                start.elapsed()
            )
        }
    }
}

/// Runs `fut` as a task on one of `rt`'s workers and blocks this (non-runtime) thread for its
/// output. Unlike `block_on(spawn(..))`, the task can never be inlined onto the calling thread.
pub fn on_worker<T: Send + 'static>(
    rt: &brisk::Runtime,
    fut: impl Future<Output = T> + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let _detached = rt.handle().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .expect("the task on the worker panicked or was cancelled")
}

/// A future wrapper that counts live futures in `live`: +1 when made, -1 when dropped, so a
/// test can check that every future was dropped, not only that its memory was freed.
#[derive(Debug)]
pub struct Counted<F> {
    future: Pin<Box<F>>,
    live: Arc<std::sync::atomic::AtomicUsize>,
}

impl<F: Future> Counted<F> {
    /// Wraps `future`, counting it in `live`.
    pub fn new(future: F, live: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        live.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Counted {
            future: Box::pin(future),
            live: live.clone(),
        }
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl<F> Drop for Counted<F> {
    fn drop(&mut self) {
        self.live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}
