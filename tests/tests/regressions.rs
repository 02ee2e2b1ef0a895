//! Regression tests for the soundness and robustness bugs of issue 12 ("Trust the core"). Each
//! test failed (panicked, hung, crashed or returned the wrong value) before its fix; the bug
//! number matches the table in RELIABILITY.md. Bug 1 (use-after-free on the wake path) is
//! checked by the loom model `loom_wake_steal_complete_free` on the real task core and by the
//! ThreadSanitizer stress run (`scripts/tsan.sh`), since a plain test cannot observe it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use brisk::{Builder, Handle, Runtime, SpawnPolicy};
use brisk_tests::{with_watchdog, Flag};

fn runtime(workers: usize) -> Runtime {
    Builder::new().worker_threads(workers).build().unwrap()
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".to_string()
    }
}

// ---- bug 2: dangling thread-local context from safe code ----

#[test]
fn bug2_enter_guards_dropped_out_of_order_panic_clearly_and_leave_no_dangling_context() {
    let rt = runtime(1);
    let h = rt.handle().clone();
    let a = h.enter();
    let b = h.enter();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(a)));
    let msg = panic_message(&*r.expect_err("dropping the outer guard first must panic"));
    assert!(msg.contains("dropped out of order"), "message: {msg}");
    drop(b);
    // Before the fix the thread-local pointed at freed memory here.
    assert!(Handle::try_current().is_none());
    // The thread is still usable.
    assert_eq!(rt.block_on(async { 5 }), 5);
}

#[test]
fn bug2_guard_returned_out_of_block_on_is_detected() {
    let rt = runtime(1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let guard = rt.block_on(async { Handle::current().enter() });
        drop(guard);
    }));
    let msg = panic_message(&*r.expect_err("leaking a guard out of block_on must panic"));
    assert!(msg.contains("dropped out of order"), "message: {msg}");
    // Before the fix this dereferenced a dead stack frame.
    assert!(Handle::try_current().is_none());
    assert_eq!(rt.block_on(async { 6 }), 6);
}

// ---- bug 3: a panicking waker kills a worker ----

/// A waker that records that it was woken, then panics.
struct PanickingWaker(Flag);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.0.set();
        panic!("a waker that panics (on purpose)");
    }
}

/// Polls `fut` once with a panicking waker (which sets `woken` when called), then completes.
struct PollOnceWith<F>(Option<F>, Flag);

impl<F: Future + Unpin> Future for PollOnceWith<F> {
    type Output = F;
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<F> {
        let mut fut = self.0.take().unwrap();
        let waker = Waker::from(Arc::new(PanickingWaker(self.1.clone())));
        let _ = Pin::new(&mut fut).poll(&mut Context::from_waker(&waker));
        Poll::Ready(fut)
    }
}

/// Blocks (with a watchdog) until `flag` is set.
fn wait_flag(flag: &Flag, what: &str) {
    let flag = flag.clone();
    with_watchdog(Duration::from_secs(20), what, move || {
        while !flag.is_set() {
            std::thread::yield_now();
        }
    });
}

/// True if both workers of `rt` still run tasks: two tasks that each spin until the other one
/// started can only both see the other within the limit if two workers are alive.
fn both_workers_alive(rt: &Runtime) -> bool {
    let (a, b) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let meet = |mine: Arc<AtomicBool>, other: Arc<AtomicBool>| async move {
        mine.store(true, Ordering::SeqCst);
        let start = std::time::Instant::now();
        while !other.load(Ordering::SeqCst) {
            if start.elapsed() > Duration::from_secs(10) {
                return false;
            }
            std::hint::spin_loop();
        }
        true
    };
    let t1 = rt.handle().spawn(meet(a.clone(), b.clone()));
    let t2 = rt.handle().spawn(meet(b, a));
    with_watchdog(Duration::from_secs(30), "both workers alive", move || {
        block_on_plain(async { t1.await.unwrap_or(false) && t2.await.unwrap_or(false) })
    })
}

#[test]
fn bug3_panicking_join_waker_does_not_kill_the_worker() {
    let rt = runtime(2);
    let gate = Flag::new();
    let g = gate.clone();
    let child = rt.handle().spawn(async move { g.wait().await });
    // Register a panicking join waker, from outside the runtime.
    let woken = Flag::new();
    let child = block_on_plain(PollOnceWith(Some(child), woken.clone()));
    gate.set(); // the child completes on a worker, which wakes the panicking join waker
    wait_flag(&woken, "join waker woken");
    drop(child);
    assert!(both_workers_alive(&rt), "a worker died");
}

