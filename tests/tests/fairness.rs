//! Fairness bounds F1–F10, as defined in `docs/FAIRNESS.md`, checked on the trace of the real
//! scheduler running random programs under random configurations, and by a few deterministic
//! scenarios. Each property names its bound on failure. `scripts/mutants.sh` builds the
//! scheduler with deliberate bugs and shows that some property here fails for each.
//!
//! `PROPTEST_CASES` raises the case counts for long runs.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use brisk::task::Id;
use brisk::trace::{Event, Record, Source};
use brisk::{Runtime, SpawnPolicy};
use brisk_tests::program::{Node, Op, StepLog};
use brisk_tests::{on_worker, with_watchdog, Flag};
use proptest::prelude::*;

/// Next-task slot polls allowed after one poll taken from a queue (F9).
const MAX_SLOT_POLLS: u64 = 3;

// ---- random programs and configurations ----

fn node(depth: u32) -> BoxedStrategy<Node> {
    let leaf_ops = prop_oneof![
        Just(Op::Yield),
        any::<u32>().prop_map(Op::Compute),
        (0usize..4).prop_map(Op::Await),
        (0usize..4).prop_map(Op::Signal),
    ];
    let op = if depth == 0 {
        leaf_ops.boxed()
    } else {
        prop_oneof![
            3 => leaf_ops,
            2 => (node(depth - 1), any::<bool>()).prop_map(|(child, lazy)| Op::Spawn { child, lazy }),
        ]
        .boxed()
    };
    (0u8..3, prop::collection::vec(op, 0..6))
        .prop_map(|(tokens, ops)| Node { tokens, ops })
        .boxed()
}

/// A program: roots spawned from outside the runtime and from `block_on`.
#[derive(Debug, Clone)]
struct Program {
    outside: Vec<Node>,
    inside: Vec<Node>,
}

impl Program {
    fn roots(&self) -> Vec<&Node> {
        self.outside.iter().chain(&self.inside).collect()
    }
}

fn program() -> impl Strategy<Value = Program> {
    (
        prop::collection::vec(node(3), 0..3),
        prop::collection::vec(node(3), 1..3),
    )
        .prop_map(|(outside, inside)| Program { outside, inside })
}

#[derive(Debug, Clone, Copy)]
struct Config {
    /// 0: the current-thread runtime (`block_on` drives every task).
    workers: usize,
    eager_budget: u32,
    eager_depth: u32,
    global_queue_interval: u32,
    event_interval: u32,
    policy: SpawnPolicy,
}

fn config() -> impl Strategy<Value = Config> {
    (
        0usize..=4,
        0u32..=32,
        0u32..=16,
        1u32..=64,
        1u32..=64,
        any::<bool>(),
    )
        .prop_map(|(w, b, d, g, e, lazy)| Config {
            workers: w,
            eager_budget: b,
            eager_depth: d,
            global_queue_interval: g,
            event_interval: e,
            policy: if lazy {
                SpawnPolicy::Lazy
            } else {
                SpawnPolicy::Eager
            },
        })
}

fn build(c: &Config) -> Runtime {
    let mut builder = if c.workers == 0 {
        brisk::Builder::new_current_thread()
    } else {
        let mut b = Runtime::builder();
        b.worker_threads(c.workers);
        b
    };
    builder
        .eager_budget(c.eager_budget)
        .eager_depth(c.eager_depth)
        .global_queue_interval(c.global_queue_interval)
        .event_interval(c.event_interval)
        .spawn_policy(c.policy)
        .build()
        .unwrap()
}

