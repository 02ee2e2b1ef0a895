//! The scenarios, each written once, generic over [`Rt`] / [`Host`].
//!
//! Every scenario body returns a checksum that [`expected`] computes independently; a
//! measurement whose checksum differs is an error, never a time. Unless noted, a scenario runs
//! inside a task already running on the runtime (spawned from outside with [`Host::run`]) and
//! times itself from inside that task, so runtime start-up and the caller's wake-up are not
//! measured.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hint::black_box;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::rt::{AnyRuntime, Conn, Host, Rt};

/// How a cache miss waits for its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Miss {
    /// A reply sent from another task (the backend) through `async_channel`: works on every
    /// runtime today.
    Channel,
    /// The runtime's own timer: 0-1 ms (`rpc_mostly_cached`: the key's value in µs, 0 to
    /// 990 µs), 1 ms (`async_tree`).
    Timer,
}

/// What a leaf of `async_tree` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leaf {
    /// Returns at once (the no-suspension tree).
    None,
    /// 90% hits on a shared map; a miss waits as [`Miss`] says.
    Memo(Miss),
    /// Every leaf awaits a 1 ms timer (the runtime's own).
    Io,
}

/// One benchmark scenario (a row of the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Awaiting a ready `async fn` directly: the floor every spawn is compared with.
    DirectAwait,
    /// `spawn(ready).await`, one after the other.
    SpawnReadyAwait,
    /// Spawn 1,000 tasks (90% ready at once, 10% yield once), then await them all.
    GatherMostlyReady,
    /// Spawn 10,000 detached tasks from a task; the last one to run signals completion.
    SpawnManyLocal,
    /// As `SpawnManyLocal`, but spawned from a thread outside the runtime.
    SpawnManyRemote,
    /// 1,000 tasks, each spawning a partner and exchanging a ping and a pong over oneshots.
    PingPong,
    /// 200 tasks yielding 1,000 times each.
    YieldMany,
    /// A chain of 1,000 tasks, each spawning the next.
    ChainedSpawn,
    /// Requests whose handler awaits 3 spawned sub-calls, 90% cache hits.
    RpcMostlyCached(Miss),
    /// pyperformance's `async_tree`: 6 levels × 6 children, each node spawns and awaits its
    /// children.
    AsyncTree(Leaf),
    /// 64 loopback TCP connections, each sending 1 KiB messages to an echo task and reading
    /// each echo back before sending the next; ns per message round trip.
    TcpEcho,
    /// Insert and cancel 100k sleeps: create a sleep 60 s away, poll it once so that it
    /// registers, drop it.
    TimerChurn,
    /// `timer_churn` on every worker at once: the same sleeps split over
    /// [`CHURN_PARALLEL_TASKS`] spawned tasks, so that inserts and cancels from all workers
    /// contend for the runtime's timers.
    TimerChurnParallel,
    /// A task spawns 8 children that each compute ~1 ms without waiting, and awaits them all;
    /// wall time per round. The cost of eagerness: a child polled inline runs on the spawning
    /// worker, so the others cannot help.
    CpuFanout,
    /// How long `spawn` keeps the parent waiting: per round, one spawn each of a ready child,
    /// a CPU-bound child (~100 µs without waiting) and a child that yields once; the time of
    /// the three `spawn` calls only (not of the children), per spawn.
    SpawnLatency,
}

impl Scenario {
    /// Every scenario of issue 6, in table order.
    pub const ALL: [Scenario; 19] = [
        Scenario::DirectAwait,
        Scenario::SpawnReadyAwait,
        Scenario::GatherMostlyReady,
        Scenario::SpawnManyLocal,
        Scenario::SpawnManyRemote,
        Scenario::PingPong,
        Scenario::YieldMany,
        Scenario::ChainedSpawn,
        Scenario::RpcMostlyCached(Miss::Channel),
        Scenario::RpcMostlyCached(Miss::Timer),
        Scenario::AsyncTree(Leaf::None),
        Scenario::AsyncTree(Leaf::Memo(Miss::Channel)),
        Scenario::AsyncTree(Leaf::Memo(Miss::Timer)),
        Scenario::AsyncTree(Leaf::Io),
        Scenario::TcpEcho,
        Scenario::TimerChurn,
        Scenario::TimerChurnParallel,
        Scenario::CpuFanout,
        Scenario::SpawnLatency,
    ];

