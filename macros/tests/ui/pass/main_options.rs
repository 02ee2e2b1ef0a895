#![deny(warnings)]
extern crate self as brisk;
include!("../../support/mock_brisk.rs");
use brisk_macros::main;

/// Documented, public, with every option.
#[brisk::main(
    worker_threads = 2,
    spawn_policy = "lazy",
    eager_budget = 16,
    eager_depth = 8,
    global_queue_interval = 31,
)]
pub async fn main() {
    assert_eq!(
        take_recorded(),
        Some(Recorded {
            worker_threads: Some(2),
            spawn_policy: Some(SpawnPolicy::Lazy),
            eager_budget: Some(16),
            eager_depth: Some(8),
            global_queue_interval: Some(31),
            current_thread: false,
        })
    );
}
