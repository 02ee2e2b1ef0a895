//! Records the rustc version and the peers' versions (from the workspace `Cargo.lock`) for the
//! machine line of the benchmark reports.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    if let Ok(out) = Command::new(rustc).arg("--version").output() {
        let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !v.is_empty() {
            println!("cargo:rustc-env=BRISK_BENCH_RUSTC={v}");
        }
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let lock = Path::new(&dir).join("..").join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    if let Ok(text) = std::fs::read_to_string(&lock) {
        for (krate, var) in [
            ("tokio", "BRISK_BENCH_TOKIO"),
            ("async-executor", "BRISK_BENCH_ASYNC_EXECUTOR"),
            ("async-io", "BRISK_BENCH_ASYNC_IO"),
        ] {
            if let Some(v) = locked_version(&text, krate) {
                println!("cargo:rustc-env={var}={v}");
            }
        }
    }
}

/// The version of `krate` in a Cargo.lock text.
fn locked_version(lock: &str, krate: &str) -> Option<String> {
    let name_line = format!("name = \"{krate}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == name_line {
            let v = lines.next()?.trim();
            return v
                .strip_prefix("version = \"")
                .and_then(|r| r.strip_suffix('"'))
                .map(str::to_string);
        }
    }
    None
}
