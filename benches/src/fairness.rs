//! The fairness workload (issue 5's figure): a heartbeat task that wants to run every 1 ms, on
//! a runtime that is also running a storm of spawns, and how late each heartbeat runs.
//!
//! - **Heartbeat**: a sleep loop, `sleep_until(last_wake + period)` with the runtime's own
//!   timer; each tick records `now - deadline` (its *lateness*: timer resolution, plus the
//!   time from the timer firing to the task being polled). Measuring from the previous wake,
//!   not from a fixed schedule, keeps one late tick from making the following ones late too.
//! - **Storm**: `storm_tasks` tasks, each looping until the heartbeat is done: spawn `burst`
//!   ready children (each a little CPU work), await them all, then some CPU work of its own.
//!   With brisk's eager policy the children run inside `spawn` up to the eager budget, the
//!   rest are queued; with the lazy policy and on tokio every child is queued.
//!
//! Every storm task checks the sum of its children's outputs against the expected sum, and the
//! heartbeat must record every tick: a wrong count or sum is an error, not a figure.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::rt::{AnyRuntime, BriskCounters, Host, Rt};

/// The shape of one fairness run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FairnessConfig {
    /// Heartbeat ticks to record.
    pub ticks: u64,
    /// The heartbeat's period (1 ms).
    pub period: Duration,
    /// Storm tasks (0: the heartbeat alone, the baseline).
    pub storm_tasks: u64,
    /// Children per burst (1,000).
    pub burst: u64,
    /// Rounds of CPU work per child ([`spin`]).
    pub child_work: u32,
    /// Rounds of CPU work per storm task between two bursts.
    pub burst_work: u32,
}

impl FairnessConfig {
    /// The default storm: 4 storm tasks (2 per worker at 2 workers), bursts of 1,000 children
    /// of ~0.3 µs each, ~60 µs of the storm task's own work between bursts; 1,000 ticks.
    pub const STORM: FairnessConfig = FairnessConfig {
        ticks: 1_000,
        period: Duration::from_millis(1),
        storm_tasks: 4,
        burst: 1_000,
        child_work: 100,
        burst_work: 20_000,
    };

    /// The same heartbeat with no storm: the baseline (timer resolution and idle wake-up).
    pub fn idle(self) -> FairnessConfig {
        FairnessConfig {
            storm_tasks: 0,
            ..self
        }
    }
}

/// What one fairness run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FairnessSample {
    /// Each tick's lateness, in tick order.
    pub lateness: Vec<Duration>,
    /// From the first tick's start to the last tick.
    pub elapsed: Duration,
    /// Storm children run to completion (and checked).
    pub children: u64,
    /// brisk's scheduling counters over the run (brisk only).
    pub counters: Option<BriskCounters>,
}

/// `rounds` rounds of a 64-bit mix starting from `seed`: CPU work the optimiser cannot remove.
pub fn spin(seed: u64, rounds: u32) -> u64 {
    let mut x = black_box(seed);
    for _ in 0..rounds {
        x ^= x >> 30;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 27;
        x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
    }
    black_box(x)
}

/// The sum of one burst's children outputs.
fn burst_sum(cfg: &FairnessConfig) -> u64 {
    (0..cfg.burst)
        .map(|j| spin(j, cfg.child_work))
        .fold(0, u64::wrapping_add)
}

/// The heartbeat: `ticks` sleeps of `period` from the previous wake; sets `stop` when done.
async fn heartbeat<R: Rt>(
    rt: R,
    period: Duration,
    ticks: u64,
    stop: Arc<AtomicBool>,
) -> (Vec<Duration>, Duration) {
    let mut lateness = Vec::with_capacity(ticks as usize);
    let start = Instant::now();
    let mut last = start;
    for _ in 0..ticks {
        let deadline = last + period;
        rt.sleep_until(deadline).await;
        let now = Instant::now();
        lateness.push(now.saturating_duration_since(deadline));
        last = now;
    }
    stop.store(true, Ordering::Release);
    (lateness, start.elapsed())
}

/// One storm task: bursts of ready children until `stop` (at least one); returns (children run, bursts whose
/// sum was wrong).
async fn storm<R: Rt>(rt: R, cfg: FairnessConfig, want: u64, stop: Arc<AtomicBool>) -> (u64, u64) {
    let mut handles = Vec::with_capacity(cfg.burst as usize);
    let (mut children, mut wrong) = (0u64, 0u64);
    let mut bursts = 0u64;
    // At least one burst, then until the heartbeat is done.
    loop {
        for j in 0..cfg.burst {
            let work = cfg.child_work;
            handles.push(rt.spawn(async move { spin(j, work) }));
        }
        let mut sum = 0u64;
        for h in handles.drain(..) {
            sum = sum.wrapping_add(h.await);
        }
        if sum != want {
            wrong += 1;
        }
        children += cfg.burst;
        spin(bursts, cfg.burst_work);
        bursts += 1;
        if stop.load(Ordering::Acquire) {
            return (children, wrong);
        }
    }
}

/// One run of the workload on `host`.
fn run_on<H: Host>(
    host: &H,
    cfg: FairnessConfig,
) -> Result<(Vec<Duration>, Duration, u64), String> {
    let rt = host.rt();
    let want = burst_sum(&cfg);
    let (lateness, elapsed, children, wrong) = host.run(async move {
        let stop = Arc::new(AtomicBool::new(false));
        // The heartbeat first: it suspends at once, and stops the storm when it is done.
        let beat = rt.spawn(heartbeat(rt, cfg.period, cfg.ticks, stop.clone()));
        let storms: Vec<_> = (0..cfg.storm_tasks)
            .map(|_| rt.spawn(storm(rt, cfg, want, stop.clone())))
            .collect();
        let (lateness, elapsed) = beat.await;
        let (mut children, mut wrong) = (0, 0);
        for s in storms {
            let (c, w) = s.await;
            children += c;
            wrong += w;
        }
        (lateness, elapsed, children, wrong)
    });
    if wrong != 0 {
        return Err(format!("{wrong} storm bursts returned a wrong sum"));
    }
    if lateness.len() as u64 != cfg.ticks {
        return Err(format!(
            "the heartbeat recorded {} ticks, expected {}",
            lateness.len(),
            cfg.ticks
        ));
    }
    Ok((lateness, elapsed, children))
}

/// Runs the workload once on `rt` and checks it.
///
/// # Errors
/// If a storm burst's sum is wrong or the heartbeat lost ticks (a broken runtime).
pub fn fairness_run(rt: &AnyRuntime, cfg: FairnessConfig) -> Result<FairnessSample, String> {
    let before = rt.brisk_counters();
    let (lateness, elapsed, children) = match rt {
        AnyRuntime::BriskEager(h) | AnyRuntime::BriskLazy(h) => run_on(h, cfg)?,
        AnyRuntime::Tokio(h) => run_on(h, cfg)?,
        AnyRuntime::AsyncExecutor(h) => run_on(h, cfg)?,
    };
    let counters = match (before, rt.brisk_counters()) {
        (Some(b), Some(a)) => Some(a.since(&b)),
        _ => None,
    };
    Ok(FairnessSample {
        lateness,
        elapsed,
        children,
        counters,
    })
}

/// The `q`-quantile (0..=1) of `sorted` (nearest rank); zero if empty.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
