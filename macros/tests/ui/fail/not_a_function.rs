#[brisk_macros::main]
struct Server;

fn main() {}
