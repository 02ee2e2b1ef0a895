//! `TaskGroup` as tokio's `JoinSet`: `try_join_next`, the `_with_id` variants, `shutdown`,
//! `detach_all`, `spawn_on`, `spawn_blocking`, `Extend`/`FromIterator` and the `JoinSet` alias.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use brisk::task::{JoinSet, TaskGroup};
use brisk::Runtime;
use brisk_tests::{with_watchdog, Counted, Flag};

const LIMIT: Duration = Duration::from_secs(30);

fn rt() -> Runtime {
    // Eager (not Adaptive): a ready child finishes inside `spawn`, whatever the timing.
    Runtime::builder()
        .worker_threads(2)
        .spawn_policy(brisk::SpawnPolicy::Eager)
        .build()
        .unwrap()
}

#[test]
fn try_join_next_returns_only_finished_children() {
    let rt = rt();
    rt.block_on(async {
        let mut group = TaskGroup::new();
        assert!(group.try_join_next().is_none(), "empty group");
        let gate = Flag::new();
        let g = gate.clone();
        group.spawn(async move {
            g.wait().await;
            1
        });
        assert!(
            group.try_join_next().is_none(),
            "the child is still waiting"
        );
        assert_eq!(group.len(), 1);
        gate.set();
        // Wait for it through join_next, which must still see it.
        assert_eq!(group.join_next().await.unwrap().unwrap(), 1);
        group.spawn(async { 2 });
        // Finished during its eager first poll: available at once.
        assert_eq!(group.try_join_next().unwrap().unwrap(), 2);
        assert!(group.try_join_next().is_none());
        assert!(group.is_empty());
    });
}

#[test]
fn try_join_next_eventually_sees_every_child_finished_on_workers() {
    with_watchdog(LIMIT, "try_join_next drain", || {
        let rt = rt();
        let mut group = TaskGroup::new();
        for i in 0..50u32 {
            group.spawn_on(async move { i }, rt.handle());
        }
        let mut seen = HashSet::new();
        while seen.len() < 50 {
            match group.try_join_next() {
                Some(r) => assert!(seen.insert(r.unwrap())),
                None => std::thread::yield_now(),
            }
        }
        assert!(group.try_join_next().is_none());
        assert!(group.is_empty());
    });
}

#[test]
fn ids_match_the_abort_handles_and_the_errors() {
    let rt = rt();
    rt.block_on(async {
        let mut group = JoinSet::new();
        let mut expect = HashSet::new();
        for i in 0..10u32 {
            expect.insert((group.spawn(async move { i }).id(), i));
        }
        let gate = Flag::new();
        let g = gate.clone();
        let waiting = group.spawn(async move {
            g.wait().await;
            99
        });
        waiting.abort();
        let mut got = HashSet::new();
        let mut cancelled = None;
        while let Some(r) = group.join_next_with_id().await {
            match r {
                Ok(pair) => assert!(got.insert(pair)),
                Err(e) => cancelled = Some(e),
            }
        }
        assert_eq!(got, expect);
        let e = cancelled.expect("the aborted child is reported");
        assert!(e.is_cancelled());
        assert_eq!(e.id(), waiting.id());

        group.spawn(async { 5 });
        let id = group.try_join_next_with_id().unwrap().unwrap();
        assert_eq!(id.1, 5);
    });
}

#[test]
fn shutdown_drops_every_future_and_empties_the_group() {
    let rt = rt();
    let live = Arc::new(AtomicUsize::new(0));
    let l = live.clone();
    rt.block_on(async move {
        let mut group = TaskGroup::new();
        for _ in 0..20 {
            group.spawn(Counted::new(std::future::pending::<()>(), &l));
        }
        group.spawn(Counted::new(async {}, &l));
        assert_eq!(l.load(Ordering::SeqCst), 20);
        group.shutdown().await;
        assert!(group.is_empty());
        assert_eq!(l.load(Ordering::SeqCst), 0, "every child's future is gone");
        // Still usable.
        group.spawn(async {});
        assert!(group.join_next().await.unwrap().is_ok());
    });
}

