//! SVG charts of the benchmark results (issue 18), drawn with `plotters`' SVG backend (no
//! system fonts needed: the SVG names a font family and the browser picks it).
//!
//! Both charts are drawn from the JSON the binaries write (`compare --json`, `fairness
//! --json`), so they can be redrawn from a saved run without rerunning it (the `plot` binary):
//!
//! - [`ratio_chart`]: per scenario, brisk-eager's time divided by each other runtime's (median
//!   of medians), as a bar from 1 on a log axis, with a whisker from the smallest to the largest
//!   ratio the repetitions allow (eager's min / X's max to eager's max / X's min);
//! - [`lateness_chart`]: the heartbeat's lateness CDF per runtime, storm (solid) and idle
//!   (thin).
//!
//! ```
//! let json: serde_json::Value = serde_json::from_str(r#"{"scenarios": [
//!   {"name": "spawn_ready_await", "timer_bound": false, "runtimes": {
//!     "brisk-eager": {"median_ns": 30.0, "min_ns": 28.0, "max_ns": 31.0},
//!     "tokio": {"median_ns": 227.0, "min_ns": 194.0, "max_ns": 257.0}}}]}"#).unwrap();
//! let bars = brisk_benches::plot::ratios_from_compare_json(&json).unwrap();
//! assert_eq!(bars[0].ratios[0].against, "tokio");
//! let path = std::env::temp_dir().join(format!("brisk-plot-doc-{}.svg", std::process::id()));
//! brisk_benches::plot::ratio_chart(&path, "example", &bars).unwrap();
//! assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;

/// The runtimes brisk-eager is compared with, in chart order, and their colours.
const AGAINST: [(&str, RGBColor); 3] = [
    ("brisk-lazy", RGBColor(0x59, 0xa1, 0x4f)),
    ("tokio", RGBColor(0x4e, 0x79, 0xa7)),
    ("async-executor", RGBColor(0xe1, 0x57, 0x59)),
];

/// Every runtime's colour in the lateness chart.
const RUNTIME_COLOURS: [(&str, RGBColor); 4] = [
    ("brisk-eager", RGBColor(0xf2, 0x8e, 0x2b)),
    ("brisk-lazy", RGBColor(0x59, 0xa1, 0x4f)),
    ("tokio", RGBColor(0x4e, 0x79, 0xa7)),
    ("async-executor", RGBColor(0xe1, 0x57, 0x59)),
];

/// One ratio: brisk-eager's time over another runtime's.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    /// The other runtime.
    pub against: String,
    /// Ratio of the medians.
    pub median: f64,
    /// Eager's fastest repetition over the other's slowest.
    pub low: f64,
    /// Eager's slowest repetition over the other's fastest.
    pub high: f64,
}

/// One scenario's ratios.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioBar {
    /// The scenario's name.
    pub scenario: String,
    /// Mostly waiting for timers (marked ⏱).
    pub timer_bound: bool,
    /// The ratios against brisk-lazy, tokio and async-executor, in that order, those with data.
    pub ratios: Vec<Ratio>,
}