#[test]
fn bug3_panicking_timer_waker_does_not_kill_the_worker() {
    let rt = runtime(2);
    let woken = Flag::new();
    let w = woken.clone();
    #[allow(clippy::async_yields_async)] // on purpose: the registered `Sleep` is the output
    let sleep = rt.block_on(async move {
        let sleep = brisk::time::sleep(Duration::from_millis(1));
        PollOnceWith(Some(sleep), w).await
    });
    // The timer fires in the driver, on a worker, with the panicking waker.
    wait_flag(&woken, "timer waker woken");
    drop(sleep);
    assert!(both_workers_alive(&rt), "a worker died");
}

#[test]
fn bug3_panicking_io_waker_does_not_kill_the_worker() {
    let rt = runtime(2);
    let (peer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
    let woken = Flag::new();
    let w = woken.clone();
    let reader = rt.block_on(async move {
        reader.set_nonblocking(true).unwrap();
        let mut s = brisk::net::UnixStream::from_std(reader).unwrap();
        let mut buf = [0u8; 4];
        // Register read interest with the panicking waker.
        let waker = Waker::from(Arc::new(PanickingWaker(w)));
        let mut cx = Context::from_waker(&waker);
        let r = brisk::io::AsyncRead::poll_read(Pin::new(&mut s), &mut cx, &mut buf);
        assert!(r.is_pending());
        s
    });
    use std::io::Write;
    (&peer).write_all(b"ping").unwrap(); // the reactor wakes the panicking waker
    wait_flag(&woken, "I/O waker woken");
    assert!(both_workers_alive(&rt), "a worker died");
    drop(reader);
}

// ---- bug 4: a future whose Drop panics, returning an output whose Drop panics ----

struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{} dropped (on purpose)", self.0);
        }
    }
}

