//! The runtime API a tokio user expects: `Handle::block_on` (also nested, from a blocking
//! thread), `Runtime::shutdown_background`, the `on_thread_*` hooks (and what a panicking hook
//! does), `Handle::id`/`name`, `task::consume_budget`, `task::unconstrained`, and the panic when
//! a runtime is dropped on a thread that runs tasks.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use brisk::{Builder, Handle, Runtime};
use brisk_tests::{on_worker, with_watchdog, Counted, Flag};

const LIMIT: Duration = Duration::from_secs(30);

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

// ---- Handle::block_on ----

#[test]
fn handle_block_on_from_a_plain_thread_drives_tasks_and_timers() {
    with_watchdog(LIMIT, "Handle::block_on", || {
        let rt = Runtime::builder().worker_threads(2).build().unwrap();
        let handle = rt.handle().clone();
        let out = std::thread::spawn(move || {
            handle.block_on(async {
                brisk::time::sleep(Duration::from_millis(1)).await;
                let child = brisk::spawn(async { 40 });
                assert_eq!(Handle::current().id(), brisk::Handle::current().id());
                child.await.unwrap() + 2
            })
        })
        .join()
        .unwrap();
        assert_eq!(out, 42);
    });
}

#[test]
fn nested_handle_block_on_from_a_blocking_thread() {
    with_watchdog(LIMIT, "nested block_on", || {
        let rt = Runtime::builder().worker_threads(1).build().unwrap();
        let out = rt.block_on(async {
            let outer = brisk::task::spawn_blocking(|| {
                let handle = Handle::current();
                handle.block_on(async {
                    // A task that needs the worker, and one more level of blocking + block_on.
                    let queued = brisk::spawn_lazy(async { 1 });
                    let inner = brisk::task::spawn_blocking(|| {
                        Handle::current().block_on(async {
                            brisk::time::sleep(Duration::from_millis(1)).await;
                            brisk::spawn(async { 10 }).await.unwrap()
                        })
                    });
                    queued.await.unwrap() + inner.await.unwrap()
                })
            });
            outer.await.unwrap()
        });
        assert_eq!(out, 11);
    });
}

#[test]
fn handle_block_on_on_a_worker_panics_with_a_clear_message() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let msg = on_worker(&rt, async {
        let handle = Handle::current();
        panic_text(catch_unwind(AssertUnwindSafe(|| handle.block_on(async {}))).unwrap_err())
    });
    assert!(
        msg.contains("Cannot start a runtime from within a runtime"),
        "{msg}"
    );
}

// ---- shutdown_background ----

#[test]
fn shutdown_background_returns_while_a_task_never_yields() {
    with_watchdog(LIMIT, "shutdown_background", || {
        let rt = Runtime::builder().worker_threads(1).build().unwrap();
        let release = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = mpsc::channel();
        let r = release.clone();
        let _spinner = rt.handle().spawn(async move {
            started_tx.send(()).unwrap();
            // Never yields until released: shutdown cannot wait for this worker.
            while !r.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        });
        started_rx.recv().unwrap();
        let live = Arc::new(AtomicUsize::new(0));
        let waiting = rt
            .handle()
            .spawn(Counted::new(std::future::pending::<()>(), &live));
        assert_eq!(live.load(Ordering::SeqCst), 1);
        rt.shutdown_background();
        // The queued task was cancelled (its future dropped) before `shutdown_background`
        // returned, although the only worker is still busy.
        assert_eq!(live.load(Ordering::SeqCst), 0);
        assert!(waiting.is_finished());
        release.store(true, Ordering::SeqCst);
    });
}

#[test]
fn shutdown_background_inside_another_runtime_does_not_panic() {
    let outer = Runtime::builder().worker_threads(1).build().unwrap();
    let inner = Runtime::builder().worker_threads(1).build().unwrap();
    let h = inner.spawn(std::future::pending::<()>());
    outer.block_on(async move {
        inner.shutdown_background();
        assert!(h.await.unwrap_err().is_cancelled());
    });
}

// ---- dropping a runtime on a thread that runs tasks ----

