//! A standalone SVG timeline: no script, no fonts or styles from outside, so it opens offline
//! in any browser (or image viewer that reads SVG).
//!
//! Layout: time runs left to right over the top axis; one band per lane (workers, then
//! `block_on` threads), one row per nesting depth, so an inline poll sits under the poll it ran
//! in. Colours: queue polls blue (local), orange (stolen), purple (injector); inline polls
//! green; `block_on` polls teal; parked time light grey. Flows are thin arrows (spawn: dark
//! blue, wake: red, dashed; only those from one lane to another); steals are orange triangles above the lane. Every slice has a
//! tooltip (`<title>`): name, task, start and duration.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{FlowKind, MarkKind, Record, Slice, SliceKind, Source, Timeline};

/// How [`write_svg`] draws.
///
/// ```
/// let mut options = brisk::trace::SvgOptions::default();
/// options.width = 800;
/// options.window = Some((0, 1_000_000)); // the first millisecond only
/// assert!(options.flows);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SvgOptions {
    /// Width of the image in pixels (default 1600).
    pub width: u32,
    /// The time window to draw, in nanoseconds since the runtime was built (default: the
    /// whole trace). Slices are clipped to it.
    pub window: Option<(u64, u64)>,
    /// Draw the spawn and wake arrows that go from one lane to another (default true). Arrows
    /// within a lane are left out: they would cover the slices (the JSON export has them all).
    pub flows: bool,
    /// A title drawn above the timeline (default none).
    pub title: Option<String>,
}

impl Default for SvgOptions {
    fn default() -> Self {
        SvgOptions {
            width: 1600,
            window: None,
            flows: true,
            title: None,
        }
    }
}

const LABEL_W: f64 = 150.0;
const RIGHT_PAD: f64 = 20.0;
const ROW_H: f64 = 18.0;
const LANE_GAP: f64 = 14.0;
const AXIS_H: f64 = 30.0;
const TITLE_H: f64 = 26.0;
const LEGEND_H: f64 = 34.0;
const FONT: &str = "font-family=\"monospace\" font-size=\"11\"";

/// Renders `records` (from [`Runtime::take_trace`](crate::Runtime::take_trace)) as a
/// standalone SVG document.
///
/// ```
/// let rt = brisk::Runtime::builder().worker_threads(2).build().unwrap();
/// rt.block_on(async { brisk::spawn(async { 1 }).await.unwrap() });
/// let mut svg = Vec::new();
/// brisk::trace::write_svg(&rt.take_trace(), &Default::default(), &mut svg).unwrap();
/// let svg = String::from_utf8(svg).unwrap();
/// assert!(svg.contains("<rect") && svg.ends_with("</svg>\n"));
/// ```
///
/// # Errors
/// Those of `out`.
pub fn write_svg<W: Write>(records: &[Record], options: &SvgOptions, mut out: W) -> io::Result<()> {
    let tl = Timeline::from_records(records);
    let doc = render(&tl, options);
    out.write_all(doc.as_bytes())?;
    out.flush()
}

/// Where each lane's band starts (y), and the image height.
fn lane_tops(tl: &Timeline, top: f64) -> (Vec<f64>, f64) {
    let mut y = top;
    let mut tops = Vec::with_capacity(tl.lanes.len());
    for lane in &tl.lanes {
        tops.push(y);
        y += f64::from(lane.max_depth + 1) * ROW_H + LANE_GAP;
    }
    (tops, y)
}

