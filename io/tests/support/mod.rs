//! A tiny executor for the brisk-io tests: no runtime, only `std`.
//!
//! * [`ReactorThread`] owns a `Reactor` on a thread of its own and turns it until
//!   dropped (the unpark path is what stops it).
//! * [`block_on`] drives a future on the calling thread with a thread-parking waker,
//!   with the reactor's handle entered, and fails the test if the future does not
//!   complete within [`TIMEOUT`].
//! * [`join2`] / [`join_all`] poll several futures in one task.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use brisk_io::{Handle, Reactor};

/// Longest any single test future may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A reactor turned by a dedicated thread.
pub struct ReactorThread {
    pub handle: Handle,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ReactorThread {
    pub fn start() -> ReactorThread {
        let mut reactor = Reactor::new().expect("Reactor::new");
        let handle = reactor.handle();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = thread::Builder::new()
            .name("reactor".into())
            .spawn(move || {
                while !stop2.load(Ordering::Acquire) {
                    reactor.turn(None).expect("Reactor::turn");
                }
            })
            .expect("spawn reactor thread");
        ReactorThread {
            handle,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ReactorThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.handle.unpark();
        if let Some(t) = self.thread.take() {
            let joined = t.join();
            if !thread::panicking() {
                joined.expect("reactor thread panicked");
            }
        }
    }
}

struct ThreadWaker {
    thread: Thread,
    notified: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.notified.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Runs `fut` to completion on this thread with `handle` entered.
pub fn block_on<F: Future>(handle: &Handle, fut: F) -> F::Output {
    let _enter = handle.enter();
    let deadline = Instant::now() + TIMEOUT;
    let state = Arc::new(ThreadWaker {
        thread: thread::current(),
        notified: AtomicBool::new(false),
    });
    let waker = Waker::from(state.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        while !state.notified.swap(false, Ordering::Acquire) {
            let now = Instant::now();
            assert!(
                now < deadline,
                "test future did not complete within {TIMEOUT:?}"
            );
            thread::park_timeout(deadline - now);
        }
    }
}

/// Starts a reactor thread and runs `fut` on the calling thread.
pub fn run<F: Future>(fut: F) -> F::Output {
    let rt = ReactorThread::start();
    block_on(&rt.handle, fut)
}

/// Polls `a` and `b` concurrently in one task.
pub async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let mut ra = None;
    let mut rb = None;
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Polls all of `futs` concurrently in one task; outputs in input order.
pub async fn join_all<T>(futs: Vec<Pin<Box<dyn Future<Output = T> + '_>>>) -> Vec<T> {
    let mut futs: Vec<_> = futs.into_iter().map(Some).collect();
    let mut outs: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut done = true;
        for (slot, out) in futs.iter_mut().zip(outs.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => done = false,
                }
            }
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outs.into_iter().map(Option::unwrap).collect()
}

/// A waker that counts its wake-ups.
pub struct CountingWaker(pub AtomicUsize);

impl CountingWaker {
    pub fn new() -> (Arc<CountingWaker>, Waker) {
        let c = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let w = Waker::from(c.clone());
        (c, w)
    }
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Deterministic test data: byte `i` of stream `seed`.
pub fn pattern_byte(seed: u8, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 11)).wrapping_add(seed as usize) as u8
}

pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| pattern_byte(seed, i)).collect()
}

/// A fresh, empty directory for Unix socket files; removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "brisk-io-{}-{}-{}",
            name,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
