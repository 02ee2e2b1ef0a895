//! Random task programs: a tree of tasks, each running a short list of operations, with a
//! result that a plain recursive evaluation computes without any runtime. The fairness
//! properties and the fuzz corpus replay run these on the real scheduler.
//!
//! Deadlock freedom by construction: a child waits for `tokens` wake-ups through its own
//! channel before anything else; its parent sends every missing token before it awaits the
//! child, and at its end sends the rest and awaits every child it has not awaited yet.
//!
//! Observed steps (bound F6 in `docs/FAIRNESS.md`): [`Node::run_root_logged`] also appends every
//! step of every task to a [`StepLog`] (one lock, so the log is a linear order of the steps),
//! and [`Node::expected_steps`] computes, without any runtime, the sequence of steps each task
//! must show. [`StepLog::check`] then checks that the run was a legal execution of the program.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// One operation of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Spawn a child task (`lazy`: with `spawn_lazy`, else `spawn`).
    Spawn { child: Node, lazy: bool },
    /// Await the child in slot `i % children` (sending it its missing tokens first).
    Await(usize),
    /// `yield_now().await`.
    Yield,
    /// Send one token to the child in slot `i % children` if it still needs one.
    Signal(usize),
    /// Mix a number into the result.
    Compute(u32),
}

/// A task: it first waits for `tokens` wake-ups, then runs `ops`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Wake-ups through its channel the task waits for before its first op.
    pub tokens: u8,
    /// What the task does.
    pub ops: Vec<Op>,
}

fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x100_0000_01B3).rotate_left(17) ^ 0x9E37_79B9
}

impl Node {
    /// The task's result, computed without any runtime.
    pub fn reference(&self) -> u64 {
        let mut h = mix(0xCBF2_9CE4_8422_2325, u64::from(self.tokens));
        let mut children: Vec<(u64, bool)> = Vec::new();
        for op in &self.ops {
            match op {
                Op::Spawn { child, .. } => children.push((child.reference(), false)),
                Op::Await(i) => {
                    if let Some(c) = pick(&mut children, *i) {
                        if !c.1 {
                            c.1 = true;
                            h = mix(h, c.0);
                        }
                    }
                }
                Op::Yield => h = mix(h, 1),
                Op::Signal(i) => h = mix(h, (*i as u64) << 8 | 2),
                Op::Compute(x) => h = mix(h, u64::from(*x) << 16 | 3),
            }
        }
        for (r, awaited) in children {
            if !awaited {
                h = mix(h, r);
            }
        }
        h
    }

    /// Number of tasks in the tree (this one included).
    pub fn size(&self) -> usize {
        1 + self
            .ops
            .iter()
            .map(|op| match op {
                Op::Spawn { child, .. } => child.size(),
                _ => 0,
            })
            .sum::<usize>()
    }

    /// Runs the task as a root: its wake-up tokens are already in its channel.
    pub fn run_root(self) -> Pin<Box<dyn Future<Output = u64> + Send>> {
        let inbox = Arc::new(Tokens::default());
        for _ in 0..self.tokens {
            inbox.send();
        }
        self.run(inbox)
    }

    /// [`run_root`](Node::run_root), appending every step of this task and of its
    /// descendants to `log`; the root's path is `[root]`.
    pub fn run_root_logged(
        self,
        log: Arc<StepLog>,
        root: u32,
    ) -> Pin<Box<dyn Future<Output = u64> + Send>> {
        let inbox = Arc::new(Tokens::default());
        for _ in 0..self.tokens {
            inbox.send();
        }
        self.run_logged(inbox, Some((log, vec![root])))
    }

    /// Runs the task on the current brisk runtime (inside a task or `block_on`); it first
    /// takes `tokens` tokens from `inbox`.
    pub fn run(self, inbox: Arc<Tokens>) -> Pin<Box<dyn Future<Output = u64> + Send>> {
        self.run_logged(inbox, None)
    }

