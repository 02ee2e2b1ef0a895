//! Timers on the real runtime: sleeps never early (on the real clock, to the microsecond),
//! many at once, cancellation, timeouts, intervals. Tests that assert instants run on paused
//! time (`start_paused`), where every instant is exact; see also `time_paused.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use brisk::time::{interval, sleep, sleep_until, timeout, Instant};
use brisk::Runtime;
use brisk_tests::{with_watchdog, Flag};

fn rt() -> Runtime {
    Runtime::builder().worker_threads(2).build().unwrap()
}

fn paused_rt() -> Runtime {
    Runtime::builder()
        .worker_threads(2)
        .start_paused(true)
        .build()
        .unwrap()
}

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn ten_thousand_concurrent_sleeps_complete_none_early() {
    with_watchdog(LIMIT, "10k sleeps", || {
        let rt = rt();
        let early = rt.block_on(async {
            let hs: Vec<_> = (0..10_000u64)
                .map(|i| {
                    brisk::spawn(async move {
                        let d = Duration::from_millis(i % 50);
                        let start = Instant::now();
                        sleep(d).await;
                        start.elapsed() < d
                    })
                })
                .collect();
            let mut early = 0;
            for h in hs {
                early += usize::from(h.await.unwrap());
            }
            early
        });
        assert_eq!(early, 0, "a sleep completed before its deadline");
    });
}

#[test]
fn sub_millisecond_sleeps_never_complete_early_on_the_real_clock() {
    with_watchdog(LIMIT, "sub-ms sleeps", || {
        let rt = rt();
        let early = rt.block_on(async {
            let hs: Vec<_> = (0..2_000u64)
                .map(|i| {
                    brisk::spawn(async move {
                        let d = Duration::from_micros((i * 137) % 3_000);
                        let start = std::time::Instant::now();
                        sleep(d).await;
                        start.elapsed() < d
                    })
                })
                .collect();
            let mut early = 0;
            for h in hs {
                early += usize::from(h.await.unwrap());
            }
            early
        });
        assert_eq!(early, 0, "a sleep completed before its deadline");
    });
}

#[test]
fn dropping_pending_sleeps_frees_their_entries() {
    with_watchdog(LIMIT, "drop sleeps", || {
        let rt = rt();
        rt.block_on(async {
            let sleeps: Vec<_> = (0..10_000)
                .map(|_| sleep(Duration::from_secs(3600)))
                .collect();
            // Register each one by polling once.
            let mut sleeps: Vec<_> = sleeps.into_iter().map(Box::pin).collect();
            std::future::poll_fn(|cx| {
                for s in sleeps.iter_mut() {
                    assert!(s.as_mut().poll(cx).is_pending());
                }
                std::task::Poll::Ready(())
            })
            .await;
            drop(sleeps);
        });
        assert_eq!(
            rt.metrics().active_timers(),
            0,
            "dropped sleeps left entries in the wheel"
        );
    });
}

use std::future::Future;

#[test]
fn timeout_fires_on_never_ready_and_passes_ready_through() {
    with_watchdog(LIMIT, "timeout", || {
        let rt = paused_rt();
        rt.block_on(async {
            let never = Flag::new();
            let start = Instant::now();
            let r = timeout(Duration::from_millis(20), never.wait()).await;
            assert!(r.is_err());
            assert_eq!(start.elapsed(), Duration::from_millis(20));
            assert_eq!(r.unwrap_err().to_string(), "deadline has elapsed");
            assert_eq!(timeout(Duration::from_millis(20), async { 3 }).await, Ok(3));
            assert_eq!(timeout(Duration::ZERO, async { 4 }).await, Ok(4));
            assert_eq!(start.elapsed(), Duration::from_millis(20));
        });
    });
}

