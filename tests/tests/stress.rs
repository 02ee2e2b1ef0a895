//! Stress tests: many tasks, spawns racing shutdown, panics, abort storms, deep eager
//! recursion and wake storms. Each checks its results, not only that nothing crashed, and
//! runs under a watchdog so that a hang fails instead of blocking CI.
//!
//! Every scenario has a bounded instance that runs with `cargo test` and a full-size one that
//! is `#[ignore]`d:
//!
//! ```text
//! cargo test -p brisk-tests --release --test stress -- --ignored --test-threads 1
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Barrier, Mutex, Once};
use std::task::{Poll, Waker};
use std::thread;
use std::time::Duration;

use brisk::{Runtime, SpawnPolicy};
use brisk_tests::reliability::wait_outside;
use brisk_tests::Counted;
use brisk_tests::{with_watchdog, Flag};

/// Generous: the bounded instances take well under a second each in a debug build.
const LIMIT: Duration = Duration::from_secs(120);
/// The full-size instances.
const LONG_LIMIT: Duration = Duration::from_secs(1800);

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).build().unwrap()
}

/// A deterministic pseudo-random sequence (xorshift64*).
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

// ---- many tasks ----

/// `n` tasks, spawned by 100 spawner tasks on the workers (eager, with yields so a quarter
/// suspend) and from `block_on`; every result is summed and checked.
fn many_tasks(n: u64) {
    let limit = if n > 100_000 { LONG_LIMIT } else { LIMIT };
    with_watchdog(limit, "many tasks", move || {
        let rt = rt(2);
        let per = n / 100;
        let sum = rt.block_on(async move {
            let spawners: Vec<_> = (0..100u64)
                .map(|s| {
                    brisk::spawn_lazy(async move {
                        let hs: Vec<_> = (s * per..(s + 1) * per)
                            .map(|i| {
                                brisk::spawn(async move {
                                    if i % 4 == 0 {
                                        brisk::task::yield_now().await;
                                    }
                                    i
                                })
                            })
                            .collect();
                        let mut sum = 0u64;
                        for h in hs {
                            sum += h.await.unwrap();
                        }
                        sum
                    })
                })
                .collect();
            let mut sum = 0u64;
            for h in spawners {
                sum += h.await.unwrap();
            }
            sum
        });
        let total = per * 100;
        assert_eq!(sum, total * (total - 1) / 2);
        assert_eq!(rt.metrics().spawned_tasks(), total + 100);
    });
}

#[test]
fn stress_50k_tasks() {
    many_tasks(50_000);
}

#[test]
#[ignore = "long: run with --ignored"]
fn stress_1m_tasks() {
    many_tasks(1_000_000);
}

// ---- spawning while the runtime shuts down ----

