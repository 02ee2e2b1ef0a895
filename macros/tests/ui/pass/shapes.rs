// Function shapes that must expand without errors or warnings. They are only compiled.
#![deny(warnings)]
#![allow(dead_code)]

extern crate self as brisk;
include!("../../support/mock_brisk.rs");

/// A body that never finishes.
#[brisk_macros::main]
async fn serve_forever() {
    loop {
        std::thread::yield_now();
    }
}

/// A never-returning function: no output type hint is possible.
#[brisk_macros::main]
async fn never() -> ! {
    loop {
        std::thread::yield_now();
    }
}

/// A body that always `return`s.
#[brisk_macros::main]
async fn always_returns() -> Result<u8, String> {
    return Ok(1);
}

/// An opaque return type: no output type hint is possible.
#[brisk_macros::main]
async fn opaque() -> impl std::fmt::Display {
    "opaque"
}

struct App;

impl App {
    /// An associated function, naming `Self` in its return type.
    #[brisk_macros::main(worker_threads = 1)]
    async fn start() -> Self {
        App
    }

    #[brisk_macros::main]
    pub(crate) async fn config() -> Option<Self> {
        let app = Self::start();
        Some(app)
    }
}

/// Unsafe async functions stay unsafe.
#[brisk_macros::main]
async unsafe fn unsafe_entry() {}

/// A body with items, statics, and a nested async block.
#[brisk_macros::main]
async fn items() -> u32 {
    const BASE: u32 = 40;
    fn two() -> u32 {
        2
    }
    let nested = async { BASE + two() };
    nested.await
}

fn main() {}
