#[brisk_macros::main(eager_depth = 8, worker_threads = 2, eager_depth = 9)]
async fn main() {}