#[test]
fn dropping_a_runtime_inside_another_runtimes_task_panics_and_stops_it() {
    with_watchdog(LIMIT, "drop in async context", || {
        let outer = Runtime::builder().worker_threads(1).build().unwrap();
        let inner = Runtime::builder().worker_threads(1).build().unwrap();
        let live = Arc::new(AtomicUsize::new(0));
        let pending = inner.spawn(Counted::new(std::future::pending::<()>(), &live));
        let msg = outer.block_on(async move {
            let r = catch_unwind(AssertUnwindSafe(move || drop(inner)));
            panic_text(r.unwrap_err())
        });
        assert!(
            msg.contains("Cannot drop a brisk runtime in a context where blocking is not allowed"),
            "{msg}"
        );
        assert_eq!(
            live.load(Ordering::SeqCst),
            0,
            "the inner runtime's task was cancelled"
        );
        assert!(outer.block_on(pending).unwrap_err().is_cancelled());
    });
}

#[test]
fn dropping_a_runtime_in_a_blocking_closure_is_allowed() {
    with_watchdog(LIMIT, "drop in spawn_blocking", || {
        let outer = Runtime::builder().worker_threads(1).build().unwrap();
        let inner = Runtime::builder().worker_threads(1).build().unwrap();
        outer.block_on(async move {
            brisk::task::spawn_blocking(move || drop(inner))
                .await
                .unwrap();
        });
    });
}

// ---- thread hooks ----

