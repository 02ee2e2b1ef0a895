//! `plot`: redraws the SVG charts from saved JSON results, without rerunning anything.
//!
//! ```text
//! cargo run --release -p brisk-benches --bin plot -- FILE.json [FILE.json ...] [--out DIR]
//! ```
//!
//! Each FILE is the output of `compare --json` (→ `DIR/compare-ratios.svg`) or `fairness
//! --json` (→ `DIR/fairness-lateness.svg`); DIR defaults to `target/plots`. The paths written
//! are printed.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: plot FILE.json [FILE.json ...] [--out DIR]

  FILE.json   written by `compare --json` or `fairness --json`
  --out DIR   where to write the SVG charts (default target/plots)";

fn main() -> ExitCode {
    let mut files = Vec::new();
    let mut out = PathBuf::from("target/plots");
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => match it.next() {
                Some(d) => out = PathBuf::from(d),
                None => {
                    eprintln!("plot: --out needs a value\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => files.push(PathBuf::from(a)),
        }
    }
    if files.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    for file in files {
        let doc = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
            .and_then(|doc| brisk_benches::plot::plot_json(&doc, &out));
        match doc {
            Ok(path) => println!("{}", path.display()),
            Err(e) => {
                eprintln!("plot: {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
