//! The trace exports (issue 18): Chrome trace-event JSON checked with serde_json, the SVG
//! timeline's structure, and (where Chromium is installed) a headless screenshot of the SVG
//! that must not be blank.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use brisk::trace::{Record, SliceKind, SvgOptions, Timeline};
use brisk::Runtime;
use serde_json::Value;

/// The line of the child `spawn` call in [`workload`], for the spawn-site check.
const CHILD_SPAWN_LINE: u32 = 34;

/// A parent queued with `spawn_lazy` from `block_on` spawns ready children (polled inline,
/// nested in its poll) and children that yield once (queued, woken, polled later), then awaits
/// them; several such parents run on 2 workers.
fn workload() -> Vec<Record> {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let total = rt.block_on(async {
        let mut parents = Vec::new();
        for p in 0..8u64 {
            parents.push(brisk::spawn_lazy(async move {
                let mut children = Vec::new();
                for c in 0..6u64 {
                    let child = async move {
                        if c % 3 == 2 {
                            brisk::task::yield_now().await;
                        }
                        p * 10 + c
                    };
                    // Keep this call on line CHILD_SPAWN_LINE.
                    children.push(brisk::spawn(child));
                }
                let mut sum = 0;
                for h in children {
                    sum += h.await.unwrap();
                }
                sum
            }));
        }
        let mut total = 0;
        for h in parents {
            total += h.await.unwrap();
        }
        total
    });
    // sum over p of (60p + 15)
    assert_eq!(total, (0..8u64).map(|p| 60 * p + 15).sum::<u64>());
    rt.take_trace()
}

fn chrome_events(records: &[Record]) -> Vec<Value> {
    let mut out = Vec::new();
    brisk::trace::write_chrome_json(records, &mut out).unwrap();
    let doc: Value = serde_json::from_slice(&out).expect("the export is valid JSON");
    doc["traceEvents"]
        .as_array()
        .expect("a traceEvents array")
        .clone()
}

