//! Fan-out / fan-in with task groups: a recursive "disk usage" over a synthetic directory tree,
//! a CPU-heavy step on the blocking pool, and a fetch that fails and cancels its siblings.
//!
//! ```text
//! cargo run -p brisk --example group_fanout
//! ```
//!
//! Most directories in the tree are "cached" (their size is known at once), so most children
//! finish during their eager first poll: the groups that hold them complete on their first
//! poll too, and the metrics printed at the end show how little reached the queues.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use brisk::task::{spawn_blocking, TaskGroup};
use brisk::time::sleep;
use brisk::Handle;

/// A directory of the synthetic tree: `id` names it; it has `FANOUT` subdirectories down to
/// `depth` 0, and one in seven is not cached (reading it waits a moment, as real I/O would).
fn du(id: u64, depth: u32) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    const FANOUT: u64 = 4;
    Box::pin(async move {
        let own = id % 1000;
        if id % 7 == 3 {
            sleep(Duration::from_millis(1)).await;
        }
        if depth == 0 {
            return own;
        }
        // Fan out: one child task per subdirectory...
        let mut group = TaskGroup::new();
        for k in 0..FANOUT {
            group.spawn(du(id * FANOUT + k + 1, depth - 1));
        }
        // ...and fan in: every child joined, in spawn order.
        own + group.join_all().await.iter().sum::<u64>()
    })
}

/// A fetch that fails for one id.
async fn fetch(id: u32) -> Result<String, String> {
    if id == 3 {
        return Err(format!("fetch {id}: connection refused"));
    }
    // The others take longer than the failure: they are aborted by it.
    sleep(Duration::from_millis(50 * u64::from(id))).await;
    Ok(format!("page {id}"))
}

#[brisk::main]
async fn main() {
    // 1. Recursive fan-out / fan-in: 1 + 4 + 16 + 64 + 256 + 1024 directories.
    let total = du(0, 5).await;
    println!("du: {total} bytes in 1365 directories");

    // 2. A fan-out whose children each hand a CPU-heavy step to the blocking pool, so that no
    //    worker is held while it runs.
    let mut group = TaskGroup::new();
    for chunk in 0..4u64 {
        group.spawn(async move {
            spawn_blocking(move || (chunk * 1_000_000..(chunk + 1) * 1_000_000).sum::<u64>())
                .await
                .expect("the checksum panicked")
        });
    }
    let sums = group.join_all().await;
    println!("checksums: {sums:?} (total {})", sums.iter().sum::<u64>());

    // 3. The first error cancels the rest: try_join_all returns it once every sibling is gone.
    let mut group = TaskGroup::new();
    for id in 1..=5 {
        group.spawn(fetch(id));
    }
    match group.try_join_all().await {
        Ok(pages) => println!("fetched {pages:?}"),
        Err(err) => println!("fetch failed, the other fetches were cancelled: {err}"),
    }

    // 4. Completion order with join_next.
    let mut group = TaskGroup::new();
    for ms in [30u64, 10, 20] {
        group.spawn(async move {
            sleep(Duration::from_millis(ms)).await;
            ms
        });
    }
    let mut order = Vec::new();
    while let Some(done) = group.join_next().await {
        order.push(done.expect("a sleeper failed"));
    }
    println!("join_next order: {order:?}");

    let m = Handle::current().metrics();
    println!(
        "tasks spawned: {}, finished inline at spawn: {}, suspended after an inline poll: {}, \
         queued: {}",
        m.spawned_tasks(),
        m.eager_completed(),
        m.eager_suspended(),
        m.eager_deferred()
    );
}