/// The ratios of a `compare --json` document, one bar group per scenario that has any
/// (`direct_await`, which has no peers, is left out).
///
/// # Errors
/// If the document has no `scenarios` array.
pub fn ratios_from_compare_json(doc: &Value) -> Result<Vec<RatioBar>, String> {
    let scenarios = doc["scenarios"]
        .as_array()
        .ok_or("not a `compare --json` document: no `scenarios` array")?;
    let stat = |runtimes: &Value, name: &str, key: &str| runtimes[name][key].as_f64();
    let mut bars = Vec::new();
    for s in scenarios {
        let name = s["name"].as_str().unwrap_or("?").to_owned();
        if name == "direct_await" {
            continue;
        }
        let rts = &s["runtimes"];
        let (Some(em), Some(elo), Some(ehi)) = (
            stat(rts, "brisk-eager", "median_ns"),
            stat(rts, "brisk-eager", "min_ns"),
            stat(rts, "brisk-eager", "max_ns"),
        ) else {
            continue;
        };
        let ratios: Vec<Ratio> = AGAINST
            .iter()
            .filter_map(|(other, _)| {
                let m = stat(rts, other, "median_ns")?;
                let lo = stat(rts, other, "min_ns")?;
                let hi = stat(rts, other, "max_ns")?;
                (m > 0.0 && lo > 0.0 && hi > 0.0).then(|| Ratio {
                    against: (*other).to_owned(),
                    median: em / m,
                    low: elo / hi,
                    high: ehi / lo,
                })
            })
            .collect();
        if !ratios.is_empty() {
            bars.push(RatioBar {
                scenario: name,
                timer_bound: s["timer_bound"].as_bool().unwrap_or(false),
                ratios,
            });
        }
    }
    Ok(bars)
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws the ratio chart of `bars` to the SVG file `path`.
///
/// # Errors
/// If `bars` is empty or the file cannot be written.
pub fn ratio_chart(path: &Path, title: &str, bars: &[RatioBar]) -> Result<(), String> {
    if bars.is_empty() {
        return Err("no ratios to plot".into());
    }
    let n = bars.len();
    let (mut lo, mut hi) = (1.0f64, 1.0f64);
    for r in bars.iter().flat_map(|b| &b.ratios) {
        lo = lo.min(r.low).min(r.median);
        hi = hi.max(r.high).max(r.median);
    }
    // Room on the right for the legend.
    let (lo, hi) = (lo / 1.3, hi * 4.0);
    let height = 110 + 34 * n as u32;
    let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let label_w = 230;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(label_w)
        .build_cartesian_2d((lo..hi).log_scale(), -0.5f64..(n as f64 - 0.5))
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("brisk-eager time / other runtime's time (log scale; < 1: brisk-eager is faster)")
        .x_labels(20)
        .x_label_formatter(&|v| round_label(*v))
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(err)?;
    // Scenario i at the top for i = 0.
    let y_of = |i: usize| (n - 1 - i) as f64;
    let group = 0.8;
    let k = AGAINST.len() as f64;
    // The first comparison on top of its group.
    let offset = |j: usize| group / 2.0 - group / k * (j as f64 + 0.5);
    let half = group / k / 2.0 * 0.85;
    for (j, (other, colour)) in AGAINST.iter().enumerate() {
        let items: Vec<(f64, Ratio)> = bars
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let r = b.ratios.iter().find(|r| r.against == *other)?;
                Some((y_of(i) + offset(j), r.clone()))
            })
            .collect();
        let colour = *colour;
        chart
            .draw_series(items.iter().map(|(y, r)| {
                Rectangle::new([(1.0, y - half), (r.median, y + half)], colour.filled())
            }))
            .map_err(err)?
            .label(format!("vs {other}"))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        // Whiskers: min–max of the ratio, with caps.
        chart
            .draw_series(items.iter().flat_map(|(y, r)| {
                let style = BLACK.mix(0.7).stroke_width(1);
                [
                    PathElement::new(vec![(r.low, *y), (r.high, *y)], style),
                    PathElement::new(
                        vec![(r.low, y - half / 2.0), (r.low, y + half / 2.0)],
                        style,
                    ),
                    PathElement::new(
                        vec![(r.high, y - half / 2.0), (r.high, y + half / 2.0)],
                        style,
                    ),
                ]
            }))
            .map_err(err)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, -0.5), (1.0, n as f64 - 0.5)],
            BLACK.stroke_width(1),
        )))
        .map_err(err)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)?;
    // Scenario names, right-aligned left of the plot.
    let style = ("sans-serif", 13)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    for (i, b) in bars.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(lo, y_of(i)));
        let name = if b.timer_bound {
            format!("{} (timer-bound)", b.scenario)
        } else {
            b.scenario.clone()
        };
        root.draw(&Text::new(name, (x - 8, y), style.clone()))
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// A log-axis label: 1, 2 or 5 times a power of ten, the other ticks unlabelled.
fn round_label(v: f64) -> String {
    if v <= 0.0 {
        return String::new();
    }
    let p = 10f64.powf(v.log10().floor());
    let lead = v / p;
    if [1.0, 2.0, 5.0].iter().any(|m| (lead - m).abs() < 0.02) {
        let digits = (-v.log10().floor()).max(0.0) as usize;
        format!("{v:.digits$}")
    } else {
        String::new()
    }
}

/// One runtime's heartbeat lateness under one load.
#[derive(Debug, Clone, PartialEq)]
pub struct LatenessSeries {
    /// The runtime.
    pub runtime: String,
    /// `idle` or `storm`.
    pub load: String,
    /// Every tick's lateness, in µs (any order).
    pub lateness_us: Vec<f64>,
}

