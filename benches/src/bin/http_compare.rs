//! `http_compare`: a hyper "hello" server on brisk (eager, and lazy on request) and on tokio,
//! each in turn under the same `wrk` load, in one run (issue 15).
//!
//! ```text
//! benches/http_compare.sh [--conns 64,256,1000] [--duration S] [--reps N] [--workers N]
//!     [--runtimes LIST] [--modes keep-alive,close]
//! ```
//!
//! The script installs `wrk` from the distribution's packages if it is missing, raises the
//! open-file limit and runs this binary. For every repetition, connection count and mode
//! (HTTP/1.1 keep-alive, or `Connection: close` on every request), every runtime serves the
//! same `wrk -t1 -c<conns> -d<S>s --latency` run in turn, the first runtime rotating between
//! repetitions so that no runtime always goes first. Each server runs in this process with
//! `--workers` worker threads, hyper's HTTP/1.1 server with its defaults (keep-alive on), and
//! `TCP_NODELAY`; the response is a fixed 13-byte body. The table gives the median over the
//! repetitions of requests/s and of wrk's p99 latency, and brisk-eager's ratios to tokio.
//! Progress goes to stderr, the report to stdout. Only 127.0.0.1 is used.

#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::{Command, ExitCode};
use std::time::Duration;

use brisk_compat::hyper::{BriskIo, BriskTimer};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};

const USAGE: &str = "usage: http_compare [--conns LIST] [--duration S] [--reps N] [--workers N] \
                     [--runtimes LIST] [--modes LIST]

  --conns LIST     comma-separated connection counts (default 64,256,1000)
  --duration S     seconds per wrk run (default 5)
  --reps N         repetitions, the runtime order rotating (default 3)
  --workers N      worker threads of every runtime (default 2)
  --runtimes LIST  brisk-eager,brisk-lazy,tokio (default brisk-eager,tokio)
  --modes LIST     keep-alive,close (default both)";

/// A runtime serving the hello server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    BriskEager,
    BriskLazy,
    Tokio,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::BriskEager => "brisk-eager",
            Kind::BriskLazy => "brisk-lazy",
            Kind::Tokio => "tokio",
        }
    }
}

