#[brisk_macros::main(spawn_policy = "fifo", worker_threads = 0, global_queue_interval = 0)]
async fn main() {}

#[brisk_macros::test(eager_budget = 4294967296, eager_depth = 8u8)]
async fn out_of_range() {}
