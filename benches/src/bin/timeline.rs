//! `timeline`: runs one scenario under brisk's Eager and Lazy policies with the scheduling
//! trace on, and writes each run's trace as Chrome trace-event JSON (for Perfetto) and as a
//! standalone SVG timeline, side by side (issue 18).
//!
//! ```text
//! cargo run --release -p brisk-benches --features trace --bin timeline [-- SCENARIO]
//!     [--out DIR] [--workers N] [--width PX] [--iters N] [--window FROM_US,TO_US]
//! ```
//!
//! SCENARIO is `gather_mostly_ready` (the default), `async_tree_none`, `rpc_mostly_cached` or
//! `storm` (the fairness storm, a few heartbeat ticks of it). Each runtime first runs the
//! scenario once (a warm-up whose trace is dropped), then `--iters` iterations
//! (default 3: long enough for the second worker to wake up and steal); that run's trace is written to `DIR/timeline-SCENARIO-POLICY.{json,svg}` (DIR defaults to
//! `target/timeline`). The paths are printed.

#![forbid(unsafe_code)]

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use brisk::trace::{MarkKind, Record, SvgOptions, Timeline};
use brisk_benches::fairness::{fairness_run, FairnessConfig};
use brisk_benches::{measure, AnyRuntime, Leaf, Miss, RuntimeKind, Scenario, Sizes};

const USAGE: &str = "usage: timeline [SCENARIO] [--out DIR] [--workers N] [--width PX] [--iters N]

  SCENARIO      gather_mostly_ready (default), async_tree_none, rpc_mostly_cached, storm
  --iters N     iterations of the scenario in the traced run (default 3; not for storm)
  --window A,B  draw only microseconds A to B from the trace's first event in the SVG
  --out DIR     where to write the files (default target/timeline)
  --workers N   worker threads (default 2)
  --width PX    width of the SVG (default 1600)";

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// A scenario of the comparison, one iteration at the sizes below.
    Scenario(Scenario),
    /// The fairness storm, a few heartbeat ticks.
    Storm,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Scenario(Scenario::RpcMostlyCached(_)) => "rpc_mostly_cached",
            Workload::Scenario(s) => s.name(),
            Workload::Storm => "storm",
        }
    }
}