fn num(e: &Value, key: &str) -> f64 {
    e[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {e}"))
}

#[test]
fn chrome_json_has_the_required_fields() {
    let records = workload();
    let events = chrome_events(&records);
    assert!(!events.is_empty());
    let mut starts = HashSet::new();
    let mut finishes = Vec::new();
    for e in &events {
        let ph = e["ph"].as_str().unwrap_or_else(|| panic!("no ph in {e}"));
        assert!(e["name"].is_string(), "no name in {e}");
        for key in ["ts", "pid", "tid"] {
            assert!(num(e, key) >= 0.0, "{key} is negative in {e}");
        }
        match ph {
            "X" => assert!(num(e, "dur") >= 0.0, "dur is negative in {e}"),
            "s" | "f" => {
                let id = e["id"].as_u64().unwrap_or_else(|| panic!("no id in {e}"));
                if ph == "s" {
                    assert!(starts.insert(id), "flow id {id} starts twice");
                } else {
                    assert_eq!(e["bp"], "e", "a flow end binds to its enclosing slice");
                    finishes.push(id);
                }
            }
            "M" | "i" => {}
            other => panic!("unexpected phase {other} in {e}"),
        }
    }
    for id in &finishes {
        assert!(starts.contains(id), "flow {id} ends without a start");
    }
    assert_eq!(starts.len(), finishes.len(), "every flow starts and ends");
    // The queued children were spawned and woken: there are arrows.
    assert!(!finishes.is_empty(), "no flow events");
}

#[test]
fn chrome_json_nests_inline_polls_in_their_parent_and_names_the_spawn_site() {
    let records = workload();
    let events = chrome_events(&records);
    let names: HashMap<u64, String> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| {
            let name = e["args"]["name"].as_str().unwrap().to_owned();
            (e["tid"].as_u64().unwrap(), name)
        })
        .collect();
    // Which workers record anything depends on timing; `block_on` always polls.
    assert!(
        names.values().any(|n| n.starts_with("block_on (thread ")),
        "{names:?}"
    );
    for n in names.values() {
        assert!(
            n.starts_with("worker ") || n.starts_with("block_on (thread "),
            "{n}"
        );
    }

    // (tid, start, end, depth, name, cat) of every slice, in nanoseconds.
    let slices: Vec<(u64, u64, u64, u64, String, String)> = events
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| {
            let start = (num(e, "ts") * 1000.0).round() as u64;
            let dur = (num(e, "dur") * 1000.0).round() as u64;
            (
                e["tid"].as_u64().unwrap(),
                start,
                start + dur,
                e["args"]["depth"].as_u64().unwrap(),
                e["name"].as_str().unwrap().to_owned(),
                e["cat"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let site = format!("{}:{CHILD_SPAWN_LINE}:", file!());
    let inline_children: Vec<_> = slices
        .iter()
        .filter(|s| s.5 == "inline" && s.4.starts_with(&site))
        .collect();
    assert!(
        !inline_children.is_empty(),
        "no inline slice named by the child spawn site {site}"
    );
    // Perfetto needs the slices of a thread to nest strictly: any two are disjoint or one
    // contains the other.
    for a in &slices {
        for b in slices.iter().filter(|b| b.0 == a.0) {
            let disjoint = a.2 <= b.1 || b.2 <= a.1;
            let nested = (a.1 <= b.1 && b.2 <= a.2) || (b.1 <= a.1 && a.2 <= b.2);
            assert!(disjoint || nested, "slices {a:?} and {b:?} overlap partly");
        }
    }
    // The parents were queued (`spawn_lazy`): their spawns have arrows.
    assert!(events.iter().any(|e| e["cat"] == "spawn" && e["ph"] == "s"));
    // A spawn arrow starts inside the poll that spawned (Perfetto binds it to that slice) and
    // ends where a poll starts.
    for e in events.iter().filter(|e| e["cat"] == "spawn") {
        let (tid, ts) = (
            e["tid"].as_u64().unwrap(),
            (num(e, "ts") * 1000.0).round() as u64,
        );
        let bound = match e["ph"].as_str() {
            Some("s") => slices.iter().any(|p| p.0 == tid && p.1 <= ts && ts <= p.2),
            _ => slices.iter().any(|p| p.0 == tid && p.1 == ts),
        };
        assert!(bound, "flow event {e} is not bound to a slice");
    }
    for s in slices.iter().filter(|s| s.3 > 0) {
        assert!(
            slices
                .iter()
                .any(|p| p.0 == s.0 && p.3 + 1 == s.3 && p.1 <= s.1 && s.2 <= p.2),
            "slice {s:?} is not nested in a slice one level up on its lane"
        );
    }
}

#[test]
fn svg_has_a_lane_per_thread_and_a_group_per_slice() {
    let records = workload();
    let timeline = Timeline::from_records(&records);
    let mut out = Vec::new();
    let mut options = SvgOptions::default();
    options.title = Some("brisk <test> & co".to_owned());
    brisk::trace::write_svg(&records, &options, &mut out).unwrap();
    let svg = String::from_utf8(out).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.ends_with("</svg>\n"));
    assert!(svg.contains("brisk &lt;test&gt; &amp; co"), "title escaped");
    assert_eq!(
        svg.matches("<g class=\"slice\">").count(),
        timeline.slices.len(),
        "one group per slice"
    );
    assert_eq!(
        svg.matches("<rect class=\"lane\"").count(),
        timeline.lanes.len()
    );
    for lane in &timeline.lanes {
        assert!(
            svg.contains(&format!(">{}</text>", lane.name)),
            "{}",
            lane.name
        );
    }
    assert!(timeline.slices.iter().any(|s| s.kind == SliceKind::Inline));
    assert_eq!(
        svg.matches("<path class=\"flow\"").count(),
        timeline
            .flows
            .iter()
            .filter(|f| f.from_lane != f.to_lane)
            .count(),
        "one arrow per flow between lanes"
    );
    // Tags balance (a cheap well-formedness check: no element is left open).
    for tag in ["g", "text", "title", "rect", "svg"] {
        let opens =
            svg.matches(&format!("<{tag} ")).count() + svg.matches(&format!("<{tag}>")).count();
        let closes = svg.matches(&format!("</{tag}>")).count()
            + if tag == "rect" {
                svg.matches("/>").count()
            } else {
                0
            };
        if tag == "rect" {
            assert!(closes >= opens, "{tag}: {opens} opened, {closes} closed");
        } else {
            assert_eq!(opens, closes, "{tag}: {opens} opened, {closes} closed");
        }
    }
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brisk-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Decodes an RGB(A) PNG into (distinct colours, fraction of pixels that are not white,
/// number of saturated pixels: slice colours, not the greys of lanes and text).
fn png_ink(path: &Path) -> (usize, f64, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "expected an RGB screenshot, got {:?}",
        info.color_type
    );
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = &buf[..info.buffer_size()];
    let mut colours = HashSet::new();
    let (mut ink, mut saturated, mut total) = (0usize, 0usize, 0usize);
    for px in pixels.chunks_exact(channels) {
        total += 1;
        colours.insert((px[0], px[1], px[2]));
        if px[..3] != [255, 255, 255] {
            ink += 1;
        }
        let (lo, hi) = (px[..3].iter().min().unwrap(), px[..3].iter().max().unwrap());
        if hi - lo > 60 {
            saturated += 1;
        }
    }
    (colours.len(), ink as f64 / total as f64, saturated)
}

#[test]
fn svg_screenshot_is_not_blank() {
    let Some(chromium) = chromium() else {
        println!("skipped: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = scratch_dir("trace-svg");
    let svg_path = dir.join("timeline.svg");
    let png_path = dir.join("timeline.png");
    let mut out = Vec::new();
    let mut options = SvgOptions::default();
    options.width = 1200;
    brisk::trace::write_svg(&workload(), &options, &mut out).unwrap();
    std::fs::write(&svg_path, out).unwrap();
    // `timeout` (coreutils) so that a hung browser fails the test instead of hanging it.
    let status = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless",
            "--disable-dev-shm-usage",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg("--window-size=1200,600")
        .arg(format!("file://{}", svg_path.display()))
        .status()
        .expect("chromium runs");
    assert!(status.success(), "chromium failed: {status}");
    let (colours, ink, saturated) = png_ink(&png_path);
    // A rendered timeline has grey lane bands and text, and coloured slices.
    assert!(colours >= 8, "only {colours} colours in the screenshot");
    assert!(
        ink > 0.05,
        "only {:.1}% of the screenshot is not white",
        ink * 100.0
    );
    assert!(saturated >= 100, "only {saturated} pixels of slice colours");
    if std::env::var_os("BRISK_KEEP_SCREENSHOT").is_some() {
        println!("screenshot kept: {}", png_path.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
