//! The `#[brisk::main]` and `#[brisk::test]` attributes.
//!
//! This crate is an implementation detail of [brisk]: use the attributes through their
//! re-exports `brisk::main` and `brisk::test`, not by depending on `brisk-macros` directly.
//! The generated code names the runtime by the absolute path `::brisk`, so the crate using the
//! attributes must depend on `brisk` under that name.
//!
//! [brisk]: https://example.invalid/brisk
//!
//! # `#[brisk::main]`
//!
//! Turns an `async fn` without arguments into a plain `fn` that builds a brisk runtime and
//! blocks on the function's body:
//!
//! ```
//! # extern crate self as brisk;
//! # use brisk_macros::{main, test};
//! # include!("../tests/support/mock_brisk.rs");
//! #[brisk::main(worker_threads = 4, spawn_policy = "lazy")]
//! async fn main() -> std::io::Result<()> {
//!     let answer: u32 = "42"
//!         .parse()
//!         .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
//!     if answer != 42 {
//!         return Err(std::io::Error::other("wrong answer"));
//!     }
//!     println!("the answer is {answer}");
//!     Ok(())
//! }
//! ```
//!
//! expands to roughly the following (a sketch, hence not compiled as a doctest; the real
//! expansion also makes `body`, `runtime` and `err` hygienic and adds an inference hint, see
//! below):
//!
//! ```ignore
//! fn main() -> std::io::Result<()> {
//!     let body = async move {
//!         let answer: u32 = /* ... */;
//!         /* ... */
//!         Ok(())
//!     };
//!     let runtime = ::brisk::Builder::new()
//!         .worker_threads(4usize)
//!         .spawn_policy(::brisk::SpawnPolicy::Lazy)
//!         .build()
//!         .unwrap_or_else(|err| panic!("failed to build the brisk runtime: {}", err));
//!     runtime.block_on(body)
//! }
//! ```
//!
//! * The function may have any name, visibility and return type (`()`, `std::io::Result<()>`,
//!   `Result<(), Box<dyn Error>>`, ...); its attributes (doc comments, `#[allow]`, inner
//!   attributes, ...) are kept. It must be `async` and must have no arguments and no generics.
//! * The body becomes an `async move` block, so `return` and `?` in it behave as in the original
//!   `async fn`. A dead `if false { ... }` statement at the top of that block fixes the block's
//!   output type to the declared return type before the body is type-checked, so that inference
//!   inside the body sees the declared type exactly as it would in an `async fn` (not done for
//!   `-> impl Trait` and `-> !`, which cannot be written in a `let`).
//! * The tokens of the body keep their spans: type errors and warnings in the body point at the
//!   user's code.
//! * If the runtime cannot be built, the function panics with
//!   `failed to build the brisk runtime: {err}`.
//!
//! # `#[brisk::test]`
//!
//! The same transformation, plus a `#[test]` attribute:
//!
//! ```
//! # extern crate self as brisk;
//! # use brisk_macros::{main, test};
//! # include!("../tests/support/mock_brisk.rs");
//! #[brisk::test]
//! async fn adds() {
//!     assert_eq!(async { 1 + 1 }.await, 2);
//! }
//!
//! #[brisk::test(worker_threads = 1, eager_budget = 0)]
//! #[should_panic(expected = "boom")]
//! async fn panics() {
//!     panic!("boom");
//! }
//!
//! #[brisk::test]
//! #[ignore = "slow"]
//! async fn returns_a_result() -> Result<(), String> {
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//!
//! Other attributes such as `#[should_panic]` and `#[ignore]` are kept. Do not add `#[test]`
//! yourself: the attribute emits it (as `#[::core::prelude::v1::test]`), and a second one is an
//! error.
//!
//! Each test builds its own runtime. Like `#[tokio::test]`, `#[brisk::test]` defaults to a
//! **current-thread** runtime (`Builder::new_current_thread()`): the test thread runs every
//! task, timer and socket, so a test is deterministic in where its tasks run and a parallel
//! `cargo test` starts no worker threads. Ask for `flavor = "multi_thread"` to exercise
//! cross-thread wake-ups and work stealing: the runtime then gets a small fixed pool of
//! **2 worker threads** unless `worker_threads = N` is given (independent of the machine, so
//! that a test behaves the same in CI as locally). `worker_threads = N` alone also selects the
//! multi-thread flavor. All other options keep the `Builder` defaults, as for `#[brisk::main]`.
//!
//! # Options
//!
//! Both attributes take the same comma-separated `name = value` options, each at most once;
//! each becomes the `brisk::Builder` call of the same name, except `flavor`, which picks the
//! constructor (`Builder::new_current_thread()` or `Builder::new()`):
//!
//! | option                  | value                                  | default (`main`) | default (`test`) |
//! |-------------------------|----------------------------------------|------------------|------------------|
//! | `flavor`                | `"current_thread"` or `"multi_thread"` | `"multi_thread"` | `"current_thread"` (`"multi_thread"` if `worker_threads` is given) |
//! | `worker_threads`        | integer literal ≥ 1 (`usize`); multi-thread only | `Builder` default | `2`             |
//! | `spawn_policy`          | `"adaptive"`, `"eager"` or `"lazy"`, any letter case | `Builder` default (adaptive) | same    |
//! | `eager_budget`          | integer literal (`u32`)                | `Builder` default | same            |
//! | `eager_depth`           | integer literal (`u32`)                | `Builder` default | same            |
//! | `global_queue_interval` | integer literal ≥ 1 (`u32`)            | `Builder` default | same            |
//! | `start_paused`          | `true` or `false`: the clock starts paused (`brisk::time::pause`) | `false` | same |
//!
//! An option that is not given produces no `Builder` call at all.
//!
//! One more option is a bare flag: `tokio_compat` (`#[brisk::main(tokio_compat)]`) runs the
//! body inside `brisk_compat::tokio::Compat`, so that code calling `tokio::time`,
//! `tokio::net` or `tokio::spawn` directly in the body works. The crate must then depend on
//! `brisk-compat` (under that name) with its `tokio` feature. Futures the body spawns are not
//! wrapped: wrap those with `.compat()` themselves.
//!
//! # Errors
//!
//! Misuse is reported at compile time, pointing at the offending tokens, with every problem
//! reported at once:
//!
//! * a function that is not `async`: "the `async` keyword is missing from the function
//!   declaration";
//! * arguments, generics, or an item that is not a function;
//! * an unknown option: "unknown option `foo`, expected one of: flavor, worker_threads,
//!   spawn_policy, eager_budget, eager_depth, global_queue_interval, start_paused, tokio_compat";
//! * `worker_threads` with `flavor = "current_thread"`, or an unknown flavor;
//! * a duplicate option, a value of the wrong type or out of range, an option without a value;
//! * `#[test]` next to `#[brisk::test]`.
//!
//! ```compile_fail
//! # extern crate self as brisk;
//! # use brisk_macros::{main, test};
//! # include!("../tests/support/mock_brisk.rs");
//! #[brisk::main(flavor = "current_thread", worker_threads = 2)] // error: `worker_threads` needs the multi-thread flavor
//! async fn main() {}
//! ```
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod config;
mod entry;