#[derive(Debug)]
struct Args {
    workload: Workload,
    out: PathBuf,
    workers: usize,
    width: u32,
    iters: u64,
    /// Microseconds from the trace's first event: the SVG's window.
    window: Option<(u64, u64)>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        workload: Workload::Scenario(Scenario::GatherMostlyReady),
        out: PathBuf::from("target/timeline"),
        workers: 2,
        width: 1600,
        iters: 3,
        window: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--out" => args.out = PathBuf::from(value("--out")?),
            "--workers" => {
                args.workers = value("--workers")?
                    .parse::<usize>()
                    .map_err(|e| format!("--workers: {e}"))?
                    .max(1);
            }
            "--width" => {
                args.width = value("--width")?
                    .parse()
                    .map_err(|e| format!("--width: {e}"))?;
            }
            "--iters" => {
                args.iters = value("--iters")?
                    .parse::<u64>()
                    .map_err(|e| format!("--iters: {e}"))?
                    .max(1);
            }
            "--window" => {
                let v = value("--window")?;
                let (a, b) = v.split_once(',').ok_or("--window needs FROM_US,TO_US")?;
                let parse = |x: &str| {
                    x.trim()
                        .parse::<u64>()
                        .map_err(|e| format!("--window: {e}"))
                };
                args.window = Some((parse(a)?, parse(b)?));
            }
            "gather_mostly_ready" => {
                args.workload = Workload::Scenario(Scenario::GatherMostlyReady);
            }
            "async_tree_none" => {
                args.workload = Workload::Scenario(Scenario::AsyncTree(Leaf::None))
            }
            "rpc_mostly_cached" | "rpc_mostly_cached_channel" => {
                args.workload = Workload::Scenario(Scenario::RpcMostlyCached(Miss::Channel));
            }
            "storm" | "fairness" => args.workload = Workload::Storm,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

/// Sizes that give a timeline one can read: the comparison's for `gather_mostly_ready` (1,000
/// spawns in one poll, nearly all inline, the yielding tenth queued), a 4-level
/// tree (1,555 tasks), 20 requests.
const SIZES: Sizes = Sizes {
    tree_depth: 4,
    rpc_batch: 20,
    ..Sizes::FULL
};

/// A few heartbeat ticks of the fairness storm, with bursts of 500.
const STORM: FairnessConfig = FairnessConfig {
    ticks: 3,
    period: Duration::from_millis(1),
    storm_tasks: 4,
    burst: 500,
    child_work: 100,
    burst_work: 20_000,
};

fn run_once(rt: &AnyRuntime, workload: Workload, iters: u64) -> Result<(), String> {
    match workload {
        Workload::Scenario(s) => measure(rt, s, &SIZES, iters)
            .map(drop)
            .map_err(|e| e.to_string()),
        Workload::Storm => fairness_run(rt, STORM).map(drop),
    }
}

fn trace_of(rt: &AnyRuntime) -> Vec<Record> {
    match rt {
        AnyRuntime::BriskEager(h) | AnyRuntime::BriskLazy(h) => h.runtime().take_trace(),
        AnyRuntime::Tokio(_) | AnyRuntime::AsyncExecutor(_) => Vec::new(),
    }
}

fn write_files(
    records: &[Record],
    dir: &Path,
    stem: &str,
    options: &SvgOptions,
) -> std::io::Result<(PathBuf, PathBuf)> {
    let json = dir.join(format!("{stem}.json"));
    let svg = dir.join(format!("{stem}.svg"));
    brisk::trace::write_chrome_json(records, BufWriter::new(File::create(&json)?))?;
    brisk::trace::write_svg(records, options, BufWriter::new(File::create(&svg)?))?;
    Ok((json, svg))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("timeline: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("timeline: cannot create {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    let name = args.workload.name();
    for kind in [RuntimeKind::BriskEager, RuntimeKind::BriskLazy] {
        let rt = match AnyRuntime::build(kind, args.workers) {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("timeline: {}: cannot start: {e}", kind.name());
                return ExitCode::FAILURE;
            }
        };
        // Warm-up (thread start, first allocations); its trace is dropped.
        let traced = run_once(&rt, args.workload, 1).and_then(|()| {
            drop(trace_of(&rt));
            run_once(&rt, args.workload, args.iters)
        });
        if let Err(e) = traced {
            eprintln!("timeline: {name} on {}: {e}", kind.name());
            return ExitCode::FAILURE;
        }
        let records = trace_of(&rt);
        let timeline = Timeline::from_records(&records);
        let mut options = SvgOptions::default();
        options.width = args.width;
        options.window = args
            .window
            .map(|(a, b)| (timeline.start + a * 1000, timeline.start + b * 1000));
        options.title = Some(format!(
            "{name} on {}, {} workers: {} events, {} slices, {} steals, {:.2} ms",
            kind.name(),
            args.workers,
            records.len(),
            timeline.slices.len(),
            timeline
                .marks
                .iter()
                .filter(|m| m.kind == MarkKind::Steal)
                .count(),
            (timeline.end - timeline.start) as f64 / 1e6
        ));
        let stem = format!("timeline-{name}-{}", kind.name());
        match write_files(&records, &args.out, &stem, &options) {
            Ok((json, svg)) => {
                println!("{}", svg.display());
                println!("{}", json.display());
            }
            Err(e) => {
                eprintln!("timeline: writing {stem}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!("Open the .svg files in a browser; load a .json in https://ui.perfetto.dev.");
    ExitCode::SUCCESS
}
