//! `compare`: every scenario on every runtime in one process, interleaved, as a Markdown table.
//!
//! ```text
//! cargo run --release -p brisk-benches --bin compare [-- --quick] [--filter SUBSTR]
//!     [--workers N] [--reps N] [--sample-ms MS] [--json PATH] [--plot DIR]
//! ```
//!
//! The four runtimes are built once and reused. Each scenario is first calibrated per runtime
//! (so that one sample lasts about `--sample-ms`), then every repetition runs one sample of
//! every scenario on every runtime, round-robin over the runtimes (the starting runtime rotates
//! from one repetition to the next), so machine noise hits all of them alike. The table gives
//! the median ns/op and its min–max over the repetitions, and the ratios of medians:
//! brisk-eager / X < 1 means brisk-eager is faster than X. Progress goes to stderr, the report
//! to stdout.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use brisk_benches::{
    calibrate, machine_line, measure, AnyRuntime, BriskCounters, Leaf, RuntimeKind, Scenario,
    Sizes, Summary,
};

/// Ratios within this factor of a threshold are within this machine's noise (issue 6).
const NOISE: f64 = 1.15;

/// Command-line options.
#[derive(Debug)]
struct Args {
    quick: bool,
    filter: Option<String>,
    workers: usize,
    reps: usize,
    sample: Duration,
    json: Option<PathBuf>,
    /// Where to write the ratio chart (`compare-ratios.svg`).
    plot: Option<PathBuf>,
    /// The runtimes to run (all by default).
    runtimes: Vec<RuntimeKind>,
    /// A fixed iteration count per sample instead of calibration (for profiling).
    iters: Option<u64>,
}

const USAGE: &str = "usage: compare [--quick] [--filter SUBSTR] [--workers N] [--reps N] \
                     [--sample-ms MS] [--json PATH] [--plot DIR]

  --quick          about 25 s: 5 repetitions of 60 ms samples (default: 7 of 150 ms, 70-90 s)
  --filter SUBSTR  only scenarios whose name contains SUBSTR (direct_await is added when
                   spawn_ready_await is selected, for the ratio)
  --workers N      worker threads of every runtime (default 2)
  --reps N         repetitions (samples per scenario and runtime)
  --sample-ms MS   target duration of one sample
  --json PATH      also write the results as JSON to PATH
  --plot DIR       also draw the ratio chart, DIR/compare-ratios.svg (redraw it later from
                   the JSON with the plot binary)
  --runtimes LIST  only these runtimes, comma-separated (brisk-eager,brisk-lazy,tokio,
                   async-executor); the ratios that need the others show —
  --iters N        N iterations per sample instead of calibrating (for profiling, e.g.
                   valgrind --tool=callgrind ... --runtimes brisk-eager --iters 100000)";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        quick: false,
        filter: None,
        workers: 2,
        reps: 0,
        sample: Duration::ZERO,
        json: None,
        plot: None,
        runtimes: RuntimeKind::ALL.to_vec(),
        iters: None,
    };
    let mut reps = None;
    let mut sample_ms = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => args.quick = true,
            "--filter" => args.filter = Some(value("--filter")?),
            "--workers" => {
                args.workers = value("--workers")?
                    .parse()
                    .map_err(|e| format!("--workers: {e}"))?;
                if args.workers == 0 {
                    return Err("--workers must be at least 1".into());
                }
            }
            "--reps" => {
                let n: usize = value("--reps")?
                    .parse()
                    .map_err(|e| format!("--reps: {e}"))?;
                reps = Some(n.max(1));
            }
            "--sample-ms" => {
                let ms: u64 = value("--sample-ms")?
                    .parse()
                    .map_err(|e| format!("--sample-ms: {e}"))?;
                sample_ms = Some(ms.max(1));
            }
            "--json" => args.json = Some(PathBuf::from(value("--json")?)),
            "--plot" => args.plot = Some(PathBuf::from(value("--plot")?)),
            "--runtimes" => {
                let list = value("--runtimes")?;
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
            "--iters" => {
                let n: u64 = value("--iters")?
                    .parse()
                    .map_err(|e| format!("--iters: {e}"))?;
                args.iters = Some(n.max(1));
            }
            "-h" | "--help" => return Err(String::new()),
            // `cargo bench` passes `--bench` to every target; ignore it.
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let (default_reps, default_ms) = if args.quick { (5, 60) } else { (7, 150) };
    args.reps = reps.unwrap_or(default_reps);
    args.sample = Duration::from_millis(sample_ms.unwrap_or(default_ms));
    Ok(args)
}