    /// The scenario's name (table rows, criterion groups, `--filter`, JSON).
    pub fn name(self) -> &'static str {
        match self {
            Scenario::DirectAwait => "direct_await",
            Scenario::SpawnReadyAwait => "spawn_ready_await",
            Scenario::GatherMostlyReady => "gather_mostly_ready",
            Scenario::SpawnManyLocal => "spawn_many_local",
            Scenario::SpawnManyRemote => "spawn_many_remote",
            Scenario::PingPong => "ping_pong",
            Scenario::YieldMany => "yield_many",
            Scenario::ChainedSpawn => "chained_spawn",
            Scenario::RpcMostlyCached(Miss::Channel) => "rpc_mostly_cached_channel",
            Scenario::RpcMostlyCached(Miss::Timer) => "rpc_mostly_cached_timer",
            Scenario::AsyncTree(Leaf::None) => "async_tree_none",
            Scenario::AsyncTree(Leaf::Memo(Miss::Channel)) => "async_tree_memo_channel",
            Scenario::AsyncTree(Leaf::Memo(Miss::Timer)) => "async_tree_memo_timer",
            Scenario::AsyncTree(Leaf::Io) => "async_tree_io",
            Scenario::TcpEcho => "tcp_echo",
            Scenario::TimerChurn => "timer_churn",
            Scenario::TimerChurnParallel => "timer_churn_parallel",
            Scenario::CpuFanout => "cpu_fanout",
            Scenario::SpawnLatency => "spawn_latency",
        }
    }

    /// The scenario called `name`, if any.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// What one "op" of this scenario is (the unit of ns/op).
    pub fn op(self) -> &'static str {
        match self {
            Scenario::DirectAwait => "await",
            Scenario::SpawnReadyAwait => "spawn+await",
            Scenario::GatherMostlyReady
            | Scenario::SpawnManyLocal
            | Scenario::SpawnManyRemote
            | Scenario::ChainedSpawn
            | Scenario::AsyncTree(_) => "task",
            Scenario::PingPong => "ping-pong",
            Scenario::YieldMany => "yield",
            Scenario::RpcMostlyCached(_) => "request",
            Scenario::TcpEcho => "message",
            Scenario::TimerChurn | Scenario::TimerChurnParallel => "sleep",
            Scenario::CpuFanout => "round",
            Scenario::SpawnLatency => "spawn",
        }
    }

    /// True if the scenario's time is mostly spent waiting for timers (1 ms sleeps): its
    /// figure says more about timer resolution and wake-up latency than about CPU cost.
    pub fn timer_bound(self) -> bool {
        matches!(
            self,
            Scenario::RpcMostlyCached(Miss::Timer)
                | Scenario::AsyncTree(Leaf::Memo(Miss::Timer))
                | Scenario::AsyncTree(Leaf::Io)
        )
    }

    /// True if the scenario runs from a thread outside the runtime rather than inside a task.
    pub fn from_outside(self) -> bool {
        self == Scenario::SpawnManyRemote
    }

    /// How many ops one iteration performs with `sizes`.
    pub fn ops_per_iter(self, sizes: &Sizes) -> u64 {
        match self {
            Scenario::DirectAwait | Scenario::SpawnReadyAwait => 1,
            Scenario::GatherMostlyReady => sizes.gather_tasks,
            Scenario::SpawnManyLocal | Scenario::SpawnManyRemote => sizes.spawn_many,
            Scenario::PingPong => sizes.ping_pongs,
            Scenario::YieldMany => sizes.yield_tasks * sizes.yields_per_task,
            Scenario::ChainedSpawn => sizes.chain_len,
            Scenario::RpcMostlyCached(_) => sizes.rpc_batch,
            Scenario::AsyncTree(_) => sizes.tree_nodes(),
            Scenario::TcpEcho => sizes.tcp_conns,
            Scenario::TimerChurn | Scenario::TimerChurnParallel => sizes.timer_churn,
            Scenario::CpuFanout => 1,
            Scenario::SpawnLatency => 3,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The sizes of the scenarios (issue 6's at [`Sizes::FULL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Tasks per `gather_mostly_ready` round (1,000).
    pub gather_tasks: u64,
    /// Tasks per `spawn_many_*` round (10,000, as in tokio's benches).
    pub spawn_many: u64,
    /// Ping-pong pairs per `ping_pong` round (1,000).
    pub ping_pongs: u64,
    /// Tasks per `yield_many` round (200).
    pub yield_tasks: u64,
    /// Yields per `yield_many` task (1,000).
    pub yields_per_task: u64,
    /// Links of a `chained_spawn` chain (1,000).
    pub chain_len: u64,
    /// Concurrent requests per `rpc_mostly_cached` round (100).
    pub rpc_batch: u64,
    /// Levels below the root of `async_tree` (6).
    pub tree_depth: u32,
    /// Children per inner node of `async_tree` (6).
    pub tree_fanout: u64,
    /// Loopback connections of `tcp_echo` (64); one iteration is one round trip on each.
    pub tcp_conns: u64,
    /// Sleeps inserted and cancelled per `timer_churn` round (100,000).
    pub timer_churn: u64,
    /// Children per `cpu_fanout` round (8).
    pub fanout_tasks: u64,
    /// Steps of [`cpu_work`] per `cpu_fanout` child (250,000: ~1 ms here).
    pub fanout_work: u64,
    /// Steps of [`cpu_work`] of `spawn_latency`'s CPU-bound child (25,000: ~100 µs here).
    pub latency_work: u64,
}

impl Sizes {
    /// The sizes of issue 6 (and of tokio's `rt_multi_threaded` benches).
    pub const FULL: Sizes = Sizes {
        gather_tasks: 1_000,
        spawn_many: 10_000,
        ping_pongs: 1_000,
        yield_tasks: 200,
        yields_per_task: 1_000,
        chain_len: 1_000,
        rpc_batch: 100,
        tree_depth: 6,
        tree_fanout: 6,
        tcp_conns: 64,
        timer_churn: 100_000,
        fanout_tasks: 8,
        fanout_work: 250_000,
        latency_work: 25_000,
    };

    /// Tiny sizes for the quick correctness test.
    pub const TINY: Sizes = Sizes {
        gather_tasks: 20,
        spawn_many: 50,
        ping_pongs: 10,
        yield_tasks: 4,
        yields_per_task: 5,
        chain_len: 40,
        rpc_batch: 10,
        tree_depth: 3,
        tree_fanout: 3,
        tcp_conns: 4,
        timer_churn: 300,
        fanout_tasks: 3,
        fanout_work: 1_000,
        latency_work: 100,
    };

    /// Nodes (= tasks) of one `async_tree`: 55,987 at 6 × 6.
    pub fn tree_nodes(&self) -> u64 {
        (0..=self.tree_depth).map(|l| self.tree_fanout.pow(l)).sum()
    }

    /// Leaves of one `async_tree`: 46,656 at 6 × 6.
    pub fn tree_leaves(&self) -> u64 {
        self.tree_fanout.pow(self.tree_depth)
    }
}

/// One timed run of a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Time measured (from inside the task, or on the remote thread).
    pub elapsed: Duration,
    /// Wall-clock time of the whole run, set-up and untimed parts included: what a sample
    /// costs the person waiting for it (calibration sizes samples by it).
    pub wall: Duration,
    /// Iterations run.
    pub iters: u64,
    /// Ops performed (`iters × ops_per_iter`).
    pub ops: u64,
}

impl Sample {
    /// Nanoseconds per op.
    pub fn ns_per_op(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.ops.max(1) as f64
    }
}

/// Why a measurement gave no time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeasureError {
    /// The scenario's checksum was wrong: the runtime lost, duplicated or corrupted work.
    Check {
        /// The scenario.
        scenario: Scenario,
        /// The checksum the run returned.
        got: u64,
        /// The checksum it should have returned.
        expected: u64,
    },
}