#[derive(Debug)]
struct Args {
    conns: Vec<u32>,
    duration: u32,
    reps: usize,
    workers: usize,
    runtimes: Vec<Kind>,
    modes: Vec<bool>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        conns: vec![64, 256, 1000],
        duration: 5,
        reps: 3,
        workers: 2,
        runtimes: vec![Kind::BriskEager, Kind::Tokio],
        modes: vec![true, false],
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--conns" => {
                args.conns = value("--conns")?
                    .split(',')
                    .map(|c| c.trim().parse().map_err(|e| format!("--conns {c}: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--duration" => {
                args.duration = value("--duration")?.parse().map_err(|e| format!("{e}"))?
            }
            "--reps" => args.reps = value("--reps")?.parse().map_err(|e| format!("{e}"))?,
            "--workers" => {
                args.workers = value("--workers")?.parse().map_err(|e| format!("{e}"))?
            }
            "--runtimes" => {
                args.runtimes = value("--runtimes")?
                    .split(',')
                    .map(|n| match n.trim() {
                        "brisk-eager" => Ok(Kind::BriskEager),
                        "brisk-lazy" => Ok(Kind::BriskLazy),
                        "tokio" => Ok(Kind::Tokio),
                        other => Err(format!("--runtimes: unknown runtime `{other}`")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "--modes" => {
                args.modes = value("--modes")?
                    .split(',')
                    .map(|m| match m.trim() {
                        "keep-alive" => Ok(true),
                        "close" => Ok(false),
                        other => Err(format!("--modes: unknown mode `{other}`")),
                    })
                    .collect::<Result<_, _>>()?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if args.reps == 0 || args.workers == 0 || args.runtimes.is_empty() || args.conns.is_empty() {
        return Err("--reps, --workers, --runtimes and --conns must not be empty or 0".into());
    }
    Ok(args)
}

async fn hello(_req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!",
    ))))
}

/// A running server: its address, and dropping it stops it.
enum Server {
    Brisk(brisk::Runtime, SocketAddr),
    Tokio(tokio::runtime::Runtime, SocketAddr),
}

impl Server {
    fn start(kind: Kind, workers: usize) -> std::io::Result<Server> {
        match kind {
            Kind::BriskEager | Kind::BriskLazy => {
                let rt = brisk::Runtime::builder()
                    .worker_threads(workers)
                    .spawn_policy(if kind == Kind::BriskEager {
                        brisk::SpawnPolicy::default()
                    } else {
                        brisk::SpawnPolicy::Lazy
                    })
                    .build()?;
                let listener = rt.block_on(brisk::net::TcpListener::bind("127.0.0.1:0"))?;
                let addr = listener.local_addr()?;
                drop(rt.spawn(async move {
                    while let Ok((stream, _)) = listener.accept().await {
                        let _ = stream.set_nodelay(true);
                        drop(brisk::spawn(async move {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .timer(BriskTimer::new())
                                .serve_connection(
                                    BriskIo::new(stream),
                                    hyper::service::service_fn(hello),
                                )
                                .await;
                        }));
                    }
                }));
                Ok(Server::Brisk(rt, addr))
            }
            Kind::Tokio => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .enable_all()
                    .build()?;
                let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
                let addr = listener.local_addr()?;
                rt.spawn(async move {
                    while let Ok((stream, _)) = listener.accept().await {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(async move {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .timer(hyper_util::rt::TokioTimer::new())
                                .serve_connection(
                                    hyper_util::rt::TokioIo::new(stream),
                                    hyper::service::service_fn(hello),
                                )
                                .await;
                        });
                    }
                });
                Ok(Server::Tokio(rt, addr))
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Server::Brisk(_, a) | Server::Tokio(_, a) => *a,
        }
    }

    fn stop(self) {
        match self {
            Server::Brisk(rt, _) => rt.shutdown_timeout(Duration::from_secs(2)),
            Server::Tokio(rt, _) => rt.shutdown_timeout(Duration::from_secs(2)),
        }
    }
}

/// One wrk run's result.
#[derive(Clone, Copy, Debug)]
struct Sample {
    rps: f64,
    p99_us: f64,
    errors: u64,
}

/// Runs wrk against `addr` and parses its report.
fn wrk(addr: SocketAddr, conns: u32, duration: u32, keep_alive: bool) -> Result<Sample, String> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t1",
        &format!("-c{conns}"),
        &format!("-d{duration}s"),
        "--latency",
    ]);
    if !keep_alive {
        cmd.args(["-H", "Connection: close"]);
    }
    cmd.arg(format!("http://{addr}/"));
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run wrk ({e}); benches/http_compare.sh installs it"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let field = |prefix: &str| -> Option<&str> {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let rps: f64 = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's report: {text}"))?;
    let p99_us = field("99%")
        .and_then(parse_wrk_duration)
        .ok_or_else(|| format!("no 99% latency in wrk's report: {text}"))?;
    // "Socket errors: connect 0, read 0, write 0, timeout 0" and "Non-2xx or 3xx responses: N".
    let mut errors = 0;
    if let Some(v) = field("Socket errors:") {
        errors += v
            .split(',')
            .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
            .sum::<u64>();
    }
    if let Some(v) = field("Non-2xx or 3xx responses:") {
        errors += v.parse::<u64>().unwrap_or(0);
    }
    Ok(Sample {
        rps,
        p99_us,
        errors,
    })
}

