// `#[brisk::main]` on the real `fn main`, spelled as users will spell it.
#![deny(warnings)]
extern crate self as brisk;
include!("../../support/mock_brisk.rs");
use brisk_macros::main;

#[brisk::main]
async fn main() -> std::io::Result<()> {
    let n: u32 = "42"
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    if n == 42 {
        assert_eq!(take_recorded(), Some(Recorded::default()));
        return Ok(());
    }
    Err(std::io::Error::other("unreachable"))
}
