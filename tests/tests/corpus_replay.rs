//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) and the inputs that found
//! bugs (`fuzz/regressions/<target>/`) through the same checks the fuzz targets run
//! (`brisk_tests::reliability`), on stable, as part of `cargo test --workspace`.
//!
//! The binary installs the counting allocator, so the `scheduler_program` replay also checks
//! that a dropped runtime leaves no allocation behind. The tests take one lock so that they
//! never run at the same time (their allocations would blur each other's counts).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use brisk_tests::reliability::{
    alloc::CountingAlloc, corpus_files, scheduler_program, task_state, timer_wheel,
};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

static SERIAL: Mutex<()> = Mutex::new(());

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Runs `check` on every file of `fuzz/<kind>/<target>/`; fails listing every failing file.
/// `min_files` (at least 1): how many files the directory must at least hold (a corpus that
/// went missing must not pass silently).
fn replay(kind: &str, target: &str, min_files: usize, check: fn(&[u8])) {
    assert!(min_files >= 1, "a replay of nothing cannot fail");
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = fuzz_dir().join(kind).join(target);
    let files = corpus_files(&dir);
    assert!(
        files.len() >= min_files,
        "{}: {} files, expected at least {min_files}",
        dir.display(),
        files.len()
    );
    let mut failed = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(file.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} inputs in {} fail (reproduce one with \
         `RUSTC_BOOTSTRAP=1 cargo fuzz run {target} {kind}/{target}/<file>` in fuzz/): {failed:?}",
        failed.len(),
        files.len(),
        dir.display()
    );
}

#[test]
fn timer_wheel_corpus() {
    replay("corpus", "timer_wheel", 10, timer_wheel::check);
}

#[test]
fn task_state_corpus() {
    replay("corpus", "task_state", 10, task_state::check);
}

#[test]
fn scheduler_program_corpus() {
    replay("corpus", "scheduler_program", 10, scheduler_program::check);
}

/// Every directory of `fuzz/regressions/` is replayed through its target's check, and must
/// hold at least one input: a regressions directory for a target this file does not know, or
/// an empty one, fails instead of being skipped.
#[test]
fn regressions() {
    let dir = fuzz_dir().join("regressions");
    let mut targets: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    targets.sort();
    assert!(!targets.is_empty(), "{}: no regressions", dir.display());
    for target in &targets {
        let check: fn(&[u8]) = match target.as_str() {
            "task_state" => task_state::check,
            "timer_wheel" => timer_wheel::check,
            "scheduler_program" => scheduler_program::check,
            other => panic!("fuzz/regressions/{other}: no such fuzz target"),
        };
        replay("regressions", target, 1, check);
    }
}
