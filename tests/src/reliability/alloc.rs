//! A counting global allocator, for leak checks.
//!
//! A test binary that wants them installs it (`#[global_allocator] static A: CountingAlloc =
//! CountingAlloc;`); [`live`] then reports the number of live allocations of the whole process,
//! and [`settle`] waits until that number comes back down to a baseline.
//!
//! What can hold memory after a runtime is dropped without being a leak, and how the checks
//! deal with it:
//! - Worker threads' thread-locals: the runtime joins its workers on drop, and a joined
//!   thread has run its thread-local destructors, so these are gone.
//! - crossbeam-epoch garbage: the deques free old buffers and exited threads' epoch records
//!   through deferred destruction, which runs only when some thread advances the epoch.
//!   [`settle`] pins and flushes the epoch from the calling thread until the garbage is
//!   collected.
//! - One-time lazy statics (the epoch collector itself, the test thread's epoch record): a
//!   check takes its baseline after a warm-up that has created them.
//! - Transient allocations of other threads (the test harness printing a result): [`settle`]
//!   retries for a while before it reports a difference.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The system allocator, counting live allocations.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc`
// contract; the counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(1, Relaxed);
            INSTALLED.store(true, Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(1, Relaxed);
            INSTALLED.store(true, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(1, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees. A reallocation moves one live
        // allocation: the count does not change.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Live allocations of the process, or `None` if this binary did not install
/// [`CountingAlloc`] as its global allocator.
pub fn live() -> Option<isize> {
    // Allocating once makes sure `INSTALLED` is set if the allocator is ours.
    drop(std::hint::black_box(Box::new(0u64)));
    INSTALLED.load(Relaxed).then(|| LIVE.load(Relaxed))
}

/// Collects crossbeam-epoch garbage that the calling thread can collect.
pub fn flush_epoch_garbage() {
    for _ in 0..64 {
        crossbeam_epoch::pin().flush();
    }
}

/// Waits (up to `patience`) until the live allocations are at most `baseline`, collecting
/// epoch garbage meanwhile. `Err(live)` if they stay above. `Ok` at once if the counting
/// allocator is not installed.
pub fn settle(baseline: isize, patience: Duration) -> Result<(), isize> {
    let start = Instant::now();
    loop {
        flush_epoch_garbage();
        let Some(now) = live() else { return Ok(()) };
        if now <= baseline {
            return Ok(());
        }
        if start.elapsed() >= patience {
            return Err(now);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