/// `threads` std threads spawn into the runtime through its `Handle` while the main thread
/// drops the runtime. Every handle resolves, with its value or as cancelled; none hangs.
fn spawn_during_shutdown(threads: usize, per_thread: usize, rounds: usize) {
    let limit = if rounds > 5 { LONG_LIMIT } else { LIMIT };
    with_watchdog(limit, "spawn during shutdown", move || {
        for round in 0..rounds {
            let rt = rt(2);
            let handle = rt.handle().clone();
            let start = Arc::new(Barrier::new(threads + 1));
            let spawners: Vec<_> = (0..threads)
                .map(|t| {
                    let handle = handle.clone();
                    let start = start.clone();
                    thread::spawn(move || {
                        start.wait();
                        (0..per_thread)
                            .map(|i| {
                                let kind = (t + i) % 3;
                                let h = handle.spawn(async move {
                                    match kind {
                                        0 => {}
                                        1 => brisk::task::yield_now().await,
                                        _ => brisk::time::sleep(Duration::from_millis(1)).await,
                                    }
                                    i
                                });
                                if i % 64 == 0 {
                                    thread::yield_now();
                                }
                                (i, h)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            drop(handle);
            start.wait();
            thread::sleep(Duration::from_millis(1 + (round % 3) as u64));
            drop(rt);
            let (mut ok, mut cancelled) = (0, 0);
            for s in spawners {
                for (i, h) in s.join().unwrap() {
                    match wait_outside(h, Duration::from_secs(10)) {
                        Some(Ok(v)) => {
                            assert_eq!(v, i);
                            ok += 1;
                        }
                        Some(Err(e)) => {
                            assert!(e.is_cancelled(), "round {round}: {e}");
                            cancelled += 1;
                        }
                        None => panic!("round {round}: a handle never resolved after shutdown"),
                    }
                }
            }
            assert_eq!(ok + cancelled, threads * per_thread);
        }
    });
}

#[test]
fn stress_spawn_during_shutdown() {
    spawn_during_shutdown(8, 2_000, 3);
}

#[test]
#[ignore = "long: run with --ignored"]
fn stress_spawn_during_shutdown_long() {
    spawn_during_shutdown(8, 50_000, 40);
}

/// A task still being polled when `shutdown_timeout` gives up on its worker must be
/// cancelled once that poll returns `Pending`, and its `JoinHandle` must resolve.
///
/// Regression: the task state model (`fuzz/regressions/task_state/`) found that shutdown
/// skips a running task without marking it, so after its poll it goes back to idle, owned by
/// nobody: its future is not dropped and its handle never resolves. (A task that had never
/// suspended is caught when it first registers; this one suspended before.)
#[test]
fn task_running_through_shutdown_timeout_is_cancelled() {
    with_watchdog(LIMIT, "running through shutdown", || {
        let rt = rt(1);
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let live = Arc::new(AtomicUsize::new(0));
        let h = rt.spawn(Counted::new(
            async move {
                // Suspend once first, so that the task is registered with the runtime.
                brisk::task::yield_now().await;
                started_tx.send(()).unwrap();
                // Hold the worker until shutdown_timeout has given up on it, then wait
                // forever.
                release_rx.recv().unwrap();
                std::future::pending::<()>().await;
            },
            &live,
        ));
        started_rx.recv().unwrap();
        rt.shutdown_timeout(Duration::from_millis(20));
        release_tx.send(()).unwrap();
        let out = wait_outside(h, Duration::from_secs(10))
            .expect("the handle of a task running through shutdown never resolved");
        assert!(out.unwrap_err().is_cancelled());
        assert_eq!(live.load(SeqCst), 0, "its future was not dropped");
    });
}

// ---- panics ----

fn quiet_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !msg.starts_with("stress: deliberate panic") {
                default(info);
            }
        }));
    });
}

/// `n` tasks of which a pseudo-random seventh panic (inline, after a yield, lazily spawned):
/// the others complete with their value, each panicking one yields a panic error, the count
/// matches, and the runtime still works afterwards.
fn random_panics(n: u64) {
    quiet_deliberate_panics();
    let limit = if n > 100_000 { LONG_LIMIT } else { LIMIT };
    with_watchdog(limit, "random panics", move || {
        let rt = rt(2);
        let mut next = rng(n);
        let plan: Vec<(bool, bool)> = (0..n)
            .map(|_| (next().is_multiple_of(7), next().is_multiple_of(2)))
            .collect();
        let expected_panics = plan.iter().filter(|p| p.0).count();
        let plan2 = plan.clone();
        let (panics, after) = rt.block_on(async move {
            let hs: Vec<_> = plan2
                .iter()
                .enumerate()
                .map(|(i, &(panics, lazy))| {
                    let fut = async move {
                        if i % 3 == 0 {
                            brisk::task::yield_now().await;
                        }
                        if panics {
                            panic!("stress: deliberate panic {i}");
                        }
                        i
                    };
                    if lazy {
                        brisk::spawn_lazy(fut)
                    } else {
                        brisk::spawn(fut)
                    }
                })
                .collect();
            let mut panics = 0;
            for (i, h) in hs.into_iter().enumerate() {
                match h.await {
                    Ok(v) => {
                        assert!(!plan2[i].0, "task {i} should have panicked");
                        assert_eq!(v, i);
                    }
                    Err(e) => {
                        assert!(e.is_panic(), "task {i}: {e}");
                        assert!(plan2[i].0, "task {i} panicked unexpectedly");
                        panics += 1;
                    }
                }
            }
            (panics, brisk::spawn_lazy(async { 7 }).await.unwrap())
        });
        assert_eq!(panics, expected_panics);
        assert_eq!(after, 7);
    });
}

#[test]
fn stress_random_panics() {
    random_panics(20_000);
}

#[test]
#[ignore = "long: run with --ignored"]
fn stress_random_panics_long() {
    random_panics(1_000_000);
}

// ---- abort storms ----