/// Runs an `async fn` on a brisk runtime: the entry point of a program.
///
/// The function must be `async` and take no arguments; any name, visibility and return type
/// are accepted. `flavor = "current_thread"` builds the runtime with
/// `Builder::new_current_thread()` (default: multi-thread); the other options (`worker_threads`,
/// `spawn_policy`, `eager_budget`, `eager_depth`, `global_queue_interval`, `start_paused`) are passed to
/// `brisk::Builder`; options that are not given keep the `Builder` defaults. See the [crate documentation](crate) for the expansion and the options.
///
/// ```
/// # extern crate self as brisk;
/// # use brisk_macros::{main, test};
/// # include!("../tests/support/mock_brisk.rs");
/// #[brisk::main]
/// async fn main() {
///     println!("running on brisk");
/// }
/// ```
///
/// # Panics
///
/// The generated function panics with "failed to build the brisk runtime: {err}" if
/// `Builder::build` fails, and propagates a panic of the body as `Runtime::block_on` does.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(entry::Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on its own brisk runtime.
///
/// Emits `#[test]`; keeps other attributes such as `#[should_panic]` and `#[ignore]`. Takes the
/// same options as [`macro@main`]; unlike it, the runtime is current-thread by default (as
/// with `#[tokio::test]`), and with `flavor = "multi_thread"` `worker_threads` defaults to 2
/// (the [crate documentation](crate) explains why).
///
/// ```
/// # extern crate self as brisk;
/// # use brisk_macros::{main, test};
/// # include!("../tests/support/mock_brisk.rs");
/// #[brisk::test(spawn_policy = "lazy")]
/// async fn spawns_lazily() -> Result<(), String> {
///     let n: u32 = "7".parse().map_err(|e| format!("{e}"))?;
///     assert_eq!(n, 7);
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # Panics
///
/// The generated test panics (fails) with "failed to build the brisk runtime: {err}" if
/// `Builder::build` fails, and when its body panics.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(entry::Kind::Test, args.into(), item.into()).into()
}
