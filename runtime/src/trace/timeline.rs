//! The records of a trace arranged for drawing: one lane per thread, nested poll slices,
//! flows from a spawn or a wake to the poll it led to, and instant marks (steals, parks).
//!
//! Both writers ([`write_chrome_json`](super::write_chrome_json) and
//! [`write_svg`](super::write_svg)) draw this same model.

use std::collections::HashMap;
use std::panic::Location;

use super::{Event, Record, Source};
use crate::task::Id;

/// A trace arranged for drawing. Build it with [`Timeline::from_records`].
///
/// ```
/// let rt = brisk::Runtime::builder().worker_threads(1).build().unwrap();
/// rt.block_on(async { brisk::spawn(async { 1 }).await.unwrap() });
/// let timeline = brisk::trace::Timeline::from_records(&rt.take_trace());
/// // The child was polled inline, nested in the `block_on` poll.
/// assert!(timeline.slices.iter().any(|s| s.kind == brisk::trace::SliceKind::Inline && s.depth == 1));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// The lanes: workers by index, then `block_on` threads by thread number.
    pub lanes: Vec<Lane>,
    /// Every slice, lane by lane, each lane's in order of their start.
    pub slices: Vec<Slice>,
    /// Flows from a spawn or a wake to the poll it led to.
    pub flows: Vec<Flow>,
    /// Instant marks.
    pub marks: Vec<Mark>,
    /// The earliest timestamp in the trace (nanoseconds since the runtime was built).
    pub start: u64,
    /// The latest timestamp in the trace.
    pub end: u64,
}

/// One thread's lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// The worker index, or `None` for a `block_on` thread.
    pub worker: Option<usize>,
    /// The thread's number ([`Record::thread`]).
    pub thread: u32,
    /// A display name: `worker 0`, or `block_on (thread 3)`.
    pub name: String,
    /// The deepest slice's depth on this lane (0 if every slice is a top-level one).
    pub max_depth: u32,
}

/// What a slice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SliceKind {
    /// A poll of a task taken from a queue (a tick), from the given queue.
    Poll(Source),
    /// An inline poll: an eager spawn's first poll, or an awaited task polled in place.
    Inline,
    /// A poll of a `block_on` future.
    BlockOn,
    /// The worker was parked.
    Park,
}

/// A span of time on one lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// Index into [`Timeline::lanes`].
    pub lane: usize,
    /// Start, nanoseconds since the runtime was built.
    pub start: u64,
    /// End (≥ `start`).
    pub end: u64,
    /// Nesting depth: 0 for a queue poll, `block_on` poll or park; an inline poll is one
    /// deeper than the slice it runs in.
    pub depth: u32,
    /// What it is.
    pub kind: SliceKind,
    /// The task polled, if any.
    pub task: Option<Id>,
    /// The display name: the task's spawn site (`file:line:col`), or `task N` when its spawn
    /// is not in the trace; `block_on`; `parked`.
    pub name: String,
}

/// What a flow links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// A queued spawn to the task's first poll. (An inline spawn's first poll is the slice
    /// nested right there, so it gets no arrow.)
    Spawn,
    /// A wake to the task's next poll.
    Wake,
}

/// An arrow from one point of a lane to the start of a poll slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Spawn or wake.
    pub kind: FlowKind,
    /// The task concerned.
    pub task: Id,
    /// The lane of the spawn or wake.
    pub from_lane: usize,
    /// When it happened.
    pub from_ts: u64,
    /// The lane of the poll it led to.
    pub to_lane: usize,
    /// The start of that poll.
    pub to_ts: u64,
}

/// What a mark is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkKind {
    /// The worker took a task from another worker's deque.
    Steal,
    /// The worker parked.
    Park,
    /// This thread woke the given parked worker.
    Notify(usize),
}

/// An instant event on one lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Index into [`Timeline::lanes`].
    pub lane: usize,
    /// When.
    pub ts: u64,
    /// What.
    pub kind: MarkKind,
    /// The task concerned (the stolen one), if any.
    pub task: Option<Id>,
}

