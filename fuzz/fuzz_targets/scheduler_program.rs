//! Random programs on a real runtime with a random configuration, checked against the
//! runtime-free reference, for termination and for leaks
//! (`brisk_tests::reliability::scheduler_program`).
#![no_main]

use brisk_tests::reliability::alloc::CountingAlloc;

/// Counts live allocations so that the check can see a leaked task after the runtime's drop.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brisk_tests::reliability::scheduler_program::check(data);
});
