//! Leak check: with a counting global allocator (this test binary's own), every allocation a
//! runtime and its tasks make is freed once the runtime is dropped and the last handle and
//! waker are gone — including tasks cancelled while queued, tasks suspended after their eager
//! first poll, tasks whose handle was dropped, handles and wakers that outlive the runtime,
//! timers still pending, aborted and panicking tasks.
//!
//! Each scenario runs on a thread of its own, which is joined before the count is compared, so
//! thread-locals (the runtime context, the per-thread cache of task cells) are gone too; the
//! comparison then allows no slack at all. Everything runs once unmeasured first, so that
//! one-time lazy statics (crossbeam-epoch's collector, the panic machinery) exist before the
//! baseline is taken. crossbeam-epoch garbage (deque buffers, exited threads' epoch records)
//! is collected by flushing the epoch before counting (`reliability::alloc::settle`).
//!
//! One `#[test]` runs every scenario in turn (tests running in parallel would blur the count),
//! then leaks a task on purpose to show that the check sees it.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Once};
use std::task::{Poll, Waker};
use std::time::Duration;

use brisk::{JoinHandle, Runtime, SpawnPolicy};
use brisk_tests::reliability::alloc::{self, CountingAlloc};
use brisk_tests::reliability::{wait_outside, with_abort_watchdog};
use brisk_tests::Counted;
use brisk_tests::Flag;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn rt(workers: usize, policy: SpawnPolicy) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .spawn_policy(policy)
        .build()
        .unwrap()
}

/// Waits for every handle from a plain thread (the runtime may be gone): each must resolve,
/// with a value or as cancelled (or as a panic if `panics_ok`).
fn resolve_all<T>(handles: Vec<JoinHandle<T>>, panics_ok: bool) -> (usize, usize) {
    let (mut ok, mut cancelled) = (0, 0);
    for h in handles {
        match wait_outside(h, Duration::from_secs(20)).expect("a handle never resolved") {
            Ok(_) => ok += 1,
            Err(e) if e.is_cancelled() => cancelled += 1,
            Err(e) => assert!(panics_ok && e.is_panic(), "unexpected error: {e}"),
        }
    }
    (ok, cancelled)
}

// ---- the scenarios ----

/// Eager spawns that complete inline, awaited; and queued ones run to completion.
fn completed() {
    let rt = rt(2, SpawnPolicy::Eager);
    let sum = rt.block_on(async {
        let mut hs = Vec::new();
        for i in 0..2_000u64 {
            hs.push(if i % 2 == 0 {
                brisk::spawn(async move { i })
            } else {
                brisk::spawn_lazy(async move {
                    brisk::task::yield_now().await;
                    i
                })
            });
        }
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..2_000u64).sum::<u64>());
}

/// Tasks still queued when the runtime is dropped (the only worker is busy): cancelled from
/// the queues; half the handles dropped before, half kept past the runtime.
fn cancelled_while_queued() {
    let live = Arc::new(AtomicUsize::new(0));
    let rt = rt(1, SpawnPolicy::Lazy);
    let kept = rt.block_on({
        let live = live.clone();
        async move {
            let started = Flag::new();
            let blocker = {
                let started = started.clone();
                brisk::spawn(async move {
                    started.set();
                    // Occupy the only worker while the runtime shuts down.
                    std::thread::sleep(Duration::from_millis(100));
                })
            };
            started.wait().await;
            drop(blocker);
            let mut kept = Vec::new();
            for i in 0..1_000u64 {
                let h = brisk::spawn(Counted::new(async move { i }, &live));
                if i % 2 == 0 {
                    kept.push(h);
                }
            }
            kept
        }
    });
    drop(rt);
    let (_, cancelled) = resolve_all(kept, false);
    assert!(cancelled > 0, "no task was still queued at shutdown");
    assert_eq!(live.load(SeqCst), 0, "futures not dropped");
}

/// Tasks suspended after their eager first poll (waiting on a flag nobody sets): cancelled
/// through the owned list; some handles dropped, the rest outlive the runtime.
fn suspended_after_eager_poll() {
    let live = Arc::new(AtomicUsize::new(0));
    let never = Flag::new();
    let rt = rt(2, SpawnPolicy::Eager);
    let kept = rt.block_on({
        let live = live.clone();
        async move {
            let mut kept = Vec::new();
            for i in 0..1_000u64 {
                let never = never.clone();
                let h = brisk::spawn(Counted::new(
                    async move {
                        never.wait().await;
                        i
                    },
                    &live,
                ));
                if i % 3 != 0 {
                    kept.push(h);
                }
            }
            kept
        }
    });
    drop(rt);
    let (ok, cancelled) = resolve_all(kept, false);
    assert_eq!((ok, cancelled), (0, 666));
    assert_eq!(live.load(SeqCst), 0, "futures not dropped");
}

/// Detached tasks (handles dropped at once) that never finish: some yield forever (running or
/// queued at shutdown), some wait forever.
fn detached() {
    let live = Arc::new(AtomicUsize::new(0));
    let never = Flag::new();
    let rt = rt(2, SpawnPolicy::Eager);
    rt.block_on({
        let live = live.clone();
        async move {
            for i in 0..200 {
                let never = never.clone();
                drop(brisk::spawn(Counted::new(
                    async move {
                        if i % 2 == 0 {
                            loop {
                                brisk::task::yield_now().await;
                            }
                        } else {
                            never.wait().await;
                        }
                    },
                    &live,
                )));
            }
            brisk::time::sleep(Duration::from_millis(5)).await;
        }
    });
    drop(rt);
    assert_eq!(live.load(SeqCst), 0, "futures not dropped");
}

