//! `std` stand-ins for `brisk`'s `crate::loom` shim, so that runtime files compiled into this
//! crate with `#[path]` (the task state word) resolve their `crate::loom::...` imports.

#![allow(unused_imports)]

pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
    }
}
