//! Random task programs: a tree of tasks, each running a short list of operations, with a
//! result that a plain recursive evaluation computes without any runtime. The fairness
//! properties and the fuzz corpus replay run these on the real scheduler.
//!
//! Deadlock freedom by construction: a child waits for `tokens` wake-ups through its own
//! channel before anything else; its parent sends every missing token before it awaits the
//! child, and at its end sends the rest and awaits every child it has not awaited yet.

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

    /// Runs the task on the current brisk runtime (inside a task or `block_on`); it first
    /// takes `tokens` tokens from `inbox`.
    pub fn run(self, inbox: Arc<Tokens>) -> Pin<Box<dyn Future<Output = u64> + Send>> {
        Box::pin(async move {
            for _ in 0..self.tokens {
                inbox.recv().await;
            }
            let mut h = mix(0xCBF2_9CE4_8422_2325, u64::from(self.tokens));
            struct Child {
                handle: Option<brisk::JoinHandle<u64>>,
                inbox: Arc<Tokens>,
                missing: u8,
                awaited: bool,
            }
            let mut children: Vec<Child> = Vec::new();
            for op in self.ops {
                match op {
                    Op::Spawn { child, lazy } => {
                        let inbox = Arc::new(Tokens::default());
                        let missing = child.tokens;
                        let fut = child.run(inbox.clone());
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
                        if let Some(c) = pick(&mut children, i) {
                            if !c.awaited {
                                c.awaited = true;
                                for _ in 0..std::mem::take(&mut c.missing) {
                                    c.inbox.send();
                                }
                                let r = c.handle.take().expect("awaited once").await;
                                h = mix(h, r.expect("child task failed"));
                            }
                        }
                    }
                    Op::Yield => {
                        brisk::task::yield_now().await;
                        h = mix(h, 1);
                    }
                    Op::Signal(i) => {
                        if let Some(c) = pick(&mut children, i) {
                            if c.missing > 0 {
                                c.missing -= 1;
                                c.inbox.send();
                            }
                        }
                        h = mix(h, (i as u64) << 8 | 2);
                    }
                    Op::Compute(x) => h = mix(h, u64::from(x) << 16 | 3),
                }
            }
            for c in children.iter_mut() {
                for _ in 0..std::mem::take(&mut c.missing) {
                    c.inbox.send();
                }
            }
            for c in children {
                if !c.awaited {
                    let r = c.handle.expect("not awaited yet").await;
                    h = mix(h, r.expect("child task failed"));
                }
            }
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
