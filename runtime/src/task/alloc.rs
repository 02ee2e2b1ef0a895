//! Task cell allocation, with a small per-thread cache of freed cells.
//!
//! A task that completes during its eager first poll lives for one `spawn` call: the
//! allocation and the free are most of its cost. Freed cells of small sizes go to a per-thread
//! free list (by 64-byte size class) and the next spawn on that thread reuses one.
//!
//! Invariants:
//! - Every cell of a cacheable layout (size ≤ 1 KiB, align ≤ 16) is allocated and freed with its
//!   size class's layout, whether it goes through the cache or the global allocator, so a
//!   cached block can be freed to the global allocator at any time (a full class, or a thread
//!   whose cache was already destroyed at exit).
//! - Each class holds at most `PER_CLASS` blocks; a thread's cache is freed when it exits.

#![cfg_attr(loom, allow(dead_code, unused_imports))]

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::RefCell;
use std::ptr::NonNull;

const CLASS_SIZE: usize = 64;
const CLASSES: usize = 16;
const PER_CLASS: usize = 32;
const ALIGN: usize = 16;

struct Cache {
    classes: [Vec<NonNull<u8>>; CLASSES],
}

impl Drop for Cache {
    fn drop(&mut self) {
        for (class, blocks) in self.classes.iter_mut().enumerate() {
            for block in blocks.drain(..) {
                // SAFETY: every cached block was allocated with this class's layout.
                unsafe { dealloc(block.as_ptr(), class_layout(class)) };
            }
        }
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache { classes: [const { Vec::new() }; CLASSES] })
    };
}

#[inline]
fn class_layout(class: usize) -> Layout {
    // The sizes are multiples of 64 up to 1 KiB and ALIGN is a power of two.
    Layout::from_size_align((class + 1) * CLASS_SIZE, ALIGN).expect("valid class layout")
}

/// The size class of `layout`, if it is cacheable.
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    (layout.align() <= ALIGN && layout.size() <= CLASS_SIZE * CLASSES)
        .then(|| layout.size().max(1).div_ceil(CLASS_SIZE) - 1)
}

/// Under loom: cells are counted, and "freed" cells are kept (leaked) so that a model of a
/// buggy protocol reads stale memory, which loom then reports, instead of freed memory.
#[cfg(loom)]
pub(crate) mod loom_counts {
    use std::cell::Cell;

    std::thread_local! {
        /// (allocated, freed) cells on this OS thread (loom runs a model's threads on one).
        pub(crate) static CELLS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    }

    /// Cells allocated and freed since the last call; resets the counts.
    pub(crate) fn take() -> (usize, usize) {
        CELLS.with(|c| c.replace((0, 0)))
    }
}

/// Allocates a block for `layout`.
#[cfg(loom)]
pub(crate) fn allocate(layout: Layout) -> NonNull<u8> {
    loom_counts::CELLS.with(|c| c.set((c.get().0 + 1, c.get().1)));
    // SAFETY: task cells are never zero-sized (they hold a header).
    NonNull::new(unsafe { alloc(layout) }).unwrap_or_else(|| handle_alloc_error(layout))
}

/// Counts a free (see `loom_counts`); the block is leaked.
///
/// # Safety
/// As for the normal build.
#[cfg(loom)]
pub(crate) unsafe fn deallocate(_ptr: NonNull<u8>, _layout: Layout) {
    loom_counts::CELLS.with(|c| c.set((c.get().0, c.get().1 + 1)));
}

/// Allocates a block for `layout`.
#[cfg(not(loom))]
#[inline]
pub(crate) fn allocate(layout: Layout) -> NonNull<u8> {
    let (layout, cached) = match class_of(layout) {
        Some(class) => {
            let cached = CACHE
                .try_with(|c| c.borrow_mut().classes[class].pop())
                .ok()
                .flatten();
            (class_layout(class), cached)
        }
        None => (layout, None),
    };
    cached.unwrap_or_else(|| {
        // SAFETY: task cells are never zero-sized (they hold a header).
        let ptr = unsafe { alloc(layout) };
        NonNull::new(ptr).unwrap_or_else(|| handle_alloc_error(layout))
    })
}

/// Frees a block from [`allocate`] with the same `layout`.
///
/// # Safety
/// `ptr` came from `allocate(layout)` and is not used afterwards.
#[cfg(not(loom))]
#[inline]
pub(crate) unsafe fn deallocate(ptr: NonNull<u8>, layout: Layout) {
    let layout = match class_of(layout) {
        Some(class) => {
            let kept = CACHE.try_with(|c| {
                let blocks = &mut c.borrow_mut().classes[class];
                let keep = blocks.len() < PER_CLASS;
                if keep {
                    blocks.push(ptr);
                }
                keep
            });
            if kept == Ok(true) {
                return;
            }
            class_layout(class)
        }
        None => layout,
    };
    // SAFETY: `ptr` was allocated with `layout` (its class layout when cacheable).
    unsafe { dealloc(ptr.as_ptr(), layout) };
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reuses_freed_blocks_of_the_same_class() {
        let l = Layout::from_size_align(100, 8).unwrap();
        let a = allocate(l);
        // SAFETY: allocated above with `l`.
        unsafe { deallocate(a, l) };
        let b = allocate(Layout::from_size_align(120, 8).unwrap()); // same 128-byte class
        assert_eq!(a, b);
        // SAFETY: allocated with a layout of the same class.
        unsafe { deallocate(b, l) };
        let big = Layout::from_size_align(4096, 8).unwrap();
        let c = allocate(big);
        // SAFETY: allocated above with `big`.
        unsafe { deallocate(c, big) };
    }
}
