//! The core runtime: spawning, eager-first polling, await-inlining, joins, panics, aborts,
//! shutdown, wake-ups and misuse messages.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brisk::{Runtime, SpawnPolicy};
use brisk_tests::{with_watchdog, Flag, PendingN};

/// `Eager`: these tests assert which spawns ran inline, which under the default `Adaptive`
/// can depend on timing (a tick's time budget, a demoted site) on a loaded machine.
fn rt(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .spawn_policy(SpawnPolicy::Eager)
        .build()
        .unwrap()
}

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn hundred_thousand_tasks_on_two_workers() {
    with_watchdog(LIMIT, "100k tasks", || {
        let rt = rt(2);
        let sum = rt.block_on(async {
            let mut hs = Vec::with_capacity(100_000);
            for i in 0..100_000u64 {
                hs.push(brisk::spawn(async move {
                    if i % 3 == 0 {
                        brisk::task::yield_now().await;
                    }
                    i
                }));
            }
            let mut sum = 0;
            for h in hs {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, (0..100_000u64).sum::<u64>());
        assert_eq!(rt.metrics().spawned_tasks(), 100_000);
    });
}

#[test]
fn spawns_from_outside_threads() {
    with_watchdog(LIMIT, "outside spawns", || {
        let rt = rt(2);
        let mut threads = Vec::new();
        for t in 0..4u64 {
            let h = rt.handle().clone();
            threads.push(std::thread::spawn(move || {
                (0..1000u64)
                    .map(|i| h.spawn(async move { t * 1000 + i }))
                    .collect::<Vec<_>>()
            }));
        }
        let handles: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let sum = rt.block_on(async {
            let mut s = 0;
            for h in handles {
                s += h.await.unwrap();
            }
            s
        });
        assert_eq!(sum, (0..4000u64).sum::<u64>());
        let m = rt.metrics();
        assert_eq!(
            m.eager_completed() + m.eager_suspended() + m.eager_deferred(),
            0
        );
    });
}

#[test]
fn nested_spawns() {
    with_watchdog(LIMIT, "nested spawns", || {
        let rt = rt(2);
        fn tree(depth: u32) -> brisk::JoinHandle<u64> {
            brisk::spawn(async move {
                if depth == 0 {
                    return 1;
                }
                let a = tree(depth - 1);
                let b = tree(depth - 1);
                a.await.unwrap() + b.await.unwrap()
            })
        }
        assert_eq!(rt.block_on(async { tree(12).await.unwrap() }), 4096);
    });
}

#[test]
fn ready_spawn_is_finished_when_spawn_returns_and_never_queued() {
    let rt = rt(2);
    rt.block_on(async {
        // Run inside a queued task so the spawn happens on a worker.
        brisk::spawn_lazy(async {
            let h = brisk::spawn(async { 7 });
            assert!(
                h.is_finished(),
                "a ready child must be complete when spawn returns"
            );
            assert_eq!(h.await.unwrap(), 7);
        })
        .await
        .unwrap();
    });
    let m = rt.metrics();
    assert_eq!(m.eager_completed(), 1);
    assert_eq!(m.eager_deferred(), 0);
    assert_eq!(m.eager_suspended(), 0);
    assert_eq!(m.spawned_tasks(), 2);
}

#[test]
fn pending_eager_task_woken_from_another_thread_completes() {
    with_watchdog(LIMIT, "remote wake", || {
        let rt = rt(2);
        let flag = Flag::new();
        let f2 = flag.clone();
        let out = rt.block_on(async move {
            let h = brisk::spawn(async move {
                f2.wait().await;
                99
            });
            assert!(!h.is_finished());
            // Set the flag only once this task waits on the handle (its join waker is
            // registered), so the wake comes from the other thread through the join path.
            let (waiting_tx, waiting_rx) = std::sync::mpsc::channel::<()>();
            let setter = std::thread::spawn(move || {
                waiting_rx.recv().unwrap();
                flag.set();
            });
            let mut h = std::pin::pin!(h);
            let mut waiting = Some(waiting_tx);
            let v = std::future::poll_fn(|cx| {
                let r = h.as_mut().poll(cx);
                if r.is_pending() {
                    if let Some(tx) = waiting.take() {
                        tx.send(()).unwrap();
                    }
                }
                r
            })
            .await
            .unwrap();
            assert!(waiting.is_none(), "the child was pending when awaited");
            setter.join().unwrap();
            v
        });
        assert_eq!(out, 99);
        assert_eq!(rt.metrics().eager_suspended(), 1);
    });
}

#[test]
fn eager_budget_limits_inline_polls_per_tick() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .spawn_policy(SpawnPolicy::Eager)
        .eager_budget(4)
        .build()
        .unwrap();
    let finished_at_spawn = rt.block_on(async {
        let hs: Vec<_> = (0..10).map(|i| brisk::spawn(async move { i })).collect();
        let finished = hs.iter().filter(|h| h.is_finished()).count();
        for h in hs {
            h.await.unwrap();
        }
        finished
    });
    let m = rt.metrics();
    assert_eq!(m.eager_completed(), 4, "{m:?}");
    assert_eq!(m.eager_deferred(), 6, "{m:?}");
    assert!(finished_at_spawn >= 4);
}

#[test]
fn deep_recursive_spawn_chain_does_not_overflow() {
    with_watchdog(LIMIT, "deep chain", || {
        let rt = Runtime::builder()
            .worker_threads(2)
            .eager_depth(8)
            .build()
            .unwrap();
        fn chain(n: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = u32> + Send>> {
            Box::pin(async move {
                if n == 0 {
                    0
                } else {
                    brisk::spawn(chain(n - 1)).await.unwrap() + 1
                }
            })
        }
        assert_eq!(rt.block_on(chain(10_000)), 10_000);
    });
}

#[test]
fn lazy_policy_records_no_eager_polls() {
    let rt = Runtime::builder()
        .worker_threads(2)
        .spawn_policy(SpawnPolicy::Lazy)
        .build()
        .unwrap();
    let n = rt.block_on(async {
        let hs: Vec<_> = (0..100).map(|i| brisk::spawn(async move { i })).collect();
        let mut n = 0;
        for h in hs {
            n += h.await.unwrap();
        }
        n
    });
    assert_eq!(n, 4950);
    let m = rt.metrics();
    assert_eq!(
        (m.eager_completed(), m.eager_suspended(), m.eager_deferred()),
        (0, 0, 0)
    );
    assert_eq!(
        m.await_inlined(),
        0,
        "await-inlining is for the eager policy only"
    );
}

#[test]
fn await_inlining_runs_a_queued_child_on_the_awaiting_worker() {
    let rt = rt(2);
    let (parent_thread, child_thread) = rt.block_on(async {
        brisk::spawn_lazy(async {
            let child = brisk::spawn_lazy(async { std::thread::current().id() });
            let me = std::thread::current().id();
            (me, child.await.unwrap())
        })
        .await
        .unwrap()
    });
    // The parent awaited its queued child at once: unless another worker stole it first, the
    // child ran inline on the parent's thread.
    let inlined = rt.metrics().await_inlined();
    assert!(inlined >= 1, "await_inlined = {inlined}");
    if inlined >= 2 {
        assert_eq!(parent_thread, child_thread);
    }
}

#[test]
fn await_inlining_on_block_on_thread_is_deterministic() {
    let rt = rt(1);
    rt.block_on(async {
        let me = std::thread::current().id();
        // Park the only worker in a long task so nobody else can pop the child.
        let gate = Flag::new();
        let g2 = gate.clone();
        let started = Flag::new();
        let s2 = started.clone();
        let blocker = brisk::spawn_lazy(async move {
            s2.set();
            while !g2.is_set() {
                std::thread::yield_now();
            }
        });
        started.wait().await;
        let child = brisk::spawn_lazy(async { std::thread::current().id() });
        let ran_on = child.await.unwrap();
        gate.set();
        blocker.await.unwrap();
        assert_eq!(
            ran_on, me,
            "the queued child must run inline on the awaiting thread"
        );
    });
    assert_eq!(rt.metrics().await_inlined(), 1);
}

#[test]
fn panics_are_isolated_and_reported() {
    let rt = rt(2);
    rt.block_on(async {
        let eager = brisk::spawn(async { panic!("boom in first poll") });
        let err = eager.await.unwrap_err();
        assert!(err.is_panic());
        let msg = err.into_panic();
        assert_eq!(*msg.downcast_ref::<&str>().unwrap(), "boom in first poll");

        let later = brisk::spawn(async {
            brisk::task::yield_now().await;
            panic!("boom later")
        });
        let err = later.await.unwrap_err();
        assert!(err.is_panic() && !err.is_cancelled());
        assert!(err.to_string().contains("boom later"), "{err}");
    });
    // Workers survived: more work still runs.
    assert_eq!(
        rt.block_on(async { brisk::spawn_lazy(async { 3 }).await.unwrap() }),
        3
    );
}

#[test]
fn abort_pending_and_finished_tasks() {
    with_watchdog(LIMIT, "abort", || {
        let rt = rt(2);
        rt.block_on(async {
            let never = Flag::new();
            let n2 = never.clone();
            let pending = brisk::spawn(async move {
                n2.wait().await;
                1
            });
            pending.abort();
            let err = pending.await.unwrap_err();
            assert!(err.is_cancelled(), "{err:?}");

            let done = brisk::spawn(async { 5 });
            assert!(done.is_finished());
            done.abort();
            assert_eq!(done.await.unwrap(), 5, "abort after completion is a no-op");
        });
    });
}

#[test]
fn abort_of_a_queued_task_cancels_it_before_its_first_poll() {
    with_watchdog(LIMIT, "abort queued", || {
        let rt = rt(1);
        // Hold the only worker until the queued task is aborted, so it cannot run first.
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let blocker = rt.spawn(async move {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        started_rx.recv().unwrap();
        rt.block_on(async move {
            let polled = Arc::new(AtomicUsize::new(0));
            let p2 = polled.clone();
            let queued = brisk::spawn_lazy(async move {
                p2.fetch_add(1, Ordering::SeqCst);
                6
            });
            assert!(!queued.is_finished());
            queued.abort();
            release_tx.send(()).unwrap();
            let err = queued.await.unwrap_err();
            assert!(err.is_cancelled(), "{err:?}");
            assert_eq!(
                polled.load(Ordering::SeqCst),
                0,
                "an aborted queued task ran"
            );
            blocker.await.unwrap();
        });
    });
}

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_the_runtime_drops_pending_futures_once_and_cancels_handles() {
    with_watchdog(LIMIT, "shutdown", || {
        let drops = Arc::new(AtomicUsize::new(0));
        let rt = rt(2);
        let never = Flag::new();
        let handles = rt.block_on({
            let drops = drops.clone();
            let never = never.clone();
            async move {
                let mut hs = Vec::new();
                for i in 0..50 {
                    let guard = DropCounter(drops.clone());
                    let never = never.clone();
                    let fut = async move {
                        let _g = guard;
                        never.wait().await;
                    };
                    hs.push(if i % 2 == 0 {
                        brisk::spawn(fut)
                    } else {
                        brisk::spawn_lazy(fut)
                    });
                }
                hs
            }
        });
        drop(rt);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            50,
            "each pending future dropped exactly once"
        );
        for h in handles {
            assert!(h.is_finished());
            let err = futures_block_on(h).unwrap_err();
            assert!(err.is_cancelled());
        }
        never.set(); // wakes after shutdown are no-ops
        assert_eq!(drops.load(Ordering::SeqCst), 50);
    });
}

/// Polls a future to completion on this thread (no runtime): enough for completed handles.
fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

#[test]
fn no_lost_wakeups_under_concurrent_remote_wakes() {
    with_watchdog(LIMIT, "wake storm", || {
        let rt = rt(2);
        const TASKS: usize = 16;
        const ROUNDS: usize = 2000;
        // Each task waits for its counter to advance ROUNDS times; wakers are hit from 4 threads.
        #[allow(clippy::type_complexity)]
        let slots: Arc<Vec<Mutex<(usize, Option<std::task::Waker>)>>> =
            Arc::new((0..TASKS).map(|_| Mutex::new((0, None))).collect());
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let slots = slots.clone();
                rt.handle().spawn(std::future::poll_fn(move |cx| {
                    let mut g = slots[i].lock().unwrap();
                    if g.0 >= ROUNDS {
                        std::task::Poll::Ready(g.0)
                    } else {
                        g.1 = Some(cx.waker().clone());
                        std::task::Poll::Pending
                    }
                }))
            })
            .collect();
        let wakers: Vec<_> = (0..4)
            .map(|t| {
                let slots = slots.clone();
                std::thread::spawn(move || {
                    for _ in 0..ROUNDS / 4 {
                        for i in (t..TASKS).chain(0..t) {
                            let w = {
                                let mut g = slots[i].lock().unwrap();
                                g.0 += 1;
                                g.1.take()
                            };
                            if let Some(w) = w {
                                w.wake();
                            }
                        }
                    }
                })
            })
            .collect();
        for w in wakers {
            w.join().unwrap();
        }
        let total: usize = rt.block_on(async {
            let mut t = 0;
            for h in handles {
                t += h.await.unwrap();
            }
            t
        });
        assert_eq!(total, TASKS * ROUNDS);
    });
}

#[test]
fn task_id_is_the_childs_during_inline_poll_and_the_parents_after() {
    let rt = rt(2);
    rt.block_on(async {
        brisk::spawn_lazy(async {
            let parent = brisk::task::id();
            let child = brisk::spawn(async { brisk::task::id() });
            let child_id = child.id();
            assert_eq!(
                brisk::task::id(),
                parent,
                "the parent's id is back after the inline poll"
            );
            assert_eq!(child.await.unwrap(), child_id);
            assert_ne!(child_id, parent);
        })
        .await
        .unwrap();
    });
    assert_eq!(brisk::task::try_id(), None);
}

#[test]
fn pending_children_eventually_complete_under_every_policy() {
    for policy in [SpawnPolicy::Adaptive, SpawnPolicy::Eager, SpawnPolicy::Lazy] {
        let rt = Runtime::builder()
            .worker_threads(2)
            .spawn_policy(policy)
            .build()
            .unwrap();
        let sum = rt.block_on(async {
            let hs: Vec<_> = (0..200u32)
                .map(|i| {
                    brisk::spawn(async move {
                        PendingN(i % 4).await;
                        i
                    })
                })
                .collect();
            let mut s = 0;
            for h in hs {
                s += h.await.unwrap();
            }
            s
        });
        assert_eq!(sum, (0..200).sum::<u32>(), "{policy:?}");
    }
}

#[test]
fn worker_threads_zero_is_invalid_input() {
    let err = Runtime::builder().worker_threads(0).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("worker_threads"), "{err}");
    let err = Runtime::builder()
        .global_queue_interval(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("global_queue_interval"), "{err}");
}

