//! `fairness`: how late a 1 ms heartbeat runs while the runtime is busy with a storm of
//! spawns, under brisk Eager, brisk Lazy, tokio and async-executor, in one run (issue 5).
//!
//! ```text
//! cargo run --release -p brisk-benches --bin fairness [-- --reps N] [--ticks N] [--workers N]
//!     [--burst N] [--storm-tasks N] [--hog N] [--runtimes LIST] [--json PATH] [--plot DIR]
//! ```
//!
//! `--hog N` starts N busy threads in this process, outside every runtime, for the whole run:
//! CPU contention that is the same for every runtime and every run (instead of whatever else
//! the machine happens to be doing).
//!
//! See `brisk_benches::fairness` for the workload. Each repetition runs, for every runtime in
//! turn (the first one rotating), the heartbeat alone (the baseline: timer resolution and
//! idle wake-up) and then the heartbeat with the storm. The table pools every tick of every
//! repetition. Progress goes to stderr, the report to stdout.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use brisk_benches::fairness::{fairness_run, quantile, FairnessConfig};
use brisk_benches::{machine_line, AnyRuntime, BriskCounters, RuntimeKind};

const USAGE: &str = "usage: fairness [--reps N] [--ticks N] [--workers N] [--burst N] \
                     [--storm-tasks N] [--hog N] [--runtimes LIST] [--json PATH] [--plot DIR]

  --reps N         repetitions, interleaved over the runtimes (default 3)
  --ticks N        heartbeat ticks per storm run (default 1000; the idle run has a quarter)
  --workers N      worker threads of every runtime (default 2)
  --burst N        children per storm burst (default 1000)
  --storm-tasks N  storm tasks (default 4)
  --hog N          N busy threads in this process, outside the runtimes, for the whole run:
                   reproducible CPU contention (default 0)
  --runtimes LIST  comma-separated (brisk-eager,brisk-lazy,tokio,async-executor; default all)
  --json PATH      also write every tick's lateness as JSON to PATH
  --plot DIR       also draw the lateness CDFs, DIR/fairness-lateness.svg (redraw it later
                   from the JSON with the plot binary)";