#[test]
fn zero_sleep_completes_at_once_and_years_do_not_overflow() {
    with_watchdog(LIMIT, "far sleeps", || {
        let rt = paused_rt();
        rt.block_on(async {
            let start = Instant::now();
            sleep(Duration::ZERO).await;
            assert_eq!(start.elapsed(), Duration::ZERO);
            let far = sleep(Duration::from_secs(86_400 * 365 * 10));
            assert!(timeout(Duration::from_millis(5), far).await.is_err());
            let max = sleep(Duration::MAX);
            assert!(timeout(Duration::from_millis(1), max).await.is_err());
            assert_eq!(start.elapsed(), Duration::from_millis(6));
            sleep_until(Instant::now() - Duration::from_millis(5)).await;
            // Ten years of paused time, through every level of the wheel and its overflow.
            sleep(Duration::from_secs(86_400 * 365 * 10)).await;
            assert_eq!(
                start.elapsed(),
                Duration::from_millis(6) + Duration::from_secs(86_400 * 365 * 10)
            );
        });
    });
}

#[test]
fn interval_ticks_on_schedule() {
    with_watchdog(LIMIT, "interval", || {
        let rt = paused_rt();
        rt.block_on(async {
            let start = Instant::now();
            let mut iv = interval(Duration::from_millis(10));
            // The first tick is immediate: ready at its first poll.
            let first = {
                let mut tick = std::pin::pin!(iv.tick());
                std::future::poll_fn(|cx| Poll::Ready(tick.as_mut().poll(cx))).await
            };
            let Poll::Ready(first) = first else {
                panic!("the first tick is not immediate: pending at its first poll")
            };
            assert_eq!(first, start);
            let mut last = first;
            for _ in 0..5 {
                let t = iv.tick().await;
                assert_eq!(t - last, Duration::from_millis(10));
                assert_eq!(Instant::now(), t, "a tick is delivered at its instant");
                last = t;
            }
            assert_eq!(start.elapsed(), Duration::from_millis(50));
        });
    });
}

#[test]
fn sleeps_fire_while_every_worker_is_busy() {
    // A worker with local work still turns the timers every event_interval ticks.
    with_watchdog(LIMIT, "busy timers", || {
        let rt = Runtime::builder().worker_threads(1).build().unwrap();
        let fired = Arc::new(AtomicUsize::new(0));
        rt.block_on({
            let fired = fired.clone();
            async move {
                let stop = Flag::new();
                let s2 = stop.clone();
                let spinner = brisk::spawn_lazy(async move {
                    while !s2.is_set() {
                        brisk::task::yield_now().await;
                    }
                });
                let f2 = fired.clone();
                let sleeper = brisk::spawn_lazy(async move {
                    sleep(Duration::from_millis(5)).await;
                    f2.fetch_add(1, Ordering::SeqCst);
                });
                sleeper.await.unwrap();
                stop.set();
                spinner.await.unwrap();
            }
        });
        assert_eq!(fired.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn sleep_outside_a_runtime_panics_clearly() {
    let err = std::panic::catch_unwind(|| sleep(Duration::from_millis(1))).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_else(|| {
        err.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default()
    });
    assert!(msg.contains("within a brisk runtime"), "{msg}");
}

/// An idle runtime's timers wake only the worker that sleeps in the driver: a timer that wakes
/// a task into that worker's own next-task slot must not wake the other worker as well (it
/// would find nothing to do and park again, every tick: idle CPU for nothing). Counted with
/// the park hooks: the busiest worker unparks about once a tick, the other almost never.
#[test]
fn an_idle_timer_wakes_one_worker_not_two() {
    use std::collections::HashMap;
    use std::sync::Mutex;
    const TICKS: usize = 200;
    with_watchdog(LIMIT, "idle timer wakes", || {
        let unparks: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let counter = unparks.clone();
        let rt = Runtime::builder()
            .worker_threads(2)
            .on_thread_unpark(move || {
                let name = format!("{:?}", std::thread::current().id());
                *counter.lock().unwrap().entry(name).or_default() += 1;
            })
            .build()
            .unwrap();
        let beat = rt.spawn(async {
            for _ in 0..TICKS {
                sleep(Duration::from_millis(1)).await;
            }
        });
        rt.block_on(beat).unwrap();
        drop(rt);
        let mut counts: Vec<usize> = unparks.lock().unwrap().values().copied().collect();
        counts.sort_unstable();
        let driver = counts.pop().unwrap_or(0);
        let others: usize = counts.iter().sum();
        assert!(
            driver >= TICKS / 2,
            "the driving worker unparked {driver} times"
        );
        assert!(
            others <= TICKS / 4,
            "the other worker unparked {others} times over {TICKS} timer ticks (driving \
             worker: {driver})"
        );
    });
}
