//! `sleep_memory`: peak memory of 1,000,000 concurrent sleeps, brisk's against tokio's.
//!
//! ```sh
//! cargo run --release -p brisk-benches --bin sleep_memory [-- --tasks N] [--workers N]
//! ```
//!
//! Each runtime runs in a child process of its own (this binary re-executed with `--child
//! NAME`), so that one runtime's freed memory cannot lower the other's figure. The child spawns
//! N tasks (default 1,000,000) from `block_on`, each sleeping until a deadline spread over
//! 1-2 s after its spawn; waits until every sleep is registered with its timer (its first poll
//! returned `Pending`), reads the resident set (`VmRSS`), then waits until every sleep has
//! completed and reads the peak resident set (`VmHWM`, which covers spawning, registering and
//! firing). The baseline is `VmHWM` before the runtime is built. Figures in MB (10^6 bytes).

use std::future::Future;
use std::pin::pin;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A `/proc/self/status` field in kB (`VmRSS`, `VmHWM`).
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

/// The sleep of task `i`: 1-2 s, spread by a multiplicative hash so that deadlines scatter
/// over the wheel as independent random ones would.
fn duration_of(i: usize) -> Duration {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    Duration::from_millis(1000 + h % 1000)
}

/// Awaits `sleep`, counting it in `registered` once its first poll returned `Pending` (it is
/// then in the timer) and in `done` when it completes.
async fn counted<S: Future<Output = ()>>(sleep: S, registered: &AtomicUsize, done: &AtomicUsize) {
    let mut sleep = pin!(sleep);
    let mut first = true;
    std::future::poll_fn(|cx| {
        let r = sleep.as_mut().poll(cx);
        if first {
            first = false;
            registered.fetch_add(1, Ordering::Relaxed);
        }
        r
    })
    .await;
    done.fetch_add(1, Ordering::Relaxed);
}

/// Waits (polling every 10 ms of real time) until `counter` reaches `n`.
fn wait_for(counter: &AtomicUsize, n: usize) {
    while counter.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(10));
    }
}

struct Figures {
    baseline_kb: u64,
    registered_rss_kb: u64,
    peak_kb: u64,
    registered_after: Duration,
    total: Duration,
}

fn child(name: &str, tasks: usize, workers: usize) -> Figures {
    let baseline_kb = status_kb("VmHWM");
    let registered = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    // The runtime, kept until every sleep has completed.
    let rt: Box<dyn std::any::Any> = match name {
        "brisk" => {
            let rt = brisk::Builder::new()
                .worker_threads(workers)
                .build()
                .unwrap();
            rt.block_on(async {
                for i in 0..tasks {
                    let (r, d) = (registered.clone(), done.clone());
                    brisk::spawn(async move {
                        counted(brisk::time::sleep(duration_of(i)), &r, &d).await;
                    });
                }
            });
            Box::new(rt)
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for i in 0..tasks {
                    let (r, d) = (registered.clone(), done.clone());
                    tokio::spawn(async move {
                        counted(tokio::time::sleep(duration_of(i)), &r, &d).await;
                    });
                }
            });
            Box::new(rt)
        }
        other => panic!("sleep_memory: unknown runtime {other}"),
    };
    wait_for(&registered, tasks);
    let registered_after = start.elapsed();
    let registered_rss_kb = status_kb("VmRSS");
    wait_for(&done, tasks);
    let total = start.elapsed();
    drop(rt);
    Figures {
        baseline_kb,
        registered_rss_kb,
        peak_kb: status_kb("VmHWM"),
        registered_after,
        total,
    }
}

fn main() -> ExitCode {
    let mut tasks = 1_000_000usize;
    let mut workers = 2usize;
    let mut child_of = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match a.as_str() {
            "--tasks" => tasks = value().parse().unwrap_or(tasks),
            "--workers" => workers = value().parse().unwrap_or(workers),
            "--child" => child_of = Some(value()),
            other => {
                eprintln!("sleep_memory: unknown argument {other}");
                eprintln!("usage: sleep_memory [--tasks N] [--workers N]");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(name) = child_of {
        let f = child(&name, tasks, workers);
        // One line for the parent: name, then the figures.
        println!(
            "{name} {} {} {} {} {}",
            f.baseline_kb,
            f.registered_rss_kb,
            f.peak_kb,
            f.registered_after.as_millis(),
            f.total.as_millis()
        );
        return ExitCode::SUCCESS;
    }

    println!("{}\n", brisk_benches::machine_line());
    println!(
        "{tasks} tasks each sleeping 1-2 s, {workers} workers, each runtime in its own process\n"
    );
    println!(
        "| runtime | RSS, all registered (MB) | peak RSS (MB) | peak - baseline (MB) | \
         registered after (ms) | all done after (ms) |\n|---|---|---|---|---|---|"
    );
    let exe = std::env::current_exe().expect("current_exe");
    for name in ["brisk", "tokio"] {
        let out = Command::new(&exe)
            .args(["--child", name, "--tasks", &tasks.to_string()])
            .args(["--workers", &workers.to_string()])
            .output()
            .expect("run the child process");
        let line = String::from_utf8_lossy(&out.stdout);
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        if !out.status.success() || v.len() != 5 {
            eprintln!(
                "sleep_memory: the {name} child failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            return ExitCode::FAILURE;
        }
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {} | {} |",
            mb(v[1]),
            mb(v[2]),
            mb(v[2].saturating_sub(v[0])),
            v[3],
            v[4]
        );
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_spread_over_one_to_two_seconds() {
        let d: Vec<_> = (0..1000).map(super::duration_of).collect();
        assert!(d
            .iter()
            .all(|d| d.as_millis() >= 1000 && d.as_millis() < 2000));
        let distinct: std::collections::BTreeSet<_> = d.iter().collect();
        assert!(distinct.len() > 500);
    }
}