    /// The steps this task (path `path`) and its descendants must show, in program order,
    /// computed without any runtime: the mirror of what `run_logged` logs.
    pub fn expected_steps(&self, path: &[u32], out: &mut HashMap<Vec<u32>, Vec<Step>>) {
        let mut steps = vec![Step::Start];
        steps.extend((0..self.tokens).map(Step::Recv));
        // (missing tokens, awaited) per child slot.
        let mut children: Vec<(u8, bool)> = Vec::new();
        let child_path = |i: usize| {
            let mut p = path.to_vec();
            p.push(i as u32);
            p
        };
        for (j, op) in self.ops.iter().enumerate() {
            match op {
                Op::Spawn { child, .. } => {
                    let i = children.len();
                    steps.push(Step::Spawning(i as u32));
                    child.expected_steps(&child_path(i), out);
                    children.push((child.tokens, false));
                }
                Op::Await(i) => {
                    if !children.is_empty() {
                        let k = i % children.len();
                        let c = &mut children[k];
                        if !c.1 {
                            c.1 = true;
                            for _ in 0..std::mem::take(&mut c.0) {
                                steps.push(Step::Send(k as u32));
                            }
                            steps.push(Step::Joined(k as u32));
                        }
                    }
                }
                Op::Signal(i) => {
                    if !children.is_empty() {
                        let k = i % children.len();
                        if children[k].0 > 0 {
                            children[k].0 -= 1;
                            steps.push(Step::Send(k as u32));
                        }
                    }
                }
                Op::Yield | Op::Compute(_) => {}
            }
            steps.push(Step::Op(j as u32));
        }
        for (k, c) in children.iter_mut().enumerate() {
            for _ in 0..std::mem::take(&mut c.0) {
                steps.push(Step::Send(k as u32));
            }
        }
        for (k, c) in children.iter().enumerate() {
            if !c.1 {
                steps.push(Step::Joined(k as u32));
            }
        }
        steps.push(Step::Done);
        out.insert(path.to_vec(), steps);
    }

    fn run_logged(
        self,
        inbox: Arc<Tokens>,
        log: Option<(Arc<StepLog>, Vec<u32>)>,
    ) -> Pin<Box<dyn Future<Output = u64> + Send>> {
        Box::pin(async move {
            let step = |s: Step| {
                if let Some((log, path)) = &log {
                    log.push(path, s);
                }
            };
            let child_log = |i: usize| {
                log.as_ref().map(|(log, path)| {
                    let mut p = path.clone();
                    p.push(i as u32);
                    (log.clone(), p)
                })
            };
            step(Step::Start);
            for k in 0..self.tokens {
                inbox.recv().await;
                step(Step::Recv(k));
            }
            let mut h = mix(0xCBF2_9CE4_8422_2325, u64::from(self.tokens));
            struct Child {
                handle: Option<brisk::JoinHandle<u64>>,
                inbox: Arc<Tokens>,
                missing: u8,
                awaited: bool,
            }
            let mut children: Vec<Child> = Vec::new();
            for (j, op) in self.ops.into_iter().enumerate() {
                match op {
                    Op::Spawn { child, lazy } => {
                        let inbox = Arc::new(Tokens::default());
                        let missing = child.tokens;
                        step(Step::Spawning(children.len() as u32));
                        let fut = child.run_logged(inbox.clone(), child_log(children.len()));
                        let handle = if lazy {
                            brisk::spawn_lazy(fut)
                        } else {
                            brisk::spawn(fut)
                        };
                        children.push(Child {
                            handle: Some(handle),
                            inbox,
                            missing,
                            awaited: false,
                        });
                    }
                    Op::Await(i) => {
                        let n = children.len();
                        if let Some(c) = pick(&mut children, i) {
                            if !c.awaited {
                                c.awaited = true;
                                for _ in 0..std::mem::take(&mut c.missing) {
                                    step(Step::Send((i % n) as u32));
                                    c.inbox.send();
                                }
                                let r = c.handle.take().expect("awaited once").await;
                                step(Step::Joined((i % n) as u32));
                                h = mix(h, r.expect("child task failed"));
                            }
                        }
                    }
                    Op::Yield => {
                        brisk::task::yield_now().await;
                        h = mix(h, 1);
                    }
                    Op::Signal(i) => {
                        let n = children.len();
                        if let Some(c) = pick(&mut children, i) {
                            if c.missing > 0 {
                                c.missing -= 1;
                                step(Step::Send((i % n) as u32));
                                c.inbox.send();
                            }
                        }
                        h = mix(h, (i as u64) << 8 | 2);
                    }
                    Op::Compute(x) => h = mix(h, u64::from(x) << 16 | 3),
                }
                step(Step::Op(j as u32));
            }
            for (k, c) in children.iter_mut().enumerate() {
                for _ in 0..std::mem::take(&mut c.missing) {
                    step(Step::Send(k as u32));
                    c.inbox.send();
                }
            }
            for (k, c) in children.into_iter().enumerate() {
                if !c.awaited {
                    let r = c.handle.expect("not awaited yet").await;
                    step(Step::Joined(k as u32));
                    h = mix(h, r.expect("child task failed"));
                }
            }
            step(Step::Done);
            h
        })
    }
}

fn pick<T>(v: &mut [T], i: usize) -> Option<&mut T> {
    if v.is_empty() {
        None
    } else {
        let n = v.len();
        v.get_mut(i % n)
    }
}