#[derive(Debug)]
struct Args {
    reps: usize,
    workers: usize,
    hog: usize,
    cfg: FairnessConfig,
    runtimes: Vec<RuntimeKind>,
    json: Option<PathBuf>,
    plot: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        reps: 3,
        workers: 2,
        hog: 0,
        cfg: FairnessConfig::STORM,
        runtimes: RuntimeKind::ALL.to_vec(),
        json: None,
        plot: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            let n: u64 = v.parse().map_err(|e| format!("{name}: {e}"))?;
            Ok(n)
        };
        match a.as_str() {
            "--reps" => args.reps = num("--reps")?.max(1) as usize,
            "--ticks" => args.cfg.ticks = num("--ticks")?.max(4),
            "--workers" => args.workers = num("--workers")?.max(1) as usize,
            "--burst" => args.cfg.burst = num("--burst")?.max(1),
            "--storm-tasks" => args.cfg.storm_tasks = num("--storm-tasks")?.max(1),
            "--hog" => args.hog = num("--hog")? as usize,
            "--runtimes" => {
                let list = it.next().ok_or("--runtimes needs a value")?;
                let mut kinds = Vec::new();
                for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    match RuntimeKind::ALL.into_iter().find(|k| k.name() == name) {
                        Some(k) => kinds.push(k),
                        None => return Err(format!("--runtimes: unknown runtime `{name}`")),
                    }
                }
                if kinds.is_empty() {
                    return Err("--runtimes needs at least one runtime".into());
                }
                args.runtimes = kinds;
            }
            "--json" => args.json = Some(PathBuf::from(it.next().ok_or("--json needs a value")?)),
            "--plot" => args.plot = Some(PathBuf::from(it.next().ok_or("--plot needs a value")?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

/// Everything gathered for one (runtime, load) row.
#[derive(Debug, Default)]
struct Row {
    lateness: Vec<Duration>,
    /// Each repetition's p99.
    p99s: Vec<Duration>,
    children: u64,
    elapsed: Duration,
    counters: Option<BriskCounters>,
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("fairness: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let started = Instant::now();
    let _hogs = Hogs::start(args.hog);
    let storm = args.cfg;
    let idle = FairnessConfig {
        ticks: (storm.ticks / 4).max(4),
        ..storm.idle()
    };
    let mut runtimes = Vec::new();
    for &kind in &args.runtimes {
        match AnyRuntime::build(kind, args.workers) {
            Ok(rt) => runtimes.push(rt),
            Err(e) => {
                eprintln!("fairness: cannot start {kind}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // rows[runtime][0 = idle, 1 = storm]
    let mut rows: Vec<[Row; 2]> = runtimes.iter().map(|_| Default::default()).collect();
    eprintln!(
        "fairness: {} runtimes, {} workers, {} hog threads, {} repetitions of {} idle + {} storm \
         ticks",
        runtimes.len(),
        args.workers,
        args.hog,
        args.reps,
        idle.ticks,
        storm.ticks
    );
    for rep in 0..args.reps {
        for k in 0..runtimes.len() {
            let i = (k + rep) % runtimes.len();
            let rt = &runtimes[i];
            for (load, cfg) in [idle, storm].into_iter().enumerate() {
                std::thread::sleep(Duration::from_millis(20));
                let sample = match fairness_run(rt, cfg) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("fairness: {} FAILED: {e}", rt.kind());
                        return ExitCode::FAILURE;
                    }
                };
                let mut sorted = sample.lateness.clone();
                sorted.sort_unstable();
                eprintln!(
                    "[{}/{}] {:<15} {:<5} p50 {} p99 {} max {}",
                    rep + 1,
                    args.reps,
                    rt.kind().name(),
                    ["idle", "storm"][load],
                    us(quantile(&sorted, 0.5)),
                    us(quantile(&sorted, 0.99)),
                    us(quantile(&sorted, 1.0)),
                );
                let row = &mut rows[i][load];
                row.p99s.push(quantile(&sorted, 0.99));
                row.lateness.extend(sample.lateness);
                row.children += sample.children;
                row.elapsed += sample.elapsed;
                if let Some(c) = sample.counters {
                    row.counters = Some(row.counters.map_or(c, |r| r.plus(&c)));
                }
            }
        }
    }
    drop(runtimes);

    let mut out = String::new();
    let _ = writeln!(out, "Command: `{}`  ", command_line());
    let _ = writeln!(out, "Machine: {}  ", machine_line());
    let _ = writeln!(
        out,
        "Commit: {}; {} workers per runtime; {} busy hog threads; {} repetitions, interleaved; \
         {:.0} s in all.  ",
        git_commit(),
        args.workers,
        args.hog,
        args.reps,
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        out,
        "Workload: heartbeat `sleep_until(last wake + {} ms)`, {} ticks per storm run ({} idle); \
         storm: {} tasks, each looping {{ spawn {} ready children (~{} mix rounds each), await \
         them all, {} mix rounds of its own }}.\n",
        storm.period.as_millis(),
        storm.ticks,
        idle.ticks,
        storm.storm_tasks,
        storm.burst,
        storm.child_work,
        storm.burst_work
    );
    out.push_str(
        "| runtime | load | ticks | lateness p50 | p90 | p99 | max | p99 per run (min–max) | \
         storm children/ms | eager: inline / deferred |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (kind, pair) in args.runtimes.iter().zip(&rows) {
        for (load, row) in pair.iter().enumerate() {
            let mut sorted = row.lateness.clone();
            sorted.sort_unstable();
            let mut p99s = row.p99s.clone();
            p99s.sort_unstable();
            let rate = if load == 1 && !row.elapsed.is_zero() {
                format!(
                    "{:.0}",
                    row.children as f64 / (row.elapsed.as_secs_f64() * 1e3)
                )
            } else {
                "—".to_string()
            };
            let eager = match (load, row.counters) {
                (1, Some(c)) if *kind == RuntimeKind::BriskEager && c.spawned > 0 => format!(
                    "{:.0}% / {:.0}%",
                    100.0 * c.eager_completed as f64 / c.spawned as f64,
                    100.0 * c.eager_deferred as f64 / c.spawned as f64
                ),
                _ => "—".to_string(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {}–{} | {} | {} |",
                kind,
                ["idle", "storm"][load],
                sorted.len(),
                us(quantile(&sorted, 0.5)),
                us(quantile(&sorted, 0.9)),
                us(quantile(&sorted, 0.99)),
                us(quantile(&sorted, 1.0)),
                us(*p99s.first().unwrap_or(&Duration::ZERO)),
                us(*p99s.last().unwrap_or(&Duration::ZERO)),
                rate,
                eager
            );
        }
    }
    // The storm's p99 and max, brisk-eager against the others.
    let storm_q = |kind: RuntimeKind, q: f64| {
        let i = args.runtimes.iter().position(|k| *k == kind)?;
        let mut sorted = rows[i][1].lateness.clone();
        sorted.sort_unstable();
        Some(quantile(&sorted, q).as_secs_f64())
    };
    let mut ratios = Vec::new();
    for other in [
        RuntimeKind::BriskLazy,
        RuntimeKind::Tokio,
        RuntimeKind::AsyncExecutor,
    ] {
        let (Some(e99), Some(o99), Some(emax), Some(omax)) = (
            storm_q(RuntimeKind::BriskEager, 0.99),
            storm_q(other, 0.99),
            storm_q(RuntimeKind::BriskEager, 1.0),
            storm_q(other, 1.0),
        ) else {
            continue;
        };
        ratios.push(format!(
            "brisk-eager/{other} p99 {:.2}, max {:.2}",
            e99 / o99.max(1e-9),
            emax / omax.max(1e-9)
        ));
    }
    if !ratios.is_empty() {
        let _ = writeln!(out, "\nStorm lateness ratios: {}.", ratios.join("; "));
    }
    print!("{out}");

    let json = to_json(&args, &rows);
    if let Some(path) = &args.json {
        if let Err(e) = std::fs::write(path, json.to_string()) {
            eprintln!("fairness: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("fairness: wrote {}", path.display());
    }
    if let Some(dir) = &args.plot {
        // Drawn from the JSON, as the plot binary redraws it from a saved file.
        match brisk_benches::plot::plot_json(&json, dir) {
            Ok(path) => eprintln!("fairness: wrote {}", path.display()),
            Err(e) => {
                eprintln!("fairness: cannot draw the chart in {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// The run as JSON: the setup and every tick's lateness per runtime and load, in µs.
fn to_json(args: &Args, rows: &[[Row; 2]]) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = args
        .runtimes
        .iter()
        .zip(rows)
        .flat_map(|(kind, pair)| {
            pair.iter().enumerate().map(move |(load, row)| {
                let lateness: Vec<f64> = row
                    .lateness
                    .iter()
                    .map(|d| (d.as_secs_f64() * 1e7).round() / 10.0)
                    .collect();
                serde_json::json!({
                    "runtime": kind.name(),
                    "load": (["idle", "storm"][load]),
                    "children": row.children,
                    "elapsed_s": row.elapsed.as_secs_f64(),
                    "lateness_us": lateness,
                })
            })
        })
        .collect();
    serde_json::json!({
        "command": command_line(),
        "machine": machine_line(),
        "commit": git_commit(),
        "workers": args.workers,
        "hog": args.hog,
        "repetitions": args.reps,
        "ticks": args.cfg.ticks,
        "burst": args.cfg.burst,
        "storm_tasks": args.cfg.storm_tasks,
        "runs": runs,
    })
}

/// A duration in µs (ms with two decimals above 10 ms).
fn us(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}

/// The command that produced this run, as a user would type it.
fn command_line() -> String {
    let rest: Vec<String> = std::env::args().skip(1).collect();
    if rest.is_empty() {
        "cargo run --release -p brisk-benches --bin fairness".to_string()
    } else {
        format!(
            "cargo run --release -p brisk-benches --bin fairness -- {}",
            rest.join(" ")
        )
    }
}

/// `git describe --always --dirty` of the work tree, if git is there.
fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// `--hog`: busy threads outside every runtime, spinning until dropped.
struct Hogs {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Hogs {
    fn start(n: usize) -> Hogs {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..n)
            .map(|i| {
                let stop = stop.clone();
                std::thread::Builder::new()
                    .name(format!("hog-{i}"))
                    .spawn(move || {
                        let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ i as u64;
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            for _ in 0..10_000 {
                                x ^= x << 13;
                                x ^= x >> 7;
                                x ^= x << 17;
                            }
                            std::hint::black_box(x);
                        }
                    })
                    .expect("spawn a hog thread")
            })
            .collect();
        Hogs { stop, threads }
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