/// Wakers that outlive the runtime (stored by the tasks): the cells stay alive for them, a
/// wake after the runtime's drop does nothing, and dropping them frees the cells.
fn wakers_outlive_the_runtime() {
    let wakers: Arc<Mutex<Vec<Waker>>> = Arc::default();
    let rt = rt(2, SpawnPolicy::Eager);
    let kept = rt.block_on({
        let wakers = wakers.clone();
        async move {
            (0..100)
                .map(|_| {
                    let wakers = wakers.clone();
                    brisk::spawn(std::future::poll_fn(move |cx| {
                        wakers.lock().unwrap().push(cx.waker().clone());
                        Poll::<()>::Pending
                    }))
                })
                .collect::<Vec<_>>()
        }
    });
    drop(rt);
    let (_, cancelled) = resolve_all(kept, false);
    assert_eq!(cancelled, 100);
    let wakers = std::mem::take(&mut *wakers.lock().unwrap());
    assert_eq!(wakers.len(), 100);
    for (i, w) in wakers.into_iter().enumerate() {
        if i % 2 == 0 {
            w.wake();
        } else {
            w.wake_by_ref();
        }
    }
}

/// Timers still in the wheel at shutdown, sleeps cancelled by a timeout, aborted sleepers.
fn timers_and_aborts() {
    let live = Arc::new(AtomicUsize::new(0));
    let rt = rt(2, SpawnPolicy::Eager);
    let kept = rt.block_on({
        let live = live.clone();
        async move {
            let mut kept = Vec::new();
            for i in 0..300u64 {
                let h = brisk::spawn(Counted::new(
                    async move {
                        match i % 3 {
                            0 => brisk::time::sleep(Duration::from_secs(60)).await,
                            1 => {
                                let long = brisk::time::sleep(Duration::from_secs(60));
                                let _ = brisk::time::timeout(Duration::from_millis(1), long).await;
                            }
                            _ => brisk::time::sleep(Duration::from_millis(i % 4)).await,
                        }
                        i
                    },
                    &live,
                ));
                if i % 5 == 0 {
                    h.abort();
                }
                kept.push(h);
            }
            brisk::time::sleep(Duration::from_millis(10)).await;
            kept
        }
    });
    drop(rt);
    resolve_all(kept, false);
    assert_eq!(live.load(SeqCst), 0, "futures not dropped");
}

fn quiet_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
            if msg != "leak: deliberate panic" {
                default(info);
            }
        }));
    });
}

/// Panicking tasks: the payload lives in the `JoinError` and is freed with it.
fn panics() {
    quiet_deliberate_panics();
    let rt = rt(2, SpawnPolicy::Eager);
    let hs = rt.block_on(async {
        (0..100)
            .map(|i| {
                brisk::spawn(async move {
                    if i % 2 == 0 {
                        brisk::task::yield_now().await;
                    }
                    if i % 3 == 0 {
                        panic!("leak: deliberate panic");
                    }
                })
            })
            .collect::<Vec<_>>()
    });
    drop(rt);
    resolve_all(hs, true);
}

// ---- the harness ----

/// Runs `scenario` on its own thread and checks that the process's live allocations are back
/// to the count before it. A hang aborts the process.
fn no_leak(name: &str, scenario: fn()) {
    with_abort_watchdog(Duration::from_secs(120), name, || {
        alloc::flush_epoch_garbage();
        let baseline = alloc::live().expect("the counting allocator is installed");
        std::thread::spawn(scenario).join().unwrap();
        if let Err(now) = alloc::settle(baseline, Duration::from_secs(5)) {
            panic!("{name}: {} allocations leaked", now - baseline);
        }
    });
}

const SCENARIOS: &[(&str, fn())] = &[
    ("completed tasks", completed),
    ("tasks cancelled while queued", cancelled_while_queued),
    (
        "tasks suspended after an eager poll",
        suspended_after_eager_poll,
    ),
    ("detached tasks", detached),
    ("wakers outliving the runtime", wakers_outlive_the_runtime),
    ("timers and aborts", timers_and_aborts),
    ("panicking tasks", panics),
];

#[test]
fn no_allocation_outlives_the_runtime() {
    // Warm-up: one-time lazy statics are made here, outside any measurement.
    for (name, scenario) in SCENARIOS {
        with_abort_watchdog(Duration::from_secs(120), name, || {
            std::thread::spawn(*scenario).join().unwrap();
        });
    }
    for (name, scenario) in SCENARIOS {
        no_leak(name, *scenario);
    }
    // The check can fail: a deliberately leaked task is reported.
    with_abort_watchdog(Duration::from_secs(120), "deliberate leak", || {
        alloc::flush_epoch_garbage();
        let baseline = alloc::live().unwrap();
        std::thread::spawn(|| {
            let rt = rt(1, SpawnPolicy::Eager);
            // Spawned from outside: the handle is returned, never awaited.
            let h = rt.spawn(async { 1u8 });
            drop(rt);
            // Leak the handle: its reference keeps the task cell alive.
            std::mem::forget(h);
        })
        .join()
        .unwrap();
        let leaked = alloc::settle(baseline, Duration::from_millis(200)).unwrap_err() - baseline;
        assert!(leaked >= 1, "{leaked}");
    });
}