#[test]
fn start_and_stop_hooks_run_on_every_worker_and_blocking_thread() {
    with_watchdog(LIMIT, "start/stop hooks", || {
        let started = Arc::new(AtomicUsize::new(0));
        let stopped = Arc::new(AtomicUsize::new(0));
        let in_context = Arc::new(AtomicUsize::new(0));
        let (s, t, c) = (started.clone(), stopped.clone(), in_context.clone());
        let rt = Builder::new()
            .worker_threads(2)
            .on_thread_start(move || {
                s.fetch_add(1, Ordering::SeqCst);
                if Handle::try_current().is_some() {
                    c.fetch_add(1, Ordering::SeqCst);
                }
            })
            .on_thread_stop(move || {
                t.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        rt.block_on(async { brisk::task::spawn_blocking(|| ()).await.unwrap() });
        drop(rt);
        assert_eq!(
            started.load(Ordering::SeqCst),
            3,
            "2 workers + 1 blocking thread"
        );
        assert_eq!(in_context.load(Ordering::SeqCst), 3);
        assert_eq!(stopped.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn park_and_unpark_hooks_run_around_a_workers_sleep() {
    with_watchdog(LIMIT, "park hooks", || {
        let parks = Arc::new(AtomicUsize::new(0));
        let unparks = Arc::new(AtomicUsize::new(0));
        let (p, u) = (parks.clone(), unparks.clone());
        let (parked_tx, parked_rx) = mpsc::sync_channel(64);
        let rt = Builder::new()
            .worker_threads(1)
            .on_thread_park(move || {
                p.fetch_add(1, Ordering::SeqCst);
                let _ = parked_tx.try_send(());
            })
            .on_thread_unpark(move || {
                u.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        // The worker has nothing to do: it parks.
        parked_rx.recv().unwrap();
        // New work wakes it: the unpark hook runs, then the task (on the worker: `on_worker`
        // never lets the caller's thread run it).
        assert_eq!(on_worker(&rt, async { 1 }), 1);
        assert!(unparks.load(Ordering::SeqCst) >= 1);
        drop(rt);
        // Every sleep is followed by a wake-up (the last one by shutdown).
        assert_eq!(parks.load(Ordering::SeqCst), unparks.load(Ordering::SeqCst));
    });
}

#[test]
fn metrics_count_parks_and_the_wake_ups_new_work_sends() {
    with_watchdog(LIMIT, "park and wake-up metrics", || {
        let (parked_tx, parked_rx) = mpsc::sync_channel(1024);
        let rt = Builder::new()
            .worker_threads(1)
            .on_thread_park(move || {
                let _ = parked_tx.try_send(());
            })
            .build()
            .unwrap();
        let m = rt.metrics();
        parked_rx.recv().unwrap();
        assert!(m.parks() >= 1, "the idle worker's park is counted");
        // A spawn from outside wakes the sleeping worker. The park hook runs just before the
        // worker falls asleep; a spawn in between finds it awake (no wake-up needed), so retry
        // after giving it time to sleep.
        let mut woken = false;
        for _ in 0..200 {
            while parked_rx.try_recv().is_ok() {}
            std::thread::sleep(Duration::from_millis(10));
            let (before, parks) = (m.wakeups(), m.parks());
            let (tx, rx) = mpsc::channel();
            drop(rt.spawn(async move { tx.send(()).unwrap() }));
            rx.recv().unwrap();
            parked_rx.recv().unwrap();
            assert!(m.parks() > parks, "the worker parks again after the task");
            if m.wakeups() > before {
                assert_eq!(m.wakeups(), before + 1, "one task, one wake-up");
                woken = true;
                break;
            }
        }
        assert!(
            woken,
            "a spawn that woke the sleeping worker was never counted"
        );
        assert!(m.wakeups() <= m.parks());
    });
}

#[test]
fn panicking_hooks_do_not_kill_workers_or_the_runtime() {
    with_watchdog(LIMIT, "panicking hooks", || {
        let parks = Arc::new(AtomicUsize::new(0));
        let p = parks.clone();
        let rt = Builder::new()
            .worker_threads(2)
            .on_thread_start(|| panic!("start hook boom"))
            .on_thread_stop(|| panic!("stop hook boom"))
            .on_thread_park(move || {
                p.fetch_add(1, Ordering::SeqCst);
                panic!("park hook boom")
            })
            .on_thread_unpark(|| panic!("unpark hook boom"))
            .build()
            .unwrap();
        // Both workers are alive: two tasks that each wait for the other at a barrier can
        // only finish if they run on two threads at once.
        // (Waited for through a channel, so this thread never runs one of them itself.)
        let barrier = Arc::new(Barrier::new(2));
        let (done_tx, done_rx) = mpsc::channel();
        for _ in 0..2 {
            let b = barrier.clone();
            let done = done_tx.clone();
            drop(rt.handle().spawn(async move {
                b.wait();
                done.send(()).unwrap();
            }));
        }
        for _ in 0..2 {
            done_rx.recv().unwrap();
        }
        // Workers went on after panicking park hooks: wait until one parked, then run more.
        while parks.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
        assert_eq!(
            rt.block_on(async { brisk::task::spawn_blocking(|| 6).await.unwrap() }),
            6
        );
        // Shutdown with a panicking stop hook completes.
        drop(rt);
    });
}

// ---- id and name ----

#[test]
fn ids_are_distinct_per_runtime_and_seen_from_inside() {
    let a = Runtime::builder().worker_threads(1).build().unwrap();
    let b = Runtime::builder().worker_threads(1).build().unwrap();
    assert_ne!(a.handle().id(), b.handle().id());
    let id = a.handle().id();
    assert_eq!(a.block_on(async { Handle::current().id() }), id);
    assert_eq!(on_worker(&a, async { Handle::current().id() }), id);
    let c = Builder::new()
        .name("named")
        .worker_threads(1)
        .build()
        .unwrap();
    assert_eq!(c.handle().name(), Some("named"));
    assert_eq!(a.handle().name(), None);
    assert!(format!("{:?}", c.handle()).contains("named"));
}

// ---- consume_budget and unconstrained ----

/// Runs `rounds` rounds of `consume_budget` on the only worker, with a lazily spawned sibling
/// queued behind it; returns whether the sibling had run by the end of the loop.
fn sibling_ran_during(unconstrained: bool, rounds: u32) -> bool {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    on_worker(&rt, async move {
        let flag = Flag::new();
        let f = flag.clone();
        let _sibling = brisk::spawn_lazy(async move { f.set() });
        let spin = async move {
            for _ in 0..rounds {
                brisk::task::consume_budget().await;
            }
        };
        if unconstrained {
            brisk::task::unconstrained(spin).await;
        } else {
            spin.await;
        }
        flag.is_set()
    })
}

#[test]
fn consume_budget_yields_once_the_budget_is_spent() {
    with_watchdog(LIMIT, "consume_budget", || {
        assert!(sibling_ran_during(false, 1_000));
    });
}

#[test]
fn unconstrained_never_yields_for_the_budget() {
    with_watchdog(LIMIT, "unconstrained", || {
        assert!(!sibling_ran_during(true, 1_000));
    });
}

#[test]
fn unconstrained_restores_the_budget_afterwards() {
    with_watchdog(LIMIT, "unconstrained restores", || {
        let rt = Runtime::builder().worker_threads(1).build().unwrap();
        let ran = on_worker(&rt, async {
            let flag = Flag::new();
            let f = flag.clone();
            let _sibling = brisk::spawn_lazy(async move { f.set() });
            brisk::task::unconstrained(async {
                for _ in 0..1_000 {
                    brisk::task::consume_budget().await;
                }
            })
            .await;
            assert!(!flag.is_set());
            // Constrained again: the budget of this poll runs out within 128 rounds.
            for _ in 0..200 {
                brisk::task::consume_budget().await;
            }
            flag.is_set()
        });
        assert!(ran);
    });
}