/// A counting channel of wake-up tokens.
#[derive(Default, Debug)]
pub struct Tokens {
    inner: Mutex<(u32, Option<Waker>)>,
}

impl Tokens {
    /// Adds a token and wakes the receiver.
    pub fn send(&self) {
        let w = {
            let mut g = self.inner.lock().unwrap();
            g.0 += 1;
            g.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Takes one token, waiting for it.
    pub fn recv(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx: &mut Context<'_>| {
            let mut g = self.inner.lock().unwrap();
            if g.0 > 0 {
                g.0 -= 1;
                Poll::Ready(())
            } else {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// One observed step of a task of a program (bound F6). Child slots are numbered in spawn
/// order; a child's path is its parent's path and its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The task's first poll began.
    Start,
    /// The task received its `k`-th wake-up token (logged after the receive returned).
    Recv(u8),
    /// The task is about to spawn the child of this slot.
    Spawning(u32),
    /// The task is about to send one token to the child of this slot.
    Send(u32),
    /// The task's await of the child of this slot returned.
    Joined(u32),
    /// The task finished op number `j` of its list.
    Op(u32),
    /// The task is about to return its result.
    Done,
}

/// Every step of every task of a program, in one linear order (one lock).
#[derive(Debug, Default)]
pub struct StepLog {
    entries: Mutex<Vec<(Vec<u32>, Step)>>,
}

impl StepLog {
    /// Appends a step of the task at `path`.
    pub fn push(&self, path: &[u32], step: Step) {
        self.entries.lock().unwrap().push((path.to_vec(), step));
    }

    /// Checks that the logged run is a legal execution of `roots` (root `i` has path `[i]`):
    /// - program order: each task's steps are exactly [`Node::expected_steps`], in order;
    /// - a child's `Done` comes before its parent's `Joined` of it;
    /// - a child's `Start` comes after its parent's `Spawning` of it;
    /// - a child's `k`-th `Recv` comes after its parent's `k`-th `Send` to it (for children),
    ///   which is what released it.
    ///
    /// Returns the first violation, described.
    pub fn check(&self, roots: &[&Node]) -> Result<(), String> {
        let entries = self.entries.lock().unwrap();
        let mut expected = HashMap::new();
        for (i, root) in roots.iter().enumerate() {
            root.expected_steps(&[i as u32], &mut expected);
        }
        // Positions of each task's steps, in log order.
        let mut seen: HashMap<&[u32], Vec<(usize, Step)>> = HashMap::new();
        for (pos, (path, step)) in entries.iter().enumerate() {
            seen.entry(path.as_slice()).or_default().push((pos, *step));
        }
        for (path, want) in &expected {
            let got: Vec<Step> = seen
                .get(path.as_slice())
                .map(|v| v.iter().map(|&(_, s)| s).collect())
                .unwrap_or_default();
            if &got != want {
                return Err(format!(
                    "task {path:?}: steps {got:?} differ from program order {want:?}"
                ));
            }
        }
        if let Some(extra) = seen.keys().find(|p| !expected.contains_key(**p)) {
            return Err(format!("task {extra:?} is not in the program"));
        }
        let pos_of = |path: &[u32], pred: &dyn Fn(Step) -> bool, nth: usize| {
            seen.get(path)
                .and_then(|v| v.iter().filter(|&&(_, s)| pred(s)).nth(nth))
                .map(|&(p, _)| p)
        };
        for (path, steps) in &seen {
            let Some((&slot, parent)) = path.split_last() else {
                continue;
            };
            if parent.is_empty() {
                continue; // a root
            }
            let start = pos_of(path, &|s| s == Step::Start, 0).unwrap_or(0);
            let spawning = pos_of(parent, &|s| s == Step::Spawning(slot), 0);
            if !matches!(spawning, Some(p) if p < start) {
                return Err(format!(
                    "task {path:?} started before its parent spawned it"
                ));
            }
            let done = pos_of(path, &|s| s == Step::Done, 0);
            if let Some(joined) = pos_of(parent, &|s| s == Step::Joined(slot), 0) {
                if !matches!(done, Some(d) if d < joined) {
                    return Err(format!(
                        "parent {parent:?} returned from awaiting {path:?} before it finished"
                    ));
                }
            }
            for (k, &(recv, _)) in steps
                .iter()
                .filter(|&&(_, s)| matches!(s, Step::Recv(_)))
                .enumerate()
            {
                match pos_of(parent, &|s| s == Step::Send(slot), k) {
                    Some(send) if send < recv => {}
                    _ => {
                        return Err(format!(
                            "task {path:?} received token {k} before its parent sent it"
                        ))
                    }
                }
            }
        }
        Ok(())
    }
}