/// The series of a `fairness --json` document.
///
/// # Errors
/// If the document has no `runs` array.
pub fn lateness_from_fairness_json(doc: &Value) -> Result<Vec<LatenessSeries>, String> {
    let runs = doc["runs"]
        .as_array()
        .ok_or("not a `fairness --json` document: no `runs` array")?;
    Ok(runs
        .iter()
        .map(|r| LatenessSeries {
            runtime: r["runtime"].as_str().unwrap_or("?").to_owned(),
            load: r["load"].as_str().unwrap_or("?").to_owned(),
            lateness_us: r["lateness_us"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default(),
        })
        .filter(|s| !s.lateness_us.is_empty())
        .collect())
}

/// Draws the lateness CDFs of `series` to the SVG file `path`: the storm runs solid, the
/// idle ones thin.
///
/// # Errors
/// If `series` is empty or the file cannot be written.
pub fn lateness_chart(path: &Path, title: &str, series: &[LatenessSeries]) -> Result<(), String> {
    if series.is_empty() {
        return Err("no lateness to plot".into());
    }
    let all = series.iter().flat_map(|s| s.lateness_us.iter().copied());
    let (lo, hi) = all.fold((f64::MAX, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (lo, hi) = ((lo.max(1.0)) / 1.5, hi.max(10.0) * 1.5);
    let root = SVGBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0f64..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("lateness of a 1 ms heartbeat tick, µs (log scale)")
        .y_desc("fraction of ticks at most this late")
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .x_labels(12)
        .x_label_formatter(&|v| round_label(*v))
        .draw()
        .map_err(err)?;
    for s in series {
        let colour = RUNTIME_COLOURS
            .iter()
            .find(|(name, _)| *name == s.runtime)
            .map_or(BLACK, |(_, c)| *c);
        let mut xs = s.lateness_us.clone();
        xs.sort_by(f64::total_cmp);
        let n = xs.len() as f64;
        let points: Vec<(f64, f64)> = xs
            .iter()
            .enumerate()
            .map(|(i, &x)| (x.max(lo), (i + 1) as f64 / n))
            .collect();
        let storm = s.load == "storm";
        let style = if storm {
            colour.stroke_width(2)
        } else {
            colour.mix(0.6).stroke_width(1)
        };
        chart
            .draw_series(LineSeries::new(points, style))
            .map_err(err)?
            .label(format!("{} ({})", s.runtime, s.load))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Draws the chart of a saved `compare --json` or `fairness --json` document into `dir`
/// (`compare-ratios.svg` or `fairness-lateness.svg`) and returns its path.
///
/// # Errors
/// If the document is neither, or the file cannot be written.
pub fn plot_json(doc: &Value, dir: &Path) -> Result<std::path::PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(err)?;
    let subtitle = |doc: &Value| {
        let commit = doc["commit"].as_str().unwrap_or("?");
        let workers = doc["workers"].as_u64().unwrap_or(0);
        format!("commit {commit}, {workers} workers")
    };
    if doc.get("scenarios").is_some() {
        let path = dir.join("compare-ratios.svg");
        let title = format!(
            "brisk-eager vs the others, ratio of medians ({})",
            subtitle(doc)
        );
        ratio_chart(&path, &title, &ratios_from_compare_json(doc)?)?;
        Ok(path)
    } else if doc.get("runs").is_some() {
        let path = dir.join("fairness-lateness.svg");
        let title = format!("Heartbeat lateness CDF, storm and idle ({})", subtitle(doc));
        lateness_chart(&path, &title, &lateness_from_fairness_json(doc)?)?;
        Ok(path)
    } else {
        Err("not a `compare --json` or `fairness --json` document".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_only_on_1_2_5() {
        assert_eq!(round_label(0.1), "0.1");
        assert_eq!(round_label(0.2), "0.2");
        assert_eq!(round_label(0.3), "");
        assert_eq!(round_label(5.0), "5");
        assert_eq!(round_label(1000.0), "1000");
    }

    #[test]
    fn compare_ratios_and_whiskers() {
        let doc: Value = serde_json::from_str(
            r#"{"scenarios": [
              {"name": "direct_await", "runtimes": {"brisk-eager": {"median_ns": 9, "min_ns": 9, "max_ns": 9}}},
              {"name": "x", "timer_bound": true, "runtimes": {
                "brisk-eager": {"median_ns": 10.0, "min_ns": 8.0, "max_ns": 20.0},
                "brisk-lazy": {"median_ns": 20.0, "min_ns": 10.0, "max_ns": 40.0},
                "tokio": {"median_ns": null, "min_ns": null, "max_ns": null}}}]}"#,
        )
        .unwrap();
        let bars = ratios_from_compare_json(&doc).unwrap();
        assert_eq!(bars.len(), 1, "direct_await has no peers");
        assert!(bars[0].timer_bound);
        assert_eq!(
            bars[0].ratios,
            vec![Ratio {
                against: "brisk-lazy".into(),
                median: 0.5,
                low: 0.2,
                high: 2.0
            }]
        );
    }

    #[test]
    fn fairness_json_draws_a_line_per_run() {
        let doc: Value = serde_json::from_str(
            r#"{"commit": "c", "workers": 2, "runs": [
              {"runtime": "tokio", "load": "storm", "lateness_us": [1000.0, 1200.5, 900.0]},
              {"runtime": "brisk-eager", "load": "idle", "lateness_us": [1100.0]},
              {"runtime": "brisk-lazy", "load": "idle", "lateness_us": []}]}"#,
        )
        .unwrap();
        let series = lateness_from_fairness_json(&doc).unwrap();
        assert_eq!(series.len(), 2, "empty runs are dropped");
        let dir = std::env::temp_dir().join(format!("brisk-plot-test-{}", std::process::id()));
        let path = plot_json(&doc, &dir).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("tokio (storm)") && svg.contains("brisk-eager (idle)"));
        assert!(!svg.contains("brisk-lazy"), "the empty run is not drawn");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(plot_json(&serde_json::json!({"other": 1}), &dir).is_err());
    }
}