/// Ready at once with an output that panics when dropped; panics itself when dropped.
struct BadFuture(#[allow(dead_code)] PanicOnDrop);

impl Future for BadFuture {
    type Output = PanicOnDrop;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<PanicOnDrop> {
        Poll::Ready(PanicOnDrop("output"))
    }
}

#[test]
fn bug4_panicking_future_and_output_drops_inline() {
    let rt = runtime(1);
    let r = rt.block_on(async {
        let h = brisk::spawn(BadFuture(PanicOnDrop("future")));
        h.await
    });
    let err = r.err().expect("the task's drop panicked: an error");
    assert!(err.is_panic());
}

#[test]
fn bug4_panicking_future_and_output_drops_queued() {
    let rt = runtime(1);
    let h = rt.handle().clone();
    let r = with_watchdog(Duration::from_secs(20), "queued bad future", move || {
        block_on_plain(h.spawn(BadFuture(PanicOnDrop("future"))))
    });
    assert!(r.err().expect("an error").is_panic());
    assert!(
        with_watchdog(Duration::from_secs(20), "worker alive", {
            let h = rt.handle().clone();
            move || block_on_plain(h.spawn(async { 7 })).unwrap() == 7
        }),
        "the worker died"
    );
}

// ---- bug 5: runtime drop overflows the stack ----

#[test]
fn bug5_shutdown_of_a_long_wake_chain_is_iterative() {
    const N: usize = 20_000;
    with_watchdog(Duration::from_secs(60), "shutdown of a wake chain", || {
        let rt = runtime(2);
        let started = Arc::new(AtomicUsize::new(0));
        let (first_tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        for _ in 0..N {
            let (tx, next_rx) = tokio::sync::oneshot::channel::<()>();
            let started = started.clone();
            drop(rt.handle().spawn(async move {
                started.fetch_add(1, Ordering::SeqCst);
                let _hold = tx; // dropping it wakes the next task in the chain
                let _ = rx.await;
            }));
            rx = next_rx;
        }
        while started.load(Ordering::SeqCst) < N {
            std::thread::yield_now();
        }
        drop(rx);
        // Every task now waits; dropping the runtime cancels them, and each cancellation wakes
        // the next one. Before the fix this recursed once per task and overflowed the stack.
        drop(rt);
        drop(first_tx);
    });
}

// ---- bug 6: timeout never fires around a future that keeps finding ready resources ----

#[test]
fn bug6_timeout_fires_around_a_future_that_is_always_ready() {
    let rt = runtime(2);
    let h = rt.handle().clone();
    let r = with_watchdog(
        Duration::from_secs(20),
        "timeout around ready sleeps",
        move || {
            block_on_plain(h.spawn(async {
                brisk::time::timeout(Duration::from_millis(10), async {
                    loop {
                        brisk::time::sleep(Duration::ZERO).await;
                    }
                })
                .await
            }))
        },
    );
    assert!(r.unwrap().is_err(), "the timeout must elapse");
    rt.shutdown_timeout(Duration::from_secs(1));
}

// ---- bug 7: a dropped JoinHandle keeps the awaiting task's waker ----

struct CountingWaker;

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn bug7_dropped_join_handle_releases_the_join_waker() {
    let rt = runtime(1);
    let gate = Flag::new();
    let g = gate.clone();
    let mut child = rt.handle().spawn(async move { g.wait().await });
    let counted = Arc::new(CountingWaker);
    let waker = Waker::from(counted.clone());
    assert!(Pin::new(&mut child)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(waker);
    assert_eq!(Arc::strong_count(&counted), 2, "the handle stored a clone");
    drop(child);
    assert_eq!(
        Arc::strong_count(&counted),
        1,
        "dropping the handle must release its waker while the task still runs"
    );
    gate.set();
}

// ---- bug 8: task::id() where tokio has one ----

struct RecordId(Arc<Mutex<Option<Option<brisk::task::Id>>>>);

impl Drop for RecordId {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(brisk::task::try_id());
    }
}

#[test]
fn bug8_task_id_in_a_cancelled_futures_destructor() {
    let rt = runtime(1);
    let seen = Arc::new(Mutex::new(None));
    let rec = RecordId(seen.clone());
    let gate = Flag::new();
    let h = rt.handle().spawn(async move {
        let _rec = rec;
        gate.wait().await;
    });
    let id = h.id();
    h.abort();
    let r = block_on_plain(h);
    assert!(r.unwrap_err().is_cancelled());
    assert_eq!(*seen.lock().unwrap(), Some(Some(id)));
}

#[test]
fn bug8_task_id_in_an_output_destructor_run_by_handle_drop() {
    let rt = runtime(1);
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let id = rt.block_on(async move {
        let h = brisk::spawn(async move { RecordId(s) });
        let id = h.id();
        assert!(h.is_finished());
        drop(h); // the output is dropped here, by the handle
        id
    });
    assert_eq!(*seen.lock().unwrap(), Some(Some(id)));
}

#[test]
fn bug8_task_id_in_an_output_destructor_run_by_completion() {
    let rt = runtime(1);
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let gate = Flag::new();
    let g = gate.clone();
    let h = rt.handle().spawn(async move {
        g.wait().await;
        RecordId(s)
    });
    let id = h.id();
    drop(h); // detached: the completer drops the output
    gate.set();
    with_watchdog(Duration::from_secs(20), "output dropped", move || {
        while seen.lock().unwrap().is_none() {
            std::thread::yield_now();
        }
        assert_eq!(*seen.lock().unwrap(), Some(Some(id)));
    });
}

#[test]
fn bug8_task_id_in_spawn_blocking() {
    let rt = runtime(1);
    let (id, seen) = rt.block_on(async {
        let h = brisk::task::spawn_blocking(brisk::task::try_id);
        let id = h.id();
        (id, h.await.unwrap())
    });
    assert_eq!(seen, Some(id));
}

#[test]
fn bug8_misuse_panics_point_at_the_callers_line() {
    let _ = last_panic_location(); // installs the hook
    let line = line!() + 1;
    let r = std::panic::catch_unwind(|| brisk::task::id());
    assert!(r.is_err());
    let loc = last_panic_location();
    assert_eq!(loc, Some((file!().to_string(), line)), "task::id()");

    let line = line!() + 1;
    let r = std::panic::catch_unwind(|| brisk::spawn(async {}));
    assert!(r.is_err());
    assert_eq!(
        last_panic_location(),
        Some((file!().to_string(), line)),
        "spawn"
    );

    let rt = runtime(1);
    let err = rt.block_on(async {
        let h = brisk::spawn(std::future::pending::<()>());
        h.abort();
        h.await.unwrap_err()
    });
    let line = line!() + 1;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| err.into_panic()));
    assert!(r.is_err());
    assert_eq!(
        last_panic_location(),
        Some((file!().to_string(), line)),
        "into_panic"
    );
}

std::thread_local! {
    static LAST_PANIC: std::cell::RefCell<Option<(String, u32)>> = const { std::cell::RefCell::new(None) };
}

/// The location of the last panic on this thread (a process-wide hook records it per thread and
/// then prints as usual).
fn last_panic_location() -> Option<(String, u32)> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let loc = info.location().map(|l| (l.file().to_string(), l.line()));
            LAST_PANIC.with(|p| *p.borrow_mut() = loc);
            default(info);
        }));
    });
    LAST_PANIC.with(|p| p.borrow_mut().take())
}

// ---- bug 9: a panicking future is dropped while the panic unwinds ----

struct SeesPanicking(Arc<Mutex<Option<bool>>>);

