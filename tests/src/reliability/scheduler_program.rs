//! The fuzz check of the scheduler: a random program on a real runtime with a random
//! configuration.
//!
//! A [`FuzzProgram`] is a runtime configuration (workers 1–4, `eager_budget` 0–32,
//! `eager_depth` 0–16, `global_queue_interval` 1–64, `Eager` or `Lazy`) and a list of root
//! tasks: task trees from [`crate::program`] (spawns, awaits, yields, channel wake-ups), sleeps
//! of 0–3 ms, sleeps under a timeout, task trees or sleeps that are aborted after a few yields,
//! detached trees (handle dropped at once) and trees whose handle outlives the runtime. Roots
//! are spawned from outside the runtime (the injector) or inside `block_on`.
//!
//! [`run`] checks:
//! - every awaited result equals the runtime-free reference ([`crate::program::Node::reference`]);
//!   an aborted root yields its result or a cancellation, nothing else;
//! - the whole run finishes under a watchdog (no hang, no lost wake-up; a hang aborts the
//!   process, which libFuzzer reports as a crash and the replay test as a failed binary);
//! - after the runtime is dropped, every root future has been dropped (a drop counter), and
//!   every handle that outlived the runtime is finished;
//! - if the binary installed [`super::alloc::CountingAlloc`], the process's live allocations
//!   are back to where they were before the runtime was built (no task cell, future, output
//!   or waker leaked, including the child tasks inside the trees).
//!
//! Inputs decode through `arbitrary::Unstructured`, so the fuzzer and the corpus replay build
//! the same program from the same bytes. Deliberate panics are left out: libFuzzer treats any
//! panic as a crash, even one the runtime catches (the stress tests cover panicking tasks).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use arbitrary::Unstructured;
use brisk::{JoinError, JoinHandle, Runtime, SpawnPolicy};

use crate::program::{Node, Op};

/// The runtime settings of one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker threads (1–4).
    pub workers: usize,
    /// `Builder::eager_budget` (0–32).
    pub eager_budget: u32,
    /// `Builder::eager_depth` (0–16).
    pub eager_depth: u32,
    /// `Builder::global_queue_interval` (1–64).
    pub global_queue_interval: u32,
    /// `Eager` or `Lazy`.
    pub policy: SpawnPolicy,
}

/// One root task of a [`FuzzProgram`].
#[derive(Debug, Clone)]
pub enum Root {
    /// A task tree; its result must equal `node.reference()`.
    Program {
        /// The tree.
        node: Node,
        /// Spawned from outside the runtime (the injector) rather than inside `block_on`.
        outside: bool,
    },
    /// `sleep(ms)`, then returns `ms`.
    Sleep {
        /// 0–3 ms.
        ms: u8,
        /// Spawned from outside the runtime.
        outside: bool,
    },
    /// `timeout(limit, sleep(ms))`: either outcome is fine, the timer must be cleaned up.
    Timeout {
        /// The sleep, 0–3 ms.
        ms: u8,
        /// The timeout, 0–3 ms.
        limit: u8,
    },
    /// A task tree aborted after `yields` yields of `block_on`: its result or cancelled.
    Abort {
        /// The tree.
        node: Node,
        /// 0–3.
        yields: u8,
    },
    /// A sleep aborted after `yields` yields: its result or cancelled.
    AbortSleep {
        /// 0–3 ms.
        ms: u8,
        /// 0–3.
        yields: u8,
    },
    /// A task tree whose handle is dropped at once: it runs on its own or is cancelled at
    /// shutdown.
    Detached {
        /// The tree.
        node: Node,
    },
    /// A task tree whose handle is kept past the runtime's drop: then it must be finished
    /// (completed with the reference result, or cancelled by the shutdown).
    Outlive {
        /// The tree.
        node: Node,
    },
}

/// A configuration and the roots to run on it.
#[derive(Debug, Clone)]
pub struct FuzzProgram {
    /// The runtime settings.
    pub config: Config,
    /// The root tasks, spawned in order.
    pub roots: Vec<Root>,
}

/// At most this many tasks in all the trees of one program (keeps a run short).
const MAX_TASKS: usize = 48;

