//! The synchronization primitives of the lock-free core, swapped for loom's models under
//! `cfg(loom)`.
//!
//! Code that loom should check imports its atomics, `Mutex`, `Condvar`, `Arc` and `thread`
//! from here instead of `std`. In a normal build these are exactly `std`'s items (plain
//! re-exports, no cost). Built with `RUSTFLAGS="--cfg loom"`, they are loom's: every access is
//! a point where loom may switch threads, and loom explores every interleaving (and every
//! value a weak load may read) of the models in `loom_models.rs`.
//!
//! One difference: under loom, [`sync::atomic::AtomicUsize`] is a thin wrapper whose `new` is
//! a `const fn` (loom's own `new` is not, and `task::state::State::new` is `const`). It creates
//! the loom atomic on first use, inside the model that uses it; a model must make that first
//! use happen before it shares the atomic with other threads.

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) mod sync {
    pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

    /// Atomic types and fences.
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
    }
}

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) use std::thread;

/// `UnsafeCell` with loom's access API: `with` for reads, `with_mut` for writes. In a normal
/// build the closures get `std`'s raw pointer (no cost); under loom every access is checked
/// against concurrent ones (a double poll, a poll racing a cancel, a read of freed state).
#[cfg(not(loom))]
pub(crate) mod cell {
    /// See the module doc.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Reads through the pointer `f` gets (the caller upholds the aliasing rules).
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Writes through the pointer `f` gets (the caller upholds the aliasing rules).
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(loom)]
pub(crate) mod cell {
    pub(crate) use loom::cell::UnsafeCell;
}

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) mod sync {
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

    /// Atomic types and fences (loom's models).
    pub(crate) mod atomic {
        pub(crate) use super::lazy::AtomicUsize;
        pub(crate) use loom::sync::atomic::{fence, AtomicBool, Ordering};
    }

    mod lazy {
        use std::ops::Deref;
        use std::sync::OnceLock;

        /// loom's `AtomicUsize`, with a `const fn new`: the loom object is created on first
        /// use. Creating a loom atomic is not a scheduling point, so `get_or_init` never
        /// blocks (loom runs one model thread at a time). loom treats the creation as a
        /// non-atomic write, so a model must touch an atomic made by `new` once before it
        /// shares it with other threads (`Default` creates it at once).
        pub(crate) struct AtomicUsize {
            init: usize,
            cell: OnceLock<loom::sync::atomic::AtomicUsize>,
        }

        impl AtomicUsize {
            pub(crate) const fn new(v: usize) -> AtomicUsize {
                AtomicUsize {
                    init: v,
                    cell: OnceLock::new(),
                }
            }
        }

        impl Default for AtomicUsize {
            /// Creates the loom atomic at once (unlike `new`).
            fn default() -> AtomicUsize {
                let atomic = AtomicUsize::new(0);
                let _ = &*atomic;
                atomic
            }
        }

        impl Deref for AtomicUsize {
            type Target = loom::sync::atomic::AtomicUsize;

            fn deref(&self) -> &Self::Target {
                self.cell
                    .get_or_init(|| loom::sync::atomic::AtomicUsize::new(self.init))
            }
        }

        impl std::fmt::Debug for AtomicUsize {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&**self, f)
            }
        }
    }
}

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) use loom::thread;