impl fmt::Display for MeasureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MeasureError::Check {
                scenario,
                got,
                expected,
            } => write!(
                f,
                "{scenario}: wrong result {got}, expected {expected} (a broken runtime or scenario)"
            ),
        }
    }
}

impl std::error::Error for MeasureError {}

/// Runs `iters` iterations of `scenario` on `rt` and checks the result.
///
/// # Errors
/// [`MeasureError::Check`] if the result is wrong (a lost, duplicated or corrupted task, or
/// a failed socket operation).
pub fn measure(
    rt: &AnyRuntime,
    scenario: Scenario,
    sizes: &Sizes,
    iters: u64,
) -> Result<Sample, MeasureError> {
    match rt {
        AnyRuntime::BriskEager(h) | AnyRuntime::BriskLazy(h) => {
            measure_on(h, scenario, sizes, iters)
        }
        AnyRuntime::Tokio(h) => measure_on(h, scenario, sizes, iters),
        AnyRuntime::AsyncExecutor(h) => measure_on(h, scenario, sizes, iters),
    }
}

/// [`measure`] for one concrete host (monomorphised per runtime).
///
/// # Errors
/// As [`measure`].
pub fn measure_on<H: Host>(
    host: &H,
    scenario: Scenario,
    sizes: &Sizes,
    iters: u64,
) -> Result<Sample, MeasureError> {
    let s = *sizes;
    let rt = host.rt();
    let started = Instant::now();
    let (elapsed, got) = match scenario {
        Scenario::DirectAwait => host.run(timed(direct_await(iters))),
        Scenario::SpawnReadyAwait => host.run(timed(spawn_ready_await(rt, iters))),
        Scenario::GatherMostlyReady => {
            host.run(timed(gather_mostly_ready(rt, s.gather_tasks, iters)))
        }
        Scenario::SpawnManyLocal => host.run(timed(spawn_many_local(rt, s.spawn_many, iters))),
        Scenario::SpawnManyRemote => spawn_many_remote(host, s.spawn_many, iters),
        Scenario::PingPong => host.run(timed(ping_pong(rt, s.ping_pongs, iters))),
        Scenario::YieldMany => host.run(timed(yield_many(
            rt,
            s.yield_tasks,
            s.yields_per_task,
            iters,
        ))),
        Scenario::ChainedSpawn => host.run(timed(chained_spawn(rt, s.chain_len, iters))),
        Scenario::RpcMostlyCached(miss @ Miss::Channel) => {
            let _one_user = backend_lock();
            host.run(with_backend(
                rt,
                rpc_mostly_cached(rt, s.rpc_batch, miss, iters),
            ))
        }
        Scenario::RpcMostlyCached(miss @ Miss::Timer) => {
            host.run(timed(rpc_mostly_cached(rt, s.rpc_batch, miss, iters)))
        }
        Scenario::AsyncTree(leaf @ Leaf::Memo(Miss::Channel)) => {
            let _one_user = backend_lock();
            host.run(with_backend(rt, async_tree(rt, s, leaf, iters)))
        }
        Scenario::AsyncTree(leaf @ (Leaf::None | Leaf::Memo(Miss::Timer) | Leaf::Io)) => {
            host.run(timed(async_tree(rt, s, leaf, iters)))
        }
        Scenario::TcpEcho => host.run(tcp_echo(rt, s.tcp_conns, iters)),
        Scenario::TimerChurn => host.run(timed(timer_churn(rt, s.timer_churn, iters))),
        Scenario::TimerChurnParallel => {
            host.run(timed(timer_churn_parallel(rt, s.timer_churn, iters)))
        }
        Scenario::CpuFanout => {
            host.run(timed(cpu_fanout(rt, s.fanout_tasks, s.fanout_work, iters)))
        }
        Scenario::SpawnLatency => host.run(spawn_latency(rt, s.latency_work, iters)),
    };
    let want = expected(scenario, sizes, iters);
    if got != want {
        return Err(MeasureError::Check {
            scenario,
            got,
            expected: want,
        });
    }
    Ok(Sample {
        elapsed,
        wall: started.elapsed(),
        iters,
        ops: iters * scenario.ops_per_iter(sizes),
    })
}