/// `n` tasks (some finish after a few yields, some wait forever) aborted from 4 threads at
/// once while `block_on` awaits them: each yields its value or a cancellation, the ones that
/// wait forever are all cancelled, and every future is dropped.
fn abort_storm(n: usize, rounds: usize) {
    let limit = if rounds > 3 { LONG_LIMIT } else { LIMIT };
    with_watchdog(limit, "abort storm", move || {
        for round in 0..rounds {
            let rt = rt(2);
            let live = Arc::new(AtomicUsize::new(0));
            let never = Flag::new();
            let live2 = live.clone();
            let (ok, cancelled) = rt.block_on(async move {
                let hs: Vec<_> = (0..n)
                    .map(|i| {
                        let never = never.clone();
                        let fut = Counted::new(
                            async move {
                                if i % 3 == 0 {
                                    never.wait().await;
                                }
                                for _ in 0..i % 8 {
                                    brisk::task::yield_now().await;
                                }
                                i
                            },
                            &live2,
                        );
                        if i % 2 == 0 {
                            brisk::spawn(fut)
                        } else {
                            brisk::spawn_lazy(fut)
                        }
                    })
                    .collect();
                let aborts: Vec<_> = hs.iter().map(|h| h.abort_handle()).collect();
                let aborts = Arc::new(aborts);
                let aborters: Vec<_> = (0..4)
                    .map(|t| {
                        let aborts = aborts.clone();
                        thread::spawn(move || {
                            // Each thread walks the list from a different start.
                            let len = aborts.len();
                            for k in 0..len {
                                aborts[(k + t * len / 4) % len].abort();
                            }
                        })
                    })
                    .collect();
                let (mut ok, mut cancelled) = (0, 0);
                for (i, h) in hs.into_iter().enumerate() {
                    match h.await {
                        Ok(v) => {
                            assert_ne!(i % 3, 0, "task {i} waits forever, yet finished");
                            assert_eq!(v, i);
                            ok += 1;
                        }
                        Err(e) => {
                            assert!(e.is_cancelled(), "task {i}: {e}");
                            cancelled += 1;
                        }
                    }
                }
                for a in aborters {
                    a.join().unwrap();
                }
                (ok, cancelled)
            });
            drop(rt);
            assert_eq!(ok + cancelled, n);
            assert!(
                cancelled >= n.div_ceil(3),
                "round {round}: {cancelled} cancelled"
            );
            assert_eq!(live.load(SeqCst), 0, "round {round}: futures not dropped");
        }
    });
}

#[test]
fn stress_abort_storm() {
    abort_storm(5_000, 3);
}

#[test]
#[ignore = "long: run with --ignored"]
fn stress_abort_storm_long() {
    abort_storm(100_000, 20);
}

// ---- deep eager recursion ----

fn chain(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move {
        if n == 0 {
            return 0;
        }
        if n.is_multiple_of(7) {
            brisk::task::yield_now().await;
        }
        brisk::spawn(chain(n - 1)).await.unwrap() + 1
    })
}

/// A chain of `depth` tasks, each spawning the next and awaiting it: eager spawning stops at
/// `eager_depth` (no stack overflow), the rest is queued, and the result comes back up.
fn deep_recursion(depth: u32, eager_depth: u32) {
    let limit = if depth > 100_000 { LONG_LIMIT } else { LIMIT };
    with_watchdog(limit, "deep eager recursion", move || {
        let rt = Runtime::builder()
            .worker_threads(2)
            .eager_depth(eager_depth)
            .eager_budget(1024)
            .spawn_policy(SpawnPolicy::Eager)
            .build()
            .unwrap();
        assert_eq!(rt.block_on(chain(depth)), depth);
        let m = rt.metrics();
        assert_eq!(m.spawned_tasks(), u64::from(depth));
        assert!(
            m.eager_completed() + m.eager_suspended() > 0,
            "nothing ran inline"
        );
    });
}

#[test]
fn stress_deep_eager_recursion() {
    deep_recursion(20_000, 16);
    deep_recursion(5_000, 128);
}

#[test]
#[ignore = "long: run with --ignored"]
fn stress_deep_eager_recursion_long() {
    deep_recursion(500_000, 16);
    deep_recursion(100_000, 128);
}

// ---- wake storms ----

