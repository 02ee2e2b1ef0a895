//! `task::block_in_place`: the worker's other tasks keep running during the call (also when it
//! is the only worker), inside an eager inline child, `Handle::block_on` inside it, panics in
//! the closure, and the panic on the current-thread runtime.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use brisk::task::block_in_place;
use brisk::{Builder, Handle, Runtime};
use brisk_tests::{on_worker, with_watchdog};

const LIMIT: Duration = Duration::from_secs(30);

fn one_worker() -> Runtime {
    // Eager (not Adaptive): an inline child is polled inside `spawn`, whatever the timing.
    Runtime::builder()
        .worker_threads(1)
        .spawn_policy(brisk::SpawnPolicy::Eager)
        .build()
        .unwrap()
}

#[test]
fn the_only_workers_queued_tasks_run_while_it_blocks() {
    with_watchdog(LIMIT, "hand-off", || {
        let rt = one_worker();
        let out = on_worker(&rt, async {
            let (tx, rx) = mpsc::channel();
            // Queued on this worker's own deque before the call: must be handed off.
            let tasks: Vec<_> = (0..10)
                .map(|i| {
                    let tx = tx.clone();
                    brisk::spawn_lazy(async move {
                        brisk::task::yield_now().await;
                        tx.send(i).unwrap();
                    })
                })
                .collect();
            let got: u32 = block_in_place(|| (0..10).map(|_| rx.recv().unwrap()).sum());
            for t in tasks {
                t.await.unwrap();
            }
            got
        });
        assert_eq!(out, 45);
        // The worker still works afterwards.
        assert_eq!(
            on_worker(&rt, async { brisk::spawn_lazy(async { 1 }).await.unwrap() }),
            1
        );
    });
}

#[test]
fn inside_an_eager_inline_child() {
    with_watchdog(LIMIT, "eager child", || {
        let rt = one_worker();
        let (finished_at_spawn, out) = on_worker(&rt, async {
            let (tx, rx) = mpsc::channel();
            let child = brisk::spawn(async move {
                // Polled inline inside the parent's poll; a sibling must still run meanwhile.
                let _sibling = brisk::spawn_lazy(async move { tx.send(7).unwrap() });
                block_in_place(|| rx.recv().unwrap())
            });
            let finished = child.is_finished();
            (finished, child.await.unwrap())
        });
        assert!(
            finished_at_spawn,
            "the child ran (and blocked) inside spawn"
        );
        assert_eq!(out, 7);
    });
}

#[test]
fn handle_block_on_inside_block_in_place() {
    with_watchdog(LIMIT, "block_on in block_in_place", || {
        let rt = Runtime::builder().worker_threads(2).build().unwrap();
        let out = on_worker(&rt, async {
            block_in_place(|| {
                Handle::current().block_on(async {
                    brisk::time::sleep(Duration::from_millis(1)).await;
                    brisk::spawn(async { 20 }).await.unwrap() + 1
                })
            })
        });
        assert_eq!(out, 21);
        // Inside Runtime::block_on (not a worker) the same works.
        let out = rt.block_on(async { block_in_place(|| Handle::current().block_on(async { 3 })) });
        assert_eq!(out, 3);
    });
}

#[test]
fn a_panic_in_the_closure_propagates_and_the_worker_recovers() {
    with_watchdog(LIMIT, "panic in block_in_place", || {
        let rt = one_worker();
        let caught = on_worker(&rt, async {
            catch_unwind(AssertUnwindSafe(|| {
                block_in_place(|| panic!("blocked boom"))
            }))
            .is_err()
        });
        assert!(caught);
        for i in 0..3 {
            assert_eq!(
                on_worker(&rt, async move {
                    brisk::spawn_lazy(async move { i }).await.unwrap()
                }),
                i
            );
        }
    });
}

#[test]
fn panics_on_the_current_thread_runtime_but_not_on_its_blocking_threads() {
    let rt = Builder::new_current_thread().build().unwrap();
    let msg = rt.block_on(async {
        let p = catch_unwind(|| block_in_place(|| ())).unwrap_err();
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    });
    assert!(
        msg.contains("block_in_place can only be called on the multi-thread runtime"),
        "{msg}"
    );
    let out = rt.block_on(async {
        brisk::task::spawn_blocking(|| block_in_place(|| 4))
            .await
            .unwrap()
    });
    assert_eq!(out, 4);
    // Outside any runtime it just runs.
    assert_eq!(block_in_place(|| 5), 5);
}