/// The checksum a correct run of `iters` iterations of `scenario` returns.
pub fn expected(scenario: Scenario, sizes: &Sizes, iters: u64) -> u64 {
    let s = sizes;
    match scenario {
        Scenario::DirectAwait | Scenario::SpawnReadyAwait => {
            // Σ (3i + 1) for i < iters.
            let n = u128::from(iters);
            (3 * n * n.saturating_sub(1) / 2 + n) as u64
        }
        Scenario::GatherMostlyReady => {
            iters.wrapping_mul(s.gather_tasks * s.gather_tasks.saturating_sub(1) / 2)
        }
        Scenario::SpawnManyLocal | Scenario::SpawnManyRemote => iters * s.spawn_many,
        Scenario::PingPong => iters * s.ping_pongs,
        Scenario::YieldMany => iters * s.yield_tasks * s.yields_per_task,
        Scenario::ChainedSpawn => iters * s.chain_len,
        Scenario::RpcMostlyCached(_) => (0..iters * s.rpc_batch)
            .flat_map(|id| (0..3).map(move |k| value_of(rpc_key(id, k))))
            .fold(0u64, u64::wrapping_add),
        Scenario::AsyncTree(Leaf::None) => {
            let n = s.tree_leaves();
            iters.wrapping_mul(n * n.saturating_sub(1) / 2)
        }
        Scenario::AsyncTree(_) => iters.wrapping_mul(
            (0..s.tree_leaves())
                .map(|i| value_of(leaf_key(i)))
                .fold(0u64, u64::wrapping_add),
        ),
        Scenario::TcpEcho => (0..s.tcp_conns)
            .flat_map(|c| (0..iters).map(move |i| tcp_word(c, i)))
            .fold(0u64, u64::wrapping_add),
        Scenario::TimerChurn => iters * s.timer_churn,
        Scenario::TimerChurnParallel => {
            iters * (s.timer_churn / CHURN_PARALLEL_TASKS) * CHURN_PARALLEL_TASKS
        }
        Scenario::CpuFanout => (0..s.fanout_tasks)
            .map(|j| cpu_work(j, s.fanout_work))
            .fold(0u64, u64::wrapping_add)
            .wrapping_mul(iters),
        Scenario::SpawnLatency => (1 + cpu_work(1, s.latency_work) + 2).wrapping_mul(iters),
    }
}

/// Runs `body`, timing it from its first poll to its end.
async fn timed<F: Future<Output = u64>>(body: F) -> (Duration, u64) {
    let start = Instant::now();
    let sum = body.await;
    (start.elapsed(), sum)
}

// ---------------------------------------------------------------------------------------------
// the floor and the ready spawn

/// The ready `async fn` both `direct_await` and `spawn_ready_await` await.
async fn ready_value(i: u64) -> u64 {
    i.wrapping_mul(3).wrapping_add(1)
}

/// `direct_await`: `ready_value(i).await` (the future passed through `black_box` so that it is
/// built and polled, not folded away).
async fn direct_await(iters: u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..iters {
        sum = sum.wrapping_add(black_box(ready_value(black_box(i))).await);
    }
    sum
}

/// `spawn_ready_await`: `spawn(ready_value(i)).await`, in sequence.
async fn spawn_ready_await<R: Rt>(rt: R, iters: u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..iters {
        sum = sum.wrapping_add(rt.spawn(black_box(ready_value(black_box(i)))).await);
    }
    sum
}

// ---------------------------------------------------------------------------------------------
// gather

/// `gather_mostly_ready`: per round spawn `tasks` tasks (every tenth yields once first), then
/// await them all in order.
async fn gather_mostly_ready<R: Rt>(rt: R, tasks: u64, iters: u64) -> u64 {
    let mut handles = Vec::with_capacity(tasks as usize);
    let mut sum = 0u64;
    for _ in 0..iters {
        for j in 0..tasks {
            handles.push(rt.spawn(async move {
                if j % 10 == 9 {
                    rt.yield_now().await;
                }
                black_box(j)
            }));
        }
        for h in handles.drain(..) {
            sum = sum.wrapping_add(h.await);
        }
    }
    sum
}

