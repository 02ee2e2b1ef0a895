//! Compiles and runs code expanded by `#[brisk_macros::main]` and `#[brisk_macros::test]`
//! against a stand-in runtime (`tests/support/mock_brisk.rs`) that records which `Builder`
//! options the generated code set.

// `::brisk::Builder` in the generated code resolves to the stand-in below.
extern crate self as brisk;
include!("support/mock_brisk.rs");

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future that is pending once, waking itself from another thread, then ready.
struct WokenFromAnotherThread {
    woken: bool,
}

impl Future for WokenFromAnotherThread {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.woken {
            return Poll::Ready(7);
        }
        self.woken = true;
        let waker = cx.waker().clone();
        std::thread::spawn(move || waker.wake());
        Poll::Pending
    }
}

fn woken_from_another_thread() -> WokenFromAnotherThread {
    WokenFromAnotherThread { woken: false }
}

// ----- #[brisk::main] on functions of any name -----

#[brisk_macros::main]
async fn main_defaults() -> u32 {
    woken_from_another_thread().await
}

#[brisk_macros::main(
    worker_threads = 3,
    spawn_policy = "LAZY",
    eager_budget = 16,
    eager_depth = 8,
    global_queue_interval = 31
)]
async fn main_all_options() {}

#[brisk_macros::main(spawn_policy = "eager")]
async fn main_eager() {}

#[test]
fn main_uses_builder_defaults() {
    assert_eq!(main_defaults(), 7);
    assert_eq!(take_recorded(), Some(Recorded::default()));
}

#[test]
fn main_passes_every_option() {
    main_all_options();
    assert_eq!(
        take_recorded(),
        Some(Recorded {
            worker_threads: Some(3),
            spawn_policy: Some(SpawnPolicy::Lazy),
            eager_budget: Some(16),
            eager_depth: Some(8),
            global_queue_interval: Some(31),
            current_thread: false,
        })
    );
    main_eager();
    assert_eq!(
        take_recorded().unwrap().spawn_policy,
        Some(SpawnPolicy::Eager)
    );
}

// ----- return, ?, and the declared output type -----

std::thread_local! {
    /// The input of `parse_positive`, which cannot take arguments.
    static INPUT: std::cell::Cell<&'static str> = const { std::cell::Cell::new("") };
}

/// `?` converts the error into the declared error type, `return` leaves the body early.
#[brisk_macros::main]
pub(crate) async fn parse_positive() -> Result<u32, Box<dyn std::error::Error>> {
    let n: i64 = INPUT.with(|input| input.get()).parse()?;
    if n <= 0 {
        return Err(format!("{n} is not positive").into());
    }
    Ok(u32::try_from(n)?)
}

fn parse(input: &'static str) -> Result<u32, String> {
    INPUT.with(|cell| cell.set(input));
    parse_positive().map_err(|e| e.to_string())
}

#[test]
fn question_mark_and_return() {
    assert_eq!(parse("42"), Ok(42));
    assert_eq!(parse("-1"), Err("-1 is not positive".to_owned()));
    assert_eq!(parse("x"), Err("invalid digit found in string".to_owned()));
    assert_eq!(
        parse("5000000000"),
        Err("out of range integral type conversion attempted".to_owned())
    );
}

/// The value's type is only known through the declared return type, when the body is checked:
/// this needs the output type hint (with a plain `async move` block it is E0282).
#[brisk_macros::main]
async fn inferred_from_the_return_type() -> String {
    let value = Default::default();
    if false {
        return value;
    }
    let len = value.len();
    format!("{len}")
}

#[test]
fn return_type_drives_inference_in_the_body() {
    assert_eq!(inferred_from_the_return_type(), "0");
}

/// `return` in a unit function, and a body that never reaches its end.
#[brisk_macros::main]
async fn early_unit_return() {
    if INPUT.with(|input| input.get()) == "stop" {
        return;
    }
    panic!("not reached");
}

#[test]
fn unit_return() {
    INPUT.with(|cell| cell.set("stop"));
    early_unit_return();
}

#[brisk_macros::main]
async fn opaque() -> impl std::fmt::Debug {
    vec![woken_from_another_thread().await]
}

#[test]
fn impl_trait_return_type() {
    assert_eq!(format!("{:?}", opaque()), "[7]");
}

/// Outer and inner attributes are kept.
#[brisk_macros::main]
#[must_use]
async fn with_attributes() -> u8 {
    #![allow(clippy::let_and_return)]
    let x = 1;
    x
}

#[test]
fn attributes_are_kept() {
    assert_eq!(with_attributes(), 1);
}

/// The body's `body`, `runtime` and `err` do not clash with the generated ones.
#[brisk_macros::main]
async fn shadowing() -> (u8, u8, u8) {
    let body = 1;
    let runtime = 2;
    let err = 3;
    (body, runtime, err)
}

#[test]
fn generated_names_are_hygienic() {
    assert_eq!(shadowing(), (1, 2, 3));
}

#[brisk_macros::main]
async fn never_built() {
    unreachable!("the runtime failed to build");
}

#[test]
#[should_panic(expected = "failed to build the brisk runtime: mock build failure")]
fn build_failure_panics_with_a_message() {
    fail_next_build();
    never_built();
}

// ----- #[brisk::test] -----

#[brisk_macros::test]
async fn test_defaults_to_the_current_thread_flavor() {
    assert_eq!(woken_from_another_thread().await, 7);
    // The runtime records its options when `block_on` starts, i.e. before this runs.
    assert_eq!(
        take_recorded(),
        Some(Recorded {
            current_thread: true,
            ..Recorded::default()
        })
    );
}

#[brisk_macros::test(flavor = "multi_thread")]
async fn multi_thread_test_defaults_to_two_workers() {
    assert_eq!(
        take_recorded(),
        Some(Recorded {
            worker_threads: Some(2),
            ..Recorded::default()
        })
    );
}

#[brisk_macros::main(flavor = "current_thread")]
async fn main_current_thread() {
    assert_eq!(
        take_recorded(),
        Some(Recorded {
            current_thread: true,
            ..Recorded::default()
        })
    );
}

#[test]
fn main_with_the_current_thread_flavor() {
    main_current_thread();
}

#[brisk_macros::test(worker_threads = 1, spawn_policy = "lazy", eager_budget = 0)]
async fn test_with_options() {
    assert_eq!(
        take_recorded(),
        Some(Recorded {
            worker_threads: Some(1),
            spawn_policy: Some(SpawnPolicy::Lazy),
            eager_budget: Some(0),
            ..Recorded::default()
        })
    );
}

#[brisk_macros::test]
async fn test_returning_result() -> Result<(), std::num::ParseIntError> {
    let n: u8 = "8".parse()?;
    assert_eq!(n, 8);
    Ok(())
}

#[brisk_macros::test]
#[should_panic(expected = "boom")]
async fn test_should_panic() {
    woken_from_another_thread().await;
    panic!("boom");
}

#[brisk_macros::test]
#[ignore = "checks that #[ignore] is kept: it would fail if run"]
async fn test_ignored() {
    panic!("an ignored test ran");
}

mod nested {
    use super::take_recorded;

    #[brisk_macros::test(worker_threads = 4)]
    async fn in_a_module() {
        assert_eq!(take_recorded().unwrap().worker_threads, Some(4));
    }
}