#[test]
fn detach_all_keeps_children_running_and_new_children_are_unaffected() {
    with_watchdog(LIMIT, "detach_all", || {
        let rt = rt();
        rt.block_on(async {
            let mut group = TaskGroup::new();
            let gate = Flag::new();
            let ran = Arc::new(AtomicUsize::new(0));
            for _ in 0..5 {
                let g = gate.clone();
                let r = ran.clone();
                group.spawn(async move {
                    g.wait().await;
                    r.fetch_add(1, Ordering::SeqCst);
                    0
                });
            }
            group.detach_all();
            assert!(group.is_empty());
            assert!(group.join_next().await.is_none());
            // New children reuse nothing of the old ones: their completions must not be
            // confused with the detached ones' (which finish below, after these spawns).
            let gate2 = Flag::new();
            for i in 1..=3 {
                let g = gate2.clone();
                group.spawn(async move {
                    g.wait().await;
                    i
                });
            }
            gate.set();
            let done = Arc::new(Flag::new());
            let (r, d) = (ran.clone(), done.clone());
            brisk::spawn(async move {
                while r.load(Ordering::SeqCst) < 5 {
                    brisk::task::yield_now().await;
                }
                d.set();
            });
            done.wait().await;
            assert_eq!(group.len(), 3);
            assert!(
                group.try_join_next().is_none(),
                "detached children reported"
            );
            gate2.set();
            let mut sum = 0;
            while let Some(r) = group.join_next().await {
                sum += r.unwrap();
            }
            assert_eq!(sum, 6);
            drop(group);
            assert_eq!(ran.load(Ordering::SeqCst), 5);
        });
    });
}

#[test]
fn detached_children_are_not_aborted_when_the_group_drops() {
    with_watchdog(LIMIT, "detach then drop", || {
        let rt = rt();
        let (tx, rx) = std::sync::mpsc::channel();
        let gate = Flag::new();
        rt.block_on(async {
            let mut group = TaskGroup::new();
            let g = gate.clone();
            group.spawn(async move {
                g.wait().await;
                tx.send(()).unwrap();
            });
            group.detach_all();
        });
        gate.set();
        rx.recv_timeout(LIMIT)
            .expect("the detached child ran to the end");
    });
}

#[test]
fn spawn_on_from_outside_the_runtime() {
    with_watchdog(LIMIT, "spawn_on", || {
        let rt = rt();
        let mut group = TaskGroup::new();
        for i in 0..4u32 {
            group.spawn_on(async move { i * 2 }, rt.handle());
        }
        assert_eq!(rt.block_on(group.join_all()), vec![0, 2, 4, 6]);
    });
}

#[test]
fn spawn_blocking_children_report_results_panics_and_aborts() {
    with_watchdog(LIMIT, "spawn_blocking in a group", || {
        let rt = Runtime::builder()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        rt.block_on(async {
            let mut group = TaskGroup::new();
            // The first closure holds the only blocking thread until `hold_tx` sends, so the
            // third one is still queued when it is aborted.
            let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
            group.spawn_blocking(move || {
                hold_rx.recv().unwrap();
                1
            });
            group.spawn_blocking(|| -> u32 { panic!("boom") });
            let ran = Arc::new(AtomicUsize::new(0));
            let r = ran.clone();
            let never = group.spawn_blocking(move || {
                r.fetch_add(1, Ordering::SeqCst);
                3
            });
            never.abort();
            hold_tx.send(()).unwrap();
            let (mut ok, mut panicked, mut cancelled) = (0, 0, 0);
            while let Some(r) = group.join_next().await {
                match r {
                    Ok(v) => ok += v,
                    Err(e) if e.is_panic() => panicked += 1,
                    Err(e) => {
                        assert!(e.is_cancelled());
                        assert_eq!(e.id(), never.id());
                        cancelled += 1;
                    }
                }
            }
            assert_eq!((ok, panicked, cancelled), (1, 1, 1));
            assert_eq!(ran.load(Ordering::SeqCst), 0, "aborted before it started");
        });
    });
}

#[test]
fn spawn_blocking_on_from_outside_the_runtime() {
    let rt = rt();
    let mut group = TaskGroup::new();
    group.spawn_blocking_on(|| 4, rt.handle());
    assert_eq!(rt.block_on(group.join_all()), vec![4]);
}

#[test]
fn extend_and_collect_spawn_every_future() {
    let rt = rt();
    rt.block_on(async {
        let mut group: TaskGroup<u32> = (0..5).map(|i| async move { i }).collect();
        assert_eq!(group.len(), 5);
        group.extend((5..8).map(|i| async move { i }));
        assert_eq!(group.len(), 8);
        assert_eq!(group.join_all().await, (0..8).collect::<Vec<_>>());
    });
}

#[test]
fn join_next_with_id_spends_the_coop_budget() {
    // A loop over an always-ready group must still yield to other tasks: the sibling below
    // only runs on the same single worker if the group's loop gives the thread up.
    with_watchdog(LIMIT, "coop in join_next_with_id", || {
        let rt = Runtime::builder().worker_threads(1).build().unwrap();
        brisk_tests::on_worker(&rt, async {
            let flag = Arc::new(Flag::new());
            let f = flag.clone();
            let _sibling = brisk::spawn_lazy(async move { f.set() });
            let mut group = TaskGroup::new();
            let mut rounds = 0u64;
            while !flag.is_set() {
                group.spawn(async {});
                group.join_next_with_id().await.unwrap().unwrap();
                rounds += 1;
                assert!(rounds < 1_000_000, "the sibling never ran");
            }
        });
    });
}
