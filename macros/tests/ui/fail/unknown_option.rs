#[brisk_macros::main(worker_threads = 2, foo = 1)]
async fn main() {}

#[brisk_macros::test(flavor = "current_thread")]
async fn tokio_habit() {}
