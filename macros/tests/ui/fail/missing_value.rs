#[brisk_macros::main(worker_threads, spawn_policy("lazy"))]
async fn main() {}
