//! The trace's clock: a timestamp per event, as cheap as the machine allows.
//!
//! On x86_64 with an invariant TSC (constant rate, synchronised across cores: CPUID
//! 0x8000_0007, EDX bit 8) an event reads the time stamp counter, ~10 ns; elsewhere it reads
//! `Instant`, a `clock_gettime` call (~25-50 ns). Raw readings are turned into nanoseconds
//! since the runtime was built when the trace is taken, from the counter's rate over the
//! runtime's life so far (measured against `Instant`).

use std::time::Instant;

use crate::tsc;

/// The clock of one runtime's trace.
pub(super) struct Clock {
    start: Instant,
    /// The TSC at `start`, if the TSC is used.
    tsc_start: Option<u64>,
}

impl Clock {
    pub(super) fn new() -> Clock {
        Clock {
            start: Instant::now(),
            tsc_start: tsc::invariant().then(tsc::read),
        }
    }

    /// A raw reading: TSC ticks, or nanoseconds since `start`.
    #[inline]
    pub(super) fn now(&self) -> u64 {
        match self.tsc_start {
            Some(_) => tsc::read(),
            // u64 nanoseconds last 584 years.
            None => self.start.elapsed().as_nanos() as u64,
        }
    }

    /// Converts raw readings taken so far into nanoseconds since `start`.
    pub(super) fn to_ns(&self) -> impl Fn(u64) -> u64 {
        let scale = self.tsc_start.map(|t0| {
            let ns = self.start.elapsed().as_nanos() as f64;
            let ticks = tsc::read().wrapping_sub(t0).max(1) as f64;
            (t0, ns / ticks)
        });
        move |raw| match scale {
            Some((t0, ns_per_tick)) => (raw.saturating_sub(t0) as f64 * ns_per_tick) as u64,
            None => raw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn readings_convert_to_increasing_nanoseconds() {
        let clock = Clock::new();
        let a = clock.now();
        // Some work between the readings (a spin, not a sleep: no synchronisation here).
        let mut x = 0u64;
        for i in 0..100_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let b = clock.now();
        let elapsed = clock.start.elapsed().as_nanos() as u64;
        let to_ns = clock.to_ns();
        let (a, b) = (to_ns(a), to_ns(b));
        assert!(a <= b, "{a} > {b}");
        // Within the runtime's life so far (1% slack for the rate estimate).
        assert!(
            b <= elapsed + elapsed / 100 + 1000,
            "{b} ns > {elapsed} ns elapsed"
        );
    }
}
