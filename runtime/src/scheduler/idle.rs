//! Idle workers: who is searching, who is parked, and whom to wake for new work.
//!
//! Invariants:
//! - `state` packs the number of searching workers (low bits) and of unparked workers (high
//!   bits). A worker is either unparked or listed in `sleepers`, never both (changed together
//!   under the `sleepers` lock).
//! - New work wakes at most one sleeper, and none if a worker is already searching (that one
//!   will find it) or if no worker sleeps: no thundering herd.
//! - No lost wake-up: the notifier publishes its work, then (SeqCst) reads `state`; a parking
//!   worker updates `state` (SeqCst), and the last searcher to park re-checks every queue.
//!   One of the two sees the other.
//! - At most one worker dozes (`dozing`: it sleeps with a short timeout, `worker.rs`). While it
//!   does, a worker that queued work on its own deque or slot owes the wake-up to it (sets
//!   `owed`) instead of waking a sleeper: no system call for work its owner is probably about
//!   to run itself. Not lost: the owed work was published before `owed`, and when the doze
//!   ends the dozer clears `dozing`, then reads `owed` and looks for work (fences on both
//!   sides: either it sees the owed work, or the notifier sees that it stopped dozing and
//!   wakes a worker the usual way). Work from outside the workers never owes its wake-up.
//! - `spinning` counts the workers in their wait before parking (`worker.rs`, `Core::spin`). It
//!   is only a hint for how a waiting worker waits (busy, or yielding the core while someone
//!   else watches the driver); no wake-up depends on it.

use crate::loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Mutex, MutexGuard};

const UNPARKED_ONE: usize = 1 << 16;
const SEARCHING_MASK: usize = UNPARKED_ONE - 1;

/// What [`Idle::worker_to_notify_local`] decided for new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notify {
    /// No wake-up needed (a worker searches, or none sleeps).
    Nobody,
    /// Wake this worker (it is counted as unparked and searching).
    Wake(usize),
    /// A worker dozes: the wake-up is owed to it.
    Owed,
}

/// Counts of searching and unparked workers, and the list of sleeping ones.
pub(crate) struct Idle {
    state: AtomicUsize,
    /// Workers in their spin before parking (a hint: read without the lock).
    spinning: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
    /// True while a worker dozes: parks with a short timeout while others run (`worker.rs`).
    dozing: AtomicBool,
    /// A wake-up for work queued on a worker was skipped because a worker dozes: the dozer
    /// looks for work when its doze ends.
    owed: AtomicBool,
}

fn searching(state: usize) -> usize {
    state & SEARCHING_MASK
}

fn unparked(state: usize) -> usize {
    state >> 16
}

impl Idle {
    pub(crate) fn new(num_workers: usize) -> Idle {
        Idle {
            state: AtomicUsize::new(num_workers * UNPARKED_ONE),
            spinning: AtomicUsize::new(0),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
            dozing: AtomicBool::new(false),
            owed: AtomicBool::new(false),
        }
    }

    fn should_notify(&self) -> bool {
        let s = self.state.load(SeqCst);
        searching(s) == 0 && unparked(s) < self.num_workers
    }

    /// After publishing work: the sleeper to wake, if one must be woken. It is counted as
    /// unparked and searching before this returns.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        fence(SeqCst);
        if !self.should_notify() {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        if !self.should_notify() {
            return None;
        }
        let index = sleepers.pop()?;
        self.state.fetch_add(UNPARKED_ONE | 1, SeqCst);
        Some(index)
    }

    /// After publishing work on a worker's own queue or slot: like
    /// [`worker_to_notify`](Self::worker_to_notify), but while a worker dozes the wake-up is
    /// owed to it instead (no system call): the dozer looks for work when its doze ends.
    pub(crate) fn worker_to_notify_local(&self) -> Notify {
        fence(SeqCst);
        if !self.should_notify() {
            return Notify::Nobody;
        }
        if self.dozing.load(SeqCst) {
            self.owed.store(true, SeqCst);
            // Pairs with the fence in `end_doze` (store `dozing`, fence, read `owed`): either
            // the dozer reads this `owed` and the work published before it, or this reads that
            // it stopped dozing and wakes a worker the usual way.
            fence(SeqCst);
            if self.dozing.load(SeqCst) {
                return Notify::Owed;
            }
        }
        match self.worker_to_notify() {
            Some(index) => Notify::Wake(index),
            None => Notify::Nobody,
        }
    }

    /// Becomes the dozer unless another worker dozes.
    pub(crate) fn start_doze(&self) -> bool {
        self.dozing
            .compare_exchange(false, true, SeqCst, SeqCst)
            .is_ok()
    }

