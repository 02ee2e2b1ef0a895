#[brisk_macros::main(worker_threads = 2 eager_depth = 3)]
async fn main() {}
