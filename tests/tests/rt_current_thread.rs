//! The current-thread runtime (`Builder::new_current_thread`): `block_on` drives every task,
//! timer and socket on the calling thread, with eager first polls; tasks outlive one
//! `block_on` and run in the next; other threads spawn and wake into it; two threads in
//! `block_on` at once; nested `Handle::block_on` from a blocking thread; shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, ThreadId};
use std::time::Duration;

use brisk::net::{TcpListener, TcpStream};
use brisk::task::{yield_now, LocalSet, TaskGroup};
use brisk::{Builder, Handle, Runtime, SpawnPolicy};
use brisk_tests::{with_watchdog, Counted, Flag};

const LIMIT: Duration = Duration::from_secs(30);

fn rt() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

fn here() -> ThreadId {
    thread::current().id()
}

#[test]
fn every_task_timer_and_socket_runs_on_the_calling_thread() {
    with_watchdog(LIMIT, "all on one thread", || {
        let rt = rt();
        let me = here();
        rt.block_on(async move {
            let mut group = TaskGroup::new();
            for i in 0..20u64 {
                let f = async move {
                    if i % 2 == 0 {
                        yield_now().await;
                    } else {
                        brisk::time::sleep(Duration::from_millis(i)).await;
                    }
                    here()
                };
                if i % 3 == 0 {
                    group.spawn(f);
                } else {
                    group.insert_lazy(f);
                }
            }
            for id in group.join_all().await {
                assert_eq!(id, me);
            }
            // A TCP echo: accept and connect both on this thread.
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = brisk::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 5];
                s.read_exact(&mut buf).await.unwrap();
                s.write_all(&buf).await.unwrap();
                here()
            });
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"hello").await.unwrap();
            let mut back = [0u8; 5];
            c.read_exact(&mut back).await.unwrap();
            assert_eq!(&back, b"hello");
            assert_eq!(server.await.unwrap(), me);
        });
        assert_eq!(rt.metrics().num_workers(), 1);
    });
}

trait InsertLazy {
    fn insert_lazy<F: std::future::Future<Output = ThreadId> + Send + 'static>(&mut self, f: F);
}

impl InsertLazy for TaskGroup<ThreadId> {
    fn insert_lazy<F: std::future::Future<Output = ThreadId> + Send + 'static>(&mut self, f: F) {
        let h = brisk::spawn_lazy(f);
        self.spawn(async move { h.await.unwrap() });
    }
}

#[test]
fn spawn_is_eager_and_lazy_policy_queues() {
    let rt = Builder::new_current_thread()
        .spawn_policy(SpawnPolicy::Eager)
        .build()
        .unwrap();
    rt.block_on(async {
        let h = brisk::spawn(async { 1 });
        assert!(h.is_finished());
        assert_eq!(h.await.unwrap(), 1);
    });
    assert_eq!(rt.metrics().eager_completed(), 1);
    let lazy = Builder::new_current_thread()
        .spawn_policy(SpawnPolicy::Lazy)
        .build()
        .unwrap();
    lazy.block_on(async {
        let h = brisk::spawn(async { 2 });
        assert!(!h.is_finished(), "nobody else could have run it");
        assert_eq!(h.await.unwrap(), 2);
    });
}

