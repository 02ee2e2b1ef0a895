//! `idle_cpu`: the CPU time an otherwise idle runtime spends on one 1 ms interval, brisk's
//! against tokio's, read from `/proc/self/stat` (utime + stime) over a fixed wall time.
//!
//! ```sh
//! cargo run --release -p brisk-benches --bin idle_cpu -- --secs 10 [--only brisk|tokio]
//! ```
//!
//! Each runtime runs alone (one after the other) with 2 workers, the interval in a spawned
//! task; the figures are CPU ms in all, per wall second, and the ticks seen (about 1,000 per
//! second if none is missed).

use std::time::{Duration, Instant};

/// utime + stime of this process, in clock ticks (Linux only).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

/// Clock ticks per second of `/proc/self/stat`.
fn ticks_per_sec() -> u64 {
    // SAFETY: `sysconf` with a valid name has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(n).ok().filter(|&n| n > 0).unwrap_or(100)
}

fn report(name: &str, secs: u64, cpu: u64, ticks: u64) {
    let ms = cpu as f64 * 1000.0 / ticks_per_sec() as f64;
    println!(
        "| {name} | {:.1} | {:.1} | {ticks} |",
        ms,
        ms / secs as f64,
        ticks = ticks
    );
}

fn main() {
    let mut secs = 10u64;
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => secs = args.next().and_then(|s| s.parse().ok()).unwrap_or(10),
            // One runtime only (for a profiler).
            "--only" => only = args.next(),
            _ => {}
        }
    }
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let wall = Duration::from_secs(secs);
    println!("| runtime | CPU ms over {secs} s | CPU ms per s | ticks |\n|---|---|---|---|");

    if run("brisk") {
        let rt = brisk::Builder::new().worker_threads(2).build().unwrap();
        let before = cpu_ticks();
        let ticks = rt
            .block_on(rt.spawn(async move {
                let mut iv = brisk::time::interval(Duration::from_millis(1));
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed() < wall {
                    iv.tick().await;
                    n += 1;
                }
                n
            }))
            .unwrap();
        report("brisk", secs, cpu_ticks() - before, ticks);
    }
    if run("tokio") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let before = cpu_ticks();
        let ticks = rt
            .block_on(rt.spawn(async move {
                let mut iv = tokio::time::interval(Duration::from_millis(1));
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed() < wall {
                    iv.tick().await;
                    n += 1;
                }
                n
            }))
            .unwrap();
        report("tokio", secs, cpu_ticks() - before, ticks);
    }
}
