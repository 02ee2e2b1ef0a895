//! Local tasks: `task::spawn_local` and `LocalSet` (`run_until`, `block_on`, `spawn_local`,
//! awaited as a future) for `!Send` futures, with eager first polls; dropped sets with pending
//! tasks, wake-ups and aborts from other threads, panics and misuse.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use brisk::task::{spawn_local, yield_now, LocalSet, TaskGroup};
use brisk::{Runtime, SpawnPolicy};
use brisk_tests::{with_watchdog, Flag, PendingN};

const LIMIT: Duration = Duration::from_secs(30);

fn rt() -> Runtime {
    Runtime::builder().worker_threads(1).build().unwrap()
}

/// Counts drops of a `!Send` value on this thread.
struct DropCount(Rc<Cell<usize>>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn spawn_local_runs_not_send_futures_with_an_eager_first_poll() {
    let rt = rt();
    let local = LocalSet::new();
    local.block_on(&rt, async {
        let value = Rc::new(RefCell::new(Vec::new()));
        let v = value.clone();
        let ready = spawn_local(async move {
            v.borrow_mut().push(1);
            Rc::new(7)
        });
        // Ran inside spawn_local: its side effect is visible at once.
        assert!(ready.is_finished());
        assert_eq!(*value.borrow(), vec![1]);
        assert_eq!(*ready.await.unwrap(), 7);

        let v = value.clone();
        let waiting = spawn_local(async move {
            yield_now().await;
            v.borrow_mut().push(2);
        });
        assert!(!waiting.is_finished());
        waiting.await.unwrap();
        assert_eq!(*value.borrow(), vec![1, 2]);
    });
}

#[test]
fn lazy_runtime_queues_local_spawns() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .spawn_policy(SpawnPolicy::Lazy)
        .build()
        .unwrap();
    LocalSet::new().block_on(&rt, async {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let h = spawn_local(async move { r.set(true) });
        assert!(!ran.get(), "a lazy spawn must not run before it returns");
        h.await.unwrap();
        assert!(ran.get());
    });
}

#[test]
fn run_until_leaves_unfinished_tasks_for_the_next_drive() {
    let rt = rt();
    let local = LocalSet::new();
    let gate = Flag::new();
    let done = Rc::new(Cell::new(false));
    let (g, d) = (gate.clone(), done.clone());
    let handle = local.spawn_local(async move {
        g.wait().await;
        d.set(true);
    });
    local.block_on(&rt, async { yield_now().await });
    assert!(!done.get());
    gate.set();
    local.block_on(&rt, handle).unwrap();
    assert!(done.get());
}

#[test]
fn awaiting_the_set_runs_every_task_including_grandchildren() {
    with_watchdog(LIMIT, "await LocalSet", || {
        let rt = rt();
        let local = LocalSet::new();
        let count = Rc::new(Cell::new(0));
        for i in 0..10u32 {
            let c = count.clone();
            local.spawn_local(async move {
                PendingN(i % 3).await;
                let c2 = c.clone();
                spawn_local(async move {
                    yield_now().await;
                    c2.set(c2.get() + 1);
                });
                c.set(c.get() + 1);
            });
        }
        rt.block_on(local);
        assert_eq!(count.get(), 20);
    });
}

