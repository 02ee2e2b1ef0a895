//! Task cell allocation, with a per-thread cache of freed cells.
//!
//! A task that completes during its eager first poll lives for one `spawn` call, and a gather
//! of ready children frees its cells right after allocating them: the allocation and the free
//! are most of a ready task's cost. Freed cells of small sizes go to a per-thread free list
//! (by 64-byte size class) and the next spawn on that thread reuses one.
//!
//! Invariants:
//! - Every cell of a cacheable layout (size ≤ 1 KiB, align ≤ 16) is allocated and freed with its
//!   size class's layout, whether it goes through the cache or the global allocator, so a
//!   cached block can be freed to the global allocator at any time (a full cache, or a thread
//!   whose cache was already destroyed at exit).
//! - A thread's cache holds at most [`CLASS_BYTES`] bytes of blocks of each class, and is
//!   freed when the thread exits. Measured (`compare`, `gather_mostly_ready`): 32 blocks per
//!   class, the former bound, served a gather of 1,000 ready children from `malloc` (20% of
//!   its time); 256 KiB serves it from the cache, 20-25% faster. The bound is per class:
//!   blocks of a class no longer spawned must not keep the cache full for the others.
//! - A cached block is free memory of this thread: its first word links it to the next block
//!   of its class (an intrusive list), nothing else reads or writes it.
//! - Under Miri no block is cached: every free reaches the allocator, so that Miri reports a
//!   task core that touches a freed cell (a cached block would still look allocated to it).

#![cfg_attr(loom, allow(dead_code, unused_imports))]

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::Cell;
use std::ptr::NonNull;

const CLASS_SIZE: usize = 64;
const CLASSES: usize = 16;
/// The most bytes of freed blocks of one class one thread keeps.
pub(crate) const CLASS_BYTES: usize = 256 << 10;
const ALIGN: usize = 16;

struct Cache {
    /// The first free block of each class; each block's first word holds the next.
    heads: [Cell<Option<NonNull<u8>>>; CLASSES],
    /// The bytes of the blocks listed, per class.
    bytes: [Cell<usize>; CLASSES],
}

impl Cache {
    fn pop(&self, class: usize) -> Option<NonNull<u8>> {
        let block = self.heads[class].get()?;
        // SAFETY: a listed block is free memory of this thread whose first word (aligned: the
        // block is 16-aligned and at least 64 bytes) holds the next block (module invariant).
        let next = unsafe { block.cast::<Option<NonNull<u8>>>().as_ptr().read() };
        self.heads[class].set(next);
        self.bytes[class].set(self.bytes[class].get() - class_size(class));
        Some(block)
    }

    /// Lists `block` unless the cache is full; true if it did.
    fn push(&self, class: usize, block: NonNull<u8>) -> bool {
        let bytes = self.bytes[class].get() + class_size(class);
        if bytes > CLASS_BYTES && !cfg!(brisk_mutant = "cache_unbounded") {
            return false;
        }
        // SAFETY: the caller gives up `block` (a free block of this class: 16-aligned, at least
        // 64 bytes); its first word becomes the link.
        unsafe {
            block
                .cast::<Option<NonNull<u8>>>()
                .as_ptr()
                .write(self.heads[class].get())
        };
        self.heads[class].set(Some(block));
        self.bytes[class].set(bytes);
        true
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        for class in 0..CLASSES {
            while let Some(block) = self.pop(class) {
                // SAFETY: every cached block was allocated with this class's layout.
                unsafe { dealloc(block.as_ptr(), class_layout(class)) };
            }
        }
    }
}

thread_local! {
    static CACHE: Cache = const {
        Cache {
            heads: [const { Cell::new(None) }; CLASSES],
            bytes: [const { Cell::new(0) }; CLASSES],
        }
    };
}

#[inline]
fn class_size(class: usize) -> usize {
    (class + 1) * CLASS_SIZE
}

#[inline]
fn class_layout(class: usize) -> Layout {
    // The sizes are multiples of 64 up to 1 KiB and ALIGN is a power of two.
    Layout::from_size_align(class_size(class), ALIGN).expect("valid class layout")
}

/// The size class of `layout`, if it is cacheable (never under Miri).
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    (!cfg!(miri) && layout.align() <= ALIGN && layout.size() <= CLASS_SIZE * CLASSES)
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
            let cached = CACHE.try_with(|c| c.pop(class)).ok().flatten();
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
            if CACHE.try_with(|c| c.push(class, ptr)) == Ok(true) {
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
    #[cfg_attr(miri, ignore = "no cache under Miri")]
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

    /// The bytes of class `class` this thread's cache holds.
    fn cached_bytes(class: usize) -> usize {
        CACHE.with(|c| c.bytes[class].get())
    }

    #[test]
    #[cfg_attr(miri, ignore = "no cache under Miri")]
    fn the_cache_keeps_at_most_class_bytes_per_class_and_frees_the_rest() {
        // On a thread of its own, so the cache starts empty.
        std::thread::spawn(|| {
            let l = Layout::from_size_align(192, 16).unwrap(); // class 2
            let blocks: Vec<_> = (0..CLASS_BYTES / 192 + 100).map(|_| allocate(l)).collect();
            assert_eq!(cached_bytes(2), 0);
            // A full class does not take another class's room.
            let small = Layout::from_size_align(64, 16).unwrap(); // class 0
            let smalls: Vec<_> = (0..CLASS_BYTES / 64).map(|_| allocate(small)).collect();
            for b in smalls {
                // SAFETY: allocated above with `small`.
                unsafe { deallocate(b, small) };
            }
            assert_eq!(cached_bytes(0), CLASS_BYTES);
            for &b in &blocks {
                // SAFETY: allocated above with `l`.
                unsafe { deallocate(b, l) };
            }
            let kept = cached_bytes(2);
            assert!(kept <= CLASS_BYTES, "{kept} bytes cached");
            assert!(
                kept > CLASS_BYTES - 192,
                "{kept} bytes cached: stopped early"
            );
            // The kept blocks are handed out again, most recently freed first.
            let again: Vec<_> = (0..kept / 192).map(|_| allocate(l)).collect();
            assert_eq!(cached_bytes(2), 0);
            let mut freed: Vec<_> = blocks[..kept / 192].to_vec();
            freed.reverse();
            assert_eq!(again, freed);
            for b in again {
                // SAFETY: allocated with `l`.
                unsafe { deallocate(b, l) };
            }
        })
        .join()
        .unwrap();
    }
}
