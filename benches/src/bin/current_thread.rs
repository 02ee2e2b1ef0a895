//! The current-thread runtimes side by side: brisk's `Builder::new_current_thread()` (eager and
//! lazy) against tokio's `Builder::new_current_thread()`, on the scenarios of `compare` that
//! make sense on one thread (all but `spawn_many_remote`, which needs a thread that drives the
//! runtime while another one spawns).
//!
//! Each scenario runs as a task spawned onto the runtime and awaited by the runtime's own
//! `block_on` (on a current-thread runtime, the thread inside `block_on` is the one that runs
//! the tasks). Prints a Markdown table of ns/op (median of the samples) and the ratio to
//! tokio's current-thread runtime.
//!
//! ```sh
//! cargo run --release -p brisk-benches --bin current_thread [-- --quick]
//! ```

use std::future::Future;
use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use brisk_benches::calibrate_with;
use brisk_benches::rt::{Brisk, Host, Tokio};
use brisk_benches::scenarios::{measure_on, Scenario, Sizes};

/// brisk's current-thread runtime.
struct BriskCt(brisk::Runtime);

impl BriskCt {
    fn new(policy: brisk::SpawnPolicy) -> io::Result<BriskCt> {
        brisk::Builder::new_current_thread()
            .spawn_policy(policy)
            .build()
            .map(BriskCt)
    }
}

impl Host for BriskCt {
    type Rt = Brisk;

    fn rt(&self) -> Brisk {
        Brisk
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.0.spawn(future);
        self.0
            .block_on(handle)
            .unwrap_or_else(|e| panic!("current_thread: a benchmark task failed: {e}"))
    }

    fn spawn_remote_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.0.spawn(future));
    }
}

/// tokio's current-thread runtime.
struct TokioCt(tokio::runtime::Runtime);

impl TokioCt {
    fn new() -> io::Result<TokioCt> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(TokioCt)
    }
}

impl Host for TokioCt {
    type Rt = Tokio;

    fn rt(&self) -> Tokio {
        Tokio
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.0.spawn(future);
        self.0
            .block_on(handle)
            .unwrap_or_else(|e| panic!("current_thread: a benchmark task failed: {e}"))
    }

    fn spawn_remote_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.0.spawn(future));
    }
}

/// Median ns/op of `reps` samples of about `sample` each (iterations calibrated first).
fn time<H: Host>(
    host: &H,
    scenario: Scenario,
    sizes: &Sizes,
    sample: Duration,
    reps: usize,
) -> Result<f64, String> {
    let iters = calibrate_with(sample, |iters| measure_on(host, scenario, sizes, iters))
        .map_err(|e| e.to_string())?;
    let mut ns = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = measure_on(host, scenario, sizes, iters).map_err(|e| e.to_string())?;
        ns.push(s.ns_per_op());
    }
    ns.sort_by(f64::total_cmp);
    Ok(ns[ns.len() / 2])
}

fn main() -> ExitCode {
    let quick = std::env::args().any(|a| a == "--quick");
    let (sample, reps) = if quick {
        (Duration::from_millis(40), 3)
    } else {
        (Duration::from_millis(150), 7)
    };
    let sizes = Sizes::FULL;
    let started = Instant::now();
    let hosts = (
        BriskCt::new(brisk::SpawnPolicy::default()),
        BriskCt::new(brisk::SpawnPolicy::Lazy),
        TokioCt::new(),
    );
    let (Ok(eager), Ok(lazy), Ok(tokio)) = hosts else {
        eprintln!("current_thread: cannot start a runtime");
        return ExitCode::FAILURE;
    };
    println!("| scenario | brisk-eager ct (ns/op) | brisk-lazy ct (ns/op) | tokio ct (ns/op) | eager/tokio | lazy/tokio |");
    println!("|---|---:|---:|---:|---:|---:|");
    for scenario in Scenario::ALL {
        if scenario == Scenario::SpawnManyRemote {
            continue;
        }
        let row = (|| -> Result<(f64, f64, f64), String> {
            Ok((
                time(&eager, scenario, &sizes, sample, reps)?,
                time(&lazy, scenario, &sizes, sample, reps)?,
                time(&tokio, scenario, &sizes, sample, reps)?,
            ))
        })();
        match row {
            Ok((e, l, t)) => println!(
                "| {} | {e:.1} | {l:.1} | {t:.1} | {:.2}× | {:.2}× |",
                scenario.name(),
                e / t,
                l / t
            ),
            Err(err) => {
                eprintln!("current_thread: {}: {err}", scenario.name());
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!(
        "current_thread: done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