#[test]
fn dropping_a_set_with_pending_tasks_drops_their_futures_and_cancels_handles() {
    let rt = rt();
    let drops = Rc::new(Cell::new(0));
    let local = LocalSet::new();
    let mut handles = Vec::new();
    // Suspended tasks (polled once) and queued ones never polled.
    local.block_on(&rt, async {
        for _ in 0..5 {
            let guard = DropCount(drops.clone());
            handles.push(spawn_local(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }));
        }
    });
    for _ in 0..3 {
        let guard = DropCount(drops.clone());
        handles.push(local.spawn_local(async move {
            let _guard = guard;
        }));
    }
    // A future whose drop spawns another local task: must not panic or leak.
    let d = drops.clone();
    local.block_on(&rt, async {
        struct SpawnOnDrop(Rc<Cell<usize>>);
        impl Drop for SpawnOnDrop {
            fn drop(&mut self) {
                let guard = DropCount(self.0.clone());
                drop(spawn_local(async move {
                    let _guard = guard;
                }));
            }
        }
        let s = SpawnOnDrop(d);
        drop(spawn_local(async move {
            let _s = s;
            std::future::pending::<()>().await;
        }));
    });
    assert_eq!(drops.get(), 0);
    drop(local);
    assert_eq!(
        drops.get(),
        9,
        "each future dropped exactly once, on this thread"
    );
    for h in handles {
        assert!(rt.block_on(h).unwrap_err().is_cancelled());
    }
}

#[test]
fn wake_ups_and_aborts_from_other_threads() {
    with_watchdog(LIMIT, "remote wake and abort", || {
        let rt = rt();
        let local = LocalSet::new();
        local.block_on(&rt, async {
            let flag = Flag::new();
            let f = flag.clone();
            let rc = Rc::new(5);
            let waiting = spawn_local(async move {
                f.wait().await;
                *rc
            });
            let setter = flag.clone();
            std::thread::spawn(move || setter.set());
            assert_eq!(waiting.await.unwrap(), 5);

            let never = spawn_local(async {
                let _rc = Rc::new(());
                std::future::pending::<()>().await;
            });
            let abort = never.abort_handle();
            std::thread::spawn(move || abort.abort()).join().unwrap();
            assert!(never.await.unwrap_err().is_cancelled());
        });
    });
}

#[test]
fn timers_and_runtime_tasks_work_inside_local_tasks() {
    with_watchdog(LIMIT, "timers in local tasks", || {
        let rt = rt();
        LocalSet::new().block_on(&rt, async {
            let h = spawn_local(async {
                brisk::time::sleep(Duration::from_millis(2)).await;
                let sent = brisk::spawn(async { 3 }).await.unwrap();
                Rc::new(sent)
            });
            assert_eq!(*h.await.unwrap(), 3);
        });
    });
}

#[test]
fn a_panicking_local_task_reports_a_join_error() {
    let rt = rt();
    LocalSet::new().block_on(&rt, async {
        let h = spawn_local(async {
            yield_now().await;
            panic!("local boom");
        });
        let err = h.await.unwrap_err();
        assert!(err.is_panic());
    });
}

#[test]
fn recursive_local_spawns_past_the_depth_limit_do_not_overflow() {
    fn chain(n: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = u32>>> {
        Box::pin(async move {
            if n == 0 {
                0
            } else {
                spawn_local(chain(n - 1)).await.unwrap() + 1
            }
        })
    }
    let rt = rt();
    let out = LocalSet::new().block_on(&rt, chain(2_000));
    assert_eq!(out, 2_000);
}

#[test]
fn spawn_local_outside_a_set_panics_with_a_clear_message() {
    let msg = |r: std::thread::Result<()>| {
        let p = r.unwrap_err();
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap()
    };
    let plain = catch_unwind(|| drop(spawn_local(async {})));
    assert!(msg(plain).contains("spawn_local called outside of a LocalSet"));
    let rt = rt();
    let in_runtime =
        rt.block_on(async { catch_unwind(AssertUnwindSafe(|| drop(spawn_local(async {})))) });
    assert!(msg(in_runtime).contains("spawn_local called outside of a LocalSet"));
}

#[test]
fn task_groups_collect_local_children() {
    let rt = rt();
    let local = LocalSet::new();
    let out = local.block_on(&rt, async {
        let mut group = TaskGroup::new();
        for i in 0..4u32 {
            let rc = Rc::new(i);
            group.spawn_local(async move {
                yield_now().await;
                *rc * 10
            });
        }
        group.join_all().await
    });
    assert_eq!(out, vec![0, 10, 20, 30]);
}
