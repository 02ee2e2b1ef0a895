//! `spawn_blocking`: the blocking pool runs closures off the worker threads, grows on demand up
//! to `max_blocking_threads`, shrinks after `thread_keep_alive`, reports panics, and takes part
//! in shutdown (running closures waited for up to the timeout, queued ones dropped).

use std::cell::RefCell;
use std::collections::HashSet;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use brisk::task::spawn_blocking;
use brisk::{Handle, Runtime, SpawnPolicy};
use brisk_tests::{on_worker, with_watchdog};

const LIMIT: Duration = Duration::from_secs(30);

fn builder() -> brisk::Builder {
    let mut b = Runtime::builder();
    b.worker_threads(2);
    b
}

/// Waits (polling) until `cond` holds, failing the test after a generous deadline.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// Polls a future once with a no-op waker (for handles of a runtime that is gone).
fn poll_now<F: std::future::Future>(fut: F) -> Poll<F::Output> {
    let mut fut = pin!(fut);
    fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

fn thread_name() -> String {
    thread::current().name().unwrap_or("").to_string()
}

#[test]
fn closures_run_on_blocking_threads_not_on_workers() {
    with_watchdog(LIMIT, "off workers", || {
        let rt = builder().thread_name("bt").build().unwrap();
        let caller = thread::current().id();
        let (name, id) = rt.block_on(async {
            spawn_blocking(|| (thread_name(), thread::current().id()))
                .await
                .unwrap()
        });
        assert_eq!(name, "bt-blocking");
        assert_ne!(id, caller);
        // From a task on a worker: the worker waits, the closure runs elsewhere.
        let (worker, blocking) = on_worker(&rt, async {
            let worker = thread_name();
            let blocking = spawn_blocking(thread_name).await.unwrap();
            (worker, blocking)
        });
        assert!(worker == "bt-0" || worker == "bt-1", "worker: {worker}");
        assert_eq!(blocking, "bt-blocking");
    });
}

#[test]
fn a_single_worker_stays_free_while_closures_block() {
    with_watchdog(LIMIT, "single worker", || {
        let rt = builder().worker_threads(1).build().unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        let out = on_worker(&rt, async move {
            let blocked = spawn_blocking(move || rx.recv().unwrap());
            // The only worker is free: a task spawned from here still runs and unblocks it.
            brisk::spawn_lazy(async move { tx.send(()).unwrap() })
                .await
                .unwrap();
            blocked.await.unwrap();
            "done"
        });
        assert_eq!(out, "done");
    });
}

#[test]
fn many_concurrent_closures_more_than_workers_all_complete() {
    with_watchdog(LIMIT, "many closures", || {
        let rt = builder().build().unwrap();
        rt.block_on(async {
            // 16 closures that can only finish once all 16 run at the same time: the pool must
            // have grown well past the 2 workers.
            let barrier = Arc::new(Barrier::new(16));
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let barrier = barrier.clone();
                    spawn_blocking(move || {
                        barrier.wait();
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            assert_eq!(sum, (0..16).sum::<i32>());

            let handles: Vec<_> = (0..500u64).map(|i| spawn_blocking(move || i * 2)).collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            assert_eq!(sum, (0..500u64).map(|i| i * 2).sum::<u64>());
        });
    });
}

#[test]
fn pool_grows_up_to_the_limit_and_no_further() {
    with_watchdog(LIMIT, "limit", || {
        let rt = builder().max_blocking_threads(2).build().unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let threads = Arc::new(Mutex::new(HashSet::new()));
        // The first two closures meet at a barrier, so two must run at once (a pool that never
        // grows hangs there, and the watchdog fails the test); the other four run on
        // whichever thread is free.
        let meet = Arc::new(Barrier::new(2));
        rt.block_on(async {
            let handles: Vec<_> = (0..6)
                .map(|i| {
                    let (running, max_seen, threads, meet) = (
                        running.clone(),
                        max_seen.clone(),
                        threads.clone(),
                        meet.clone(),
                    );
                    spawn_blocking(move || {
                        threads.lock().unwrap().insert(thread::current().id());
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        max_seen.fetch_max(now, Ordering::SeqCst);
                        if i < 2 {
                            meet.wait();
                        }
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        assert_eq!(
            max_seen.load(Ordering::SeqCst),
            2,
            "at most 2 at once, and 2 were used"
        );
        assert_eq!(threads.lock().unwrap().len(), 2);
    });
}

/// Counts live threads: each thread that calls `mark` counts until it exits.
struct LiveGuard(Arc<AtomicUsize>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

thread_local! {
    static LIVE: RefCell<Option<LiveGuard>> = const { RefCell::new(None) };
}

fn mark_live(counter: &Arc<AtomicUsize>) {
    LIVE.with(|g| {
        let mut g = g.borrow_mut();
        if g.is_none() {
            counter.fetch_add(1, Ordering::SeqCst);
            *g = Some(LiveGuard(counter.clone()));
        }
    });
}

#[test]
fn idle_threads_exit_after_keep_alive() {
    with_watchdog(LIMIT, "keep alive", || {
        let rt = builder()
            .thread_keep_alive(Duration::from_millis(50))
            .build()
            .unwrap();
        let live = Arc::new(AtomicUsize::new(0));
        for round in 0..2 {
            let barrier = Arc::new(Barrier::new(4));
            let l = live.clone();
            rt.block_on(async move {
                let handles: Vec<_> = (0..4)
                    .map(|_| {
                        let (barrier, l) = (barrier.clone(), l.clone());
                        spawn_blocking(move || {
                            mark_live(&l);
                            barrier.wait();
                        })
                    })
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
            });
            assert!(live.load(Ordering::SeqCst) >= 4, "round {round}");
            // 50 ms idle, then every thread exits (and a new round starts new ones).
            eventually("blocking threads to exit", || {
                live.load(Ordering::SeqCst) == 0
            });
        }
    });
}

#[test]
fn threads_are_reused_within_keep_alive() {
    with_watchdog(LIMIT, "reuse", || {
        // At most two threads: a pool whose threads exit after one closure would show 20
        // different thread ids (ids are never reused); one that keeps them shows at most 2,
        // whether or not a thread was back to waiting when the next closure came.
        let rt = builder().max_blocking_threads(2).build().unwrap();
        let ids = rt.block_on(async {
            let mut ids = HashSet::new();
            for _ in 0..20 {
                ids.insert(spawn_blocking(|| thread::current().id()).await.unwrap());
            }
            ids
        });
        assert!(
            ids.len() <= 2,
            "{} threads for 20 sequential closures",
            ids.len()
        );
    });
}

#[test]
fn panics_are_reported_through_the_join_handle() {
    with_watchdog(LIMIT, "panic", || {
        let rt = builder().build().unwrap();
        let err = rt
            .block_on(async { spawn_blocking(|| -> u32 { panic!("blocking boom") }).await })
            .unwrap_err();
        assert!(err.is_panic());
        assert!(!err.is_cancelled());
        let payload = err.into_panic();
        assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "blocking boom");
        // The pool survives its closure's panic.
        assert_eq!(
            rt.block_on(async { spawn_blocking(|| 1).await.unwrap() }),
            1
        );
    });
}

#[test]
fn runtime_context_inside_a_blocking_closure() {
    with_watchdog(LIMIT, "context", || {
        let rt = builder().build().unwrap();
        let out = rt.block_on(async {
            let inner = spawn_blocking(|| {
                let handle = Handle::current();
                let a = brisk::spawn(async { 20 });
                let b = handle.spawn(async { 22 });
                // Spawned from a blocking thread: queued, never polled here.
                (a, b)
            })
            .await
            .unwrap();
            inner.0.await.unwrap() + inner.1.await.unwrap()
        });
        assert_eq!(out, 42);
    });
}

#[test]
fn works_under_the_lazy_policy_and_from_other_threads() {
    with_watchdog(LIMIT, "lazy", || {
        let rt = builder().spawn_policy(SpawnPolicy::Lazy).build().unwrap();
        let handle = rt.handle().clone();
        let h = thread::spawn(move || handle.spawn_blocking(|| 3))
            .join()
            .unwrap();
        let out =
            rt.block_on(async move { h.await.unwrap() + spawn_blocking(|| 4).await.unwrap() });
        assert_eq!(out, 7);
    });
}

#[test]
fn aborting_before_the_closure_starts_keeps_it_from_running() {
    with_watchdog(LIMIT, "abort queued", || {
        let rt = builder().max_blocking_threads(1).build().unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let r = ran.clone();
        rt.block_on(async move {
            let first = spawn_blocking(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            started_rx.recv().unwrap();
            // The only thread is busy: this one waits in the queue.
            let second = spawn_blocking(move || r.store(true, Ordering::SeqCst));
            second.abort();
            assert!(second.await.unwrap_err().is_cancelled());
            release_tx.send(()).unwrap();
            first.await.unwrap();
            // The pool is free again and the aborted closure was skipped.
            spawn_blocking(|| ()).await.unwrap();
        });
        assert!(!ran.load(Ordering::SeqCst));
    });
}

/// Sets its flag when dropped (a closure that captures it is dropped or has run).
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn shutdown_timeout_is_bounded_and_drops_queued_closures() {
    with_watchdog(LIMIT, "shutdown timeout", || {
        let rt = builder().max_blocking_threads(1).build().unwrap();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let queued_ran = Arc::new(AtomicBool::new(false));
        let queued_dropped = Arc::new(AtomicBool::new(false));
        let (qr, qd) = (queued_ran.clone(), SetOnDrop(queued_dropped.clone()));
        let (running, queued) = rt.block_on(async move {
            let running = spawn_blocking(move || {
                started_tx.send(()).unwrap();
                // Far longer than the shutdown timeout.
                let _ = release_rx.recv_timeout(Duration::from_secs(20));
            });
            started_rx.recv().unwrap();
            let queued = spawn_blocking(move || {
                let _keep = qd;
                qr.store(true, Ordering::SeqCst);
            });
            (running, queued)
        });
        let start = Instant::now();
        rt.shutdown_timeout(Duration::from_millis(100));
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "shutdown_timeout took {took:?}"
        );
        // The queued closure was dropped unrun and its handle is cancelled.
        assert!(queued_dropped.load(Ordering::SeqCst));
        assert!(!queued_ran.load(Ordering::SeqCst));
        match poll_now(queued) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            other => panic!("queued handle: {:?}", other.map(|r| r.is_ok())),
        }
        // The running one was given up on: its task was cancelled too.
        assert!(matches!(poll_now(running), Poll::Ready(Err(e)) if e.is_cancelled()));
        release_tx.send(()).unwrap();
    });
}

#[test]
fn shutdown_waits_for_running_closures() {
    with_watchdog(LIMIT, "shutdown waits", || {
        for timeout in [Some(Duration::from_secs(20)), None] {
            let rt = builder().build().unwrap();
            let done = Arc::new(AtomicBool::new(false));
            let (started_tx, started_rx) = mpsc::channel();
            let d = done.clone();
            let _detached = rt.handle().spawn_blocking(move || {
                started_tx.send(()).unwrap();
                thread::sleep(Duration::from_millis(100));
                d.store(true, Ordering::SeqCst);
            });
            started_rx.recv().unwrap();
            match timeout {
                Some(t) => rt.shutdown_timeout(t),
                None => drop(rt),
            }
            assert!(
                done.load(Ordering::SeqCst),
                "{timeout:?}: returned before the closure"
            );
        }
    });
}

#[test]
fn spawn_blocking_after_shutdown_resolves_cancelled() {
    with_watchdog(LIMIT, "after shutdown", || {
        let rt = builder().build().unwrap();
        let handle = rt.handle().clone();
        rt.shutdown_timeout(Duration::from_secs(5));
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let h = handle.spawn_blocking(move || r.store(true, Ordering::SeqCst));
        assert!(matches!(poll_now(h), Poll::Ready(Err(e)) if e.is_cancelled()));
        assert!(!ran.load(Ordering::SeqCst));
    });
}

#[test]
fn dropping_the_runtime_from_a_blocking_closure_does_not_hang() {
    with_watchdog(LIMIT, "drop from blocking", || {
        let rt = builder().build().unwrap();
        let (tx, rx) = mpsc::channel();
        let (rt_tx, rt_rx) = mpsc::channel::<Runtime>();
        let _detached = rt.handle().spawn_blocking(move || {
            // Wait for the runtime to be handed over, then drop it here.
            let rt = rt_rx.recv().unwrap();
            drop(rt);
            tx.send(()).unwrap();
        });
        rt_tx.send(rt).unwrap();
        rx.recv().unwrap();
    });
}

#[test]
fn spawn_blocking_outside_a_runtime_panics_clearly() {
    let err = std::panic::catch_unwind(|| spawn_blocking(|| ())).unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(msg.contains("within a brisk runtime"), "message: {msg}");
}

#[test]
fn max_blocking_threads_zero_is_invalid_input() {
    let err = builder().max_blocking_threads(0).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("max_blocking_threads"));
}

#[test]
fn block_on_works_inside_a_blocking_closure() {
    // As with tokio: a blocking thread may drive async code with block_on (it runs no tasks,
    // so this is not "a runtime within a runtime").
    let rt = std::sync::Arc::new(brisk::Runtime::builder().worker_threads(2).build().unwrap());
    let rt2 = rt.clone();
    let out = rt.block_on(async move {
        brisk::task::spawn_blocking(move || {
            rt2.block_on(async { brisk::spawn(async { 5 }).await.unwrap() })
        })
        .await
        .unwrap()
    });
    assert_eq!(out, 5);
}
