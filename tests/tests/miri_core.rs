//! The task core, small enough for Miri: spawn, join, abort, eager completion and suspension,
//! await-inlining with stale queue entries, self-waking tasks stolen by a second worker,
//! `TaskGroup`, `spawn_blocking`, panics in futures, outputs and destructors, and handles and
//! wakers outliving the runtime. No sockets, no timers, no sleeps. (Misuse of `EnterGuard`
//! is in `miri_misuse.rs`: Miri stops a test binary at its first report.)
//!
//! `scripts/miri.sh` runs exactly this file under Miri (Tree Borrows); it also runs natively in
//! `cargo test --workspace`. Sizes stay tiny (Miri runs code about 1000x slower): each test
//! builds a runtime of one or two workers and a few dozen tasks at most.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::Waker;

use brisk::task::TaskGroup;
use brisk::Runtime;
use brisk_tests::{on_worker, Flag, PendingN};

/// `Eager`: the tests assert which spawns ran inline (timing-independent only under `Eager`).
fn rt(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .spawn_policy(brisk::SpawnPolicy::Eager)
        .build()
        .unwrap()
}

/// Polls a future to completion on this thread, outside any runtime (for handles that must
/// resolve after the runtime is gone).
fn poll_to_end<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

/// Counts drops of the value it is stored in.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Panics when dropped (unless the thread is already unwinding).
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("PanicOnDrop");
        }
    }
}

#[test]
fn ready_spawn_completes_inside_spawn() {
    let rt = rt(1);
    let v = rt.block_on(async {
        let h = brisk::spawn(async { 6 * 7 });
        assert!(h.is_finished(), "a ready child finishes inside spawn");
        h.await.unwrap()
    });
    assert_eq!(v, 42);
    assert_eq!(rt.metrics().eager_completed(), 1);
}

#[test]
fn eager_child_suspends_and_is_woken_from_another_thread() {
    let rt = rt(2);
    let flag = Flag::new();
    let f2 = flag.clone();
    let v = rt.block_on(async move {
        let h = brisk::spawn(async move {
            f2.wait().await;
            7
        });
        assert!(!h.is_finished());
        // The other thread sets the flag while this task waits on the handle (or before):
        // either way the join must see the value.
        let setter = std::thread::spawn(move || flag.set());
        let v = h.await.unwrap();
        setter.join().unwrap();
        v
    });
    assert_eq!(v, 7);
    assert_eq!(rt.metrics().eager_suspended(), 1);
}

