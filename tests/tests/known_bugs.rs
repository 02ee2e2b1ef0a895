//! Bugs found while building the Miri/TSan checks that are not (yet) in an issue's list. Each
//! test fails today and is `#[ignore]`d with the reason, so the suite stays green; the fix
//! removes the `#[ignore]`.
//!
//! Run them: `cargo test -p brisk-tests --test known_bugs -- --ignored`.

use std::time::Duration;

use brisk::Runtime;
use brisk_tests::with_watchdog;

fn chain(n: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = u32> + Send>> {
    Box::pin(async move {
        if n == 0 {
            0
        } else {
            brisk::spawn(chain(n - 1)).await.unwrap() + 1
        }
    })
}

/// A chain of tasks, each awaiting the next one's handle, past `eager_depth`: each child
/// keeps its parent's join waker in its header after it completed, so the last reference to
/// a parent can be the waker inside a finished child. Freeing the deepest child then frees its
/// parent from inside its own deallocation (`raw::dealloc` -> drop of the header's join waker
/// -> `waker_drop` -> `raw::dealloc` of the parent -> ...), once per level: about six stack
/// frames per task, and a worker's stack overflows (the process aborts) well before 100,000
/// levels. Seen natively on `core.rs`'s `deep_recursive_spawn_chain_does_not_overflow` (10,000
/// levels): 15 runs in 20 without the `trace` feature, 2 in 20 with it.
///
/// Freeing must not recurse: a completed task should drop its join waker when it wakes the
/// awaiter (or the free should be iterative).
#[test]
#[ignore = "known bug: freeing a chain of finished tasks recurses through the join wakers in their headers and overflows a worker's stack"]
fn freeing_a_long_chain_of_finished_tasks_does_not_overflow_the_stack() {
    for workers in [1, 2] {
        with_watchdog(Duration::from_secs(120), "deep chain", move || {
            let rt = Runtime::builder()
                .worker_threads(workers)
                .eager_depth(8)
                .build()
                .unwrap();
            for _ in 0..3 {
                assert_eq!(rt.block_on(chain(100_000)), 100_000);
            }
        });
    }
}
