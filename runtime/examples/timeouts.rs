//! Time on brisk: `sleep`, `timeout`, `interval`, and a deadline that is moved.
//!
//! ```text
//! cargo run -p brisk --example timeouts
//! ```

use std::time::Duration;

use brisk::time::{interval, sleep, sleep_until, timeout, Instant};

/// Pretends to fetch something that takes `delay`.
async fn fetch(delay: Duration) -> &'static str {
    sleep(delay).await;
    "payload"
}

#[brisk::main]
async fn main() {
    let start = Instant::now();

    // A timeout that is met, and one that is not.
    let fast = timeout(Duration::from_millis(200), fetch(Duration::from_millis(10))).await;
    println!("fast fetch: {fast:?}");
    assert_eq!(fast, Ok("payload"));
    let slow = timeout(Duration::from_millis(20), fetch(Duration::from_secs(10))).await;
    println!("slow fetch: {slow:?} (the fetch was dropped, and its timer with it)");
    assert!(slow.is_err());

    // A timeout on a task bounds the wait, not the task: on `Elapsed` the task keeps
    // running, and its `JoinHandle` (borrowed by the timeout) can still be awaited or aborted.
    let mut task = brisk::spawn(fetch(Duration::from_millis(50)));
    let first = timeout(Duration::from_millis(5), &mut task).await;
    println!("task after 5 ms: {first:?}");
    assert!(first.is_err());
    println!("task after waiting on: {:?}", task.await);

    // An interval ticks at a steady period; the first tick is immediate.
    let mut ticks = interval(Duration::from_millis(10));
    let t0 = Instant::now();
    for i in 0..5 {
        let at = ticks.tick().await;
        println!("tick {i} at +{:?}", at.duration_since(t0));
    }

    // A sleep whose deadline moves: a debounce that waits for 30 ms of quiet.
    // `Sleep` is `Unpin`: no pinning needed to reset it or to await it by reference.
    let mut quiet = sleep_until(Instant::now() + Duration::from_millis(30));
    for _ in 0..3 {
        sleep(Duration::from_millis(10)).await;
        // Activity: push the deadline back.
        quiet.reset(Instant::now() + Duration::from_millis(30));
    }
    let last_reset = Instant::now();
    (&mut quiet).await;
    println!("quiet for {:?} after the last reset", last_reset.elapsed());
    assert!(quiet.is_elapsed());

    println!("total: {:?}", start.elapsed());
}
