//! The stall report, shown with the hazard it is for: a `std::sync::Mutex` guard held across an
//! eager `spawn` whose child takes the same lock deadlocks the worker, and brisk names the
//! worker, the duration and the spawn site on stderr.
//!
//! The deadlock runs in a child process (this test binary run again with `BRISK_STALL_CHILD`
//! set); the test reads the child's stderr until the report, then kills the child.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

const CHILD: &str = "BRISK_STALL_CHILD";
const TEST: &str = "a_lock_held_across_spawn_is_reported_with_its_spawn_site";

/// The child process: deadlocks worker 0, then waits (at most a minute, so that a missing
/// report ends the parent's read instead of hanging it).
fn deadlock() -> ! {
    let rt = brisk::Runtime::builder()
        .worker_threads(1)
        .stall_threshold(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    let lock = Arc::new(Mutex::new(0));
    let _task = rt.spawn(async move {
        let guard = lock.lock().unwrap();
        let child_lock = lock.clone();
        eprintln!("expect {}:{}:", file!(), line!() + 1);
        let child = brisk::spawn(async move { *child_lock.lock().unwrap() += 1 });
        drop(guard);
        child.await.unwrap();
    });
    let (_keep, never) = mpsc::channel::<()>();
    let _ = never.recv_timeout(Duration::from_secs(60));
    std::process::exit(3);
}

#[test]
fn a_lock_held_across_spawn_is_reported_with_its_spawn_site() {
    if std::env::var_os(CHILD).is_some() {
        deadlock();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut site = None;
    let mut report = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(s) = line.strip_prefix("expect ") {
            site = Some(s.to_string());
        } else if line.starts_with("brisk: worker") {
            report = Some(line);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let site = site.expect("the child printed its spawn site");
    let report = report.expect("no stall report on stderr");
    assert!(
        report.starts_with("brisk: worker 0 has been polling the task spawned at "),
        "{report}"
    );
    assert!(report.contains(&site), "{report} does not name {site}");
    assert!(
        report.contains("(inline, in spawn). A blocking call or a lock held across spawn?"),
        "{report}"
    );
}