#[test]
fn block_on_inside_a_runtime_panics_clearly() {
    let rt = rt(1);
    let inner = Runtime::builder().worker_threads(1).build().unwrap();
    let inner = Arc::new(inner);
    let err = rt.block_on(async move {
        brisk::spawn(async move {
            inner.block_on(async {});
        })
        .await
        .unwrap_err()
    });
    let msg = err.into_panic();
    let msg = msg
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .unwrap_or_else(|| msg.downcast_ref::<String>().cloned().unwrap_or_default());
    assert!(msg.contains("runtime from within a runtime"), "{msg}");
}

#[test]
fn spawn_outside_a_runtime_panics_clearly() {
    let err = std::panic::catch_unwind(|| {
        drop(brisk::spawn(async {}));
    })
    .unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .unwrap_or_else(|| err.downcast_ref::<String>().cloned().unwrap_or_default());
    assert!(msg.contains("within a brisk runtime"), "{msg}");
}

#[test]
fn std_mutex_held_across_eager_spawn_is_the_documented_hazard() {
    // Documented in "Migrating from tokio": under Eager the child runs inside `spawn`, so a
    // guard held across it is still held when the child tries the lock. With spawn_lazy the
    // child runs later and sees the update.
    let rt = rt(2);
    rt.block_on(async {
        let state = Arc::new(Mutex::new(0));
        let s2 = state.clone();
        let guard = state.lock().unwrap();
        let child = brisk::spawn_lazy(async move { *s2.lock().unwrap() });
        drop(guard);
        *state.lock().unwrap() = 1;
        let seen_lazy = child.await.unwrap();
        assert!(seen_lazy <= 1);

        // Eager: the child sees the state as it was before `spawn` returned.
        let s3 = state.clone();
        let child = brisk::spawn(async move { *s3.lock().unwrap() });
        *state.lock().unwrap() = 2;
        assert_eq!(
            child.await.unwrap(),
            1,
            "the eager child ran before the update"
        );
    });
}

