//! Task groups: the same group programs give the same results under `Eager` and `Lazy`
//! (normal, error, panic, nested groups), eager completion of the group itself, completion
//! order, aborts, and the "no child outlives the call" guarantee of `try_join_all`.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use brisk::task::{yield_now, AbortHandle, TaskGroup};
use brisk::{Runtime, SpawnPolicy};
use brisk_tests::{with_watchdog, Flag, PendingN};

const LIMIT: Duration = Duration::from_secs(30);

fn rt(policy: SpawnPolicy) -> Runtime {
    Runtime::builder()
        .worker_threads(2)
        .spawn_policy(policy)
        .build()
        .unwrap()
}

/// Runs `program` on an Eager and on a Lazy runtime and returns both results, after checking
/// that each runtime really used its policy (so the comparison compares something).
fn under_both<T, F, Fut>(what: &'static str, program: F) -> (T, T)
where
    T: Send + 'static,
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    with_watchdog(LIMIT, what, move || {
        let eager_rt = rt(SpawnPolicy::Eager);
        let eager = eager_rt.block_on(program());
        assert!(
            eager_rt.metrics().eager_completed() > 0,
            "{what}: nothing ran inline"
        );
        let lazy_rt = rt(SpawnPolicy::Lazy);
        let lazy = lazy_rt.block_on(program());
        let m = lazy_rt.metrics();
        assert_eq!(
            m.eager_completed() + m.eager_suspended(),
            0,
            "{what}: lazy ran inline"
        );
        (eager, lazy)
    })
}

/// A leaf: some ready, some suspending a few times, some yielding.
async fn leaf(i: u64) -> u64 {
    match i % 3 {
        0 => {}
        1 => PendingN(i as u32 % 4 + 1).await,
        _ => yield_now().await,
    }
    i * i + 1
}

/// A node that fans out through its own group, `depth` levels deep.
fn tree(depth: u32, id: u64) -> std::pin::Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return leaf(id).await;
        }
        let mut group = TaskGroup::new();
        for k in 0..3 {
            group.spawn(tree(depth - 1, id * 4 + k));
        }
        let parts = group.join_all().await;
        // Order-sensitive: join_all must return spawn order under both policies.
        parts
            .iter()
            .fold(id, |h, p| h.wrapping_mul(31).wrapping_add(*p))
    })
}

fn tree_reference(depth: u32, id: u64) -> u64 {
    if depth == 0 {
        return id * id + 1;
    }
    (0..3)
        .map(|k| tree_reference(depth - 1, id * 4 + k))
        .fold(id, |h, p| h.wrapping_mul(31).wrapping_add(p))
}

#[test]
fn join_all_same_results_under_eager_and_lazy() {
    let (eager, lazy) = under_both("flat join_all", || async {
        let mut group = TaskGroup::new();
        for i in 0..50 {
            group.spawn(leaf(i));
        }
        group.join_all().await
    });
    let expected: Vec<u64> = (0..50).map(|i| i * i + 1).collect();
    assert_eq!(eager, expected);
    assert_eq!(lazy, expected);
}

#[test]
fn join_next_same_set_under_eager_and_lazy() {
    let (eager, lazy) = under_both("join_next", || async {
        let mut group = TaskGroup::new();
        for i in 0..40 {
            group.spawn(leaf(i));
        }
        let mut seen = Vec::new();
        while let Some(r) = group.join_next().await {
            seen.push(r.unwrap());
        }
        assert!(group.is_empty());
        seen.sort_unstable();
        seen
    });
    let mut expected: Vec<u64> = (0..40).map(|i| i * i + 1).collect();
    expected.sort_unstable();
    assert_eq!(eager, expected);
    assert_eq!(lazy, expected);
}

#[test]
fn nested_groups_three_levels_same_under_eager_and_lazy() {
    let (eager, lazy) = under_both("nested groups", || tree(3, 1));
    assert_eq!(eager, tree_reference(3, 1));
    assert_eq!(lazy, eager);
}