impl Drop for SeesPanicking {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(std::thread::panicking());
    }
}

#[test]
fn bug9_a_panicking_future_is_dropped_during_the_unwind() {
    for policy in [SpawnPolicy::Eager, SpawnPolicy::Lazy] {
        let rt = Builder::new()
            .worker_threads(1)
            .spawn_policy(policy)
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(None));
        let s = SeesPanicking(seen.clone());
        let r = rt.block_on(async move {
            brisk::spawn(async move {
                let _s = s;
                panic!("boom (on purpose)");
            })
            .await
        });
        assert!(r.unwrap_err().is_panic());
        assert_eq!(*seen.lock().unwrap(), Some(true), "{policy:?}");
    }
}

// ---- helpers ----

/// Polls a future to completion on this thread (outside any runtime).
fn block_on_plain<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread, AtomicBool);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.1.store(true, Ordering::SeqCst);
            self.0.unpark();
        }
    }
    let w = Arc::new(Unpark(std::thread::current(), AtomicBool::new(false)));
    let waker = Waker::from(w.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        while !w.1.swap(false, Ordering::SeqCst) {
            std::thread::park();
        }
    }
}

// ---- bug 10: freeing a task cascaded through a chain of awaiters' wakers ----

/// A completed task kept its awaiter's waker (a reference to the awaiter) until it was freed,
/// so a chain of tasks each awaiting the next, kept alive only by those wakers, was freed
/// recursively, one stack frame group per task (found as a rare stack overflow of
/// `deep_recursive_spawn_chain_does_not_overflow`, where stale queue entries keep children
/// alive). Here `AbortHandle`s keep the children alive instead, deterministically.
#[test]
fn bug10_freeing_a_task_does_not_cascade_through_its_awaiters() {
    const N: u32 = 50_000;
    type Keep = Arc<Mutex<Vec<brisk::task::AbortHandle>>>;
    fn chain(n: u32, keep: Keep) -> Pin<Box<dyn Future<Output = u32> + Send>> {
        Box::pin(async move {
            if n == 0 {
                return 0;
            }
            let child = brisk::spawn_lazy(chain(n - 1, keep.clone()));
            keep.lock().unwrap().push(child.abort_handle());
            // Awaited while pending: the child's cell stores this task's waker.
            child.await.unwrap() + 1
        })
    }
    with_watchdog(Duration::from_secs(120), "chain of awaiters", || {
        let rt = Builder::new()
            .worker_threads(1)
            .spawn_policy(SpawnPolicy::Lazy)
            .build()
            .unwrap();
        let keep: Keep = Arc::default();
        let h = rt.handle().spawn(chain(N, keep.clone()));
        assert_eq!(block_on_plain(h).unwrap(), N);
        let mut handles = std::mem::take(&mut *keep.lock().unwrap());
        let leaf = handles.pop().unwrap();
        // Every task but the leaf is now referenced only by a waker in its child's cell (if
        // completion kept it there). Freeing the leaf must not free the whole chain
        // recursively (this thread has the default 2 MiB test stack).
        drop(handles);
        drop(leaf);
    });
}

fn eager_chain(n: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = u32> + Send>> {
    Box::pin(async move {
        if n == 0 {
            0
        } else {
            brisk::spawn(eager_chain(n - 1)).await.unwrap() + 1
        }
    })
}

/// A chain of tasks, each awaiting the next one's handle, past `eager_depth`: each child
/// keeps its parent's join waker in its header after it completed, so the last reference to
/// a parent can be the waker inside a finished child. Freeing the deepest child then frees its
/// parent from inside its own deallocation (`raw::dealloc` -> drop of the header's join waker
/// -> `waker_drop` -> `raw::dealloc` of the parent -> ...), once per level: about six stack
/// frames per task, and a worker's stack overflows (the process aborts) well before 100,000
/// levels. Seen natively on `core.rs`'s `deep_recursive_spawn_chain_does_not_overflow` (10,000
/// levels): 15 runs in 20 without the `trace` feature, 2 in 20 with it.
///
/// (Found by the Miri/TSan work, the same bug as the test above.) Fixed: the completer hands
/// the join waker slot back to the `JoinHandle`, which drops the waker when it goes.
#[test]
fn bug10_freeing_a_long_chain_of_finished_tasks_does_not_overflow_the_stack() {
    for workers in [1, 2] {
        with_watchdog(Duration::from_secs(120), "deep chain", move || {
            let rt = brisk::Runtime::builder()
                .worker_threads(workers)
                .eager_depth(8)
                .build()
                .unwrap();
            for _ in 0..3 {
                assert_eq!(rt.block_on(eager_chain(100_000)), 100_000);
            }
        });
    }
}