// ---------------------------------------------------------------------------------------------
// the costs of eagerness

/// `steps` rounds of a 64-bit mixing function from `seed`: CPU work that never waits (~4 ns a step here).
pub fn cpu_work(seed: u64, steps: u64) -> u64 {
    let mut x = seed;
    for _ in 0..steps {
        x = mix(black_box(x));
    }
    x
}

/// `cpu_fanout`: per round spawn `tasks` children of `work` steps each, then await them all.
async fn cpu_fanout<R: Rt>(rt: R, tasks: u64, work: u64, iters: u64) -> u64 {
    let mut handles = Vec::with_capacity(tasks as usize);
    let mut sum = 0u64;
    for _ in 0..iters {
        for j in 0..tasks {
            handles.push(rt.spawn(async move { cpu_work(j, work) }));
        }
        for h in handles.drain(..) {
            sum = sum.wrapping_add(h.await);
        }
    }
    sum
}

/// `spawn_latency`: per round, times the `spawn` calls of a ready child, a CPU-bound child
/// (`work` steps) and a child that yields once, then awaits the three (not timed).
async fn spawn_latency<R: Rt>(rt: R, work: u64, iters: u64) -> (Duration, u64) {
    let mut spent = Duration::ZERO;
    let mut sum = 0u64;
    for _ in 0..iters {
        let t0 = Instant::now();
        let ready = rt.spawn(async { black_box(1u64) });
        let t1 = Instant::now();
        let cpu = rt.spawn(async move { cpu_work(1, work) });
        let t2 = Instant::now();
        let suspending = rt.spawn(async move {
            rt.yield_now().await;
            black_box(2u64)
        });
        let t3 = Instant::now();
        spent += (t1 - t0) + (t2 - t1) + (t3 - t2);
        sum = sum
            .wrapping_add(ready.await)
            .wrapping_add(cpu.await)
            .wrapping_add(suspending.await);
    }
    (spent, sum)
}

// ---------------------------------------------------------------------------------------------
// tokio's rt_multi_threaded shapes

/// Counts detached tasks down to zero; the last one signals `done`.
#[derive(Debug)]
struct Countdown {
    remaining: AtomicU64,
    errors: AtomicU64,
    done: async_channel::Sender<()>,
}

impl Countdown {
    fn new() -> (Arc<Countdown>, async_channel::Receiver<()>) {
        let (done, finished) = async_channel::bounded(1);
        let c = Countdown {
            remaining: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            done,
        };
        (Arc::new(c), finished)
    }

    fn arm(&self, n: u64) {
        self.remaining.store(n, Ordering::Relaxed);
    }

    fn tick(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = self.done.try_send(());
        }
    }

    /// Tasks counted in this round (`n` unless some ran twice), or a poisoned value if any
    /// reported an error.
    fn settled(&self, n: u64) -> u64 {
        if self.errors.load(Ordering::Acquire) != 0 {
            return u64::MAX;
        }
        n.wrapping_sub(self.remaining.load(Ordering::Acquire))
    }
}

/// `spawn_many_local`: per round spawn `tasks` detached tasks from this task and wait for the
/// last one's signal.
async fn spawn_many_local<R: Rt>(rt: R, tasks: u64, iters: u64) -> u64 {
    let (state, finished) = Countdown::new();
    let mut total = 0u64;
    for _ in 0..iters {
        state.arm(tasks);
        for j in 0..tasks {
            let state = state.clone();
            rt.spawn_detached(async move {
                black_box(j);
                state.tick();
            });
        }
        finished.recv().await.expect("countdown channel open");
        total = total.wrapping_add(state.settled(tasks));
    }
    total
}

/// `spawn_many_remote`: as `spawn_many_local` but spawned from this (non-runtime) thread, which
/// waits with a runtime-neutral `block_on`. Timed on this thread.
fn spawn_many_remote<H: Host>(host: &H, tasks: u64, iters: u64) -> (Duration, u64) {
    let (state, finished) = Countdown::new();
    let mut total = 0u64;
    let start = Instant::now();
    for _ in 0..iters {
        state.arm(tasks);
        for j in 0..tasks {
            let state = state.clone();
            host.spawn_remote_detached(async move {
                black_box(j);
                state.tick();
            });
        }
        futures_lite::future::block_on(finished.recv()).expect("countdown channel open");
        total = total.wrapping_add(state.settled(tasks));
    }
    (start.elapsed(), total)
}

