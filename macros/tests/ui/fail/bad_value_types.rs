#[brisk_macros::main(
    worker_threads = "4",
    spawn_policy = lazy,
    eager_budget = 1.5,
    eager_depth = -1,
    global_queue_interval = true,
)]
async fn main() {}