    /// Ends the caller's doze; true if wake-ups were owed to it meanwhile (it must then look
    /// for work before it parks again).
    pub(crate) fn end_doze(&self) -> bool {
        self.dozing.store(false, SeqCst);
        fence(SeqCst);
        self.owed.swap(false, SeqCst)
    }

    /// True if a worker may become a searcher now: fewer than half the workers search.
    pub(crate) fn may_search(&self) -> bool {
        2 * searching(self.state.load(SeqCst)) < self.num_workers
    }

    /// Becomes a searcher unless half the workers already search.
    pub(crate) fn transition_to_searching(&self) -> bool {
        if !self.may_search() {
            return false;
        }
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// Stops searching (found work); true if it was the last searcher.
    pub(crate) fn transition_from_searching(&self) -> bool {
        searching(self.state.fetch_sub(1, SeqCst)) == 1
    }

    /// Parks worker `index`; true if it was the last searcher (it must then re-check queues).
    pub(crate) fn transition_to_parked(&self, index: usize, is_searching: bool) -> bool {
        let mut sleepers = lock(&self.sleepers);
        let dec = UNPARKED_ONE + usize::from(is_searching);
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(index);
        is_searching && searching(prev) == 1
    }

    /// Takes worker `index` off the sleeper list if it is still there (it woke for I/O or a
    /// timer rather than a notification); true if it was.
    pub(crate) fn unpark_self(&self, index: usize) -> bool {
        let mut sleepers = lock(&self.sleepers);
        match sleepers.iter().position(|&i| i == index) {
            Some(pos) => {
                sleepers.swap_remove(pos);
                self.state.fetch_add(UNPARKED_ONE, SeqCst);
                true
            }
            None => false,
        }
    }

    /// True if a worker other than the caller (an unparked worker about to spin) is unparked
    /// and not spinning itself: it turns the driver at its next tick or when it parks.
    pub(crate) fn another_awake(&self) -> bool {
        let others = unparked(self.state.load(SeqCst)).saturating_sub(1);
        others > self.spinning.load(SeqCst)
    }

    /// Counts the caller among the workers spinning before they park, until the guard drops.
    pub(crate) fn spinning(&self) -> Spinning<'_> {
        self.spinning.fetch_add(1, SeqCst);
        Spinning(&self.spinning)
    }

    /// True if every worker is parked (or about to park): none is running or searching.
    pub(crate) fn all_parked(&self) -> bool {
        unparked(self.state.load(SeqCst)) == 0
    }

    /// Number of workers searching right now (for tests).
    #[cfg(test)]
    pub(crate) fn num_searching(&self) -> usize {
        searching(self.state.load(SeqCst))
    }
}

/// A worker counted as spinning (`Idle::spinning`).
#[must_use]
pub(crate) struct Spinning<'a>(&'a AtomicUsize);

impl Drop for Spinning<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_wakes_one_and_not_while_searching() {
        let idle = Idle::new(2);
        assert_eq!(idle.worker_to_notify(), None, "nobody sleeps");
        assert!(!idle.transition_to_parked(0, false));
        assert!(!idle.transition_to_parked(1, false));
        let first = idle.worker_to_notify();
        assert!(first.is_some());
        assert_eq!(idle.num_searching(), 1);
        assert_eq!(
            idle.worker_to_notify(),
            None,
            "a searcher exists: no second wake-up"
        );
        assert!(idle.transition_from_searching());
        assert!(idle.worker_to_notify().is_some());
    }

    #[test]
    fn another_awake_counts_neither_the_caller_nor_spinning_or_parked_workers() {
        let idle = Idle::new(3);
        // Worker 0 asks; workers 1 and 2 are running.
        assert!(idle.another_awake());
        let one = idle.spinning();
        assert!(idle.another_awake(), "worker 2 still runs");
        let two = idle.spinning();
        assert!(!idle.another_awake(), "1 and 2 both wait before parking");
        drop(two);
        assert!(!idle.transition_to_parked(2, false));
        assert!(!idle.another_awake(), "2 sleeps, 1 waits");
        drop(one);
        assert!(idle.another_awake(), "1 runs again");
        assert!(!idle.transition_to_parked(1, false));
        assert!(!idle.another_awake(), "only the caller is awake");
    }

    #[test]
    fn last_searcher_is_told_to_recheck() {
        let idle = Idle::new(2);
        assert!(idle.transition_to_searching());
        assert!(!idle.transition_to_searching(), "at most half search");
        assert!(idle.transition_to_parked(0, true));
        assert_eq!(idle.worker_to_notify(), Some(0));
    }
}
