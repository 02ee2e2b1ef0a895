#[brisk_macros::main]
fn main() {}
