#[brisk_macros::main]
async fn main(argc: i32, argv: *const *const u8) {}