fn render(tl: &Timeline, o: &SvgOptions) -> String {
    let (t0, t1) = o.window.unwrap_or((tl.start, tl.end));
    let t1 = t1.max(t0 + 1);
    let width = f64::from(o.width.max(400));
    let plot_w = width - LABEL_W - RIGHT_PAD;
    let x_of = |ts: u64| LABEL_W + (ts.clamp(t0, t1) - t0) as f64 / (t1 - t0) as f64 * plot_w;
    let title_h = if o.title.is_some() { TITLE_H } else { 0.0 };
    let (tops, lanes_end) = lane_tops(tl, title_h + AXIS_H);
    let height = lanes_end + LEGEND_H;
    let row_y = |s: &Slice| tops[s.lane] + f64::from(s.depth) * ROW_H;

    let mut d = String::new();
    let _ = writeln!(
        d,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\">"
    );
    d.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\">\
         <path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"context-stroke\"/></marker></defs>\n",
    );
    let _ = writeln!(
        d,
        "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"white\"/>"
    );
    if let Some(title) = &o.title {
        let _ = writeln!(
            d,
            "<text x=\"8\" y=\"18\" font-family=\"sans-serif\" font-size=\"14\" font-weight=\"bold\">{}</text>",
            xml(title)
        );
    }

    // The time axis.
    let axis_y = title_h + AXIS_H - 8.0;
    let _ = writeln!(
        d,
        "<g class=\"axis\" {FONT} fill=\"#333\"><line x1=\"{LABEL_W}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#999\"/>",
        LABEL_W + plot_w
    );
    let step = nice_step((t1 - t0) as f64 / 8.0);
    let mut offset = 0.0;
    while offset <= (t1 - t0) as f64 {
        let x = x_of(t0 + offset as u64);
        let _ = writeln!(
            d,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{lanes_end}\" stroke=\"#eee\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            axis_y,
            axis_y - 4.0,
            duration(offset as u64)
        );
        offset += step;
    }
    d.push_str("</g>\n");

    // Lane bands and names.
    d.push_str("<g class=\"lanes\">\n");
    for (i, lane) in tl.lanes.iter().enumerate() {
        let h = f64::from(lane.max_depth + 1) * ROW_H;
        let fill = if i % 2 == 0 { "#f8f8f8" } else { "#f0f0f0" };
        let _ = writeln!(
            d,
            "<rect class=\"lane\" x=\"{LABEL_W}\" y=\"{}\" width=\"{plot_w}\" height=\"{h}\" fill=\"{fill}\"/>\
             <text {FONT} x=\"6\" y=\"{}\" fill=\"#000\">{}</text>",
            tops[i],
            tops[i] + 13.0,
            xml(&lane.name)
        );
    }
    d.push_str("</g>\n");

    // Slices, shallow ones first so nested ones are drawn on top.
    d.push_str("<g class=\"slices\">\n");
    let mut order: Vec<&Slice> = tl
        .slices
        .iter()
        .filter(|s| s.end >= t0 && s.start <= t1)
        .collect();
    order.sort_by_key(|s| s.depth);
    for s in order {
        let x = x_of(s.start);
        let w = (x_of(s.end) - x).max(0.6);
        let y = row_y(s) + 1.0;
        let (fill, what) = match s.kind {
            SliceKind::Poll(Source::Local) => ("#4e79a7", "poll (local queue)"),
            SliceKind::Poll(Source::Steal) => ("#f28e2b", "poll (stolen)"),
            SliceKind::Poll(Source::Injector) => ("#b07aa1", "poll (injector)"),
            SliceKind::Poll(Source::Slot) => ("#9c755f", "poll (next-task slot)"),
            SliceKind::Inline => ("#59a14f", "inline poll"),
            SliceKind::BlockOn => ("#76b7b2", "block_on poll"),
            SliceKind::Park => ("#bcbcbc", "parked"),
        };
        let task = s
            .task
            .map_or(String::new(), |t| format!(", task {}", t.as_u64()));
        let _ = write!(
            d,
            "<g class=\"slice\"><rect x=\"{x:.2}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"{:.1}\" fill=\"{fill}\"><title>{} — {what}{task}, at {}, {}</title></rect>",
            ROW_H - 2.0,
            xml(&s.name),
            duration(s.start.saturating_sub(t0)),
            duration(s.end.saturating_sub(s.start)),
        );
        // A label where it fits (about 6.6 px per character at font-size 11).
        let chars = ((w - 4.0) / 6.6) as usize;
        // A spawn site may lose its directories; other names are shown whole or not at all.
        let fits = s.name.contains(':') || s.name.chars().count() <= chars;
        if chars >= 4 && fits {
            let label = short_name(&s.name, chars);
            let text_fill = if s.kind == SliceKind::Park {
                "#333"
            } else {
                "#fff"
            };
            let _ = write!(
                d,
                "<text {FONT} x=\"{:.1}\" y=\"{:.1}\" fill=\"{text_fill}\">{}</text>",
                x + 2.0,
                y + ROW_H - 6.0,
                xml(&label)
            );
        }
        d.push_str("</g>\n");
    }
    d.push_str("</g>\n");

    // Steal marks.
    d.push_str("<g class=\"marks\">\n");
    for m in tl.marks.iter().filter(|m| m.ts >= t0 && m.ts <= t1) {
        if m.kind == MarkKind::Steal {
            let x = x_of(m.ts);
            let y = tops[m.lane];
            let _ = writeln!(
                d,
                "<path d=\"M {:.1} {:.1} L {:.1} {:.1} L {x:.1} {y:.1} z\" fill=\"#f28e2b\" stroke=\"#a0522d\" stroke-width=\"0.5\"><title>steal</title></path>",
                x - 4.0,
                y - 7.0,
                x + 4.0,
                y - 7.0,
            );
        }
    }
    d.push_str("</g>\n");

    // Flows.
    if o.flows {
        d.push_str("<g class=\"flows\" fill=\"none\" stroke-width=\"0.6\">\n");
        for f in tl
            .flows
            .iter()
            .filter(|f| f.from_lane != f.to_lane && f.from_ts <= t1 && f.to_ts >= t0)
        {
            let (x1, x2) = (x_of(f.from_ts), x_of(f.to_ts));
            let y1 = tops[f.from_lane] + ROW_H / 2.0;
            let y2 = tops[f.to_lane] + ROW_H / 2.0;
            let (stroke, dash) = match f.kind {
                FlowKind::Spawn => ("#1f3b73", ""),
                FlowKind::Wake => ("#c0392b", " stroke-dasharray=\"3 2\""),
            };
            let _ = writeln!(
                d,
                "<path class=\"flow\" d=\"M {x1:.1} {y1:.1} C {:.1} {y1:.1} {:.1} {y2:.1} {x2:.1} {y2:.1}\" stroke=\"{stroke}\"{dash} marker-end=\"url(#arrow)\" opacity=\"0.4\"/>",
                (x1 + x2) / 2.0,
                (x1 + x2) / 2.0,
            );
        }
        d.push_str("</g>\n");
    }

    // Legend.
    let ly = lanes_end + 10.0;
    let _ = writeln!(d, "<g class=\"legend\" {FONT} fill=\"#000\">");
    let items = [
        ("#4e79a7", "poll (local queue)"),
        ("#f28e2b", "poll (stolen)"),
        ("#b07aa1", "poll (injector)"),
        ("#59a14f", "inline poll (nested in its spawner)"),
        ("#76b7b2", "block_on poll"),
        ("#bcbcbc", "parked"),
    ];
    let mut x = LABEL_W;
    for (fill, label) in items {
        let _ = writeln!(
            d,
            "<rect x=\"{x}\" y=\"{ly}\" width=\"12\" height=\"12\" fill=\"{fill}\"/><text x=\"{}\" y=\"{}\">{label}</text>",
            x + 16.0,
            ly + 10.0
        );
        x += 24.0 + 6.6 * label.chars().count() as f64;
    }
    d.push_str("</g>\n</svg>\n");
    d
}