#[test]
fn children_building_their_own_groups_same_under_eager_and_lazy() {
    // Every child builds a group of its own and uses a different join method on it.
    let (eager, lazy) = under_both("children with groups", || async {
        let mut group = TaskGroup::new();
        for i in 0..6u64 {
            group.spawn(async move {
                let mut inner = TaskGroup::new();
                for j in 0..4u64 {
                    inner.spawn(async move {
                        if j % 2 == 1 {
                            yield_now().await;
                        }
                        if i == 4 && j == 3 {
                            Err(format!("child {i}/{j} failed"))
                        } else {
                            Ok(i * 10 + j)
                        }
                    });
                }
                match i % 3 {
                    0 => inner.try_join_all().await.map(|v| v.iter().sum::<u64>()),
                    1 => {
                        let mut sum = 0;
                        while let Some(r) = inner.join_next().await {
                            sum += r.unwrap()?;
                        }
                        Ok(sum)
                    }
                    _ => inner
                        .join_all()
                        .await
                        .into_iter()
                        .collect::<Result<Vec<u64>, String>>()
                        .map(|v| v.iter().sum()),
                }
            });
        }
        group.join_all().await
    });
    let expected: Vec<Result<u64, String>> = (0..6u64)
        .map(|i| {
            if i == 4 {
                Err("child 4/3 failed".to_string())
            } else {
                Ok((0..4).map(|j| i * 10 + j).sum())
            }
        })
        .collect();
    assert_eq!(eager, expected);
    assert_eq!(lazy, expected);
}

#[test]
fn try_join_all_error_same_under_eager_and_lazy() {
    let (eager, lazy) = under_both("try_join_all error", || async {
        let mut group = TaskGroup::new();
        for i in 0..20u64 {
            group.spawn(async move {
                match i {
                    7 => {
                        PendingN(2).await;
                        Err(format!("child {i}"))
                    }
                    // Never finish on their own: the error must abort them.
                    i if i % 4 == 0 => std::future::pending().await,
                    _ => {
                        leaf(i).await;
                        Ok(i)
                    }
                }
            });
        }
        let ok = {
            let mut group = TaskGroup::<Result<u64, String>>::new();
            for i in 0..5u64 {
                group.spawn(async move { Ok(leaf(i).await) });
            }
            group.try_join_all().await
        };
        (group.try_join_all().await, ok)
    });
    let expected = (
        Err("child 7".to_string()),
        Ok((0..5).map(|i| i * i + 1).collect::<Vec<u64>>()),
    );
    assert_eq!(eager, expected);
    assert_eq!(lazy, expected);
}

