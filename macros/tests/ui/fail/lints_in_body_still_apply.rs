// The output type hint is `#[allow(unreachable_code)]`, but that must not hide the lints of the
// user's own code.
#![deny(unreachable_code, unused_variables)]

extern crate self as brisk;
include!("../../support/mock_brisk.rs");

#[brisk_macros::main]
async fn main() {
    let unused = 1;
    return;
    println!("unreachable");
}
