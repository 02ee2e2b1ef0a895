//! `Builder`: the runtime's settings, checked once at `build`.
//!
//! Invariants: a [`Config`] is only made by `build`, after every setting was checked; the
//! thread hooks run under `catch_unwind` (see [`Hooks`]), so a hook can never take a worker or
//! blocking thread down with it.

use std::fmt;
use std::io;
use std::num::NonZeroU64;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::Runtime;

/// Where `spawn` first polls a new task.
///
/// ```
/// let rt = brisk::Runtime::builder()
///     .spawn_policy(brisk::SpawnPolicy::Lazy)
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     // Lazy: the child is queued and runs on a worker, never inside `spawn` on this thread.
///     let here = std::thread::current().id();
///     let h = brisk::spawn(async { std::thread::current().id() });
///     assert_ne!(h.await.unwrap(), here);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpawnPolicy {
    /// Eager-first, bounded in time and learning per spawn site (the default). Like `Eager`,
    /// but a tick's inline work is also bounded in time (`eager_budget_time`), and a call site
    /// whose children run long when polled inline (CPU-bound work, ~20 µs or more on average)
    /// is spawned lazily for a while, so that its children are queued and other workers can
    /// steal them; it is retried after a number of spawns that doubles while the site stays
    /// slow. Sites whose inline polls are reliably short are timed on a sample only, so a
    /// ready `spawn` costs what it costs under `Eager`. The rule and its constants are in
    /// brisk's `scheduler/eager.rs`. Whether a given spawn runs inline may depend on timing
    /// (the first spawn of a tick always may); use `Eager` where a test needs to know.
    #[default]
    Adaptive,
    /// Poll the new task inline, at once, whenever the `eager_budget` (a count) and
    /// `eager_depth` limits allow: the predictable mode. No clock is read, so
    /// `eager_budget_time` does not apply and the outcome never depends on timing.
    Eager,
    /// Queue every new task, as tokio does.
    Lazy,
}

/// The default `eager_budget`: about as many inline polls as the cheapest children (~35-50
/// ns each here) fit in `eager_budget_time`, so that under `Adaptive` the time budget is what
/// ends a tick's inline work, and the count is a backstop (and the whole bound under `Eager`).
/// Measured (`compare --filter gather`, alternating binaries): 128 ran 13% of a gather of
/// 1,000 ready children inline, 60 ns/task; 1,024 runs 90%, 45-48 ns/task; the heartbeat
/// under the spawn storm (`--bin fairness`) kept its p99 (99-111 µs both).
const DEFAULT_EAGER_BUDGET: u32 = 1024;
/// The default `eager_budget_time`.
const DEFAULT_EAGER_BUDGET_TIME: Duration = Duration::from_micros(50);

/// The settings a runtime is built from (validated).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) worker_threads: usize,
    pub(crate) eager_budget: u32,
    pub(crate) eager_budget_time: Duration,
    pub(crate) eager_depth: u32,
    pub(crate) spawn_policy: SpawnPolicy,
    pub(crate) stall_threshold: Option<Duration>,
    pub(crate) global_queue_interval: u32,
    pub(crate) event_interval: u32,
    pub(crate) thread_name: String,
    pub(crate) max_blocking_threads: usize,
    pub(crate) thread_keep_alive: Duration,
    /// True for `new_current_thread`: no worker threads, `block_on` drives the tasks.
    pub(crate) current_thread: bool,
    pub(crate) hooks: Hooks,
    /// The runtime's name ([`Builder::name`]).
    pub(crate) name: Option<String>,
    /// Unique among the runtimes of the process ([`Handle::id`](crate::Handle::id)).
    pub(crate) id: NonZeroU64,
    pub(crate) start_paused: bool,
}

/// A thread hook given to the builder.
type Callback = Arc<dyn Fn() + Send + Sync + 'static>;

/// The `on_thread_*` hooks of a runtime.
///
/// A hook that panics does not take its thread down: the panic is caught right there, after
/// the panic hook reported it (by default, a message on stderr, as for any panic), and the
/// thread carries on as if the hook had returned.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    start: Option<Callback>,
    stop: Option<Callback>,
    park: Option<Callback>,
    unpark: Option<Callback>,
}

impl Hooks {
    fn call(&self, hook: &Option<Callback>) {
        if let Some(hook) = hook {
            // The panic hook has reported the panic already; the thread goes on.
            let _ = catch_unwind(AssertUnwindSafe(|| hook()));
        }
    }