/// One task, `threads` threads waking it `wakes` times each (by reference and by value; the
/// last wake of each thread is by reference), each after publishing its progress with a plain
/// `Release` store. The task is ready once it sees every thread's final progress: if one
/// wake-up is lost, it never completes (the watchdog fails). It is never polled twice at
/// once, and at most once per wake plus one.
fn wake_storm(threads: usize, wakes: u64, rounds: usize) {
    let limit = if rounds > 50 { LONG_LIMIT } else { LIMIT };
    with_watchdog(limit, "wake storm", move || {
        let rt = rt(2);
        for round in 0..rounds {
            let progress: Arc<Vec<AtomicU64>> =
                Arc::new((0..threads).map(|_| AtomicU64::new(0)).collect());
            let waker: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
            let polling = Arc::new(AtomicBool::new(false));
            let total = wakes * threads as u64;
            let task = {
                let (progress, waker, polling) = (progress.clone(), waker.clone(), polling.clone());
                let mut polls = 0u64;
                rt.spawn(std::future::poll_fn(move |cx| {
                    assert!(!polling.swap(true, SeqCst), "polled twice at once");
                    polls += 1;
                    waker
                        .lock()
                        .unwrap()
                        .get_or_insert_with(|| cx.waker().clone());
                    let seen: u64 = progress.iter().map(|p| p.load(Acquire)).sum();
                    // Stay RUNNING a little after reading: wakes that land now must reschedule.
                    for _ in 0..200 {
                        std::hint::spin_loop();
                    }
                    polling.store(false, SeqCst);
                    if seen == total {
                        Poll::Ready(polls)
                    } else {
                        Poll::Pending
                    }
                }))
            };
            let wakers: Vec<_> = (0..threads)
                .map(|t| {
                    let (progress, waker) = (progress.clone(), waker.clone());
                    thread::spawn(move || {
                        let w = loop {
                            if let Some(w) = waker.lock().unwrap().clone() {
                                break w;
                            }
                            thread::yield_now();
                        };
                        for k in 1..=wakes {
                            progress[t].store(k, Release);
                            if k % 2 == wakes % 2 {
                                w.wake_by_ref();
                            } else {
                                // Deliberately by value: a clone's reference becomes the entry.
                                #[allow(clippy::waker_clone_wake)]
                                w.clone().wake();
                            }
                        }
                    })
                })
                .collect();
            for w in wakers {
                w.join().unwrap();
            }
            let polls = wait_outside(task, Duration::from_secs(20))
                .unwrap_or_else(|| panic!("round {round}: lost wake-up, the task never finished"))
                .unwrap();
            assert!(
                polls <= total + 1,
                "round {round}: {polls} polls for {total} wakes"
            );
            *waker.lock().unwrap() = None;
        }
    });
}

#[test]
fn stress_wake_storm() {
    wake_storm(8, 500, 100);
}

#[test]
#[ignore = "long: run with --ignored"]
fn stress_wake_storm_long() {
    wake_storm(8, 20_000, 2_000);
}

/// Ping-pong between one thread and one task, `exchanges` times: the thread publishes `k`
/// and wakes the task (by reference), then waits until the task has seen `k`. The task
/// acknowledges and stays `RUNNING` a little longer, so most wakes land during a poll: each
/// must reschedule the task, or the exchange stalls (and the test fails with the number it
/// stalled at). Every wake matters here, unlike in the storm where later wakes cover for a
/// lost one. Every other exchange wakes twice in a row, so the second wake finds the task
/// already notified (the case `loom_wake_by_ref_on_notified_task_is_not_lost` models).
fn wake_ping_pong(exchanges: u64) {
    let limit = if exchanges > 100_000 {
        LONG_LIMIT
    } else {
        LIMIT
    };
    with_watchdog(limit, "wake ping-pong", move || {
        let rt = rt(2);
        let progress = Arc::new(AtomicU64::new(0));
        let ack = Arc::new(AtomicU64::new(0));
        let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
        let task = {
            let (progress, ack, waker) = (progress.clone(), ack.clone(), waker.clone());
            rt.spawn(std::future::poll_fn(move |cx| {
                waker
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| cx.waker().clone());
                let seen = progress.load(Acquire);
                ack.store(seen, Release);
                for _ in 0..100 {
                    std::hint::spin_loop();
                }
                if seen == exchanges {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }))
        };
        let w = loop {
            if let Some(w) = waker.lock().unwrap().clone() {
                break w;
            }
            thread::yield_now();
        };
        for k in 1..=exchanges {
            if k % 2 == 0 {
                // Twice in a row: the second wake usually finds the task already notified
                // (queued, or running with the first wake pending), and must still make the
                // poll that follows see `k`.
                progress.store(k - 1, Release);
                w.wake_by_ref();
            }
            progress.store(k, Release);
            w.wake_by_ref();
            let start = std::time::Instant::now();
            while ack.load(Acquire) < k {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "lost wake-up: the task never saw {k}"
                );
                std::hint::spin_loop();
            }
        }
        wait_outside(task, Duration::from_secs(10))
            .expect("the task did not finish")
            .unwrap();
        *waker.lock().unwrap() = None;
    });
}

#[test]
fn stress_wake_ping_pong() {
    wake_ping_pong(20_000);
}

#[test]
#[ignore = "long: run with --ignored"]
fn stress_wake_ping_pong_long() {
    wake_ping_pong(5_000_000);
}
