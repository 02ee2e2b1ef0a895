//! Reschedule/steal stress, the workload `scripts/tsan.sh` runs under ThreadSanitizer: many
//! short-lived tasks that wake themselves (so each poll ends with a push to its worker's
//! queue) while the other worker is idle and steals them, finishes them and frees their cells,
//! which the next spawns take again from the per-thread cell cache. Any read of a task's
//! memory after the reference that kept it alive went to a queue is a use-after-free here.
//!
//! Natively it is a small bounded stress test that checks every result. Its size is set by
//! `BRISK_STEAL_STRESS_ROUNDS` (default 40) and `BRISK_STEAL_STRESS_TASKS` (tasks per round,
//! default 64); `scripts/tsan.sh` and `scripts/miri.sh` set them.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use brisk::Runtime;
use brisk_tests::{on_worker, with_watchdog, PendingN};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn rounds() -> u64 {
    env_or("BRISK_STEAL_STRESS_ROUNDS", 40)
}

fn tasks() -> u64 {
    env_or("BRISK_STEAL_STRESS_TASKS", 64)
}

/// Pending `n` times, waking itself by value (a clone) each time: the wake-by-value path.
struct WakeByValue(u32);

impl Future for WakeByValue {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        // On purpose: the by-value path (`wake` consumes a reference), not `wake_by_ref`.
        #[allow(clippy::waker_clone_wake)]
        cx.waker().clone().wake();
        Poll::Pending
    }
}

#[test]
fn self_waking_tasks_stolen_and_freed_while_rescheduled() {
    let (rounds, tasks) = (rounds(), tasks());
    with_watchdog(
        Duration::from_secs(600),
        "reschedule/steal stress",
        move || {
            let rt = Runtime::builder()
                .worker_threads(2)
                .eager_budget(2)
                .build()
                .unwrap();
            let total = on_worker(&rt, async move {
                let mut total = 0u64;
                for round in 0..rounds {
                    // Spawn everything before awaiting anything, so the spawner's queue is long
                    // and the idle worker steals from it.
                    let hs: Vec<_> = (0..tasks)
                        .map(|i| {
                            let f = async move {
                                if i % 2 == 0 {
                                    PendingN(3).await;
                                } else {
                                    WakeByValue(3).await;
                                }
                                round * tasks + i
                            };
                            if i % 4 == 0 {
                                brisk::spawn(f)
                            } else {
                                brisk::spawn_lazy(f)
                            }
                        })
                        .collect();
                    for h in hs {
                        total += h.await.unwrap();
                    }
                }
                total
            });
            let n = rounds * tasks;
            assert_eq!(total, n * (n - 1) / 2);
        },
    );
}

#[test]
fn tasks_woken_from_another_thread_while_stolen() {
    // Each task hands its waker to an outside thread that wakes it; the wakes land while the
    // task may be running, queued, stolen or just completed.
    let (rounds, tasks) = (rounds(), tasks());
    with_watchdog(
        Duration::from_secs(600),
        "remote wake/steal stress",
        move || {
            let rt = Runtime::builder().worker_threads(2).build().unwrap();
            let (tx, rx) = mpsc::channel::<Waker>();
            let waker_thread = std::thread::spawn(move || {
                let mut n = 0u64;
                for w in rx {
                    w.wake();
                    n += 1;
                }
                n
            });
            let polls = Arc::new(AtomicUsize::new(0));
            let total = on_worker(&rt, {
                let polls = polls.clone();
                async move {
                    let mut total = 0u64;
                    for round in 0..rounds {
                        let hs: Vec<_> = (0..tasks)
                            .map(|i| {
                                let (tx, polls) = (tx.clone(), polls.clone());
                                brisk::spawn_lazy(async move {
                                    let mut left = 2;
                                    std::future::poll_fn(|cx| {
                                        polls.fetch_add(1, SeqCst);
                                        if left == 0 {
                                            return Poll::Ready(());
                                        }
                                        left -= 1;
                                        tx.send(cx.waker().clone()).unwrap();
                                        Poll::Pending
                                    })
                                    .await;
                                    round * tasks + i
                                })
                            })
                            .collect();
                        for h in hs {
                            total += h.await.unwrap();
                        }
                    }
                    total
                }
            });
            drop(rt);
            let wakes = waker_thread.join().unwrap();
            let n = rounds * tasks;
            assert_eq!(total, n * (n - 1) / 2);
            assert_eq!(wakes, 2 * n, "every pending poll handed over one waker");
            assert!(polls.load(SeqCst) >= 3 * n as usize);
        },
    );
}