fn panic_message(err: brisk::JoinError) -> String {
    assert!(err.is_panic(), "expected a panic, got {err:?}");
    let payload = err.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn join_all_panic_same_under_eager_and_lazy() {
    let (eager, lazy) = under_both("join_all panic", || async {
        // The group runs inside a task so that its panic comes back as a JoinError.
        let outer = brisk::spawn(async {
            let mut group = TaskGroup::new();
            for i in 0..10u64 {
                group.spawn(async move {
                    if i == 6 {
                        PendingN(1).await;
                        panic!("child {i} panicked");
                    }
                    if i % 2 == 0 {
                        std::future::pending::<()>().await;
                    }
                    i
                });
            }
            group.join_all().await
        });
        panic_message(outer.await.unwrap_err())
    });
    assert_eq!(eager, "child 6 panicked");
    assert_eq!(lazy, eager);
}

/// Counts the guards it made and the guards dropped (held by futures).
#[derive(Clone, Default)]
struct DropCounter(Arc<(AtomicUsize, AtomicUsize)>);

impl DropCounter {
    fn guard(&self) -> DropGuard {
        self.0 .0.fetch_add(1, Ordering::SeqCst);
        DropGuard(self.0.clone())
    }
    fn created(&self) -> usize {
        self.0 .0.load(Ordering::SeqCst)
    }
    fn get(&self) -> usize {
        self.0 .1.load(Ordering::SeqCst)
    }
}

struct DropGuard(Arc<(AtomicUsize, AtomicUsize)>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0 .1.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn try_join_all_returns_first_error_after_every_child_is_gone() {
    for policy in [SpawnPolicy::Eager, SpawnPolicy::Lazy] {
        with_watchdog(LIMIT, "try_join_all drops", move || {
            let rt = rt(policy);
            for round in 0..20 {
                let drops = DropCounter::default();
                let d = drops.clone();
                let result = rt.block_on(async move {
                    let mut group = TaskGroup::new();
                    for i in 0..12u32 {
                        let guard = d.guard();
                        group.spawn(async move {
                            let _guard = guard;
                            match i % 4 {
                                // The failing child, after a few steps.
                                0 if i == 4 => {
                                    PendingN(3).await;
                                    Err(i)
                                }
                                // Busy children: still being polled on a worker when the error
                                // arrives, so their cancellation waits for their poll to end.
                                0 | 1 => loop {
                                    std::thread::sleep(Duration::from_micros(200));
                                    yield_now().await;
                                },
                                // Suspended forever.
                                2 => std::future::pending().await,
                                // Finish first.
                                _ => Ok(i),
                            }
                        });
                    }
                    group.try_join_all().await
                });
                assert_eq!(result, Err(4), "{policy:?} round {round}");
                // Checked right after the call: every child's future is already gone.
                assert_eq!(
                    drops.get(),
                    12,
                    "{policy:?} round {round}: a child outlived the call"
                );
            }
        });
    }
}

#[test]
fn join_all_panic_aborts_the_rest_before_resuming() {
    for policy in [SpawnPolicy::Eager, SpawnPolicy::Lazy] {
        with_watchdog(LIMIT, "join_all panic drops", move || {
            let rt = rt(policy);
            let drops = DropCounter::default();
            let d = drops.clone();
            let result = catch_unwind(AssertUnwindSafe(|| {
                rt.block_on(async move {
                    let mut group = TaskGroup::new();
                    for i in 0..8u32 {
                        let guard = d.guard();
                        group.spawn(async move {
                            let _guard = guard;
                            if i == 3 {
                                yield_now().await;
                                panic!("boom {i}");
                            }
                            loop {
                                yield_now().await;
                            }
                        });
                    }
                    group.join_all().await
                })
            }));
            let payload = result.unwrap_err();
            assert_eq!(payload.downcast_ref::<String>().unwrap(), "boom 3");
            assert_eq!(
                drops.get(),
                8,
                "{policy:?}: children outlived join_all's panic"
            );
        });
    }
}

#[test]
fn join_all_panics_when_a_child_was_cancelled() {
    with_watchdog(LIMIT, "cancelled child", || {
        let rt = rt(SpawnPolicy::Eager);
        let err = rt
            .block_on(async {
                brisk::spawn(async {
                    let mut group = TaskGroup::new();
                    group.spawn(async { 1 });
                    let stuck = group.spawn(std::future::pending());
                    stuck.abort();
                    group.join_all().await
                })
                .await
            })
            .unwrap_err();
        let msg = panic_message(err);
        assert!(msg.contains("cancelled"), "message: {msg}");
        assert!(msg.contains("join_all"), "message: {msg}");
    });
}

#[test]
fn child_finished_during_eager_first_poll_is_reported_by_join_next() {
    with_watchdog(LIMIT, "eager child join_next", || {
        let rt = rt(SpawnPolicy::Eager);
        rt.block_on(async {
            let mut group = TaskGroup::new();
            let flag = Flag::new();
            let f = flag.clone();
            let waiting = group.spawn(async move {
                f.wait().await;
                "waited"
            });
            let ready = group.spawn(async { "ready" });
            assert!(ready.is_finished(), "the ready child ran inside spawn");
            assert!(!waiting.is_finished());
            assert_eq!(group.len(), 2);
            // Completion order: the ready child first, although it was spawned second.
            assert_eq!(group.join_next().await.unwrap().unwrap(), "ready");
            flag.set();
            assert_eq!(group.join_next().await.unwrap().unwrap(), "waited");
            assert!(group.join_next().await.is_none());
            assert!(group.is_empty());
        });
    });
}

/// A waker that counts its wakes.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Spawns `n` ready children, each of which fans out through a ready group of its own.
fn ready_group(n: u64) -> TaskGroup<u64> {
    let mut group = TaskGroup::new();
    for i in 0..n {
        group.spawn(async move {
            let mut inner = TaskGroup::new();
            inner.spawn(async move { i });
            inner.spawn(async move { i });
            // Ready at once: every grandchild finished inline.
            inner.join_all().await.iter().sum::<u64>()
        });
    }
    group
}

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>, waker: &Arc<CountingWaker>) -> Poll<F::Output> {
    let waker = Waker::from(waker.clone());
    fut.poll(&mut Context::from_waker(&waker))
}

#[test]
fn all_ready_group_is_ready_on_first_poll_without_a_wake() {
    with_watchdog(LIMIT, "eager group completion", || {
        let rt = rt(SpawnPolicy::Eager);
        rt.block_on(async {
            let counter = Arc::new(CountingWaker::default());

            let group = ready_group(10);
            let mut all = pin!(group.join_all());
            match poll_once(all.as_mut(), &counter) {
                Poll::Ready(v) => assert_eq!(v, (0..10).map(|i| 2 * i).collect::<Vec<u64>>()),
                Poll::Pending => panic!("join_all of an all-ready group was Pending"),
            }

            let mut group = TaskGroup::<Result<u64, ()>>::new();
            for i in 0..10 {
                group.spawn(async move { Ok(i) });
            }
            let mut all = pin!(group.try_join_all());
            assert_eq!(
                poll_once(all.as_mut(), &counter),
                Poll::Ready(Ok((0..10).collect()))
            );

            let mut group = ready_group(3);
            for _ in 0..3 {
                let mut next = pin!(group.join_next());
                assert!(matches!(
                    poll_once(next.as_mut(), &counter),
                    Poll::Ready(Some(Ok(_)))
                ));
            }
            let mut next = pin!(group.join_next());
            assert!(matches!(
                poll_once(next.as_mut(), &counter),
                Poll::Ready(None)
            ));

            assert_eq!(
                counter.0.load(Ordering::SeqCst),
                0,
                "an all-ready group woke its task"
            );
        });
        assert_eq!(rt.metrics().eager_suspended(), 0);
        assert_eq!(rt.metrics().eager_deferred(), 0);
    });
}

#[test]
fn group_with_a_waiting_child_is_pending_then_woken_once() {
    // The counterpart of the test above: the counting waker does see a real wait.
    with_watchdog(LIMIT, "group wake", || {
        let rt = rt(SpawnPolicy::Eager);
        rt.block_on(async {
            let counter = Arc::new(CountingWaker::default());
            let flag = Flag::new();
            let mut group = ready_group(3);
            let f = flag.clone();
            group.spawn(async move {
                f.wait().await;
                100
            });
            let mut all = pin!(group.join_all());
            assert!(poll_once(all.as_mut(), &counter).is_pending());
            assert_eq!(counter.0.load(Ordering::SeqCst), 0);
            flag.set();
            // The child finishes on a worker; wait for the group's wake-up.
            let deadline = Instant::now() + Duration::from_secs(10);
            while counter.0.load(Ordering::SeqCst) == 0 {
                assert!(Instant::now() < deadline, "the group was never woken");
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut out = None;
            while out.is_none() {
                if let Poll::Ready(v) = poll_once(all.as_mut(), &counter) {
                    out = Some(v);
                } else {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            assert_eq!(out.unwrap(), vec![0, 2, 4, 100]);
        });
    });
}

#[test]
fn aborting_children_suspended_after_an_inline_poll_is_safe() {
    for policy in [SpawnPolicy::Eager, SpawnPolicy::Lazy] {
        with_watchdog(LIMIT, "abort suspended", move || {
            let rt = rt(policy);
            let drops = DropCounter::default();
            let d = drops.clone();
            let flag = Flag::new();
            let f = flag.clone();
            rt.block_on(async move {
                let mut group = TaskGroup::new();
                let mut aborts: Vec<AbortHandle> = Vec::new();
                for i in 0..16u64 {
                    let guard = d.guard();
                    let f = f.clone();
                    let d = d.clone();
                    aborts.push(group.spawn(async move {
                        let _guard = guard;
                        // First step (inline under Eager): spawn a nested group whose children
                        // also suspend, then wait.
                        let mut inner = TaskGroup::new();
                        for _ in 0..2 {
                            let g = d.guard();
                            let f = f.clone();
                            inner.spawn(async move {
                                let _g = g;
                                f.wait().await;
                            });
                        }
                        f.wait().await;
                        inner.join_all().await;
                        i
                    }));
                }
                group.spawn(async { 99 });
                if policy == SpawnPolicy::Eager {
                    assert!(aborts.iter().all(|a| !a.is_finished()));
                }
                group.abort_all();
                // Aborting twice, and through the handles too, is harmless.
                group.abort_all();
                aborts.iter().for_each(AbortHandle::abort);
                let mut cancelled = 0;
                let mut ok = Vec::new();
                while let Some(r) = group.join_next().await {
                    match r {
                        Ok(v) => ok.push(v),
                        Err(e) => {
                            assert!(e.is_cancelled(), "{e:?}");
                            cancelled += 1;
                        }
                    }
                }
                if policy == SpawnPolicy::Eager {
                    // The ready child finished inline before the abort.
                    assert_eq!((ok, cancelled), (vec![99], 16));
                } else {
                    assert_eq!(ok.len() + cancelled, 17);
                }
            });
            // Waking the cancelled children's old wakers is harmless.
            flag.set();
            // Every child and grandchild future was dropped exactly once (grandchildren through
            // their dropped inner group, asynchronously). Under Lazy, children aborted before
            // their first poll never made grandchildren.
            if policy == SpawnPolicy::Eager {
                assert_eq!(drops.created(), 16 * 3);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while drops.get() < drops.created() {
                assert!(Instant::now() < deadline, "drops: {}", drops.get());
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(rt);
            assert!(drops.created() >= 16);
            assert_eq!(drops.get(), drops.created());
        });
    }
}

#[test]
fn a_child_aborting_a_sibling_during_its_inline_poll() {
    with_watchdog(LIMIT, "abort from inline poll", || {
        let rt = rt(SpawnPolicy::Eager);
        rt.block_on(async {
            let handles: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
            let mut group = TaskGroup::new();
            handles
                .lock()
                .unwrap()
                .push(group.spawn(async { std::future::pending::<u32>().await }));
            let h = handles.clone();
            // This child aborts its suspended sibling during its own first (inline) poll.
            let killer = group.spawn(async move {
                let sibling = h.lock().unwrap().pop().unwrap();
                sibling.abort();
                sibling.abort();
                7
            });
            assert!(killer.is_finished());
            let mut results = Vec::new();
            while let Some(r) = group.join_next().await {
                results.push(r.map_err(|e| e.is_cancelled()));
            }
            results.sort();
            assert_eq!(results, vec![Ok(7), Err(true)]);
        });
    });
}

#[test]
fn dropping_a_group_aborts_unfinished_children_only() {
    with_watchdog(LIMIT, "drop group", || {
        let rt = rt(SpawnPolicy::Eager);
        let drops = DropCounter::default();
        let d = drops.clone();
        let (finished, waiting) = rt.block_on(async move {
            let mut group = TaskGroup::new();
            let g = d.guard();
            let finished = group.spawn(async move {
                let _g = g;
                1
            });
            let g = d.guard();
            let waiting = group.spawn(async move {
                let _g = g;
                std::future::pending::<()>().await;
                2
            });
            drop(group);
            (finished, waiting)
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !waiting.is_finished() {
            assert!(
                Instant::now() < deadline,
                "the dropped group's child kept running"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(finished.is_finished());
        assert_eq!(drops.get(), 2);
    });
}

#[test]
fn slots_are_reused_and_join_all_keeps_spawn_order() {
    with_watchdog(LIMIT, "slot reuse", || {
        let rt = rt(SpawnPolicy::Eager);
        let out = rt.block_on(async {
            let mut group = TaskGroup::new();
            for i in 0..4 {
                group.spawn(async move { i });
            }
            // Free two slots, then spawn more: the new children take the freed slots.
            group.join_next().await.unwrap().unwrap();
            group.join_next().await.unwrap().unwrap();
            for i in 10..14 {
                group.spawn(async move {
                    if i % 2 == 0 {
                        yield_now().await;
                    }
                    i
                });
            }
            assert_eq!(group.len(), 6);
            group.join_all().await
        });
        assert_eq!(out, vec![2, 3, 10, 11, 12, 13]);
    });
}

#[test]
fn large_groups_past_the_eager_and_coop_budgets() {
    let (eager, lazy) = under_both("large group", || async {
        let mut group = TaskGroup::new();
        for i in 0..2000u64 {
            group.spawn(async move { i });
        }
        let all = group.join_all().await;
        let mut group = TaskGroup::new();
        for i in 0..2000u64 {
            group.spawn(async move { i });
        }
        let mut n = 0;
        while let Some(r) = group.join_next().await {
            n += r.unwrap();
        }
        (all, n)
    });
    assert_eq!(eager.0, (0..2000).collect::<Vec<u64>>());
    assert_eq!(eager.1, (0..2000).sum::<u64>());
    assert_eq!(lazy, eager);
}

#[test]
fn groups_and_their_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let group = TaskGroup::<u64>::new();
    assert_send(&group);
    assert_send(&group.join_all());
    let mut group = TaskGroup::<Result<u64, String>>::new();
    assert_send(&group.join_next());
    assert_send(&group.try_join_all());
    // And a group can be moved into a task.
    let rt = rt(SpawnPolicy::Eager);
    let out = rt.block_on(async {
        let mut group = TaskGroup::new();
        group.spawn(async { 5 });
        brisk::spawn(group.join_all()).await.unwrap()
    });
    assert_eq!(out, vec![5]);
}

#[test]
fn spawn_outside_a_runtime_panics_and_leaves_the_group_usable() {
    let mut group = TaskGroup::new();
    let err = catch_unwind(AssertUnwindSafe(|| {
        group.spawn(async { 1 });
    }))
    .unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("within a brisk runtime"), "message: {msg}");
    assert!(group.is_empty());
    let rt = rt(SpawnPolicy::Eager);
    let out = rt.block_on(async move {
        group.spawn(async { 2 });
        group.join_all().await
    });
    assert_eq!(out, vec![2]);
}
