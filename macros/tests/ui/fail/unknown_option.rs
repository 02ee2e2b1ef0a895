#[brisk_macros::main(worker_threads = 2, foo = 1)]
async fn main() {}

#[brisk_macros::test(flavor = "current_thread", worker_threads = 2)]
async fn current_thread_with_workers() {}

#[brisk_macros::test(flavor = "single")]
async fn unknown_flavor() {}