/// `ping_pong`: per round `pairs` detached tasks, each spawning a partner, sending it a ping
/// and awaiting its pong (tokio oneshots, runtime-neutral), then counting down.
async fn ping_pong<R: Rt>(rt: R, pairs: u64, iters: u64) -> u64 {
    let (state, finished) = Countdown::new();
    let mut total = 0u64;
    for _ in 0..iters {
        state.arm(pairs);
        for j in 0..pairs {
            let state = state.clone();
            rt.spawn_detached(async move {
                let (ping_tx, ping_rx) = tokio::sync::oneshot::channel::<u64>();
                let (pong_tx, pong_rx) = tokio::sync::oneshot::channel::<u64>();
                rt.spawn_detached(async move {
                    if let Ok(v) = ping_rx.await {
                        let _ = pong_tx.send(v + 1);
                    }
                });
                let _ = ping_tx.send(j);
                if pong_rx.await != Ok(j + 1) {
                    state.errors.fetch_add(1, Ordering::Release);
                }
                state.tick();
            });
        }
        finished.recv().await.expect("countdown channel open");
        total = total.wrapping_add(state.settled(pairs));
    }
    total
}

/// `yield_many`: per round `tasks` tasks each yielding `yields` times; await them all.
async fn yield_many<R: Rt>(rt: R, tasks: u64, yields: u64, iters: u64) -> u64 {
    let mut handles = Vec::with_capacity(tasks as usize);
    let mut total = 0u64;
    for _ in 0..iters {
        for _ in 0..tasks {
            handles.push(rt.spawn(async move {
                let mut done = 0u64;
                for _ in 0..yields {
                    rt.yield_now().await;
                    done += 1;
                }
                done
            }));
        }
        for h in handles.drain(..) {
            total = total.wrapping_add(h.await);
        }
    }
    total
}

/// One link of `chained_spawn`: spawns the next link, or reports the chain's length.
fn chain_link<R: Rt>(rt: R, left: u64, links: u64, done: async_channel::Sender<u64>) {
    if left == 0 {
        let _ = done.try_send(links);
    } else {
        rt.spawn_detached(async move { chain_link(rt, left - 1, links + 1, done) });
    }
}

/// `chained_spawn`: per round a chain of `len` tasks, each spawning the next and returning.
async fn chained_spawn<R: Rt>(rt: R, len: u64, iters: u64) -> u64 {
    let (done, finished) = async_channel::bounded(1);
    let mut total = 0u64;
    for _ in 0..iters {
        chain_link(rt, len, 0, done.clone());
        total = total.wrapping_add(finished.recv().await.expect("chain channel open"));
    }
    total
}

// ---------------------------------------------------------------------------------------------
// the cache, the backend, and the service-shaped scenarios

/// Keys live in `0..KEY_SPACE`; the cache holds those not divisible by 10 (90%).
const KEY_SPACE: u64 = 1_000;

/// splitmix64's finaliser: spreads request and leaf numbers over the key space.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The value of a key, whether it comes from the cache or the backend.
fn value_of(key: u64) -> u64 {
    key * 7 + 3
}

/// The key of sub-call `k` (0..3) of request `id`.
fn rpc_key(id: u64, k: u64) -> u64 {
    mix(id * 3 + k) % KEY_SPACE
}

/// The key a memo leaf looks up.
fn leaf_key(leaf: u64) -> u64 {
    mix(leaf) % KEY_SPACE
}

/// The shared, read-only cache (process-wide, so tasks reach it without reference counting).
fn cache() -> &'static HashMap<u64, u64> {
    static CACHE: OnceLock<HashMap<u64, u64>> = OnceLock::new();
    CACHE.get_or_init(|| {
        (0..KEY_SPACE)
            .filter(|k| k % 10 != 0)
            .map(|k| (k, value_of(k)))
            .collect()
    })
}

/// A message to the backend task.
#[derive(Debug)]
enum BackendMsg {
    /// Compute a key's value and reply on the channel.
    Get(u64, async_channel::Sender<u64>),
    /// Stop serving (end of a measurement).
    Stop,
}

/// The backend's request queue (process-wide; one measurement uses it at a time).
fn backend() -> &'static (
    async_channel::Sender<BackendMsg>,
    async_channel::Receiver<BackendMsg>,
) {
    static BACKEND: OnceLock<(
        async_channel::Sender<BackendMsg>,
        async_channel::Receiver<BackendMsg>,
    )> = OnceLock::new();
    BACKEND.get_or_init(async_channel::unbounded)
}

/// Serialises the measurements that use the backend (tests run in parallel).
fn backend_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The backend task: answers `Get`s until `Stop`.
async fn backend_serve() -> u64 {
    let mut served = 0;
    while let Ok(BackendMsg::Get(key, reply)) = backend().1.recv().await {
        let _ = reply.send(value_of(key)).await;
        served += 1;
    }
    served
}

/// Runs `body` (timed) with a backend task spawned on the runtime, then stops the backend.
async fn with_backend<R: Rt, F: Future<Output = u64>>(rt: R, body: F) -> (Duration, u64) {
    let server = rt.spawn(backend_serve());
    let out = timed(body).await;
    backend()
        .0
        .send(BackendMsg::Stop)
        .await
        .expect("backend channel open");
    let _served = server.await;
    out
}

