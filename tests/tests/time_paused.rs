//! Paused time: `pause`, `resume`, `advance`, auto-advance, `start_paused`, and the timer API
//! whose behaviour depends on exact instants (`Sleep::reset`, `timeout_at`, `Interval`'s
//! resets and missed-tick behaviours). Every instant asserted here is exact: paused time only
//! moves by `advance` or by auto-advancing to a timer's deadline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use brisk::time::{
    advance, interval, interval_at, pause, resume, sleep, sleep_until, timeout, timeout_at,
    Instant, MissedTickBehavior,
};
use brisk::Runtime;
use brisk_tests::with_watchdog;

const LIMIT: Duration = Duration::from_secs(20);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn paused_rt(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .start_paused(true)
        .build()
        .unwrap()
}

/// A waker that counts its wakes.
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountWaker>, Waker) {
    let count = Arc::new(CountWaker(AtomicUsize::new(0)));
    (count.clone(), Waker::from(count))
}

#[brisk::test(start_paused = true)]
async fn start_paused_auto_advances_a_long_sleep_exactly() {
    let start = Instant::now();
    sleep(Duration::from_secs(3600)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(3600));
}

#[brisk::test(start_paused = true)]
async fn paused_clock_stands_still_until_advanced() {
    let a = Instant::now();
    // Real time passes; paused time must not.
    std::thread::sleep(ms(2));
    assert_eq!(Instant::now(), a);
    advance(ms(7)).await;
    assert_eq!(Instant::now() - a, ms(7));
}

#[test]
fn sleeps_wake_in_deadline_order_at_their_exact_deadlines() {
    with_watchdog(LIMIT, "paused sleeps", || {
        let rt = paused_rt(2);
        rt.block_on(async {
            let start = Instant::now();
            // Deadlines spread over the wheel's levels, in scrambled order.
            let ds: Vec<u64> = (0..200u64).map(|i| (i * 7919) % 100_003).collect();
            let hs: Vec<_> = ds
                .iter()
                .map(|&d| {
                    brisk::spawn(async move {
                        sleep(Duration::from_micros(d * 37)).await;
                        Instant::now() - start
                    })
                })
                .collect();
            for (h, d) in hs.into_iter().zip(ds) {
                // Auto-advance lands exactly on each deadline: never before, never past it
                // (nothing else is pending in between).
                assert_eq!(h.await.unwrap(), Duration::from_micros(d * 37));
            }
        });
    });
}

#[brisk::test(start_paused = true)]
async fn advance_fires_exactly_the_due_timers_before_it_returns() {
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut near = sleep(ms(10));
    let mut far = sleep(ms(20));
    assert!(near.poll_elapsed(&mut cx).is_pending());
    assert!(far.poll_elapsed(&mut cx).is_pending());
    advance(Duration::from_micros(9_999)).await;
    assert_eq!(count.0.load(Ordering::SeqCst), 0, "fired early");
    advance(Duration::from_micros(1)).await;
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "the 10 ms timer did not fire"
    );
    assert!(near.poll_elapsed(&mut cx).is_ready());
    assert!(far.poll_elapsed(&mut cx).is_pending());
    advance(ms(10)).await;
    assert_eq!(count.0.load(Ordering::SeqCst), 2);
}

#[brisk::test]
async fn pause_resume_and_advance_misuse_panic_and_time_never_goes_back() {
    let advance_unpaused = std::panic::catch_unwind(|| {
        drop(advance(ms(1)));
    });
    assert!(
        advance_unpaused.is_err(),
        "advance without pause must panic"
    );
    pause();
    assert!(std::panic::catch_unwind(pause).is_err(), "pause twice");
    let paused_at = Instant::now();
    advance(Duration::from_secs(100)).await;
    resume();
    assert!(std::panic::catch_unwind(resume).is_err(), "resume twice");
    let after = Instant::now();
    assert!(after >= paused_at + Duration::from_secs(100));
    // Running again: a real sleep still completes, and not early by the runtime's clock.
    let start = Instant::now();
    sleep(ms(1)).await;
    assert!(start.elapsed() >= ms(1));
}

#[brisk::test(start_paused = true)]
async fn reset_of_a_registered_sleep_wakes_without_another_poll() {
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let start = Instant::now();
    let mut s = sleep(ms(100));
    assert!(s.poll_elapsed(&mut cx).is_pending());
    s.reset(start + ms(5));
    assert_eq!(s.deadline(), start + ms(5));
    advance(ms(5)).await;
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "reset lost the registration"
    );
    assert!(s.poll_elapsed(&mut cx).is_ready());
    // Completed: a reset makes it pending again, and it is not registered until polled.
    s.reset(start + ms(10));
    assert!(!s.is_elapsed());
    advance(ms(5)).await;
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "an unpolled sleep woke someone"
    );
    assert!(s.poll_elapsed(&mut cx).is_ready());
    // Moving a registered sleep later does not fire it at the old deadline.
    let mut s = sleep(ms(5));
    assert!(s.poll_elapsed(&mut cx).is_pending());
    s.reset(Instant::now() + ms(50));
    advance(ms(10)).await;
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "fired at the old deadline"
    );
    advance(ms(40)).await;
    assert_eq!(count.0.load(Ordering::SeqCst), 2);
}

