//! Compile-time behaviour of the attributes, checked with trybuild.
//!
//! * `ui/fail/*.rs` must fail to compile with exactly the errors in the `.stderr` file next to
//!   them (regenerate with `TRYBUILD=overwrite cargo test -p brisk-macros --test ui`, then
//!   review the diff).
//! * `ui/pass/*.rs` must compile and run successfully. They use the stand-in runtime in
//!   `support/mock_brisk.rs`, since the attributes are tested without the real `brisk` crate.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