/// Looks `key` up in the cache; on a miss asks the backend and awaits its reply
/// ([`Miss::Channel`]), or waits `miss_wait` on the runtime's timer and computes the value
/// ([`Miss::Timer`]).
async fn fetch<R: Rt>(rt: R, key: u64, miss: Miss, miss_wait: Duration) -> u64 {
    if let Some(&v) = cache().get(&black_box(key)) {
        return v;
    }
    if miss == Miss::Timer {
        rt.sleep(miss_wait).await;
        return value_of(key);
    }
    let (reply, replied) = async_channel::bounded(1);
    backend()
        .0
        .send(BackendMsg::Get(key, reply))
        .await
        .expect("backend channel open");
    replied.recv().await.expect("backend replies")
}

/// A sub-call of a request: `fetch` with the request's miss policy; a timer miss waits the
/// key's value in µs (0-990 µs: misses are the keys divisible by 10 below 1,000).
fn sub_call<R: Rt>(rt: R, key: u64, miss: Miss) -> impl Future<Output = u64> + Send + 'static {
    fetch(rt, key, miss, Duration::from_micros(key % KEY_SPACE))
}

/// A request handler: three spawned sub-calls, awaited together.
async fn handle_request<R: Rt>(rt: R, id: u64, miss: Miss) -> u64 {
    let a = rt.spawn(sub_call(rt, rpc_key(id, 0), miss));
    let b = rt.spawn(sub_call(rt, rpc_key(id, 1), miss));
    let c = rt.spawn(sub_call(rt, rpc_key(id, 2), miss));
    a.await.wrapping_add(b.await).wrapping_add(c.await)
}

/// `rpc_mostly_cached`: per round `batch` concurrent requests (each a task), awaited in order.
async fn rpc_mostly_cached<R: Rt>(rt: R, batch: u64, miss: Miss, iters: u64) -> u64 {
    let mut handles = Vec::with_capacity(batch as usize);
    let mut sum = 0u64;
    let mut next_id = 0u64;
    for _ in 0..iters {
        for _ in 0..batch {
            handles.push(rt.spawn(handle_request(rt, next_id, miss)));
            next_id += 1;
        }
        for h in handles.drain(..) {
            sum = sum.wrapping_add(h.await);
        }
    }
    sum
}

/// The timer a leaf of `async_tree_io` (every leaf) or `async_tree_memo_timer` (misses)
/// awaits.
const TREE_TIMER: Duration = Duration::from_millis(1);

/// What every `async_tree` node needs to know (kept small: each node's future captures it).
#[derive(Debug, Clone, Copy)]
struct TreeShape {
    depth: u32,
    fanout: u32,
    leaf: Leaf,
}

/// One node of `async_tree`: a leaf computes its value; an inner node spawns its children
/// and awaits them all.
///
/// Not an `async fn`: the explicit `+ Send` is what lets a node spawn nodes of its own type
/// (with `async fn` the compiler cannot prove the recursive future `Send`).
#[allow(clippy::manual_async_fn)]
fn tree_node<R: Rt>(
    rt: R,
    shape: TreeShape,
    level: u32,
    index: u64,
) -> impl Future<Output = u64> + Send + 'static {
    async move {
        if level == shape.depth {
            return match shape.leaf {
                Leaf::None => black_box(index),
                Leaf::Memo(miss) => fetch(rt, leaf_key(index), miss, TREE_TIMER).await,
                Leaf::Io => {
                    rt.sleep(TREE_TIMER).await;
                    value_of(leaf_key(index))
                }
            };
        }
        let fanout = u64::from(shape.fanout);
        let mut children = Vec::with_capacity(shape.fanout as usize);
        for c in 0..fanout {
            children.push(rt.spawn(tree_node(rt, shape, level + 1, index * fanout + c)));
        }
        let mut sum = 0u64;
        for h in children {
            sum = sum.wrapping_add(h.await);
        }
        sum
    }
}

/// `async_tree`: per round spawn the root and await the whole tree.
async fn async_tree<R: Rt>(rt: R, sizes: Sizes, leaf: Leaf, iters: u64) -> u64 {
    let shape = TreeShape {
        depth: sizes.tree_depth,
        fanout: u32::try_from(sizes.tree_fanout).expect("tree fanout fits in u32"),
        leaf,
    };
    let mut sum = 0u64;
    for _ in 0..iters {
        sum = sum.wrapping_add(rt.spawn(tree_node(rt, shape, 0, 0)).await);
    }
    sum
}

// ---------------------------------------------------------------------------------------------
// timers and sockets

/// How far away `timer_churn`'s sleeps are (plus up to 1,023 ms, spreading them over the
/// wheels' slots): far enough never to fire during a measurement.
const CHURN_DISTANCE: Duration = Duration::from_secs(60);

/// Sleeps created between two yields in `timer_churn`: below tokio's and brisk's coop budget
/// (128 operations per poll), so that every first poll really registers its timer instead of
/// being refused by the budget.
const CHURN_BATCH: u64 = 64;

