//! Run tokio-only code inside brisk tasks (feature `tokio`).
//!
//! Crates that call `tokio::time::sleep`, create `tokio::net` sockets or `tokio::spawn` need a
//! tokio runtime in their thread's context; inside a brisk task there is none, and tokio
//! panics with "there is no reactor running, must be called from the context of a Tokio 1.x
//! runtime". [`Compat`] (or [`CompatExt::compat`]) wraps such a future: each poll enters the
//! context of one tokio runtime, started on first use on a thread of its own, whose timer
//! and I/O drivers serve those calls (the approach of the `async-compat` crate). The future
//! itself still runs on the brisk worker that polls it; only tokio's drivers and the tasks
//! given to `tokio::spawn` run on the tokio thread.
//!
//! ```ignore
//! // Cargo.toml: brisk-compat = { version = "0.1", features = ["tokio"] }
//! use brisk_compat::tokio::CompatExt;
//!
//! let body = async {
//!     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
//!     some_tokio_client.get(uri).await
//! }
//! .compat()
//! .await;
//! ```
//!
//! Prefer brisk's own types where they exist (`brisk::time`, `brisk::net`): they need no
//! second runtime and no hop between threads.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

/// The tokio runtime behind the bridge: a current-thread runtime driven by a thread of its
/// own (`brisk-compat-tokio`), started on first use and kept for the process's life.
pub fn handle() -> &'static tokio::runtime::Handle {
    static HANDLE: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("brisk-compat-tokio")
            .build()
            .expect("brisk_compat::tokio: starting the tokio runtime failed");
        let handle = rt.handle().clone();
        std::thread::Builder::new()
            .name("brisk-compat-tokio".into())
            // Driving a runtime that waits forever: its drivers and spawned tasks run here.
            .spawn(move || rt.block_on(std::future::pending::<()>()))
            .expect("brisk_compat::tokio: starting the tokio thread failed");
        handle
    })
}

/// A future that runs with the bridge's tokio runtime entered: tokio's
/// timers, sockets and `tokio::spawn` work inside it. Made with [`Compat::new`] or
/// [`CompatExt::compat`].
pub struct Compat<T> {
    inner: T,
}

impl<T> Compat<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Compat<T> {
        Compat { inner }
    }

    /// The wrapped value.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped value, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: Future> Future for Compat<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let _tokio = handle().enter();
        // SAFETY: `inner` is structurally pinned. Nothing moves it out of a pinned `Compat`:
        // `get_mut` and `into_inner` need `&mut Compat`/`Compat`, which a `Pin<&mut Compat<T>>`
        // hands out only when `Compat<T>: Unpin`, that is when `T: Unpin` (auto trait); and
        // `Compat` has no `Drop` impl that could move it.
        let inner = unsafe { self.map_unchecked_mut(|c| &mut c.inner) };
        inner.poll(cx)
    }
}

impl<T: fmt::Debug> fmt::Debug for Compat<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Compat").field(&self.inner).finish()
    }
}

/// `.compat()` on every future.
pub trait CompatExt: Sized {
    /// Wraps `self` in [`Compat`].
    fn compat(self) -> Compat<Self> {
        Compat::new(self)
    }
}

impl<T: Future> CompatExt for T {}
