//! The CPU's time stamp counter, for the clocks that need a cheap reading (the eager policy's
//! time budget, the trace's timestamps).
//!
//! Invariant: `read` is used only when `invariant()` is true (constant rate, synchronised
//! across cores). Elsewhere, and under Miri (which cannot run `cpuid` or `rdtsc`), `invariant`
//! is false and callers use `Instant`.

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod imp {
    use std::arch::x86_64::{__cpuid, _rdtsc};

    /// True if the CPU says its TSC is invariant (CPUID 0x8000_0007, EDX bit 8).
    // `__cpuid` is a safe function in recent Rust, an unsafe one in the minimum supported.
    #[allow(unused_unsafe)]
    pub(crate) fn invariant() -> bool {
        // SAFETY: `cpuid` exists on every x86_64 CPU; leaf 0x8000_0000 gives the highest
        // extended leaf, and 0x8000_0007 is only read if it exists.
        unsafe {
            __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
        }
    }

    /// The counter.
    #[inline]
    pub(crate) fn read() -> u64 {
        // SAFETY: `rdtsc` exists on every x86_64 CPU and has no side effects.
        unsafe { _rdtsc() }
    }
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
mod imp {
    /// No usable counter here.
    pub(crate) fn invariant() -> bool {
        false
    }

    /// Never called (`invariant` is false).
    pub(crate) fn read() -> u64 {
        0
    }
}

pub(crate) use imp::{invariant, read};