/// `timer_churn`: per round `n` sleeps, each created ~60 s away, polled once (it registers
/// with the runtime's timer) and dropped (which cancels it). Returns the number of sleeps
/// still pending after their first poll, i.e. all of them.
async fn timer_churn<R: Rt>(rt: R, n: u64, iters: u64) -> u64 {
    let mut pending = 0u64;
    for _ in 0..iters {
        let mut i = 0;
        while i < n {
            let end = (i + CHURN_BATCH).min(n);
            for k in i..end {
                let d = CHURN_DISTANCE + Duration::from_millis(k % 1024);
                let mut sleep = std::pin::pin!(rt.sleep(d));
                if futures_lite::future::poll_once(sleep.as_mut())
                    .await
                    .is_none()
                {
                    pending += 1;
                }
            }
            i = end;
            rt.yield_now().await;
        }
    }
    pending
}

/// Tasks of `timer_churn_parallel` (more than the workers, so that every worker has some).
pub const CHURN_PARALLEL_TASKS: u64 = 8;

/// `timer_churn_parallel`: [`CHURN_PARALLEL_TASKS`] tasks, each running `timer_churn` on its
/// share of the `n` sleeps, spawned together and awaited.
async fn timer_churn_parallel<R: Rt>(rt: R, n: u64, iters: u64) -> u64 {
    let share = n / CHURN_PARALLEL_TASKS;
    let tasks: Vec<_> = (0..CHURN_PARALLEL_TASKS)
        .map(|_| rt.spawn(timer_churn(rt, share, iters)))
        .collect();
    let mut pending = 0u64;
    for t in tasks {
        pending += t.await;
    }
    pending
}

/// Bytes per `tcp_echo` message.
pub const TCP_MESSAGE: usize = 1024;

/// The word message `seq` of connection `conn` carries (and the checksum adds up).
fn tcp_word(conn: u64, seq: u64) -> u64 {
    mix((conn << 32) | seq)
}

/// Fills a message from its word: every 8 bytes carry `word + their index`.
fn fill_message(buf: &mut [u8], word: u64) {
    for (i, chunk) in buf.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&word.wrapping_add(i as u64).to_le_bytes());
    }
}

/// The echo server's side of one connection: writes back whatever it reads until the client
/// closes; returns the bytes echoed.
async fn echo_serve<S: Conn>(mut stream: S) -> io::Result<u64> {
    let mut buf = vec![0u8; 4 * TCP_MESSAGE];
    let mut echoed = 0u64;
    loop {
        let n = stream.recv(&mut buf).await?;
        if n == 0 {
            return Ok(echoed);
        }
        stream.send_all(&buf[..n]).await?;
        echoed += n as u64;
    }
}

/// The client's side of one connection: `iters` round trips of one message each, every echo
/// compared with what was sent; returns the sum of the messages' words.
async fn echo_client<S: Conn>(mut stream: S, conn: u64, iters: u64) -> io::Result<u64> {
    let mut out = vec![0u8; TCP_MESSAGE];
    let mut back = vec![0u8; TCP_MESSAGE];
    let mut sum = 0u64;
    for seq in 0..iters {
        let word = tcp_word(conn, seq);
        fill_message(&mut out, word);
        stream.send_all(&out).await?;
        stream.recv_exact(&mut back).await?;
        if back != out {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("connection {conn}, message {seq}: the echo differs"),
            ));
        }
        sum = sum.wrapping_add(word);
    }
    Ok(sum)
}

/// `tcp_echo`: sets up `conns` loopback connections (an acceptor task spawns one echo task
/// per accepted connection), then, timed, runs one client task per connection doing `iters`
/// round trips; then closes the clients and checks every byte was echoed once. Setup and
/// teardown are not timed. A socket error is reported on stderr and fails the check.
async fn tcp_echo<R: Rt>(rt: R, conns: u64, iters: u64) -> (Duration, u64) {
    let run = async move {
        let (listener, addr) = rt.listen_local().await?;
        let acceptor = rt.spawn(async move {
            let mut servers = Vec::with_capacity(conns as usize);
            for _ in 0..conns {
                let stream = rt.accept(&listener).await?;
                servers.push(rt.spawn(echo_serve(stream)));
            }
            io::Result::Ok(servers)
        });
        let mut streams = Vec::with_capacity(conns as usize);
        for _ in 0..conns {
            streams.push(rt.connect(addr).await?);
        }
        let servers = acceptor.await?;

        let start = Instant::now();
        let clients: Vec<_> = (0..conns)
            .zip(streams)
            .map(|(c, s)| rt.spawn(echo_client(s, c, iters)))
            .collect();
        let mut sum = 0u64;
        for client in clients {
            sum = sum.wrapping_add(client.await?);
        }
        let elapsed = start.elapsed();

        let mut echoed = 0u64;
        for server in servers {
            echoed += server.await?;
        }
        let want = conns * iters * TCP_MESSAGE as u64;
        if echoed != want {
            return Err(io::Error::other(format!(
                "the servers echoed {echoed} bytes, expected {want}"
            )));
        }
        io::Result::Ok((elapsed, sum))
    };
    match run.await {
        Ok(out) => out,
        Err(e) => {
            eprintln!("brisk-benches: tcp_echo: {e}");
            (Duration::ZERO, u64::MAX)
        }
    }
}
