//! Fairness bounds F1–F8 (DESIGN.md), checked on the trace of the real scheduler running
//! random programs under random configurations. Each property names its bound on failure.
//!
//! `PROPTEST_CASES` raises the case counts for long runs.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use brisk::trace::{Event, Record, Source};
use brisk::{Runtime, SpawnPolicy};
use brisk_tests::program::{Node, Op};
use brisk_tests::{on_worker, with_watchdog, Flag};
use proptest::prelude::*;

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
    policy: SpawnPolicy,
}

fn config() -> impl Strategy<Value = Config> {
    (0usize..=4, 0u32..=32, 0u32..=16, 1u32..=64, any::<bool>()).prop_map(|(w, b, d, g, lazy)| {
        Config {
            workers: w,
            eager_budget: b,
            eager_depth: d,
            global_queue_interval: g,
            policy: if lazy {
                SpawnPolicy::Lazy
            } else {
                SpawnPolicy::Eager
            },
        }
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
        .spawn_policy(c.policy)
        .build()
        .unwrap()
}

/// Runs `p` on a fresh runtime with config `c`; returns the results (outside roots, then
/// inside roots) and the trace. A hang fails the test with the trace tail (F5).
fn run(p: &Program, c: Config) -> (Vec<u64>, Vec<Record>) {
    let p = p.clone();
    let rt = Arc::new(build(&c));
    let rt2 = rt.clone();
    let outcome = std::thread::spawn(move || {
        let outside: Vec<_> = p
            .outside
            .iter()
            .map(|n| rt2.handle().spawn(n.clone().run_root()))
            .collect();
        let inside = p.inside.clone();
        rt2.block_on(async move {
            let mut out = Vec::new();
            for h in outside {
                out.push(h.await.expect("outside root failed"));
            }
            let hs: Vec<_> = inside
                .into_iter()
                .map(|n| brisk::spawn(n.run_root()))
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
    (results, trace)
}

fn references(p: &Program) -> Vec<u64> {
    p.outside
        .iter()
        .chain(&p.inside)
        .map(Node::reference)
        .collect()
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

// ---- F1, F2, F5, F6 on random programs ----

proptest! {
    #![proptest_config(cases(48))]

    /// F1 depth, F2 budget, F5 liveness and F6 equivalence on one run each.
    #[test]
    fn f1_f2_f5_f6_random_programs(p in program(), c in config()) {
        let (results, trace) = run(&p, c);
        prop_assert_eq!(&results, &references(&p), "F6 equivalence: result differs from the reference under {:?}", c);
        check_f1_depth(&trace, &c)?;
        check_f2_budget(&trace, &c)?;
        check_f5_every_task_completes(&trace, &p)?;
    }

    /// F1, F2, F5, F6 on the current-thread runtime only (`config()` also picks it, as
    /// `workers: 0`, in a fifth of the cases above).
    #[test]
    fn f1_f2_f5_f6_on_the_current_thread_runtime(p in program(), c in config()) {
        let c = Config { workers: 0, ..c };
        let (results, trace) = run(&p, c);
        prop_assert_eq!(&results, &references(&p), "F6 equivalence: result differs from the reference under {:?}", c);
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

    /// F3 local delay on one worker: FIFO order, and a task queued behind k others is polled
    /// after at most k·(1 + eager_budget) + c other polls, with c = eager_budget (the rest of
    /// the tick in which it was queued).
    #[test]
    fn f3_local_delay_on_one_worker(root in node(3), budget in 0u32..=32, depth in 0u32..=16) {
        let c = Config { workers: 1, eager_budget: budget, eager_depth: depth, global_queue_interval: 61, policy: SpawnPolicy::Eager };
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
        check_f3_local_delay(&rt.take_trace(), budget)?;
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

fn check_f1_depth(trace: &[Record], c: &Config) -> Result<(), TestCaseError> {
    for r in trace {
        if let Event::InlinePollStart { depth, task } = r.event {
            prop_assert!(
                depth <= c.eager_depth,
                "F1 depth: inline poll of {task:?} at depth {depth} > eager_depth {} ({r:?})",
                c.eager_depth
            );
        }
    }
    Ok(())
}

fn check_f2_budget(trace: &[Record], c: &Config) -> Result<(), TestCaseError> {
    let mut per_tick: HashMap<(Option<usize>, u64), u32> = HashMap::new();
    for r in trace {
        if let Event::InlinePollStart { .. } = r.event {
            let n = per_tick.entry((r.worker, r.tick)).or_default();
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

fn check_f3_local_delay(trace: &[Record], budget: u32) -> Result<(), TestCaseError> {
    // Worker 0's own events, in order. Local pushes and pops all happen on it.
    let events: Vec<_> = trace.iter().filter(|r| r.worker == Some(0)).collect();
    let mut queue: VecDeque<(brisk::task::Id, usize, u64)> = VecDeque::new(); // (task, k ahead, polls at push)
    let mut polls: u64 = 0;
    for r in events {
        match r.event {
            Event::Schedule {
                task,
                injector: false,
            } => queue.push_back((task, queue.len(), polls)),
            Event::QueuePop {
                task,
                source: Source::Local,
            } => {
                let (front, k, at) = queue.pop_front().expect("pop from an empty local queue");
                prop_assert_eq!(front, task, "F3: local queue is not FIFO");
                let others = polls - at;
                let bound = k as u64 * (1 + u64::from(budget)) + u64::from(budget);
                prop_assert!(
                    others <= bound,
                    "F3 local delay: task {task:?} queued behind {k} waited {others} polls > {bound}"
                );
                polls += 1;
            }
            Event::QueuePop { .. } | Event::InlinePollStart { .. } => polls += 1,
            _ => {}
        }
    }
    Ok(())
}

// ---- F4: the injector is served while local work never runs out ----

proptest! {
    #![proptest_config(cases(12))]

    #[test]
    fn f4_injector_served_every_global_queue_interval(gqi in 1u32..=64, budget in 0u32..=32) {
        let rt = Runtime::builder().worker_threads(1).global_queue_interval(gqi).eager_budget(budget).build().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let hold = Arc::new(AtomicBool::new(true));
        let running = Flag::new();
        // Yielders keep the local queue non-empty; the first one holds the worker while the
        // test thread fills the injector, so the injector is never empty while we measure.
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
                    while !s.load(Ordering::SeqCst) {
                        brisk::task::yield_now().await;
                    }
                });
            }
        });
        while !running.is_set() {
            std::thread::sleep(Duration::from_millis(1));
        }
        const M: usize = 20;
        let done = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..M).map(|_| {
            let d = done.clone();
            rt.handle().spawn(async move { d.fetch_add(1, Ordering::SeqCst); })
        }).collect();
        hold.store(false, Ordering::SeqCst);
        let ok = with_watchdog(Duration::from_secs(30), "F4 injector starvation", move || {
            while done.load(Ordering::SeqCst) < M {
                std::thread::sleep(Duration::from_millis(1));
            }
            true
        });
        stop.store(true, Ordering::SeqCst);
        prop_assert!(ok);
        drop(hs);
        let pops: Vec<u64> = rt.take_trace().iter()
            .filter(|r| r.worker == Some(0) && matches!(r.event, Event::QueuePop { source: Source::Injector, .. }))
            .map(|r| r.tick)
            .collect();
        // The root came through the injector first; then the M tasks, one every gqi ticks.
        let injected = &pops[pops.len() - M..];
        for w in injected.windows(2) {
            prop_assert!(w[1] - w[0] <= u64::from(gqi),
                "F4 injector: {} ticks between injector pops > global_queue_interval {gqi}", w[1] - w[0]);
        }
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