fn node(u: &mut Unstructured<'_>, depth: u32, budget: &mut usize) -> arbitrary::Result<Node> {
    *budget = budget.saturating_sub(1);
    let tokens = u.int_in_range(0u8..=2)?;
    let n = u.int_in_range(0usize..=5)?;
    let mut ops = Vec::with_capacity(n);
    for _ in 0..n {
        let kind = u.int_in_range(0u8..=5)?;
        ops.push(match kind {
            0 if depth > 0 && *budget > 0 => Op::Spawn {
                child: node(u, depth - 1, budget)?,
                lazy: u.arbitrary()?,
            },
            0 | 1 => Op::Await(u.int_in_range(0usize..=3)?),
            2 => Op::Yield,
            3 => Op::Signal(u.int_in_range(0usize..=3)?),
            _ => Op::Compute(u.arbitrary()?),
        });
    }
    Ok(Node { tokens, ops })
}

impl FuzzProgram {
    /// Decodes a program from fuzz input (the same bytes always give the same program).
    pub fn decode(data: &[u8]) -> arbitrary::Result<FuzzProgram> {
        let mut u = Unstructured::new(data);
        let config = Config {
            workers: u.int_in_range(1usize..=4)?,
            eager_budget: u.int_in_range(0u32..=32)?,
            eager_depth: u.int_in_range(0u32..=16)?,
            global_queue_interval: u.int_in_range(1u32..=64)?,
            policy: if u.arbitrary()? {
                SpawnPolicy::Lazy
            } else {
                SpawnPolicy::Eager
            },
        };
        let mut budget = MAX_TASKS;
        let n = u.int_in_range(1usize..=6)?;
        let mut roots = Vec::with_capacity(n);
        for _ in 0..n {
            if budget == 0 {
                break;
            }
            let root = match u.int_in_range(0u8..=7)? {
                0 | 1 => Root::Program {
                    node: node(&mut u, 3, &mut budget)?,
                    outside: u.arbitrary()?,
                },
                2 => Root::Sleep {
                    ms: u.int_in_range(0u8..=3)?,
                    outside: u.arbitrary()?,
                },
                3 => Root::Timeout {
                    ms: u.int_in_range(0u8..=3)?,
                    limit: u.int_in_range(0u8..=3)?,
                },
                4 => Root::Abort {
                    node: node(&mut u, 3, &mut budget)?,
                    yields: u.int_in_range(0u8..=3)?,
                },
                5 => Root::AbortSleep {
                    ms: u.int_in_range(0u8..=3)?,
                    yields: u.int_in_range(0u8..=3)?,
                },
                6 => Root::Detached {
                    node: node(&mut u, 3, &mut budget)?,
                },
                _ => Root::Outlive {
                    node: node(&mut u, 3, &mut budget)?,
                },
            };
            roots.push(root);
        }
        Ok(FuzzProgram { config, roots })
    }
}

/// Counts the root futures alive: +1 when made, -1 when dropped.
struct Counted<T> {
    future: Pin<Box<dyn Future<Output = T> + Send>>,
    live: Arc<AtomicUsize>,
}

impl<T> Counted<T> {
    fn new(future: Pin<Box<dyn Future<Output = T> + Send>>, live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, SeqCst);
        Counted {
            future,
            live: live.clone(),
        }
    }
}

impl<T> Future for Counted<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.future.as_mut().poll(cx)
    }
}

impl<T> Drop for Counted<T> {
    fn drop(&mut self) {
        self.live.fetch_sub(1, SeqCst);
    }
}

fn sleep_ms(ms: u8) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        brisk::time::sleep(Duration::from_millis(u64::from(ms))).await;
        u64::from(ms)
    })
}

fn timeout_ms(ms: u8, limit: u8) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        let sleep = brisk::time::sleep(Duration::from_millis(u64::from(ms)));
        match brisk::time::timeout(Duration::from_millis(u64::from(limit)), sleep).await {
            Ok(()) => 1,
            Err(_elapsed) => 0,
        }
    })
}