impl Timeline {
    /// Arranges `records` (as returned by [`Runtime::take_trace`](crate::Runtime::take_trace)).
    ///
    /// A poll whose end is not in the trace ends at the lane's last record.
    pub fn from_records(records: &[Record]) -> Timeline {
        let mut tl = Timeline {
            start: records.iter().map(|r| r.ts).min().unwrap_or(0),
            end: records.iter().map(|r| r.ts).max().unwrap_or(0),
            ..Timeline::default()
        };
        // Lanes, and each lane's records in the order they were recorded.
        let mut keys: Vec<(Option<usize>, u32)> = Vec::new();
        for r in records {
            let key = lane_key(r);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys.sort_by_key(|&(worker, thread)| (worker.is_none(), worker, thread));
        let lane_of: HashMap<(Option<usize>, u32), usize> =
            keys.iter().enumerate().map(|(i, &k)| (k, i)).collect();
        tl.lanes = keys
            .iter()
            .map(|&(worker, thread)| Lane {
                worker,
                thread,
                name: match worker {
                    Some(i) => format!("worker {i}"),
                    None => format!("block_on (thread {thread})"),
                },
                max_depth: 0,
            })
            .collect();
        let sites: HashMap<Id, &'static Location<'static>> = records
            .iter()
            .filter_map(|r| match r.event {
                Event::Spawn { task, site, .. } => Some((task, site)),
                _ => None,
            })
            .collect();
        let name = |task: Id| match sites.get(&task) {
            Some(site) => format!("{}:{}:{}", site.file(), site.line(), site.column()),
            None => format!("task {}", task.as_u64()),
        };

        // Queued spawns and wakes, to link to the poll that follows them.
        let mut origins: Vec<(FlowKind, Id, usize, u64)> = Vec::new();
        let mut per_lane: Vec<Vec<&Record>> = vec![Vec::new(); tl.lanes.len()];
        for r in records {
            per_lane[lane_of[&lane_key(r)]].push(r);
        }
        for (lane, lane_records) in per_lane.into_iter().enumerate() {
            let mut stack: Vec<usize> = Vec::new();
            let mut last = tl.start;
            for r in lane_records {
                last = last.max(r.ts);
                let open = |tl: &mut Timeline, stack: &mut Vec<usize>, kind, task| {
                    let depth = stack.len() as u32;
                    stack.push(tl.slices.len());
                    tl.slices.push(Slice {
                        lane,
                        start: r.ts,
                        end: r.ts,
                        depth,
                        kind,
                        task,
                        name: match (kind, task) {
                            (SliceKind::BlockOn, _) => "block_on".to_owned(),
                            (SliceKind::Park, _) => "parked".to_owned(),
                            (_, Some(task)) => name(task),
                            (_, None) => String::new(),
                        },
                    });
                    let l = &mut tl.lanes[lane];
                    l.max_depth = l.max_depth.max(depth);
                };
                match r.event {
                    Event::QueuePop { task, source } => {
                        close_all(&mut tl, &mut stack, r.ts);
                        open(&mut tl, &mut stack, SliceKind::Poll(source), Some(task));
                        if source == Source::Steal {
                            tl.marks.push(Mark {
                                lane,
                                ts: r.ts,
                                kind: MarkKind::Steal,
                                task: Some(task),
                            });
                        }
                    }
                    Event::BlockOnPollStart => {
                        close_all(&mut tl, &mut stack, r.ts);
                        open(&mut tl, &mut stack, SliceKind::BlockOn, None);
                    }
                    Event::Park => {
                        close_all(&mut tl, &mut stack, r.ts);
                        open(&mut tl, &mut stack, SliceKind::Park, None);
                        tl.marks.push(Mark {
                            lane,
                            ts: r.ts,
                            kind: MarkKind::Park,
                            task: None,
                        });
                    }
                    Event::InlinePollStart { task, .. } => {
                        open(&mut tl, &mut stack, SliceKind::Inline, Some(task));
                    }
                    Event::InlinePollEnd { task, .. } => {
                        // Close up to the matching inline slice (inner ones left open by a
                        // truncated trace end with it).
                        if let Some(pos) = stack.iter().rposition(|&i| {
                            tl.slices[i].kind == SliceKind::Inline
                                && tl.slices[i].task == Some(task)
                        }) {
                            for i in stack.drain(pos..) {
                                let s = &mut tl.slices[i];
                                s.end = r.ts.max(s.start);
                            }
                        }
                    }
                    Event::PollEnd { .. } | Event::BlockOnPollEnd => {
                        close_all(&mut tl, &mut stack, r.ts);
                    }
                    Event::Unpark { worker } if r.worker == Some(worker) => {
                        close_all(&mut tl, &mut stack, r.ts);
                    }
                    Event::Unpark { worker } => tl.marks.push(Mark {
                        lane,
                        ts: r.ts,
                        kind: MarkKind::Notify(worker),
                        task: None,
                    }),
                    Event::Spawn {
                        task,
                        inline: false,
                        ..
                    } => origins.push((FlowKind::Spawn, task, lane, r.ts)),
                    Event::Wake { task } => origins.push((FlowKind::Wake, task, lane, r.ts)),
                    Event::Spawn { .. }
                    | Event::Schedule { .. }
                    | Event::Complete { .. }
                    | Event::Cancel { .. }
                    | Event::SlotPut { .. }
                    | Event::SlotMove { .. }
                    | Event::StealFrom { .. }
                    | Event::BatchMove { .. }
                    | Event::DriverTurn { .. }
                    | Event::YieldDefer { .. } => {}
                }
            }
            close_all(&mut tl, &mut stack, last);
        }

        // Each task's poll starts, in time order, to find the poll after a spawn or wake.
        let mut polls: HashMap<Id, Vec<(u64, usize)>> = HashMap::new();
        for s in &tl.slices {
            if let (Some(task), SliceKind::Poll(_) | SliceKind::Inline) = (s.task, s.kind) {
                polls.entry(task).or_default().push((s.start, s.lane));
            }
        }
        for v in polls.values_mut() {
            v.sort_unstable();
        }
        for (kind, task, from_lane, from_ts) in origins {
            let Some(starts) = polls.get(&task) else {
                continue;
            };
            let i = starts.partition_point(|&(ts, _)| ts < from_ts);
            if let Some(&(to_ts, to_lane)) = starts.get(i) {
                tl.flows.push(Flow {
                    kind,
                    task,
                    from_lane,
                    from_ts,
                    to_lane,
                    to_ts,
                });
            }
        }
        tl
    }
}

fn lane_key(r: &Record) -> (Option<usize>, u32) {
    match r.worker {
        Some(i) => (Some(i), 0),
        None => (None, r.thread),
    }
}

fn close_all(tl: &mut Timeline, stack: &mut Vec<usize>, ts: u64) {
    for i in stack.drain(..) {
        let s = &mut tl.slices[i];
        s.end = ts.max(s.start);
    }
}