/// wrk's durations: `512.00us`, `1.23ms`, `2.00s`, in µs.
fn parse_wrk_duration(v: &str) -> Option<f64> {
    let v = v.trim();
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e6)
    } else {
        return None;
    };
    num.trim().parse::<f64>().ok().map(|n| n * scale)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("http_compare: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if e.is_empty() { 0 } else { 2 });
        }
    };
    // samples[(conns index, mode index, runtime index)]
    let mut samples: Vec<Vec<Sample>> =
        vec![Vec::new(); args.conns.len() * args.modes.len() * args.runtimes.len()];
    let at = |c: usize, m: usize, r: usize| (c * args.modes.len() + m) * args.runtimes.len() + r;
    for rep in 0..args.reps {
        for (ci, &conns) in args.conns.iter().enumerate() {
            for (mi, &keep_alive) in args.modes.iter().enumerate() {
                for k in 0..args.runtimes.len() {
                    let ri = (k + rep + ci + mi) % args.runtimes.len();
                    let kind = args.runtimes[ri];
                    let server = match Server::start(kind, args.workers) {
                        Ok(s) => s,
                        Err(e) => {
                            eprintln!("http_compare: cannot start {}: {e}", kind.name());
                            return ExitCode::FAILURE;
                        }
                    };
                    let sample = wrk(server.addr(), conns, args.duration, keep_alive);
                    server.stop();
                    let sample = match sample {
                        Ok(s) => s,
                        Err(e) => {
                            eprintln!("http_compare: {e}");
                            return ExitCode::FAILURE;
                        }
                    };
                    eprintln!(
                        "[{}/{}] {:<11} {:>4} conns {:<10} {:>9.0} req/s  p99 {:>8.0} µs  errors {}",
                        rep + 1,
                        args.reps,
                        kind.name(),
                        conns,
                        if keep_alive { "keep-alive" } else { "close" },
                        sample.rps,
                        sample.p99_us,
                        sample.errors
                    );
                    samples[at(ci, mi, ri)].push(sample);
                }
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Command: `benches/http_compare.sh {}`  ",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    let _ = writeln!(out, "Machine: {}  ", brisk_benches::machine_line());
    let _ = writeln!(
        out,
        "{} workers per server; wrk -t1, {} s per run; {} repetitions, order rotating; medians.\n",
        args.workers, args.duration, args.reps
    );
    out.push_str(
        "| conns | mode | runtime | req/s | p99 | errors | req/s vs tokio | p99 vs tokio |\n",
    );
    out.push_str("|---:|---|---|---:|---:|---:|---:|---:|\n");
    let tokio = args.runtimes.iter().position(|&k| k == Kind::Tokio);
    for (ci, &conns) in args.conns.iter().enumerate() {
        for (mi, &keep_alive) in args.modes.iter().enumerate() {
            let stats = |ri: usize| {
                let s = &samples[at(ci, mi, ri)];
                let mut rps: Vec<f64> = s.iter().map(|x| x.rps).collect();
                let mut p99: Vec<f64> = s.iter().map(|x| x.p99_us).collect();
                let errors: u64 = s.iter().map(|x| x.errors).sum();
                (median(&mut rps), median(&mut p99), errors)
            };
            for (ri, kind) in args.runtimes.iter().enumerate() {
                let (rps, p99, errors) = stats(ri);
                let (r_rps, r_p99) = match tokio {
                    Some(t) if t != ri => {
                        let (t_rps, t_p99, _) = stats(t);
                        (
                            format!("{:.2}", rps / t_rps.max(1e-9)),
                            format!("{:.2}", p99 / t_p99.max(1e-9)),
                        )
                    }
                    _ => ("—".into(), "—".into()),
                };
                let _ = writeln!(
                    out,
                    "| {conns} | {} | {} | {rps:.0} | {:.2} ms | {errors} | {r_rps} | {r_p99} |",
                    if keep_alive { "keep-alive" } else { "close" },
                    kind.name(),
                    p99 / 1e3,
                );
            }
        }
    }
    print!("{out}");
    ExitCode::SUCCESS
}