/// What a root's awaited result may be.
enum Expect {
    /// Exactly this value.
    Value(u64),
    /// One of these values.
    OneOf(&'static [u64]),
    /// This value, or cancelled.
    ValueOrCancelled(u64),
}

fn check_result(i: usize, got: Result<u64, JoinError>, expect: &Expect) {
    match (expect, got) {
        (Expect::Value(v), Ok(got)) => assert_eq!(got, *v, "root {i}: wrong result"),
        (Expect::OneOf(vs), Ok(got)) => assert!(vs.contains(&got), "root {i}: result {got}"),
        (Expect::ValueOrCancelled(v), Ok(got)) => assert_eq!(got, *v, "root {i}: wrong result"),
        (Expect::ValueOrCancelled(_), Err(e)) if e.is_cancelled() => {}
        (_, Err(e)) => panic!("root {i}: unexpected error {e}"),
    }
}

struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// Runs `program`; panics if any check fails (see the module docs). A run longer than `limit`
/// aborts the process (see [`super::with_abort_watchdog`]).
///
/// The program runs on a thread of its own: when it has been joined, its thread-locals (the
/// runtime context, the per-thread cache of task cells) are gone, so the allocation count
/// compares like with like. This thread only waits (no allocation) meanwhile.
pub fn run(program: &FuzzProgram, limit: Duration) {
    static WARM_UP: std::sync::Once = std::sync::Once::new();
    WARM_UP.call_once(|| {
        let c = program.config.clone();
        std::thread::spawn(move || warm_up(&c))
            .join()
            .expect("warm-up run");
    });
    let program = program.clone();
    super::with_abort_watchdog(limit, "fuzz program", move || {
        super::alloc::flush_epoch_garbage();
        let baseline = super::alloc::live();
        let outcome = std::thread::spawn(move || run_inner(&program)).join();
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
        if let Some(baseline) = baseline {
            if let Err(now) = super::alloc::settle(baseline, Duration::from_secs(2)) {
                panic!(
                    "leak: {} allocations still live after the runtime was dropped",
                    now - baseline
                );
            }
        }
    });
}

fn build(c: &Config) -> Runtime {
    Runtime::builder()
        .worker_threads(c.workers)
        .eager_budget(c.eager_budget)
        .eager_depth(c.eager_depth)
        .global_queue_interval(c.global_queue_interval)
        .spawn_policy(c.policy)
        .build()
        .expect("runtime")
}

/// One small run before the first measured one, so that the process's lazy statics (the
/// epoch collector, ...) already exist and are not mistaken for leaks.
fn warm_up(c: &Config) {
    let rt = build(c);
    rt.block_on(async {
        let h = brisk::spawn(async { brisk::task::yield_now().await });
        brisk::time::sleep(Duration::from_millis(1)).await;
        h.await.unwrap();
    });
    drop(rt);
    super::alloc::flush_epoch_garbage();
}

fn run_inner(program: &FuzzProgram) {
    let c = &program.config;
    let live = Arc::new(AtomicUsize::new(0));
    let rt = build(c);

    // Outside spawns first (they go to the injector and may start at once on a worker).
    let outside_handles: Vec<Option<JoinHandle<u64>>> = program
        .roots
        .iter()
        .map(|root| match root {
            Root::Program {
                node,
                outside: true,
            } => Some(rt.spawn(Counted::new(node.clone().run_root(), &live))),
            Root::Sleep { ms, outside: true } => Some(rt.spawn(Counted::new(sleep_ms(*ms), &live))),
            _ => None,
        })
        .collect();

    let roots = program.roots.clone();
    let live_in = live.clone();
    let outlived: Vec<(JoinHandle<u64>, u64)> = rt.block_on(async move {
        let live = live_in;
        let mut outside_handles = outside_handles;
        let mut handles: Vec<(JoinHandle<u64>, Expect, u8)> = Vec::new();
        let mut outlived = Vec::new();
        for (i, root) in roots.into_iter().enumerate() {
            match root {
                Root::Program { node, .. } => {
                    let expect = Expect::Value(node.reference());
                    let h = match outside_handles[i].take() {
                        Some(h) => h,
                        None => brisk::spawn(Counted::new(node.run_root(), &live)),
                    };
                    handles.push((h, expect, 0));
                }
                Root::Sleep { ms, .. } => {
                    let expect = Expect::Value(u64::from(ms));
                    let h = match outside_handles[i].take() {
                        Some(h) => h,
                        None => brisk::spawn(Counted::new(sleep_ms(ms), &live)),
                    };
                    handles.push((h, expect, 0));
                }
                Root::Timeout { ms, limit } => {
                    let h = brisk::spawn(Counted::new(timeout_ms(ms, limit), &live));
                    handles.push((h, Expect::OneOf(&[0, 1]), 0));
                }
                Root::Abort { node, yields } => {
                    let expect = Expect::ValueOrCancelled(node.reference());
                    let h = brisk::spawn(Counted::new(node.run_root(), &live));
                    handles.push((h, expect, yields + 1));
                }
                Root::AbortSleep { ms, yields } => {
                    let expect = Expect::ValueOrCancelled(u64::from(ms));
                    let h = brisk::spawn(Counted::new(sleep_ms(ms), &live));
                    handles.push((h, expect, yields + 1));
                }
                Root::Detached { node } => {
                    drop(brisk::spawn(Counted::new(node.run_root(), &live)));
                }
                Root::Outlive { node } => {
                    let r = node.reference();
                    outlived.push((brisk::spawn(Counted::new(node.run_root(), &live)), r));
                }
            }
        }
        // Aborts: `abort_at` is 1 + the number of yields before the abort.
        for round in 1..=4u8 {
            for (h, _, abort_at) in &handles {
                if *abort_at == round {
                    h.abort();
                }
            }
            brisk::task::yield_now().await;
        }
        for (i, (h, expect, _)) in handles.into_iter().enumerate() {
            check_result(i, h.await, &expect);
        }
        outlived
    });
    SHUTTING_DOWN.store(true, SeqCst);
    drop(rt);
    SHUTTING_DOWN.store(false, SeqCst);

    assert_eq!(
        live.load(SeqCst),
        0,
        "root futures still alive after the runtime was dropped"
    );
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    for (i, (mut h, reference)) in outlived.into_iter().enumerate() {
        assert!(
            h.is_finished(),
            "outliving handle {i} not finished after drop"
        );
        match Pin::new(&mut h).poll(&mut cx) {
            Poll::Ready(Ok(v)) => assert_eq!(v, reference, "outliving root {i}: wrong result"),
            Poll::Ready(Err(e)) if e.is_cancelled() => {}
            Poll::Ready(Err(e)) if e.is_panic() => {
                // Still running at shutdown, it saw a child cancelled (see
                // `tolerate_shutdown_cancellations`): the only panic a tree may raise.
                let payload = e.into_panic();
                let msg = payload.downcast_ref::<String>().map_or("", String::as_str);
                assert!(
                    is_shutdown_cancellation(msg),
                    "outliving root {i} panicked: {msg}"
                );
            }
            Poll::Ready(Err(e)) => panic!("outliving root {i}: {e}"),
            Poll::Pending => panic!("outliving handle {i} pending after the runtime's drop"),
        }
    }
}

/// True for the panic message of a task tree that saw a child cancelled by the shutdown:
/// `crate::program`'s "child task failed" on a cancellation, or on a child that itself failed
/// that way (the cascade up the tree).
fn is_shutdown_cancellation(msg: &str) -> bool {
    msg.starts_with("child task failed: JoinError::") && msg.contains("JoinError::Cancelled")
}

/// Set while a runtime of [`run`] shuts down.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Installs (once) a panic hook in front of the current one that lets through silently the
/// one panic a program may legitimately raise: during the runtime's shutdown, a task tree that
/// was not awaited (detached, outliving, or orphaned by an abort) can still be running on a
/// worker and see its child cancelled, and `crate::program` then panics ("child task
/// failed"). The runtime catches that panic and nobody reads it; but libFuzzer's hook aborts
/// on every panic, caught or not, so [`check`] calls this first. Any other panic, and
/// this one outside a shutdown, reaches the previous hook.
pub fn tolerate_shutdown_cancellations() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .unwrap_or("");
            let expected = is_shutdown_cancellation(msg);
            if !(expected && SHUTTING_DOWN.load(SeqCst)) {
                previous(info);
            }
        }));
    });
}

/// Decodes `data` and runs it (inputs that do not decode are ignored).
pub fn check(data: &[u8]) {
    tolerate_shutdown_cancellations();
    if let Ok(program) = FuzzProgram::decode(data) {
        run(&program, Duration::from_secs(30));
    }
}