    /// Runs `on_thread_start` (a worker or blocking thread just started).
    pub(crate) fn thread_start(&self) {
        self.call(&self.start);
    }

    /// Runs `on_thread_stop` (a worker or blocking thread is about to end).
    pub(crate) fn thread_stop(&self) {
        self.call(&self.stop);
    }

    /// Runs `on_thread_park` (a worker out of work is about to sleep).
    pub(crate) fn thread_park(&self) {
        self.call(&self.park);
    }

    /// Runs `on_thread_unpark` (a worker woke up).
    pub(crate) fn thread_unpark(&self) {
        self.call(&self.unpark);
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("on_thread_start", &self.start.is_some())
            .field("on_thread_stop", &self.stop.is_some())
            .field("on_thread_park", &self.park.is_some())
            .field("on_thread_unpark", &self.unpark.is_some())
            .finish()
    }
}

/// Builds a [`Runtime`] with custom settings.
///
/// ```
/// let rt = brisk::Builder::new()
///     .worker_threads(2)
///     .eager_budget(16)
///     .eager_depth(4)
///     .thread_name("my-worker")
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { brisk::spawn(async { 7 }).await.unwrap() }), 7);
/// ```
pub struct Builder {
    worker_threads: Option<usize>,
    /// `None`: the policy's default.
    eager_budget: u32,
    eager_budget_time: Duration,
    eager_depth: u32,
    spawn_policy: SpawnPolicy,
    stall_threshold: Option<Duration>,
    global_queue_interval: u32,
    event_interval: u32,
    thread_name: String,
    max_blocking_threads: usize,
    thread_keep_alive: Duration,
    current_thread: bool,
    hooks: Hooks,
    name: Option<String>,
    start_paused: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Default settings: one worker per CPU, `Adaptive`, `eager_budget` 1,024,
    /// `eager_budget_time` 50 µs (not under `Eager`), `eager_depth` 16,
    /// `global_queue_interval` 61, threads named
    /// `brisk-worker-{index}`, at most 512 blocking-pool threads kept alive 10 s when idle, and
    /// the stall report at 1 s in debug builds (off in release builds).
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            eager_budget: DEFAULT_EAGER_BUDGET,
            eager_budget_time: DEFAULT_EAGER_BUDGET_TIME,
            eager_depth: 16,
            spawn_policy: SpawnPolicy::Adaptive,
            stall_threshold: cfg!(debug_assertions).then_some(Duration::from_secs(1)),
            global_queue_interval: 61,
            event_interval: 61,
            thread_name: "brisk-worker".to_string(),
            max_blocking_threads: 512,
            thread_keep_alive: Duration::from_secs(10),
            current_thread: false,
            hooks: Hooks::default(),
            name: None,
            start_paused: false,
        }
    }

    /// A builder for a multi-threaded runtime: the same as [`Builder::new`], under tokio's name
    /// (`tokio::runtime::Builder::new_multi_thread`).
    pub fn new_multi_thread() -> Builder {
        Builder::new()
    }

    /// A builder for a current-thread runtime: no worker threads; the thread inside
    /// [`Runtime::block_on`](crate::Runtime::block_on) runs every task, I/O event and timer,
    /// with the same eager policy and limits as a worker. Tasks spawned while nobody is inside
    /// `block_on` wait for the next `block_on`. If two threads call `block_on` at once, one
    /// drives the runtime and the other only polls its own future until it can take over.
    /// `worker_threads` does not apply; the blocking pool is as usual.
    ///
    /// ```
    /// let rt = brisk::Builder::new_current_thread().build().unwrap();
    /// let main_thread = std::thread::current().id();
    /// let ran_on = rt.block_on(async {
    ///     brisk::spawn_lazy(async { std::thread::current().id() }).await.unwrap()
    /// });
    /// assert_eq!(ran_on, main_thread);
    /// ```
    pub fn new_current_thread() -> Builder {
        Builder {
            current_thread: true,
            ..Builder::new()
        }
    }

    /// Number of worker threads (default: the number of CPUs). Must be at least 1. Ignored by
    /// a [current-thread](Self::new_current_thread) runtime.
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.worker_threads = Some(n);
        self
    }

    /// Inline polls allowed per tick (default 1,024). 0 turns eager spawning off.
    pub fn eager_budget(&mut self, n: u32) -> &mut Self {
        self.eager_budget = n;
        self
    }

    /// Time a tick may spend on inline polls (default 50 µs): an inline poll starts only while
    /// less than this has passed since the tick's first inline poll started, so a tick spends at
    /// most this plus one inline poll on inline work. `Duration::ZERO` allows one inline poll
    /// per tick. Not under [`SpawnPolicy::Eager`], which stays deterministic (count and depth
    /// only, no clock).
    ///
    /// ```
    /// let rt = brisk::Runtime::builder()
    ///     .eager_budget_time(std::time::Duration::from_micros(20))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(async { brisk::spawn(async { 7 }).await.unwrap() }), 7);
    /// ```
    pub fn eager_budget_time(&mut self, budget: std::time::Duration) -> &mut Self {
        self.eager_budget_time = budget;
        self
    }

    /// The stall report: when one poll on a worker (queued or inline) has run longer than
    /// `threshold`, brisk writes one line to stderr naming the worker, the duration and, for an
    /// inline poll, the spawn site of the task, e.g. `brisk: worker 0 has been polling the task
    /// spawned at src/main.rs:12:5 for 1.0 s (inline, in spawn). A blocking call or a lock held
    /// across spawn?`. `None` turns it off. Default: 1 s in debug builds, off in release
    /// builds. A watchdog thread samples the workers every `threshold / 4`; a worker publishes
    /// each poll's start with a few atomic stores.
    pub fn stall_threshold(&mut self, threshold: Option<Duration>) -> &mut Self {
        self.stall_threshold = threshold;
        self
    }

    /// Maximum inline nesting depth (default 16). 0 turns eager spawning off.
    pub fn eager_depth(&mut self, n: u32) -> &mut Self {
        self.eager_depth = n;
        self
    }

    /// The spawn policy (default [`SpawnPolicy::Adaptive`]).
    pub fn spawn_policy(&mut self, policy: SpawnPolicy) -> &mut Self {
        self.spawn_policy = policy;
        self
    }

    /// A worker with local work still takes a task from the shared injector queue every
    /// `n` ticks (default 61). Must be at least 1.
    pub fn global_queue_interval(&mut self, n: u32) -> &mut Self {
        self.global_queue_interval = n;
        self
    }

    /// A worker with local work still polls the I/O reactor and fires due timers (without
    /// blocking) every `n` ticks (default 61). Must be at least 1.
    pub fn event_interval(&mut self, n: u32) -> &mut Self {
        self.event_interval = n;
        self
    }

    /// Worker threads are named `{name}-{index}` (default `brisk-worker`).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// The most threads the blocking pool of [`spawn_blocking`](crate::task::spawn_blocking)
    /// starts (default 512). Threads are started on demand; past the limit, blocking closures
    /// wait in a queue for a free thread. Must be at least 1.
    ///
    /// ```
    /// let rt = brisk::Runtime::builder().max_blocking_threads(4).build().unwrap();
    /// let n = rt.block_on(async { brisk::task::spawn_blocking(|| 3).await.unwrap() });
    /// assert_eq!(n, 3);
    /// ```
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.max_blocking_threads = n;
        self
    }

    /// How long a blocking-pool thread waits for new work before it exits (default 10 s).
    pub fn thread_keep_alive(&mut self, duration: Duration) -> &mut Self {
        self.thread_keep_alive = duration;
        self
    }

    /// Runs `f` on each worker and blocking-pool thread the runtime starts, on that thread,
    /// before it runs anything else.
    ///
    /// A hook that panics does not stop its thread or the runtime: the panic is reported by the
    /// panic hook (by default, a message on stderr) and the thread carries on as if `f` had
    /// returned. The same holds for every `on_thread_*` hook.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let s = started.clone();
    /// let rt = brisk::Builder::new()
    ///     .worker_threads(2)
    ///     .on_thread_start(move || {
    ///         s.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// drop(rt); // waits for the workers, which ran the hook first
    /// assert_eq!(started.load(Ordering::SeqCst), 2);
    /// ```
    pub fn on_thread_start<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on each worker and blocking-pool thread of the runtime just before it ends
    /// (at shutdown, or when a blocking thread was idle for
    /// [`thread_keep_alive`](Self::thread_keep_alive)). Panics: as for
    /// [`on_thread_start`](Self::on_thread_start).
    pub fn on_thread_stop<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.stop = Some(Arc::new(f));
        self
    }

    /// Runs `f` on a worker that found no work, just before it goes to sleep. A worker that
    /// dozes (out of work while another runs: it sleeps at most 100 µs at a time, and longer
    /// only once no work is being queued for it) runs it before each doze. Panics: as for
    /// [`on_thread_start`](Self::on_thread_start).
    pub fn on_thread_park<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.park = Some(Arc::new(f));
        self
    }

    /// Runs `f` on a worker that slept, right after it woke up. Panics: as for
    /// [`on_thread_start`](Self::on_thread_start).
    pub fn on_thread_unpark<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.unpark = Some(Arc::new(f));
        self
    }

    /// A name for the runtime, returned by [`Handle::name`](crate::Handle::name) and shown in
    /// its `Debug` output (thread names are set by [`thread_name`](Self::thread_name)).
    ///
    /// ```
    /// let rt = brisk::Builder::new().name("ingest").build().unwrap();
    /// assert_eq!(rt.handle().name(), Some("ingest"));
    /// ```
    pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
        self.name = Some(name.into());
        self
    }

    /// Starts the runtime with its clock paused (default `false`), as if
    /// [`brisk::time::pause`](crate::time::pause) were called first: timers then fire only
    /// through [`advance`](crate::time::advance) or when the runtime has nothing else to do
    /// (auto-advance). For tests of time-dependent code.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = brisk::Builder::new().start_paused(true).build().unwrap();
    /// rt.block_on(async {
    ///     let start = brisk::time::Instant::now();
    ///     brisk::time::sleep(Duration::from_secs(3600)).await; // returns at once
    ///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
    /// });
    /// ```
    pub fn start_paused(&mut self, paused: bool) -> &mut Self {
        self.start_paused = paused;
        self
    }

    /// Builds the runtime and starts its worker threads.
    ///
    /// # Errors
    /// `InvalidInput` naming the setting if `worker_threads`, `global_queue_interval`,
    /// `event_interval` or `max_blocking_threads` is 0;
    /// the OS error if a thread cannot be started.
    pub fn build(&mut self) -> io::Result<Runtime> {
        let worker_threads = if self.current_thread {
            1
        } else {
            self.worker_threads.unwrap_or_else(num_cpus::get)
        };
        if worker_threads == 0 {
            return Err(invalid("worker_threads must be at least 1"));
        }
        if worker_threads > 4096 {
            return Err(invalid("worker_threads must be at most 4096"));
        }
        if self.global_queue_interval == 0 {
            return Err(invalid("global_queue_interval must be at least 1"));
        }
        if self.event_interval == 0 {
            return Err(invalid("event_interval must be at least 1"));
        }
        if self.max_blocking_threads == 0 {
            return Err(invalid("max_blocking_threads must be at least 1"));
        }
        Runtime::start(Config {
            worker_threads,
            eager_budget: self.eager_budget,
            eager_budget_time: self.eager_budget_time,
            eager_depth: self.eager_depth,
            spawn_policy: self.spawn_policy,
            stall_threshold: self.stall_threshold,
            global_queue_interval: self.global_queue_interval,
            event_interval: self.event_interval,
            thread_name: self.thread_name.clone(),
            max_blocking_threads: self.max_blocking_threads,
            thread_keep_alive: self.thread_keep_alive,
            current_thread: self.current_thread,
            hooks: self.hooks.clone(),
            name: self.name.clone(),
            id: next_runtime_id(),
            start_paused: self.start_paused,
        })
    }
}

/// A new runtime id: a process-wide counter.
fn next_runtime_id() -> NonZeroU64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NonZeroU64::new(NEXT.fetch_add(1, Ordering::Relaxed)).expect("brisk: runtime ids start at 1")
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("brisk::Builder: {msg}"),
    )
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("current_thread", &self.current_thread)
            .field("worker_threads", &self.worker_threads)
            .field("eager_budget", &self.eager_budget)
            .field("eager_budget_time", &self.eager_budget_time)
            .field("eager_depth", &self.eager_depth)
            .field("spawn_policy", &self.spawn_policy)
            .field("stall_threshold", &self.stall_threshold)
            .field("global_queue_interval", &self.global_queue_interval)
            .field("event_interval", &self.event_interval)
            .field("thread_name", &self.thread_name)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("thread_keep_alive", &self.thread_keep_alive)
            .field("hooks", &self.hooks)
            .field("name", &self.name)
            .field("start_paused", &self.start_paused)
            .finish()
    }
}