#[brisk::test(start_paused = true)]
async fn timeout_and_timeout_at_elapse_exactly_at_the_deadline() {
    let start = Instant::now();
    let r = timeout(ms(30), sleep(ms(31))).await;
    assert!(r.is_err());
    assert_eq!(start.elapsed(), ms(30));
    let deadline = Instant::now() + ms(15);
    assert!(timeout_at(deadline, sleep(ms(16))).await.is_err());
    assert_eq!(Instant::now(), deadline);
    let deadline = Instant::now() + ms(15);
    assert_eq!(
        timeout_at(deadline, async {
            sleep(ms(14)).await;
            9
        })
        .await,
        Ok(9)
    );
    assert_eq!(Instant::now(), deadline - ms(1));
    // A past deadline still lets a ready future through.
    assert_eq!(timeout_at(start, async { 1 }).await, Ok(1));
    assert!(timeout_at(start, std::future::pending::<()>())
        .await
        .is_err());
}

/// Ticks of `iv` as offsets from `start`, in ms.
async fn ticks(iv: &mut brisk::time::Interval, start: Instant, n: usize) -> Vec<u64> {
    let mut out = Vec::new();
    for _ in 0..n {
        let t = iv.tick().await;
        out.push(u64::try_from((t - start).as_millis()).unwrap());
    }
    out
}

#[brisk::test(start_paused = true)]
async fn missed_tick_behaviors_follow_their_schedules() {
    for (behavior, want) in [
        (MissedTickBehavior::Burst, vec![150, 200, 250, 300]),
        (MissedTickBehavior::Delay, vec![150, 280, 330, 380]),
        (MissedTickBehavior::Skip, vec![150, 250, 300, 350]),
    ] {
        let start = Instant::now();
        let mut iv = interval_at(start + ms(50), ms(50));
        assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Burst);
        iv.set_missed_tick_behavior(behavior);
        assert_eq!(ticks(&mut iv, start, 2).await, [50, 100]);
        advance(ms(130)).await; // now 230: the tick at 150 and 200 are missed
        assert_eq!(ticks(&mut iv, start, 4).await, want, "{behavior:?}");
    }
}

#[brisk::test(start_paused = true)]
async fn a_tick_up_to_five_ms_late_keeps_the_schedule() {
    let start = Instant::now();
    let mut iv = interval(ms(10));
    iv.set_missed_tick_behavior(MissedTickBehavior::Delay);
    assert_eq!(ticks(&mut iv, start, 1).await, [0]);
    advance(ms(15)).await; // 5 ms late for the tick at 10
    assert_eq!(ticks(&mut iv, start, 2).await, [10, 20]);
}

#[brisk::test(start_paused = true)]
async fn interval_resets_move_the_next_tick() {
    let start = Instant::now();
    let mut iv = interval(ms(10));
    assert_eq!(ticks(&mut iv, start, 2).await, [0, 10]);
    advance(ms(3)).await; // now 13
    iv.reset();
    assert_eq!(ticks(&mut iv, start, 2).await, [23, 33]);
    iv.reset_immediately(); // now 33
    assert_eq!(ticks(&mut iv, start, 2).await, [33, 43]);
    iv.reset_after(ms(4)); // now 43
    assert_eq!(ticks(&mut iv, start, 2).await, [47, 57]);
    iv.reset_at(start + ms(100));
    assert_eq!(ticks(&mut iv, start, 2).await, [100, 110]);
    assert_eq!(iv.period(), ms(10));
}

#[brisk::test(start_paused = true)]
async fn no_auto_advance_while_a_worker_is_busy() {
    // A 1 h sleep is pending while a task spins (yielding) on a worker and this thread sleeps:
    // the runtime is not idle, so paused time must not jump while the spinner runs.
    let start = Instant::now();
    let sleeper = brisk::spawn(async move {
        sleep(Duration::from_secs(3600)).await;
        Instant::now()
    });
    let done = brisk_tests::Flag::new();
    let done2 = done.clone();
    let spinner = brisk::spawn(async move {
        for _ in 0..20_000 {
            brisk::task::yield_now().await;
        }
        let seen = Instant::now();
        done2.set();
        seen
    });
    done.wait().await;
    assert_eq!(
        spinner.await.unwrap(),
        start,
        "paused time moved while a worker was busy"
    );
    assert_eq!(sleeper.await.unwrap() - start, Duration::from_secs(3600));
}

#[test]
fn instant_converts_to_and_from_std() {
    let std_now = std::time::Instant::now();
    let now: Instant = std_now.into();
    assert_eq!(now.into_std(), std_now);
    let back: std::time::Instant = (now + ms(3)).into();
    assert_eq!(back - std_now, ms(3));
    assert_eq!(now - (now + ms(1)), Duration::ZERO, "subtraction saturates");
    assert_eq!(now.checked_duration_since(now + ms(1)), None);
    // Outside any runtime, `now` is std's clock.
    assert!(Instant::now() >= now);
}

#[brisk::test(start_paused = true)]
async fn sleep_until_a_past_instant_is_ready_and_interval_first_tick_is_immediate() {
    let start = Instant::now();
    sleep_until(start - ms(5)).await;
    let mut iv = interval(ms(1));
    assert_eq!(iv.tick().await, start);
    assert_eq!(Instant::now(), start);
}

#[test]
fn the_earlier_timer_wins_however_the_threads_interleave() {
    // Repeated on fresh runtimes: the later sleep registers first, and paused time must never
    // jump to it before the earlier deadline is registered and fired (the runtime is not idle
    // while `block_on` runs or has been woken).
    with_watchdog(LIMIT, "earlier timer wins", || {
        for _ in 0..200 {
            let rt = paused_rt(2);
            rt.block_on(async {
                let start = Instant::now();
                let slow = sleep(ms(2));
                assert!(timeout_at(start + ms(1), slow).await.is_err());
                assert_eq!(Instant::now() - start, ms(1));
                sleep(ms(1)).await;
                assert_eq!(Instant::now() - start, ms(2));
            });
        }
    });
}
