extern crate self as brisk;
include!("../../support/mock_brisk.rs");

#[brisk_macros::main]
async fn main() -> std::io::Result<()> {
    let n: u32 = "1".parse()?;
    println!("{n}");
}

#[brisk_macros::main]
async fn wrong_tail() -> u32 {
    "not a number"
}

#[brisk_macros::main]
async fn wrong_return() -> u32 {
    if true {
        return "early";
    }
    0
}
