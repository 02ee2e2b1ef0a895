//! Benchmarks of brisk against tokio and async-executor, shared by the criterion suite
//! (`cargo bench -p brisk-benches`) and the `compare` binary
//! (`cargo run --release -p brisk-benches --bin compare`).
//!
//! - [`rt`]: one small abstraction ([`Rt`] inside tasks, [`Host`] outside) over the four
//!   runtimes compared: brisk eager, brisk lazy, tokio multi-thread, async-executor on N threads;
//! - [`scenarios`]: the scenarios of issue 6, each written once, generic over that abstraction,
//!   each checking its own result;
//! - [`fairness`]: issue 5's fairness figure, a 1 ms heartbeat's lateness under a storm of
//!   spawns (the `fairness` binary);
//! - [`plot`]: SVG charts of both, drawn from their JSON output (`--plot DIR`, the `plot`
//!   binary).
//!
//! ```
//! use brisk_benches::{measure, AnyRuntime, RuntimeKind, Scenario, Sizes};
//!
//! let rt = AnyRuntime::build(RuntimeKind::BriskEager, 2).unwrap();
//! let sample = measure(&rt, Scenario::SpawnReadyAwait, &Sizes::TINY, 100).unwrap();
//! assert_eq!(sample.ops, 100);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod fairness;
pub mod plot;
pub mod rt;
pub mod scenarios;

use std::time::Duration;

pub use rt::{AnyRuntime, BriskCounters, Conn, Host, Rt, RuntimeKind};
pub use scenarios::{
    expected, measure, measure_on, Leaf, MeasureError, Miss, Sample, Scenario, Sizes,
};

/// Most iterations a calibrated sample may run.
const MAX_ITERS: u64 = 1 << 32;

/// Picks an iteration count for which one sample of `scenario` on `rt` takes about `target` of
/// wall time, running a few growing samples (which also warm the runtime up).
///
/// # Errors
/// As [`measure`].
pub fn calibrate(
    rt: &AnyRuntime,
    scenario: Scenario,
    sizes: &Sizes,
    target: Duration,
) -> Result<u64, MeasureError> {
    calibrate_with(target, |iters| measure(rt, scenario, sizes, iters))
}

/// Picks an iteration count for which one sample `run(iters)` takes about `target` of wall
/// time, running a few growing samples: [`calibrate`] for any way of running a scenario (the
/// current-thread runtimes of `--bin current_thread`, say).
///
/// # Errors
/// The first error of `run`.
pub fn calibrate_with(
    target: Duration,
    mut run: impl FnMut(u64) -> Result<Sample, MeasureError>,
) -> Result<u64, MeasureError> {
    let mut iters = 1u64;
    loop {
        let sample = run(iters)?;
        // Sized by wall time: a scenario that times only part of each iteration
        // (`spawn_latency` times its `spawn` calls, not the children's work) must still take
        // about `target` to run.
        let wall = sample.wall.max(sample.elapsed);
        if wall >= target / 10 || iters >= MAX_ITERS {
            let per_iter = wall.as_secs_f64() / iters as f64;
            let want = (target.as_secs_f64() / per_iter.max(1e-12)).round();
            return Ok((want as u64).clamp(1, MAX_ITERS));
        }
        iters = iters.saturating_mul(10).min(MAX_ITERS);
    }
}

/// Summary of a set of ns/op figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The median.
    pub median: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Summary {
    /// Summarises `values`; `None` if empty.
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Summary {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// The machine and toolchain the figures come from, as one line: CPU model, cores, rustc,
/// and the versions of the peers and of async-io (read from `Cargo.lock` at build time).
pub fn machine_line() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    format!(
        "{cpu}, {cores} cores (available_parallelism), {}, tokio {}, async-executor {} \
         (timers and sockets: async-io {})",
        option_env!("BRISK_BENCH_RUSTC").unwrap_or("rustc (unknown version)"),
        option_env!("BRISK_BENCH_TOKIO").unwrap_or("?"),
        option_env!("BRISK_BENCH_ASYNC_EXECUTOR").unwrap_or("?"),
        option_env!("BRISK_BENCH_ASYNC_IO").unwrap_or("?"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample of `iters` iterations that each take `wall` but time only `timed`.
    fn fake(iters: u64, timed: Duration, wall: Duration) -> Result<Sample, MeasureError> {
        Ok(Sample {
            elapsed: timed * iters as u32,
            wall: wall * iters as u32,
            iters,
            ops: iters,
        })
    }

    /// Regression: `--bin current_thread` sized its samples by the timed part only, so
    /// `spawn_latency` (which times its `spawn` calls, ~100 ns, not the children's ~1 ms of
    /// work) ran for many minutes.
    #[test]
    fn calibration_sizes_samples_by_wall_time() {
        let target = Duration::from_millis(150);
        let iters = calibrate_with(target, |i| {
            fake(i, Duration::from_nanos(100), Duration::from_millis(1))
        })
        .unwrap();
        assert!(
            (100..=200).contains(&iters),
            "{iters} iterations of 1 ms for 150 ms"
        );
        let iters = calibrate_with(target, |i| {
            fake(i, Duration::from_micros(10), Duration::from_micros(10))
        })
        .unwrap();
        assert!(
            (10_000..=20_000).contains(&iters),
            "{iters} iterations of 10 µs for 150 ms"
        );
    }
}