/// What one (scenario, runtime) cell gathered.
#[derive(Debug, Default, Clone)]
struct Cell {
    iters: u64,
    ns_per_op: Vec<f64>,
    error: Option<String>,
    /// brisk's scheduling counters over the measured samples (brisk runtimes only).
    counters: Option<BriskCounters>,
    /// Ops performed in the measured samples.
    ops: u64,
}

impl Cell {
    fn summary(&self) -> Option<Summary> {
        if self.error.is_some() {
            return None;
        }
        Summary::of(&self.ns_per_op)
    }
}

/// One row of the report.
#[derive(Debug)]
struct Row {
    scenario: Scenario,
    /// Indexed like `RuntimeKind::ALL`.
    cells: Vec<Cell>,
}

impl Row {
    fn median(&self, kind: RuntimeKind) -> Option<f64> {
        let i = RuntimeKind::ALL.iter().position(|k| *k == kind)?;
        self.cells.get(i)?.summary().map(|s| s.median)
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("compare: {e}");
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
    let sizes = Sizes::FULL;

    let mut selected: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|s| match &args.filter {
            Some(f) => s.name().contains(f.as_str()),
            None => true,
        })
        .collect();
    if selected.contains(&Scenario::SpawnReadyAwait) && !selected.contains(&Scenario::DirectAwait) {
        selected.insert(0, Scenario::DirectAwait);
    }
    if selected.is_empty() {
        eprintln!("compare: no scenario matches the filter");
        return ExitCode::from(2);
    }