#[test]
fn tasks_left_pending_run_in_the_next_block_on() {
    with_watchdog(LIMIT, "across block_on calls", || {
        let rt = rt();
        let gate = Flag::new();
        let g = gate.clone();
        #[allow(clippy::async_yields_async)] // the handle is awaited by the next block_on
        let h = rt.block_on(async move {
            brisk::spawn(async move {
                g.wait().await;
                7
            })
        });
        // Spawned between two block_on calls, from outside: queued until the next one.
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let h2 = rt.spawn(async move {
            r.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "no thread runs tasks between calls"
        );
        gate.set();
        assert_eq!(rt.block_on(h).unwrap(), 7);
        rt.block_on(h2).unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn spawns_and_wakes_from_other_threads_reach_a_parked_block_on() {
    with_watchdog(LIMIT, "remote wake", || {
        let rt = rt();
        let handle = rt.handle().clone();
        let (tx, rx) = mpsc::channel();
        let out = rt.block_on(async move {
            let flag = Flag::new();
            let f = flag.clone();
            let t = thread::spawn(move || {
                rx.recv().unwrap();
                // A spawn from a plain thread, then a wake.
                let h = handle.spawn(async { here() });
                f.set();
                h
            });
            tx.send(()).unwrap();
            flag.wait().await;
            t.join().unwrap().await.unwrap()
        });
        assert_eq!(out, here());
    });
}

#[test]
fn two_threads_in_block_on_at_once_both_finish() {
    with_watchdog(LIMIT, "two block_on threads", || {
        let rt = Arc::new(rt());
        let gate = Flag::new();
        let g = gate.clone();
        let rt2 = rt.clone();
        let other = thread::spawn(move || {
            rt2.block_on(async move {
                // Needs a task to run (on whichever thread drives).
                let h = brisk::spawn_lazy(async { 5 });
                g.wait().await;
                h.await.unwrap()
            })
        });
        let mine = rt.block_on(async {
            let h = brisk::spawn_lazy(async { 6 });
            gate.set();
            h.await.unwrap()
        });
        assert_eq!(mine, 6);
        assert_eq!(other.join().unwrap(), 5);
    });
}

#[test]
fn nested_handle_block_on_from_a_blocking_thread() {
    with_watchdog(LIMIT, "nested block_on, current thread", || {
        let rt = rt();
        let sum = rt.block_on(async {
            brisk::task::spawn_blocking(|| {
                Handle::current().block_on(async {
                    // Queued for the driving thread (the main one), awaited from here.
                    let h = brisk::spawn_lazy(async { 1 });
                    brisk::time::sleep(Duration::from_millis(1)).await;
                    h.await.unwrap()
                })
            })
            .await
            .unwrap()
        });
        assert_eq!(sum, 1);
    });
}

#[test]
fn dropping_the_runtime_cancels_pending_tasks() {
    let rt = rt();
    let live = Arc::new(AtomicUsize::new(0));
    let l = live.clone();
    let handles = rt.block_on(async move {
        (0..10)
            .map(|_| brisk::spawn(Counted::new(std::future::pending::<()>(), &l)))
            .collect::<Vec<_>>()
    });
    let queued = rt.spawn(Counted::new(async {}, &live));
    assert_eq!(live.load(Ordering::SeqCst), 11);
    drop(rt);
    assert_eq!(live.load(Ordering::SeqCst), 0);
    for h in handles {
        assert!(brisk_tests_poll(h).unwrap_err().is_cancelled());
    }
    assert!(brisk_tests_poll(queued).unwrap_err().is_cancelled());
}

fn brisk_tests_poll<T>(h: brisk::JoinHandle<T>) -> Result<T, brisk::JoinError> {
    let other = Runtime::builder().worker_threads(1).build().unwrap();
    other.block_on(h)
}

#[test]
fn a_block_on_future_that_keeps_yielding_does_not_starve_the_tasks() {
    with_watchdog(LIMIT, "block_on future yielding", || {
        let rt = rt();
        let spins = rt.block_on(async {
            let flag = Arc::new(AtomicUsize::new(0));
            let f = flag.clone();
            let _task = brisk::spawn_lazy(async move { f.store(1, Ordering::SeqCst) });
            let mut spins = 0u64;
            while flag.load(Ordering::SeqCst) == 0 {
                yield_now().await;
                spins += 1;
            }
            spins
        });
        assert!(spins >= 1);
    });
}

#[test]
fn yielding_tasks_take_turns() {
    let rt = rt();
    let log = rt.block_on(async {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut group = TaskGroup::new();
        for who in 0..2 {
            let log = log.clone();
            group.spawn(async move {
                for step in 0..3 {
                    log.lock().unwrap().push((who, step));
                    yield_now().await;
                }
            });
        }
        group.join_all().await;
        Arc::try_unwrap(log).unwrap().into_inner().unwrap()
    });
    // Each yield lets the other task run: the two interleave.
    assert_eq!(log, vec![(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)]);
}

#[test]
fn local_sets_and_hooks_work_on_the_current_thread_runtime() {
    with_watchdog(LIMIT, "local set, hooks", || {
        let parks = Arc::new(AtomicUsize::new(0));
        let p = parks.clone();
        let rt = Builder::new_current_thread()
            .on_thread_park(move || {
                p.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        let local = LocalSet::new();
        let out = local.block_on(&rt, async {
            let rc = std::rc::Rc::new(3);
            brisk::task::spawn_local(async move {
                brisk::time::sleep(Duration::from_millis(1)).await;
                *rc
            })
            .await
            .unwrap()
        });
        assert_eq!(out, 3);
        assert!(
            parks.load(Ordering::SeqCst) > 0,
            "waiting for the timer parked the thread"
        );
    });
}

#[test]
fn block_on_inside_block_on_panics() {
    let rt2 = rt();
    let rt = rt();
    let r = rt.block_on(async {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt2.block_on(async {})))
    });
    assert!(r.is_err());
}
