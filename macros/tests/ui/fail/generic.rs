#[brisk_macros::test]
async fn generic<T: Default>() {}

#[brisk_macros::main]
async fn with_where() where u8: Copy {}

fn main() {
    with_where();
}