    eprintln!(
        "compare: {} scenarios, {} workers, {} repetitions of ~{} ms samples",
        selected.len(),
        args.workers,
        args.reps,
        args.sample.as_millis()
    );
    // Indexed like `RuntimeKind::ALL`; `None` for a runtime left out by `--runtimes`.
    let mut runtimes: Vec<Option<AnyRuntime>> = Vec::new();
    for kind in RuntimeKind::ALL {
        if !args.runtimes.contains(&kind) {
            runtimes.push(None);
            continue;
        }
        match AnyRuntime::build(kind, args.workers) {
            Ok(rt) => runtimes.push(Some(rt)),
            Err(e) => {
                eprintln!("compare: cannot start {kind}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }

    let mut rows: Vec<Row> = selected
        .iter()
        .map(|&scenario| Row {
            scenario,
            cells: vec![Cell::default(); RuntimeKind::ALL.len()],
        })
        .collect();

    // Calibration (also the warm-up), or the fixed `--iters`.
    for row in rows.iter_mut() {
        eprint!("calibrating {:<26}", row.scenario.name());
        for (cell, rt) in row.cells.iter_mut().zip(&runtimes) {
            let Some(rt) = rt else { continue };
            let iters = match args.iters {
                Some(n) => Ok(n),
                None => calibrate(rt, row.scenario, &sizes, args.sample),
            };
            match iters {
                Ok(iters) => {
                    cell.iters = iters;
                    eprint!(" {}={iters}", rt.kind());
                }
                Err(e) => {
                    eprint!(" {}=FAILED", rt.kind());
                    cell.error = Some(e.to_string());
                }
            }
        }
        eprintln!();
    }

    // The measurement: round-robin over runtimes inside each repetition.
    let n = runtimes.len();
    for rep in 0..args.reps {
        for row in rows.iter_mut() {
            let mut line = format!("[{}/{}] {:<26}", rep + 1, args.reps, row.scenario.name());
            for k in 0..n {
                let i = (k + rep) % n;
                let (cell, Some(rt)) = (&mut row.cells[i], &runtimes[i]) else {
                    continue;
                };
                if cell.error.is_some() {
                    continue;
                }
                // Let the previous runtime's workers go back to sleep.
                std::thread::sleep(Duration::from_millis(2));
                let before = rt.brisk_counters();
                match measure(rt, row.scenario, &sizes, cell.iters) {
                    Ok(sample) => {
                        let ns = sample.ns_per_op();
                        cell.ns_per_op.push(ns);
                        cell.ops += sample.ops;
                        if let (Some(before), Some(after)) = (before, rt.brisk_counters()) {
                            let delta = after.since(&before);
                            cell.counters = Some(cell.counters.map_or(delta, |c| c.plus(&delta)));
                        }
                        let _ = write!(line, "  {}: {}", rt.kind(), fmt_ns(ns));
                    }
                    Err(e) => {
                        let _ = write!(line, "  {}: FAILED", rt.kind());
                        cell.error = Some(e.to_string());
                    }
                }
            }
            eprintln!("{line}");
        }
    }
    drop(runtimes);

    let command = command_line();
    let commit = git_commit();
    let mut report = String::new();
    let _ = writeln!(report, "Command: `{command}`  ");
    let _ = writeln!(report, "Machine: {}  ", machine_line());
    let _ = writeln!(
        report,
        "Commit: {commit}; {} workers per runtime; {} repetitions of ~{} ms samples, \
         interleaved; {:.0} s in all.\n",
        args.workers,
        args.reps,
        args.sample.as_millis(),
        started.elapsed().as_secs_f64()
    );
    report.push_str(&table(&rows));
    report.push('\n');
    report.push_str(&targets_report(&rows));
    report.push('\n');
    report.push_str(&counters_report(&rows));
    print!("{report}");

    let json = to_json(&args, &rows, &command, &commit);
    if let Some(path) = &args.json {
        if let Err(e) = std::fs::write(path, &json) {
            eprintln!("compare: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("compare: wrote {}", path.display());
    }
    if let Some(dir) = &args.plot {
        // Drawn from the JSON, as the plot binary redraws it from a saved file.
        let drawn = serde_json::from_str(&json)
            .map_err(|e| e.to_string())
            .and_then(|doc| brisk_benches::plot::plot_json(&doc, dir));
        match drawn {
            Ok(path) => eprintln!("compare: wrote {}", path.display()),
            Err(e) => {
                eprintln!("compare: cannot draw the chart in {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        }
    }

    let failed = rows
        .iter()
        .flat_map(|r| &r.cells)
        .any(|c| c.error.is_some());
    if failed {
        eprintln!("compare: some measurements FAILED their result check (see the table)");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Formats ns/op with a precision that suits its size.
fn fmt_ns(ns: f64) -> String {
    if ns < 10.0 {
        format!("{ns:.2}")
    } else if ns < 100.0 {
        format!("{ns:.1}")
    } else {
        format!("{ns:.0}")
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    match r {
        Some(r) if r < 1.0 => format!("{r:.3}"),
        Some(r) => format!("{r:.2}"),
        None => "—".to_string(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// The ratio columns of a row: eager/tokio, eager/async-executor, eager/lazy, eager/direct.
fn ratios(row: &Row, direct: Option<f64>) -> [Option<f64>; 4] {
    if row.scenario == Scenario::DirectAwait {
        return [None; 4];
    }
    let eager = row.median(RuntimeKind::BriskEager);
    [
        ratio(eager, row.median(RuntimeKind::Tokio)),
        ratio(eager, row.median(RuntimeKind::AsyncExecutor)),
        ratio(eager, row.median(RuntimeKind::BriskLazy)),
        if row.scenario == Scenario::SpawnReadyAwait {
            ratio(eager, direct)
        } else {
            None
        },
    ]
}

fn direct_median(rows: &[Row]) -> Option<f64> {
    rows.iter()
        .find(|r| r.scenario == Scenario::DirectAwait)
        .and_then(|r| r.median(RuntimeKind::BriskEager))
}

fn table(rows: &[Row]) -> String {
    let direct = direct_median(rows);
    let mut t = String::new();
    t.push_str("| scenario | op |");
    for k in RuntimeKind::ALL {
        let _ = write!(t, " {k} ns/op |");
    }
    t.push_str(" eager/tokio | eager/async-executor | eager/lazy | eager/direct_await |\n");
    t.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let _ = write!(
            t,
            "| {}{} | {} |",
            row.scenario.name(),
            if row.scenario.timer_bound() {
                " ⏱"
            } else {
                ""
            },
            row.scenario.op()
        );
        for cell in &row.cells {
            match (&cell.error, cell.summary()) {
                (Some(_), _) => t.push_str(" **FAILED** |"),
                (None, Some(s)) => {
                    let _ = write!(
                        t,
                        " {} ({}–{}) |",
                        fmt_ns(s.median),
                        fmt_ns(s.min),
                        fmt_ns(s.max)
                    );
                }
                (None, None) => t.push_str(" — |"),
            }
        }
        for r in ratios(row, direct) {
            let _ = write!(t, " {} |", fmt_ratio(r));
        }
        t.push('\n');
    }
    if rows.iter().any(|r| r.scenario.timer_bound()) {
        t.push_str(
            "\n⏱ timer-bound: the time is mostly spent waiting for 0-1 ms timers, so the figure \
             reflects each runtime's timer resolution and wake-up latency more than its CPU \
             cost.\n",
        );
    }
    let failures: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            r.cells
                .iter()
                .zip(RuntimeKind::ALL)
                .filter_map(move |(c, k)| {
                    c.error
                        .as_ref()
                        .map(|e| format!("- {} on {k}: {e}", r.scenario))
                })
        })
        .collect();
    if !failures.is_empty() {
        t.push_str("\nFailures:\n");
        for f in failures {
            t.push_str(&f);
            t.push('\n');
        }
    }
    t
}

/// One target of issue 6, checked against the medians.
#[derive(Debug)]
struct Target {
    scenario: Scenario,
    what: &'static str,
    /// `numerator / denominator` as shown.
    ratio_name: &'static str,
    ratio: Option<f64>,
    /// Met when `ratio <= threshold` (or `<` when `strict`).
    threshold: f64,
    strict: bool,
}

impl Target {
    fn verdict(&self) -> &'static str {
        match self.ratio {
            None => "not measured",
            Some(r) if r < self.threshold || (!self.strict && r == self.threshold) => "met",
            Some(r) if r <= self.threshold * NOISE => "missed (within noise)",
            Some(_) => "MISSED",
        }
    }
}

fn targets(rows: &[Row]) -> Vec<Target> {
    let direct = direct_median(rows);
    let mut out = Vec::new();
    for row in rows {
        let eager = row.median(RuntimeKind::BriskEager);
        let lazy = row.median(RuntimeKind::BriskLazy);
        let tokio = row.median(RuntimeKind::Tokio);
        let best_peer = match (tokio, row.median(RuntimeKind::AsyncExecutor)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let s = row.scenario;
        let t = |what, ratio_name, ratio, threshold, strict| Target {
            scenario: s,
            what,
            ratio_name,
            ratio,
            threshold,
            strict,
        };
        match s {
            Scenario::DirectAwait | Scenario::SpawnLatency => {}
            Scenario::CpuFanout => {
                out.push(t(
                    "brisk-eager keeps brisk-lazy's parallelism",
                    "eager/lazy",
                    ratio(eager, lazy),
                    1.1,
                    false,
                ));
            }
            Scenario::SpawnReadyAwait => {
                out.push(t(
                    "brisk-eager ≥ 10× faster than tokio",
                    "eager/tokio",
                    ratio(eager, tokio),
                    0.1,
                    false,
                ));
                out.push(t(
                    "brisk-eager within 10× of direct_await",
                    "eager/direct_await",
                    ratio(eager, direct),
                    10.0,
                    false,
                ));
            }
            Scenario::GatherMostlyReady | Scenario::AsyncTree(Leaf::None) => {
                out.push(t(
                    "brisk-eager ≥ 5× faster than the better peer",
                    "eager/best peer",
                    ratio(eager, best_peer),
                    0.2,
                    false,
                ));
                out.push(t(
                    "brisk-eager ≥ 2× faster than brisk-lazy",
                    "eager/lazy",
                    ratio(eager, lazy),
                    0.5,
                    false,
                ));
            }
            Scenario::RpcMostlyCached(_) => {
                out.push(t(
                    "brisk-eager ≥ 5% faster than brisk-lazy",
                    "eager/lazy",
                    ratio(eager, lazy),
                    0.95,
                    false,
                ));
                out.push(t(
                    "brisk-eager faster than both peers",
                    "eager/best peer",
                    ratio(eager, best_peer),
                    1.0,
                    true,
                ));
            }
            _ => {
                out.push(t(
                    "brisk-eager ≤ the better peer",
                    "eager/best peer",
                    ratio(eager, best_peer),
                    1.0,
                    false,
                ));
                out.push(t(
                    "brisk-lazy ≤ tokio",
                    "lazy/tokio",
                    ratio(lazy, tokio),
                    1.0,
                    false,
                ));
            }
        }
    }
    out
}

fn targets_report(rows: &[Row]) -> String {
    let list = targets(rows);
    let mut t = String::new();
    if list.is_empty() {
        return t;
    }
    t.push_str("Issue 6 targets (ratios of medians; within 15% of a threshold is noise here):\n\n");
    t.push_str("| scenario | target | ratio | value | threshold | verdict |\n");
    t.push_str("|---|---|---|---:|---:|---|\n");
    for target in &list {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {}{} | {} |",
            target.scenario,
            target.what,
            target.ratio_name,
            fmt_ratio(target.ratio),
            if target.strict { "< " } else { "≤ " },
            target.threshold,
            target.verdict()
        );
    }
    let met = list.iter().filter(|t| t.verdict() == "met").count();
    let _ = writeln!(t, "\n{met} of {} targets met.", list.len());
    t
}

/// brisk-eager's scheduling counters per scenario: where its spawns went.
fn counters_report(rows: &[Row]) -> String {
    let eager = RuntimeKind::ALL
        .iter()
        .position(|k| *k == RuntimeKind::BriskEager)
        .unwrap_or(0);
    let mut t = String::new();
    let mut any = false;
    for row in rows {
        let Some(cell) = row.cells.get(eager) else {
            continue;
        };
        let Some(c) = cell.counters else { continue };
        if c.spawned == 0 {
            continue;
        }
        if !any {
            t.push_str(
                "brisk-eager's spawns, over the measured samples (`RuntimeMetrics`): share \
                 finished inline, suspended in their inline poll, deferred to the queue (budget \
                 or depth spent), and queued tasks run inline by an await; queue polls and \
                 steals per spawn; sleeping workers woken for new work, and wake-ups owed to \
                 a dozing worker instead, per op:\n\n",
            );
            t.push_str(
                "| scenario | spawns/op | inline ready | inline suspended | deferred | \
                 await-inlined | queue polls/spawn | steals/spawn | wake-ups/op | owed/op |\n",
            );
            t.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            any = true;
        }
        let pct = |x: u64| format!("{:.1}%", 100.0 * x as f64 / c.spawned as f64);
        let _ = writeln!(
            t,
            "| {} | {:.2} | {} | {} | {} | {} | {:.2} | {:.3} | {:.4} | {:.4} |",
            row.scenario,
            c.spawned as f64 / cell.ops.max(1) as f64,
            pct(c.eager_completed),
            pct(c.eager_suspended),
            pct(c.eager_deferred),
            pct(c.await_inlined),
            c.polls as f64 / c.spawned as f64,
            c.steals as f64 / c.spawned as f64,
            c.wakeups as f64 / cell.ops.max(1) as f64,
            c.owed_wakeups as f64 / cell.ops.max(1) as f64,
        );
    }
    t
}

/// The command that produced this run, as a user would type it.
fn command_line() -> String {
    let rest: Vec<String> = std::env::args().skip(1).collect();
    if rest.is_empty() {
        "cargo run --release -p brisk-benches --bin compare".to_string()
    } else {
        format!(
            "cargo run --release -p brisk-benches --bin compare -- {}",
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

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:.4}"),
        _ => "null".to_string(),
    }
}

fn to_json(args: &Args, rows: &[Row], command: &str, commit: &str) -> String {
    let direct = direct_median(rows);
    let mut j = String::new();
    let _ = write!(
        j,
        "{{\n  \"command\": {},\n  \"machine\": {},\n  \"commit\": {},\n  \"workers\": {},\n  \
         \"repetitions\": {},\n  \"sample_ms\": {},\n  \"scenarios\": [",
        json_str(command),
        json_str(&machine_line()),
        json_str(commit),
        args.workers,
        args.reps,
        args.sample.as_millis()
    );
    for (ri, row) in rows.iter().enumerate() {
        let _ = write!(
            j,
            "{}\n    {{\"name\": {}, \"op\": {}, \"ops_per_iter\": {}, \"timer_bound\": {}",
            if ri == 0 { "" } else { "," },
            json_str(row.scenario.name()),
            json_str(row.scenario.op()),
            row.scenario.ops_per_iter(&Sizes::FULL),
            row.scenario.timer_bound()
        );
        j.push_str(", \"runtimes\": {");
        for (ci, (cell, kind)) in row.cells.iter().zip(RuntimeKind::ALL).enumerate() {
            let s = cell.summary();
            let samples: Vec<String> = cell.ns_per_op.iter().map(|x| json_num(Some(*x))).collect();
            let _ = write!(
                j,
                "{}\n      {}: {{\"iters\": {}, \"median_ns\": {}, \"min_ns\": {}, \
                 \"max_ns\": {}, \"samples_ns\": [{}], \"error\": {}}}",
                if ci == 0 { "" } else { "," },
                json_str(kind.name()),
                cell.iters,
                json_num(s.map(|s| s.median)),
                json_num(s.map(|s| s.min)),
                json_num(s.map(|s| s.max)),
                samples.join(", "),
                cell.error.as_deref().map_or("null".to_string(), json_str)
            );
        }
        let [et, ea, el, ed] = ratios(row, direct);
        let _ = write!(
            j,
            "\n    }}, \"ratios\": {{\"eager/tokio\": {}, \"eager/async-executor\": {}, \
             \"eager/lazy\": {}, \"eager/direct_await\": {}}}}}",
            json_num(et),
            json_num(ea),
            json_num(el),
            json_num(ed)
        );
    }
    j.push_str("\n  ],\n  \"targets\": [");
    for (i, t) in targets(rows).iter().enumerate() {
        let _ = write!(
            j,
            "{}\n    {{\"scenario\": {}, \"target\": {}, \"ratio_name\": {}, \"ratio\": {}, \
             \"threshold\": {}, \"verdict\": {}}}",
            if i == 0 { "" } else { "," },
            json_str(t.scenario.name()),
            json_str(t.what),
            json_str(t.ratio_name),
            json_num(t.ratio),
            t.threshold,
            json_str(t.verdict())
        );
    }
    j.push_str("\n  ]\n}\n");
    j
}
