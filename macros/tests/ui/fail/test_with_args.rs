#[brisk_macros::test]
async fn with_args(n: u32) {}

#[brisk_macros::test]
async fn with_self_like(&self) {}

fn main() {}
