//! Chrome trace-event JSON (the format Perfetto and `about:tracing` open), written by hand:
//! the brisk crate does not depend on serde.
//!
//! Layout: one process (`pid` 1, "brisk"); one thread (`tid`) per [`Lane`](super::Lane), named
//! and sorted (workers first); an `X` (complete) event per slice, so inline polls nest inside
//! the poll they ran in; `s`/`f` flow events (`id`, `bp: "e"`) for spawn → first poll and
//! wake → poll; `i` (instant) events for steals, parks and notifications. Timestamps are
//! microseconds with nanosecond decimals since the runtime was built.

use std::io::{self, Write};

use super::{FlowKind, MarkKind, Record, SliceKind, Source, Timeline};

/// Writes `records` (from [`Runtime::take_trace`](crate::Runtime::take_trace)) as a Chrome
/// trace-event JSON object (`{"traceEvents": [...]}`), for Perfetto (<https://ui.perfetto.dev>,
/// "Open trace file") or `about:tracing`.
///
/// ```
/// let rt = brisk::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async { brisk::spawn(async { 1 }).await.unwrap() });
/// let mut out = Vec::new();
/// brisk::trace::write_chrome_json(&rt.take_trace(), &mut out).unwrap();
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.contains(r#""ph":"X""#));
/// ```
///
/// # Errors
/// Those of `out`.
pub fn write_chrome_json<W: Write>(records: &[Record], out: W) -> io::Result<()> {
    write_timeline(&Timeline::from_records(records), out)
}

fn write_timeline<W: Write>(tl: &Timeline, out: W) -> io::Result<()> {
    let mut w = io::BufWriter::new(out);
    w.write_all(b"{\"traceEvents\":[\n")?;
    let mut first = true;
    let mut sep = |w: &mut io::BufWriter<W>| -> io::Result<()> {
        if !std::mem::take(&mut first) {
            w.write_all(b",\n")?;
        }
        Ok(())
    };
    sep(&mut w)?;
    w.write_all(
        br#"{"ph":"M","name":"process_name","pid":1,"tid":0,"ts":0,"args":{"name":"brisk"}}"#,
    )?;
    for (i, lane) in tl.lanes.iter().enumerate() {
        let tid = i + 1;
        sep(&mut w)?;
        write!(
            w,
            r#"{{"ph":"M","name":"thread_name","pid":1,"tid":{tid},"ts":0,"args":{{"name":"#
        )?;
        write_str(&mut w, &lane.name)?;
        w.write_all(b"}}")?;
        sep(&mut w)?;
        write!(
            w,
            r#"{{"ph":"M","name":"thread_sort_index","pid":1,"tid":{tid},"ts":0,"args":{{"sort_index":{i}}}}}"#
        )?;
    }
    for s in &tl.slices {
        sep(&mut w)?;
        let (cat, source) = match s.kind {
            SliceKind::Poll(source) => ("poll", Some(source)),
            SliceKind::Inline => ("inline", None),
            SliceKind::BlockOn => ("block_on", None),
            SliceKind::Park => ("park", None),
        };
        w.write_all(br#"{"ph":"X","name":"#)?;
        write_str(&mut w, &s.name)?;
        write!(w, r#","cat":"{cat}","pid":1,"tid":{},"ts":"#, s.lane + 1)?;
        write_us(&mut w, s.start)?;
        w.write_all(br#","dur":"#)?;
        write_us(&mut w, s.end.saturating_sub(s.start))?;
        write!(w, r#","args":{{"depth":{}"#, s.depth)?;
        if let Some(task) = s.task {
            write!(w, r#","task":{}"#, task.as_u64())?;
        }
        if let Some(source) = source {
            write!(w, r#","queue":"{}""#, source_name(source))?;
        }
        w.write_all(b"}}")?;
    }
    for (id, f) in tl.flows.iter().enumerate() {
        let name = match f.kind {
            FlowKind::Spawn => "spawn",
            FlowKind::Wake => "wake",
        };
        sep(&mut w)?;
        write!(
            w,
            r#"{{"ph":"s","name":"{name}","cat":"{name}","id":{id},"pid":1,"tid":{},"ts":"#,
            f.from_lane + 1
        )?;
        write_us(&mut w, f.from_ts)?;
        write!(w, r#","args":{{"task":{}}}}}"#, f.task.as_u64())?;
        sep(&mut w)?;
        write!(
            w,
            r#"{{"ph":"f","bp":"e","name":"{name}","cat":"{name}","id":{id},"pid":1,"tid":{},"ts":"#,
            f.to_lane + 1
        )?;
        write_us(&mut w, f.to_ts)?;
        write!(w, r#","args":{{"task":{}}}}}"#, f.task.as_u64())?;
    }
    for m in &tl.marks {
        sep(&mut w)?;
        let name = match m.kind {
            MarkKind::Steal => "steal".to_owned(),
            MarkKind::Park => "park".to_owned(),
            MarkKind::Notify(worker) => format!("notify worker {worker}"),
        };
        w.write_all(br#"{"ph":"i","s":"t","name":"#)?;
        write_str(&mut w, &name)?;
        write!(w, r#","cat":"mark","pid":1,"tid":{},"ts":"#, m.lane + 1)?;
        write_us(&mut w, m.ts)?;
        match m.task {
            Some(task) => write!(w, r#","args":{{"task":{}}}}}"#, task.as_u64())?,
            None => w.write_all(b"}")?,
        }
    }
    w.write_all(b"\n],\"displayTimeUnit\":\"ns\"}\n")?;
    w.flush()
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Local => "local",
        Source::Injector => "injector",
        Source::Steal => "steal",
        Source::Slot => "slot",
    }
}

/// Nanoseconds as microseconds with three decimals.
fn write_us<W: Write>(w: &mut W, ns: u64) -> io::Result<()> {
    write!(w, "{}.{:03}", ns / 1000, ns % 1000)
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
pub(super) fn write_str<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    w.write_all(b"\"")?;
    let mut rest = s;
    while let Some(pos) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
        w.write_all(&rest.as_bytes()[..pos])?;
        let c = rest[pos..].chars().next().expect("found a char there");
        match c {
            '"' => w.write_all(b"\\\"")?,
            '\\' => w.write_all(b"\\\\")?,
            '\n' => w.write_all(b"\\n")?,
            '\r' => w.write_all(b"\\r")?,
            '\t' => w.write_all(b"\\t")?,
            c => write!(w, "\\u{:04x}", c as u32)?,
        }
        rest = &rest[pos + c.len_utf8()..];
    }
    w.write_all(rest.as_bytes())?;
    w.write_all(b"\"")
}

#[cfg(test)]
mod tests {
    use super::write_str;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(escaped("plain"), r#""plain""#);
        assert_eq!(escaped(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(escaped("tab\tnl\ncr\r"), r#""tab\tnl\ncr\r""#);
        assert_eq!(escaped("\u{1}x\u{1f}"), r#""\u0001x\u001f""#);
        assert_eq!(escaped("é ✓"), "\"é ✓\"");
    }
}