/// Runs `p` on a fresh runtime with config `c`; returns the results (outside roots, then
/// inside roots), the trace and the step log. A hang fails the test with the trace tail (F5).
fn run(p: &Program, c: Config) -> (Vec<u64>, Vec<Record>, Arc<StepLog>) {
    let p = p.clone();
    let rt = Arc::new(build(&c));
    let rt2 = rt.clone();
    let log = Arc::new(StepLog::default());
    let log2 = log.clone();
    let outcome = std::thread::spawn(move || {
        let n_out = p.outside.len() as u32;
        let outside: Vec<_> = p
            .outside
            .iter()
            .enumerate()
            .map(|(i, n)| {
                rt2.handle()
                    .spawn(n.clone().run_root_logged(log2.clone(), i as u32))
            })
            .collect();
        let inside = p.inside.clone();
        rt2.block_on(async move {
            let mut out = Vec::new();
            for h in outside {
                out.push(h.await.expect("outside root failed"));
            }
            let hs: Vec<_> = inside
                .into_iter()
                .enumerate()
                .map(|(i, n)| brisk::spawn(n.run_root_logged(log2.clone(), n_out + i as u32)))
                .collect();
            for h in hs {
                out.push(h.await.expect("inside root failed"));
            }
            out
        })
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !outcome.is_finished() {
        if std::time::Instant::now() > deadline {
            let trace = rt.take_trace();
            let tail: Vec<_> = trace.iter().rev().take(40).collect();
            panic!(
                "F5 liveness: program did not finish in 30 s under {c:?}; trace tail: {tail:#?}"
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let results = outcome.join().unwrap();
    let trace = rt.take_trace();
    (results, trace, log)
}

fn references(p: &Program) -> Vec<u64> {
    p.roots().into_iter().map(Node::reference).collect()
}

fn cases(n: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    ProptestConfig {
        cases: n,
        ..ProptestConfig::default()
    }
}

/// Every check that applies to any run.
fn check_all(trace: &[Record], c: &Config) -> Result<(), TestCaseError> {
    check_f1_depth(trace, c)?;
    check_f2_budget(trace, c)?;
    check_f3_queues(trace, c)?;
    check_f9_slot(trace, c)?;
    check_f10_driver(trace, c)?;
    Ok(())
}

// ---- F1, F2, F3, F5, F6, F9, F10 on random programs ----

proptest! {
    #![proptest_config(cases(48))]

    /// F1 depth, F2 budget, F3 queues, F5 liveness, F6 legal execution, F9 slot and F10
    /// driver turns on one run each.
    #[test]
    fn random_programs_keep_every_bound(p in program(), c in config()) {
        let (results, trace, log) = run(&p, c);
        prop_assert_eq!(&results, &references(&p), "F6 equivalence: result differs from the reference under {:?}", c);
        if let Err(e) = log.check(&p.roots()) {
            prop_assert!(false, "F6 legal execution under {:?}: {}", c, e);
        }
        check_all(&trace, &c)?;
        check_f5_every_task_completes(&trace, &p)?;
    }

    /// F1, F2, F5, F6 on the current-thread runtime only (`config()` also picks it, as
    /// `workers: 0`, in a fifth of the cases above).
    #[test]
    fn f1_f2_f5_f6_on_the_current_thread_runtime(p in program(), c in config()) {
        let c = Config { workers: 0, ..c };
        let (results, trace, log) = run(&p, c);
        prop_assert_eq!(&results, &references(&p), "F6 equivalence: result differs from the reference under {:?}", c);
        if let Err(e) = log.check(&p.roots()) {
            prop_assert!(false, "F6 legal execution under {:?}: {}", c, e);
        }
        check_f1_depth(&trace, &c)?;
        check_f2_budget(&trace, &c)?;
        check_f5_every_task_completes(&trace, &p)?;
    }

    /// F6: Eager and Lazy give the same results on the same program and shape.
    #[test]
    fn f6_eager_and_lazy_agree(p in program(), c in config()) {
        let eager = run(&p, Config { policy: SpawnPolicy::Eager, ..c }).0;
        let lazy = run(&p, Config { policy: SpawnPolicy::Lazy, ..c }).0;
        prop_assert_eq!(&eager, &lazy, "F6 equivalence: Eager and Lazy disagree under {:?}", c);
        prop_assert_eq!(&eager, &references(&p));
    }

    /// F3 on one worker with an idle injector: every queued task of one tree runs on the
    /// single worker, so every entry is accounted for by that worker alone.
    #[test]
    fn f3_local_delay_on_one_worker(root in node(3), budget in 0u32..=32, depth in 0u32..=16) {
        let c = Config { workers: 1, eager_budget: budget, eager_depth: depth, global_queue_interval: 61, event_interval: 61, policy: SpawnPolicy::Eager };
        let rt = build(&c);
        let done = Flag::new();
        let d2 = done.clone();
        let expected = root.reference();
        let got = Arc::new(std::sync::Mutex::new(None));
        let g2 = got.clone();
        // Spawned from outside; block_on waits on a flag, not on the handle, so the root and
        // everything it spawns run on the single worker.
        let _h = rt.handle().spawn(async move {
            let r = root.run_root().await;
            *g2.lock().unwrap() = Some(r);
            d2.set();
        });
        with_watchdog_rt(&rt, done);
        prop_assert_eq!(*got.lock().unwrap(), Some(expected));
        check_all(&rt.take_trace(), &c)?;
    }
}

fn with_watchdog_rt(rt: &Runtime, done: Flag) {
    let d = done.clone();
    let ok = std::thread::scope(|s| {
        let waiter = s.spawn(|| rt.block_on(d.wait()));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !waiter.is_finished() {
            if std::time::Instant::now() > deadline {
                done.set(); // release block_on so the test can report
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    });
    if !ok {
        let tail: Vec<_> = rt.take_trace().into_iter().rev().take(40).collect();
        panic!("F5 liveness: program did not finish in 30 s; trace tail: {tail:#?}");
    }
}

/// The records of each thread (worker or `block_on` thread), in the order it made them.
fn lanes(trace: &[Record]) -> HashMap<(Option<usize>, u32), Vec<&Record>> {
    let mut lanes: HashMap<_, Vec<&Record>> = HashMap::new();
    for r in trace {
        lanes.entry((r.worker, r.thread)).or_default().push(r);
    }
    lanes
}

/// F1, rebuilt from the nesting of inline-poll start and end events on each thread (not from
/// the depth counter): every inline poll ends before its parent's, none is open when a tick
/// starts or ends, the nesting never exceeds `eager_depth`, and the depth the runtime
/// recorded equals the nesting.
fn check_f1_depth(trace: &[Record], c: &Config) -> Result<(), TestCaseError> {
    for (lane, records) in lanes(trace) {
        let mut open: Vec<Id> = Vec::new();
        for r in records {
            match r.event {
                Event::InlinePollStart { task, depth } => {
                    open.push(task);
                    let nesting = open.len() as u32;
                    prop_assert!(
                        nesting <= c.eager_depth,
                        "F1 depth: inline poll of {task:?} nested {nesting} deep > eager_depth {} on {lane:?}",
                        c.eager_depth
                    );
                    prop_assert_eq!(
                        depth,
                        nesting,
                        "F1 depth: recorded depth of {:?} differs from its nesting on {:?}",
                        task,
                        lane
                    );
                }
                Event::InlinePollEnd { task, depth } => {
                    prop_assert_eq!(
                        depth,
                        open.len() as u32,
                        "F1 depth: recorded end depth of {:?} differs from its nesting on {:?}",
                        task,
                        lane
                    );
                    let top = open.pop();
                    prop_assert_eq!(
                        top,
                        Some(task),
                        "F1 depth: inline polls not nested on {:?}",
                        lane
                    );
                }
                Event::QueuePop { .. }
                | Event::PollEnd { .. }
                | Event::BlockOnPollStart
                | Event::BlockOnPollEnd => {
                    prop_assert!(
                        open.is_empty(),
                        "F1 depth: inline polls {open:?} still open at a tick boundary on {lane:?}"
                    );
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn check_f2_budget(trace: &[Record], c: &Config) -> Result<(), TestCaseError> {
    let mut per_tick: HashMap<(Option<usize>, u32, u64), u32> = HashMap::new();
    for r in trace {
        if let Event::InlinePollStart { .. } = r.event {
            let n = per_tick.entry((r.worker, r.thread, r.tick)).or_default();
            *n += 1;
            prop_assert!(
                *n <= c.eager_budget,
                "F2 budget: {n} inline polls in tick {} of worker {:?} > eager_budget {}",
                r.tick,
                r.worker,
                c.eager_budget
            );
        }
    }
    Ok(())
}

fn check_f5_every_task_completes(trace: &[Record], p: &Program) -> Result<(), TestCaseError> {
    let spawned: Vec<_> = trace
        .iter()
        .filter_map(|r| match r.event {
            Event::Spawn { task, .. } => Some(task),
            _ => None,
        })
        .collect();
    let completed: std::collections::HashSet<_> = trace
        .iter()
        .filter_map(|r| match r.event {
            Event::Complete { task } => Some(task),
            _ => None,
        })
        .collect();
    for t in &spawned {
        prop_assert!(
            completed.contains(t),
            "F5 liveness: task {t:?} was spawned but never completed"
        );
    }
    // Roots spawned from outside are not traced (no runtime thread); all others are.
    let traced_roots_and_children: usize = p.inside.iter().map(Node::size).sum::<usize>()
        + p.outside.iter().map(|n| n.size() - 1).sum::<usize>();
    prop_assert_eq!(
        spawned.len(),
        traced_roots_and_children,
        "F5: spawn count differs from the program's"
    );
    Ok(())
}

/// F3, on any number of workers, with injector traffic and steals. Each worker's deque is
/// rebuilt from the trace: entries enter by a push (`Schedule` to the local queue), a move from
/// the worker's next-task slot (`SlotMove`) or a batch move into it (`BatchMove` on that
/// worker); they leave by the owner's pop (`QueuePop` from
/// `Local`) or by a thief (`StealFrom` a deque, `BatchMove` from it on another worker). Checks:
/// - FIFO with full accounting: the owner pops entries in push order, and every entry it
///   passes over was taken by a recorded steal or batch move (an untraced move fails here);
///   nothing is popped that was not pushed;
/// - local delay: between the push of an entry with at most k entries ahead and its pop by
///   the owner, the owner takes L ≤ k local pops, S ≤ 3·(L + I + X + 1) slot pops (F9),
///   I ≤ ticks/`global_queue_interval` + 1 injector pops (X steals; ticks = L + I + S + X;
///   one more for an entry moved in by a batch, whose own pop is recorded after the move),
///   and at most `eager_budget`·(ticks + 1) inline polls.
fn check_f3_queues(trace: &[Record], c: &Config) -> Result<(), TestCaseError> {
    // Entries taken from each worker's deque by other workers, by task.
    let mut stolen: HashMap<(usize, Id), usize> = HashMap::new();
    for r in trace {
        match r.event {
            Event::StealFrom {
                task,
                victim,
                slot: false,
            }
            | Event::BatchMove {
                task,
                from: Some(victim),
            } => {
                *stolen.entry((victim, task)).or_default() += 1;
            }
            _ => {}
        }
    }
    #[derive(Clone, Copy, Default)]
    struct Counts {
        local: u64,
        injector: u64,
        slot: u64,
        steal: u64,
        inline: u64,
    }
    struct Entry {
        task: Id,
        ahead: u64,
        at: Counts,
        /// Moved in by a batch, whose own pop is recorded after the move.
        moved: bool,
    }
    for w in 0..c.workers {
        let mut deque: Vec<Entry> = Vec::new();
        let mut cursor = 0usize; // the front of the deque, as far as the owner knows
        let mut n = Counts::default();
        for r in trace.iter().filter(|r| r.worker == Some(w)) {
            match r.event {
                Event::Schedule {
                    task,
                    injector: false,
                }
                | Event::SlotMove { task }
                | Event::BatchMove { task, .. } => {
                    let moved = matches!(r.event, Event::BatchMove { .. });
                    deque.push(Entry {
                        task,
                        ahead: (deque.len() - cursor) as u64,
                        at: n,
                        moved,
                    });
                }
                Event::QueuePop {
                    task,
                    source: Source::Local,
                } => {
                    loop {
                        let Some(e) = deque.get(cursor) else {
                            return Err(TestCaseError::fail(format!("F3 queues: worker {w} popped {task:?}, which was never pushed to its deque (an untraced move?)")));
                        };
                        cursor += 1;
                        if e.task == task {
                            break;
                        }
                        let left = stolen.get_mut(&(w, e.task)).filter(|n| **n > 0);
                        prop_assert!(left.is_some(), "F3 queues: worker {w} popped {task:?} ahead of {:?}, which left its deque with no trace event (not FIFO, or an untraced move)", e.task);
                        *left.unwrap() -= 1;
                    }
                    let e = &deque[cursor - 1];
                    let local = n.local - e.at.local;
                    let injector = n.injector - e.at.injector;
                    let slot = n.slot - e.at.slot;
                    let steal = n.steal - e.at.steal;
                    let inline = n.inline - e.at.inline;
                    let ticks = local + injector + slot + steal;
                    let gqi = u64::from(c.global_queue_interval);
                    prop_assert!(
                        local <= e.ahead,
                        "F3 local delay: {task:?} pushed behind {} waited for {local} local pops",
                        e.ahead
                    );
                    prop_assert!(
                        slot <= MAX_SLOT_POLLS * (local + injector + steal + 1),
                        "F3/F9: {task:?} waited for {slot} slot polls around {} other pops",
                        local + injector + steal
                    );
                    prop_assert!(injector <= ticks / gqi + 1 + u64::from(e.moved), "F3/F4: {task:?} waited for {injector} injector pops in {ticks} ticks (global_queue_interval {gqi})");
                    prop_assert!(
                        inline <= u64::from(c.eager_budget) * (ticks + 1),
                        "F3/F2: {task:?} waited for {inline} inline polls in {ticks} ticks"
                    );
                    n.local += 1;
                }
                Event::QueuePop {
                    source: Source::Injector,
                    ..
                } => n.injector += 1,
                Event::QueuePop {
                    source: Source::Slot,
                    ..
                } => n.slot += 1,
                Event::QueuePop {
                    source: Source::Steal,
                    ..
                } => n.steal += 1,
                Event::InlinePollStart { .. } => n.inline += 1,
                _ => {}
            }
        }
    }
    Ok(())
}

/// F9, the next-task slot: on each worker at most 3 slot polls follow one poll taken from a
/// queue; and a task put in a worker's slot leaves it (polled from it, moved to the deque, or
/// stolen by another worker) by the worker's next tick: no `QueuePop` with a later tick comes
/// first.
fn check_f9_slot(trace: &[Record], c: &Config) -> Result<(), TestCaseError> {
    let mut stolen: HashMap<(usize, Id), usize> = HashMap::new();
    for r in trace {
        if let Event::StealFrom {
            task,
            victim,
            slot: true,
        } = r.event
        {
            *stolen.entry((victim, task)).or_default() += 1;
        }
    }
    for w in 0..c.workers {
        let records: Vec<&Record> = trace.iter().filter(|r| r.worker == Some(w)).collect();
        let mut run = 0u64;
        for r in &records {
            match r.event {
                Event::QueuePop {
                    source: Source::Slot,
                    task,
                } => {
                    run += 1;
                    prop_assert!(
                        run <= MAX_SLOT_POLLS,
                        "F9 slot: {run} slot polls in a row on worker {w} (the last {task:?})"
                    );
                }
                Event::QueuePop { .. } => run = 0,
                _ => {}
            }
        }
        for (i, r) in records.iter().enumerate() {
            let Event::SlotPut { task } = r.event else {
                continue;
            };
            let mut left = false;
            for later in &records[i + 1..] {
                match later.event {
                    Event::QueuePop {
                        task: t,
                        source: Source::Slot,
                    }
                    | Event::SlotMove { task: t }
                        if t == task =>
                    {
                        left = true;
                        break;
                    }
                    Event::QueuePop { .. } if later.tick >= r.tick + 2 => break,
                    _ => {}
                }
            }
            let matured = records[i + 1..]
                .iter()
                .any(|l| matches!(l.event, Event::QueuePop { .. }) && l.tick >= r.tick + 2);
            if !left && matured {
                let by_thief = stolen.get_mut(&(w, task)).filter(|n| **n > 0);
                prop_assert!(by_thief.is_some(), "F9 slot: {task:?} stayed in worker {w}'s slot past its next tick (put at tick {}); events: {:#?}", r.tick, records[i..].iter().take(16).map(|r| (r.tick, r.event)).collect::<Vec<_>>());
                *by_thief.unwrap() -= 1;
            }
        }
    }
    Ok(())
}

/// F10, driver turns: a task deferred by `yield_now` is not queued again (pushed to a deque or
/// put in a slot) before its worker's next driver turn; and a busy worker turns the driver (or finds another thread turning it)
/// at least once every `event_interval` of its ticks.
fn check_f10_driver(trace: &[Record], c: &Config) -> Result<(), TestCaseError> {
    for w in 0..c.workers {
        let records: Vec<&Record> = trace.iter().filter(|r| r.worker == Some(w)).collect();
        let mut since_turn = 0u64;
        let mut deferred: Vec<Id> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let context = || {
                records[i.saturating_sub(12)..=i]
                    .iter()
                    .map(|r| r.event)
                    .collect::<Vec<_>>()
            };
            match r.event {
                Event::YieldDefer { task } => deferred.push(task),
                Event::DriverTurn { .. } => {
                    since_turn = 0;
                    deferred.clear();
                }
                Event::Park => since_turn = 0,
                // (A `QueuePop` or `SlotMove` of it may be a stale entry's: only a new entry, a
                // `Schedule` or `SlotPut`, can run it again.)
                Event::Schedule { task, .. } | Event::SlotPut { task }
                    if deferred.contains(&task) =>
                {
                    prop_assert!(false, "F10 yield: {task:?} yielded on worker {w} and was queued again before a driver turn; events: {:#?}", context());
                }
                _ => {}
            }
            // Polls since the last turn: ticks and the inline polls inside them. A tick starts
            // only while fewer than `event_interval` have run; then the driver turns first.
            match r.event {
                Event::QueuePop { .. } => {
                    prop_assert!(since_turn < u64::from(c.event_interval), "F10 driver: worker {w} started a tick after {since_turn} polls (ticks and inline polls) without a driver turn >= event_interval {}", c.event_interval);
                    since_turn += 1;
                }
                Event::InlinePollStart { .. } => since_turn += 1,
                _ => {}
            }
        }
    }
    Ok(())
}

// ---- F4: the injector is served while local work never runs out ----

/// Wakes itself at every poll (without `yield_now`, so it is queued again at once) until
/// `stop` is set: keeps a worker's deque non-empty.
struct Spin {
    stop: Arc<AtomicBool>,
}

impl Future for Spin {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.stop.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// F4 for one configuration: with local work always present, injector pops are at most
/// `global_queue_interval` ticks apart while the injector holds tasks.
fn f4_case(gqi: u32, budget: u32) {
    let rt = Runtime::builder()
        .worker_threads(1)
        .global_queue_interval(gqi)
        .eager_budget(budget)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let hold = Arc::new(AtomicBool::new(true));
    let running = Flag::new();
    // Spinners keep the local queue non-empty; the first one holds the worker while the test
    // thread fills the injector, so the injector is never empty while we measure.
    let (s, h, r) = (stop.clone(), hold.clone(), running.clone());
    let _root = rt.handle().spawn(async move {
        for i in 0..4 {
            let (s, h, r) = (s.clone(), h.clone(), r.clone());
            brisk::spawn_lazy(async move {
                if i == 0 {
                    r.set();
                    while h.load(Ordering::SeqCst) {
                        std::hint::spin_loop();
                    }
                }
                Spin { stop: s }.await;
            });
        }
    });
    while !running.is_set() {
        std::thread::sleep(Duration::from_millis(1));
    }
    const M: usize = 20;
    let done = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..M)
        .map(|_| {
            let d = done.clone();
            rt.handle().spawn(async move {
                d.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    hold.store(false, Ordering::SeqCst);
    let d2 = done.clone();
    let ok = with_watchdog(
        Duration::from_secs(30),
        "F4 injector starvation",
        move || {
            while d2.load(Ordering::SeqCst) < M {
                std::thread::sleep(Duration::from_millis(1));
            }
            true
        },
    );
    stop.store(true, Ordering::SeqCst);
    assert!(ok, "F4 injector: the injected tasks did not run");
    drop(hs);
    let trace = rt.take_trace();
    let ticks_of = |want: Source| -> Vec<u64> {
        trace
            .iter()
            .filter(|r| r.worker == Some(0))
            .filter_map(|r| match r.event {
                Event::QueuePop { source, .. } if source == want => Some(r.tick),
                _ => None,
            })
            .collect()
    };
    let pops = ticks_of(Source::Injector);
    let slot_pops = ticks_of(Source::Slot);
    // The root came through the injector first; then the M tasks, one every gqi ticks (the
    // deque is never empty, so no batch takes them), put off by at most one run of slot polls.
    assert_eq!(
        pops.len(),
        M + 1,
        "F4: every injected task is popped from the injector"
    );
    for w in pops[1..].windows(2) {
        let slot_between = slot_pops.iter().filter(|&&t| t > w[0] && t < w[1]).count() as u64;
        let bound = u64::from(gqi) + slot_between.min(MAX_SLOT_POLLS);
        assert!(
            w[1] - w[0] <= bound,
            "F4 injector: {} ticks between injector pops > global_queue_interval {gqi} + {} slot polls",
            w[1] - w[0],
            slot_between.min(MAX_SLOT_POLLS)
        );
    }
}

#[test]
fn f4_injector_served_every_global_queue_interval() {
    for (gqi, budget) in [(1, 0), (2, 32), (7, 4), (31, 0), (61, 16), (64, 32)] {
        f4_case(gqi, budget);
    }
}

// ---- F7: always-ready loops yield within the coop budget ----

/// Runs `looper` (which loops until the flag is set) on a one-worker runtime and returns how
/// many iterations it made before it gave the worker back: the spawning task waits for the
/// looper's first iteration, and can only resume (and set the flag) once the looper yields.
fn iterations_before_other_task_runs<F>(rt: &Runtime, looper: fn(Arc<AtomicBool>, Flag) -> F) -> u64
where
    F: std::future::Future<Output = u64> + Send + 'static,
{
    on_worker(rt, async move {
        let flag = Arc::new(AtomicBool::new(false));
        let looping = Flag::new();
        let looper = brisk::spawn_lazy(looper(flag.clone(), looping.clone()));
        looping.wait().await;
        flag.store(true, Ordering::SeqCst);
        looper.await.unwrap()
    })
}

#[test]
fn f7_loop_on_always_ready_timers_yields_within_the_coop_budget() {
    with_watchdog(Duration::from_secs(30), "F7 coop", || {
        let rt = Runtime::builder().worker_threads(1).build().unwrap();
        let n = iterations_before_other_task_runs(&rt, |flag, looping| async move {
            let mut n = 0u64;
            while !flag.load(Ordering::SeqCst) {
                brisk::time::sleep(Duration::ZERO).await; // always ready
                n += 1;
                looping.set();
                assert!(n < 10_000_000, "F7: the looper starved the other task");
            }
            n
        });
        assert!(
            n <= 2 * 128,
            "F7: {n} ready operations before the other task ran"
        );
    });
}

#[test]
fn f7_eager_inline_polls_spend_the_same_coop_budget() {
    // A budget so large that only coop can stop the loop: each iteration's child, polled
    // inline, does an always-ready operation, and the parent awaits the finished handle.
    with_watchdog(Duration::from_secs(30), "F7 coop inline", || {
        let rt = Runtime::builder()
            .worker_threads(1)
            .eager_budget(1_000_000)
            .eager_depth(4)
            .build()
            .unwrap();
        let n = iterations_before_other_task_runs(&rt, |flag, looping| async move {
            let mut n = 0u64;
            while !flag.load(Ordering::SeqCst) {
                let child = brisk::spawn(async {
                    brisk::time::sleep(Duration::ZERO).await;
                    1u64
                });
                n += child.await.unwrap();
                looping.set();
                assert!(n < 10_000_000, "F7: the looper starved the other task");
            }
            n
        });
        assert!(n <= 2 * 128, "F7: {n} iterations before the other task ran");
    });
}

// ---- F8: eager work is not serialized on the spawning worker ----

/// A one-shot latch that blocks the thread (not the task) until set, or until a timeout.
#[derive(Default)]
struct Latch {
    set: std::sync::Mutex<bool>,
    cv: std::sync::Condvar,
}

impl Latch {
    fn set(&self) {
        *self.set.lock().unwrap() = true;
        self.cv.notify_all();
    }

    /// True if set within `limit`.
    fn wait(&self, limit: Duration) -> bool {
        let g = self.set.lock().unwrap();
        let (g, _) = self.cv.wait_timeout_while(g, limit, |set| !*set).unwrap();
        *g
    }
}

/// F8, deterministically: the parent on worker A spawns 2K children with `eager_budget(4)`;
/// past the budget they are queued on A. A child that A runs after the spawning loop blocks
/// worker A until some child has run on the other worker B. So the test passes exactly when
/// B, idle, is woken for and steals queued children while A is busy; if they stay serialized
/// on A, the first such child times out and the test fails saying so.
#[test]
fn f8_deferred_children_are_stolen_by_the_idle_worker() {
    const K: usize = 20;
    /// Generous: B only has to wake up and steal once.
    const STEAL_LIMIT: Duration = Duration::from_secs(20);
    with_watchdog(Duration::from_secs(60), "F8 parallelism", || {
        let rt = Runtime::builder()
            .worker_threads(2)
            .eager_budget(4)
            .build()
            .unwrap();
        let (inline_at_spawn, elsewhere, timed_out) = on_worker(&rt, async {
            let parent = std::thread::current().id();
            let spawned_all = Arc::new(AtomicBool::new(false));
            let stolen = Arc::new(Latch::default());
            let hs: Vec<_> = (0..2 * K)
                .map(|_| {
                    let (spawned_all, stolen) = (spawned_all.clone(), stolen.clone());
                    brisk::spawn(async move {
                        let me = std::thread::current().id();
                        if me != parent {
                            stolen.set();
                            return (me, false, true);
                        }
                        // On A before the loop ended: polled inline by `spawn` (within the
                        // budget), when nothing is queued yet that B could steal: no wait.
                        if !spawned_all.load(Ordering::SeqCst) {
                            return (me, true, true);
                        }
                        let in_time = stolen.wait(STEAL_LIMIT);
                        if !in_time {
                            stolen.set(); // one timeout is the verdict: the others go on
                        }
                        (me, false, in_time)
                    })
                })
                .collect();
            spawned_all.store(true, Ordering::SeqCst);
            let (mut inline_at_spawn, mut elsewhere, mut timed_out) = (0, 0, 0);
            for h in hs {
                let (thread, inline, in_time) = h.await.unwrap();
                inline_at_spawn += usize::from(inline);
                elsewhere += usize::from(thread != parent);
                timed_out += usize::from(!in_time);
            }
            (inline_at_spawn, elsewhere, timed_out)
        });
        assert_eq!(
            inline_at_spawn, 4,
            "F8 setup: the eager budget of 4 runs 4 children inline"
        );
        assert!(
            timed_out == 0 && elsewhere >= 1,
            "F8 parallelism: worker A ran a queued child and blocked on it for \
             {STEAL_LIMIT:?}, and the idle worker never stole any of the {} queued children \
             ({elsewhere} ran elsewhere, {timed_out} timed out waiting for a steal)",
            2 * K - 4
        );
    });
}

// ---- F9: the next-task slot ----

/// F9 cap: two tasks wake each other forever (each wake puts the other in the slot), while a
/// third task waits in the deque. It runs after at most 3 slot polls, every time.
#[test]
fn f9_slot_polls_are_capped_per_tick() {
    with_watchdog(Duration::from_secs(60), "F9 slot cap", || {
        let c = Config {
            workers: 1,
            eager_budget: 4,
            eager_depth: 4,
            global_queue_interval: 61,
            event_interval: 61,
            policy: SpawnPolicy::Eager,
        };
        let rt = build(&c);
        let rounds = on_worker(&rt, async {
            let stop = Arc::new(AtomicBool::new(false));
            let (a, b) = (Arc::new(Bell::default()), Arc::new(Bell::default()));
            let ping = brisk::spawn_lazy(ping_pong(a.clone(), b.clone(), stop.clone()));
            let pong = brisk::spawn_lazy(ping_pong(b.clone(), a.clone(), stop.clone()));
            a.ring();
            // The bystander: queued behind the pair; it stops them when it first runs.
            let s = stop.clone();
            let count = Arc::new(AtomicUsize::new(0));
            let c2 = count.clone();
            let bystander = brisk::spawn_lazy(async move {
                for _ in 0..50 {
                    c2.fetch_add(1, Ordering::SeqCst);
                    Spin2(false).await;
                }
                s.store(true, Ordering::SeqCst);
            });
            bystander.await.unwrap();
            a.ring();
            b.ring();
            ping.await.unwrap() + pong.await.unwrap()
        });
        assert!(rounds > 0, "F9 setup: the pair ran");
        let trace = rt.take_trace();
        let slot_pops = trace
            .iter()
            .filter(|r| {
                matches!(
                    r.event,
                    Event::QueuePop {
                        source: Source::Slot,
                        ..
                    }
                )
            })
            .count();
        assert!(
            slot_pops > 10,
            "F9 setup: wake-ups went to the slot ({slot_pops} slot polls)"
        );
        check_f9_slot(&trace, &c).unwrap();
        check_f3_queues(&trace, &c).unwrap();
    });
}

/// Pending once (waking itself), then ready: a self-wake without `yield_now`.
struct Spin2(bool);

impl Future for Spin2 {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A doorbell: `ring` wakes the waiter (or lets its next wait pass).
#[derive(Default)]
struct Bell(std::sync::Mutex<(bool, Option<std::task::Waker>)>);

impl Bell {
    fn ring(&self) {
        let w = {
            let mut g = self.0.lock().unwrap();
            g.0 = true;
            g.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }

    fn wait(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            let mut g = self.0.lock().unwrap();
            if std::mem::take(&mut g.0) {
                Poll::Ready(())
            } else {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// Waits for `mine`, rings `other`, until `stop` (set by the bystander, or by either side
/// after 2,000 rounds so that a run without a cap still ends); returns the rounds it made.
async fn ping_pong(mine: Arc<Bell>, other: Arc<Bell>, stop: Arc<AtomicBool>) -> usize {
    let mut n = 0;
    loop {
        mine.wait().await;
        if n >= 2_000 {
            stop.store(true, Ordering::SeqCst);
        }
        if stop.load(Ordering::SeqCst) {
            other.ring();
            return n;
        }
        n += 1;
        other.ring();
    }
}

/// F9 stealable: a task on worker A wakes another (into A's slot), then blocks worker A until
/// the woken task has run. It passes exactly when the idle worker takes the task from A's
/// slot; a slot nobody can steal holds it until the 20 s limit, which fails the test.
#[test]
fn f9_slot_is_stolen_by_an_idle_worker() {
    const STEAL_LIMIT: Duration = Duration::from_secs(20);
    with_watchdog(Duration::from_secs(60), "F9 slot steal", || {
        let rt = Runtime::builder().worker_threads(2).build().unwrap();
        let (in_time, ran_elsewhere) = on_worker(&rt, async {
            let bell = Arc::new(Bell::default());
            let ran = Arc::new(Latch::default());
            let (b2, r2) = (bell.clone(), ran.clone());
            let woken = brisk::spawn_lazy(async move {
                b2.wait().await;
                r2.set();
                std::thread::current().id()
            });
            // Let it run to its wait (it is queued; await a self-wake so it goes first).
            while !woken.is_finished() && !bell_waiting(&bell) {
                Spin2(false).await;
            }
            // The worker that blocks, taken after the last await: the loop above may have
            // moved this task to the other worker (a self-woken task in the slot is stealable).
            let me = std::thread::current().id();
            bell.ring(); // into this worker's slot
            let in_time = ran.wait(STEAL_LIMIT);
            (in_time, woken.await.unwrap() != me)
        });
        assert!(
            in_time,
            "F9 slot steal: the woken task waited {STEAL_LIMIT:?} in the slot of a blocked \
             worker while the other worker was idle"
        );
        assert!(
            ran_elsewhere,
            "F9 slot steal: the woken task ran on the blocked worker's thread"
        );
    });
}

// ---- F11: dozing workers ----

/// F11: a wake-up owed to a dozing worker is not lost. A task queues a child on its worker,
/// which wakes the other (sleeping) worker; that one runs the child, finds nothing else and
/// parks again while this worker runs: it dozes. This worker, held in the task (no await)
/// until that park, then queues a second task, whose wake-up is owed to the dozer, and blocks
/// its thread until that task ran. Only the dozer can run it (deterministic: a 20 s limit
/// turns a lost wake-up into a failure). A try whose second wake-up was not owed (the doze
/// ended first, on a loaded machine) is repeated, so the check always runs the dozing path.
#[test]
fn f11_work_owed_to_a_dozing_worker_runs_while_its_worker_blocks() {
    const LIMIT: Duration = Duration::from_secs(20);
    with_watchdog(Duration::from_secs(300), "F11 doze", || {
        let rt = Runtime::builder().worker_threads(2).build().unwrap();
        let m = rt.metrics();
        // Both workers asleep first, so that the first child wakes the other one.
        let t0 = std::time::Instant::now();
        while m.parks() < 2 && t0.elapsed() < LIMIT {
            std::thread::sleep(Duration::from_millis(1));
        }
        let (in_time, ran_elsewhere) = on_worker(&rt, async move {
            for _ in 0..1000 {
                let parks = m.parks();
                let first = brisk::spawn_lazy(async {});
                let t0 = std::time::Instant::now();
                while m.parks() == parks && t0.elapsed() < LIMIT {
                    std::hint::spin_loop();
                }
                // The worker that blocks: no await since the last one.
                let me = std::thread::current().id();
                let owed_before = m.owed_wakeups();
                let ran = Arc::new(Latch::default());
                let r2 = ran.clone();
                let last = brisk::spawn_lazy(async move {
                    r2.set();
                    std::thread::current().id()
                });
                if m.owed_wakeups() > owed_before {
                    let in_time = ran.wait(LIMIT);
                    let elsewhere = last.await.unwrap() != me;
                    first.await.unwrap();
                    return (in_time, elsewhere);
                }
                first.await.unwrap();
                last.await.unwrap();
            }
            panic!("F11 doze: in 1000 tries no wake-up was owed to a dozing worker");
        });
        assert!(
            in_time,
            "F11 doze: a task queued by a blocked worker waited {LIMIT:?} while the other \
             worker dozed with its wake-up owed"
        );
        assert!(
            ran_elsewhere,
            "F11 doze: the task ran on the blocked worker's thread"
        );
    });
}

/// F11: a worker dozes on only while wake-ups are owed to it. A poll that runs 300 ms first
/// queues one task (which wakes the other worker), then nothing: the idle worker dozes at most
/// once, then sleeps without a timeout, so over 200 ms of that poll it parks a handful of
/// times at most (dozing on, it would park every 100 µs: ~2,000 times).
#[test]
fn f11_an_idle_worker_beside_a_long_poll_stops_dozing() {
    with_watchdog(Duration::from_secs(60), "F11 doze on", || {
        let rt = Runtime::builder().worker_threads(2).build().unwrap();
        let m = rt.metrics();
        let started = Arc::new(Latch::default());
        let s2 = started.clone();
        // Both workers asleep first, so that the task's spawn below wakes one.
        let t0 = std::time::Instant::now();
        while m.parks() < 2 && t0.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let long = rt.spawn(async move {
            // Queued here, it wakes the other worker: a worker woken for work may doze next.
            drop(brisk::spawn_lazy(async {}));
            s2.set();
            let t0 = std::time::Instant::now();
            while t0.elapsed() < Duration::from_millis(300) {
                std::hint::spin_loop();
            }
        });
        assert!(
            started.wait(Duration::from_secs(20)),
            "the long poll started"
        );
        std::thread::sleep(Duration::from_millis(50));
        let before = m.parks();
        std::thread::sleep(Duration::from_millis(200));
        let parks = m.parks() - before;
        rt.block_on(long).unwrap();
        assert!(
            parks <= 5,
            "F11 doze on: the idle worker parked {parks} times in 200 ms beside a long poll \
             that queued nothing (it kept dozing with no wake-up owed)"
        );
    });
}

fn bell_waiting(bell: &Bell) -> bool {
    bell.0.lock().unwrap().1.is_some()
}

// ---- F10: driver turns ----

/// F10 yield: on one worker a task yields 50 times; each yield is deferred and the task is
/// queued again only after a driver turn (checked on the trace).
#[test]
fn f10_yield_is_deferred_until_a_driver_turn() {
    with_watchdog(Duration::from_secs(60), "F10 yield", || {
        let c = Config {
            workers: 1,
            eager_budget: 4,
            eager_depth: 4,
            global_queue_interval: 61,
            event_interval: 61,
            policy: SpawnPolicy::Eager,
        };
        let rt = build(&c);
        on_worker(&rt, async {
            let other = brisk::spawn_lazy(async {
                for _ in 0..50 {
                    brisk::task::yield_now().await;
                }
            });
            for _ in 0..50 {
                brisk::task::yield_now().await;
            }
            other.await.unwrap();
        });
        let trace = rt.take_trace();
        let defers = trace
            .iter()
            .filter(|r| matches!(r.event, Event::YieldDefer { .. }))
            .count();
        assert!(
            defers >= 100,
            "F10 yield: {defers} of 100 yields on the worker were deferred"
        );
        check_f10_driver(&trace, &c).unwrap();
        check_f3_queues(&trace, &c).unwrap();
    });
}

/// F10 busy: a task that keeps its worker busy (waking itself, never empty-handed) still lets
/// the worker turn the driver every `event_interval` ticks.
#[test]
fn f10_busy_worker_turns_the_driver_every_event_interval() {
    with_watchdog(Duration::from_secs(60), "F10 busy", || {
        for ei in [1, 4, 13] {
            let c = Config {
                workers: 1,
                eager_budget: 4,
                eager_depth: 4,
                global_queue_interval: 61,
                event_interval: ei,
                policy: SpawnPolicy::Eager,
            };
            let rt = build(&c);
            on_worker(&rt, async {
                let hs: Vec<_> = (0..3)
                    .map(|_| brisk::spawn_lazy(brisk_tests::PendingN(200)))
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
            });
            let trace = rt.take_trace();
            let turns = trace
                .iter()
                .filter(|r| matches!(r.event, Event::DriverTurn { .. }))
                .count();
            assert!(
                turns as u32 >= 600 / ei,
                "F10 busy: {turns} driver turns in 600 ticks (event_interval {ei})"
            );
            check_f10_driver(&trace, &c).unwrap();
        }
    });
}