#[test]
fn enter_allows_spawn_timers_and_sockets_outside_block_on() {
    let rt = rt(2);
    let (spawned, sleep, listener) = {
        let _guard = rt.enter();
        assert!(brisk::Handle::try_current().is_some());
        let spawned = brisk::spawn(async { 11 });
        assert!(
            !spawned.is_finished() || rt.metrics().eager_completed() == 0,
            "queued, not inline"
        );
        let sleep = brisk::time::sleep(Duration::from_millis(1));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let listener = brisk::net::TcpListener::from_std(std_listener).unwrap();
        (spawned, sleep, listener)
    };
    assert!(
        brisk::Handle::try_current().is_none(),
        "the guard restores the previous context"
    );
    rt.block_on(async move {
        assert_eq!(spawned.await.unwrap(), 11);
        sleep.await;
        assert!(listener.local_addr().is_ok());
        // block_on also works while entered.
    });
    let _guard = rt.enter();
    assert_eq!(rt.block_on(async { 2 }), 2);
    assert_eq!(rt.metrics().eager_completed(), 0);
}

/// The default `eager_budget` lets a tick spawn a gather of 1,000 ready children inline (it
/// was 128, which queued 87% of them; `Builder`'s `DEFAULT_EAGER_BUDGET`). `Eager`: no time
/// budget, so the count alone decides.
#[test]
fn the_default_eager_budget_runs_a_gather_of_1000_ready_children_inline() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .spawn_policy(SpawnPolicy::Eager)
        .build()
        .unwrap();
    let sum = rt.block_on(async {
        let handles: Vec<_> = (0..1_000u64)
            .map(|i| brisk::spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 999 * 1_000 / 2);
    let m = rt.metrics();
    assert_eq!(
        (m.eager_completed(), m.eager_deferred()),
        (1_000, 0),
        "(inline, queued) of 1,000 ready spawns in one tick"
    );
}

/// A spawn after the tick's coop budget is spent is queued, not polled inline: inline polls
/// spend the tick's budget (F7), so the child would find its first await throttled anyway.
#[test]
fn spawn_after_the_coop_budget_is_spent_is_queued() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .spawn_policy(SpawnPolicy::Eager)
        .eager_budget(1_000_000)
        .build()
        .unwrap();
    let (before, after) = rt.block_on(async {
        let before = brisk::spawn(async { 1 });
        // Spend the budget: `consume_budget` returns Pending (a yield) once it is gone.
        let mut spent = 0;
        loop {
            let mut f = std::pin::pin!(brisk::task::consume_budget());
            let waker = std::task::Waker::noop();
            let poll = f.as_mut().poll(&mut std::task::Context::from_waker(waker));
            if poll.is_pending() {
                break;
            }
            spent += 1;
            assert!(spent < 10_000, "the coop budget never ran out");
        }
        let after = brisk::spawn(async { 2 });
        // Whether `after` has finished by now depends on the worker that pops it (TSan's
        // slowness once let it finish first): the counters say where it ran.
        (before.is_finished(), after.await.unwrap())
    });
    assert!(before, "the first spawn ran inline");
    assert_eq!(after, 2);
    let m = rt.metrics();
    assert_eq!(
        m.eager_completed(),
        1,
        "a spawn with the coop budget spent ran inline"
    );
    assert_eq!(m.eager_deferred(), 1, "the second spawn was queued");
}