#[test]
fn await_inlining_leaves_stale_queue_entries_that_are_skipped() {
    // On a worker: lazy children go to the local queue; awaiting each claims it and polls it
    // inline, leaving its queue entry stale; yielding afterwards lets the worker pop (and
    // skip) the stale entries. Some children re-wake themselves, so they are queued again.
    // (Await-inlining is part of the Eager policy, the default.)
    let rt = rt(1);
    let sum = on_worker(&rt, async {
        let hs: Vec<_> = (0..8u32)
            .map(|i| {
                brisk::spawn_lazy(async move {
                    PendingN(i % 3).await;
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        for _ in 0..4 {
            brisk::task::yield_now().await;
        }
        sum
    });
    assert_eq!(sum, (0..8).sum());
    assert!(
        rt.metrics().await_inlined() >= 1,
        "no child was await-inlined: {:?}",
        rt.metrics()
    );
}

#[test]
fn self_waking_tasks_stolen_by_a_second_worker() {
    // The reschedule path: each task wakes itself (by reference) and returns Pending, so it is
    // pushed to its worker's queue, where the other worker may steal it, finish it and free
    // its cell (reused by the next spawn through the per-thread cell cache).
    let rt = rt(2);
    let total = on_worker(&rt, async {
        let mut total = 0u32;
        for round in 0..3u32 {
            let hs: Vec<_> = (0..6u32)
                .map(|i| {
                    brisk::spawn_lazy(async move {
                        PendingN(2).await;
                        round * 10 + i
                    })
                })
                .collect();
            for h in hs {
                total += h.await.unwrap();
            }
        }
        total
    });
    assert_eq!(total, (0..3).map(|r| 6 * r * 10 + 15).sum::<u32>());
}

#[test]
fn remote_spawns_and_joins() {
    let rt = rt(2);
    let hs: Vec<_> = (0..6u64)
        .map(|i| {
            rt.spawn(async move {
                brisk::task::yield_now().await;
                i * 2
            })
        })
        .collect();
    let sum = rt.block_on(async {
        let mut s = 0;
        for h in hs {
            s += h.await.unwrap();
        }
        s
    });
    assert_eq!(sum, 30);
}

#[test]
fn abort_pending_finished_and_queued_tasks() {
    let rt = rt(1);
    // Hold the only worker in a task until the queued task has been aborted, so it cannot
    // run first.
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocker = rt.spawn(async move {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    started_rx.recv().unwrap();
    rt.block_on(async move {
        let never = Flag::new();
        let n2 = never.clone();
        let pending = brisk::spawn(async move {
            n2.wait().await;
            1
        });
        pending.abort();
        assert!(pending.await.unwrap_err().is_cancelled());

        let done = brisk::spawn(async { 5 });
        assert!(done.is_finished());
        done.abort();
        assert_eq!(done.await.unwrap(), 5, "abort after completion is a no-op");

        let polled = Arc::new(AtomicBool::new(false));
        let p2 = polled.clone();
        let queued = brisk::spawn_lazy(async move {
            p2.store(true, SeqCst);
            6
        });
        queued.abort();
        release_tx.send(()).unwrap();
        let err = queued.await.unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert!(!polled.load(SeqCst), "an aborted queued task was polled");
        blocker.await.unwrap();
    });
}

#[test]
fn panics_in_futures_are_join_errors() {
    let rt = rt(1);
    rt.block_on(async {
        let eager = brisk::spawn(async { panic!("eager boom") });
        let err = eager.await.unwrap_err();
        assert!(err.is_panic());
        assert_eq!(
            *err.into_panic().downcast::<&str>().unwrap(),
            "eager boom",
            "the panic payload comes back"
        );
        let lazy = brisk::spawn_lazy(async {
            brisk::task::yield_now().await;
            panic!("lazy boom")
        });
        assert!(lazy.await.unwrap_err().is_panic());
        // The runtime still works.
        assert_eq!(brisk::spawn(async { 1 }).await.unwrap(), 1);
    });
}

#[test]
fn a_panicking_output_destructor_run_by_the_awaiter_unwinds_in_the_awaiter() {
    let rt = rt(1);
    let r = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            let out = brisk::spawn(async { PanicOnDrop }).await.unwrap();
            drop(out);
        })
    }));
    assert!(r.is_err(), "the output's destructor panicked in block_on");
    // The runtime still works.
    assert_eq!(
        rt.block_on(async { brisk::spawn(async { 2 }).await.unwrap() }),
        2
    );
}

/// A task that finishes in its eager first poll hands its output (at most one word) to the
/// `JoinHandle` and its cell is freed at once: the handle still acts like any other.
#[test]
fn a_handle_holding_its_finished_tasks_output_acts_like_any_handle() {
    let rt = rt(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let d2 = drops.clone();
    rt.block_on(async move {
        // Awaited: the output, once; the task's id as seen inside it.
        let h = brisk::spawn(async { brisk::task::id() });
        assert!(h.is_finished());
        let abort = h.abort_handle();
        h.abort();
        abort.abort();
        assert!(abort.is_finished());
        let id = h.id();
        assert_eq!(abort.id(), id);
        assert_eq!(h.await.unwrap(), id);
        assert_eq!(brisk::spawn(async { 7u64 }).await.unwrap(), 7);
        // Dropped unawaited: the held output is dropped once, by the handle.
        let d3 = d2.clone();
        let h = brisk::spawn(async move { DropCount(d3) });
        assert_eq!(
            d2.load(SeqCst),
            0,
            "the output is dropped with the handle, not before"
        );
        drop(h);
        assert_eq!(d2.load(SeqCst), 1);
        // Awaited, then the handle dropped: still once.
        let d4 = d2.clone();
        let mut h = brisk::spawn(async move { DropCount(d4) });
        drop((&mut h).await.unwrap());
        drop(h);
        assert_eq!(d2.load(SeqCst), 2, "an awaited held output is dropped once");
        // A held output whose destructor panics: contained, like one left in a cell.
        drop(brisk::spawn(async { PanicOnDrop }));
        // An output too large for the handle stays in the cell.
        let big = brisk::spawn(async { [3u64; 2] });
        assert!(big.is_finished());
        assert_eq!(big.await.unwrap(), [3u64; 2]);
    });
    assert_eq!(drops.load(SeqCst), 2);
    assert!(
        std::mem::size_of::<brisk::task::JoinHandle<[u8; 4096]>>()
            == 2 * std::mem::size_of::<usize>(),
        "a JoinHandle is two words for any output type"
    );
}

/// A task that clones its waker during its eager first poll and finishes: the clone keeps the
/// cell alive (the output stays in it), and waking and dropping the clone after the handle
/// returned the output touch live memory. Miri sees every free (no cell cache under Miri): a
/// first poll that freed the cell while a clone was alive is reported here.
#[test]
fn a_waker_cloned_in_a_ready_first_poll_keeps_the_cell() {
    let rt = rt(1);
    rt.block_on(async {
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let s2 = slot.clone();
        let h = brisk::spawn(std::future::poll_fn(move |cx| {
            *s2.lock().unwrap() = Some(cx.waker().clone());
            std::task::Poll::Ready(5u64)
        }));
        assert!(h.is_finished());
        assert_eq!(h.await.unwrap(), 5);
        let waker = slot.lock().unwrap().take().expect("the task kept a waker");
        waker.wake_by_ref();
        drop(waker);
    });
}

#[test]
fn a_panicking_future_destructor_on_abort_is_contained() {
    let rt = rt(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let d2 = drops.clone();
    rt.block_on(async move {
        let never = Flag::new();
        let n2 = never.clone();
        let h = brisk::spawn(async move {
            let _count = DropCount(d2);
            let _boom = PanicOnDrop;
            n2.wait().await;
        });
        h.abort();
        // Cancelled or a panic: either way a `JoinError`, and the runtime lives on.
        assert!(h.await.is_err());
    });
    assert_eq!(drops.load(SeqCst), 1, "the future was dropped once");
    assert_eq!(
        rt.block_on(async { brisk::spawn(async { 3 }).await.unwrap() }),
        3
    );
}

#[test]
fn task_group_joins_and_aborts() {
    let rt = rt(2);
    rt.block_on(async {
        let mut group = TaskGroup::new();
        for i in 0..5u32 {
            group.spawn(async move {
                PendingN(i % 2).await;
                i
            });
        }
        let mut got = Vec::new();
        while let Some(r) = group.join_next().await {
            got.push(r.unwrap());
        }
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);

        let mut group = TaskGroup::new();
        let never = Flag::new();
        for _ in 0..3 {
            let n = never.clone();
            group.spawn(async move {
                n.wait().await;
                0u32
            });
        }
        group.abort_all();
        let mut cancelled = 0;
        while let Some(r) = group.join_next().await {
            assert!(r.unwrap_err().is_cancelled());
            cancelled += 1;
        }
        assert_eq!(cancelled, 3);
    });
}

#[test]
fn spawn_blocking_returns_values_and_panics() {
    let rt = rt(1);
    rt.block_on(async {
        let v = brisk::task::spawn_blocking(|| 40 + 2).await.unwrap();
        assert_eq!(v, 42);
        let err = brisk::task::spawn_blocking(|| panic!("blocking boom"))
            .await
            .unwrap_err();
        assert!(err.is_panic());
    });
}

#[test]
fn handles_and_wakers_outlive_the_runtime() {
    let drops = Arc::new(AtomicUsize::new(0));
    let waker_slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let rt = rt(2);
    let never = Flag::new();
    let (handles, done) = rt.block_on({
        let (drops, never, slot) = (drops.clone(), never.clone(), waker_slot.clone());
        async move {
            let pending: Vec<_> = (0..3)
                .map(|_| {
                    let (d, n) = (drops.clone(), never.clone());
                    brisk::spawn(async move {
                        let _count = DropCount(d);
                        n.wait().await;
                        1u32
                    })
                })
                .collect();
            // A task that leaves its waker behind, then waits forever.
            let s2 = slot.clone();
            let keeper = brisk::spawn(std::future::poll_fn(move |cx| {
                *s2.lock().unwrap() = Some(cx.waker().clone());
                std::task::Poll::<u32>::Pending
            }));
            let done = brisk::spawn(async { 9u32 });
            let mut all = pending;
            all.push(keeper);
            (all, done)
        }
    });
    drop(rt);
    assert_eq!(drops.load(SeqCst), 3, "each pending future dropped once");
    for h in handles {
        assert!(poll_to_end(h).unwrap_err().is_cancelled());
    }
    assert_eq!(poll_to_end(done).unwrap(), 9);
    // Wakes after the runtime's drop are no-ops.
    never.set();
    let w = waker_slot.lock().unwrap().take().unwrap();
    w.wake_by_ref();
    w.wake();
}

#[test]
fn join_waker_of_another_task_is_woken_on_completion() {
    // One task awaits a pending child's handle (registering its join waker) while a third
    // thread completes the child.
    let rt = rt(2);
    let flag = Flag::new();
    let f2 = flag.clone();
    let child = rt.spawn(async move {
        f2.wait().await;
        5u32
    });
    let awaiter = rt.spawn(async move { child.await.unwrap() + 1 });
    let setter = std::thread::spawn(move || flag.set());
    assert_eq!(rt.block_on(awaiter).unwrap(), 6);
    setter.join().unwrap();
}