/// A slice label of at most `chars` characters: the end of a long spawn site (the file name
/// and line matter more than the directories).
fn short_name(name: &str, chars: usize) -> String {
    let n = name.chars().count();
    if n <= chars {
        return name.to_owned();
    }
    let keep: String = name.chars().skip(n - (chars - 1)).collect();
    format!("…{keep}")
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1.0);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * p)
}

/// A short human duration.
fn duration(ns: u64) -> String {
    let (value, unit) = match ns {
        0..=999 => return format!("{ns} ns"),
        1_000..=999_999 => (ns as f64 / 1e3, "µs"),
        1_000_000..=999_999_999 => (ns as f64 / 1e6, "ms"),
        _ => (ns as f64 / 1e9, "s"),
    };
    let digits = format!("{value:.3}");
    format!(
        "{} {unit}",
        digits.trim_end_matches('0').trim_end_matches('.')
    )
}

/// Text escaped for XML content and attributes.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c < ' ' && c != '\t' && c != '\n' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{duration, nice_step, short_name, xml};

    #[test]
    fn helpers() {
        assert_eq!(xml("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(short_name("src/main.rs:1:2", 40), "src/main.rs:1:2");
        assert_eq!(short_name("src/main.rs:1:2", 6), "…s:1:2");
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(130.0), 200.0);
        assert_eq!(duration(500), "500 ns");
        assert_eq!(duration(1_500), "1.5 µs");
        assert_eq!(duration(2_000_000), "2 ms");
    }
}
