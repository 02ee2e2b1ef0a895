//! The list of tasks a runtime owns: every task that was queued or suspended, until it completes.
//!
//! Invariants:
//! - A slot holds the task's owner reference; whoever takes a task out of its slot (completion,
//!   or shutdown) owns that reference.
//! - After `close_and_take_all`, `insert` refuses every task: the caller cancels it itself.
//! - Tasks that complete during their eager first poll are never inserted (no lock on that path).
//!
//! Sharded by task id so that workers rarely contend on one lock.

use crate::loom::sync::{Mutex, MutexGuard};
use std::ptr::NonNull;

use crossbeam_utils::CachePadded;

use super::raw::{Header, TaskRef};

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    slots: Vec<Option<TaskRef>>,
    free: Vec<usize>,
    closed: bool,
}

/// The owned-task list of one runtime.
pub(crate) struct OwnedTasks {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
}

impl OwnedTasks {
    pub(crate) fn new() -> OwnedTasks {
        OwnedTasks {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Mutex::default()))
                .collect(),
        }
    }

    fn shard(&self, header: &Header) -> &Mutex<Shard> {
        &self.shards[(header.id.as_u64() as usize) % SHARDS]
    }

    /// Inserts `task` (its owner reference). Refused with the task back once closed.
    ///
    /// The caller must hold `RUNNING` or be the task's creator (it writes the slot index).
    pub(crate) fn insert(&self, task: TaskRef) -> Result<(), TaskRef> {
        let mut shard = lock(self.shard(task.header()));
        if shard.closed {
            return Err(task);
        }
        let slot = match shard.free.pop() {
            Some(i) => i,
            None => {
                shard.slots.push(None);
                shard.slots.len() - 1
            }
        };
        // SAFETY: the caller owns the task's `owner` field (module and raw.rs invariants); the
        // shard lock orders this write before `remove` reads it.
        task.header().owned_slot.with_mut(|p| unsafe { *p = slot });
        shard.slots[slot] = Some(task);
        Ok(())
    }

    /// Removes a completed task; `None` if shutdown already took it.
    pub(crate) fn remove(&self, ptr: NonNull<Header>) -> Option<TaskRef> {
        // SAFETY: the caller holds a reference to the task.
        let header = unsafe { ptr.as_ref() };
        let mut shard = lock(self.shard(header));
        // SAFETY: `slot` was written under this lock by `insert`.
        let slot = header.owned_slot.with(|p| unsafe { *p });
        match shard.slots.get(slot) {
            Some(Some(t)) if t.as_ptr() == ptr => {
                shard.free.push(slot);
                shard.slots[slot].take()
            }
            _ => None,
        }
    }

    /// Closes the list and returns every task still in it.
    pub(crate) fn close_and_take_all(&self) -> Vec<TaskRef> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            shard.closed = true;
            shard.free.clear();
            all.extend(shard.slots.drain(..).flatten());
        }
        all
    }
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic never happens while a shard is locked (no user code runs under it), but stay
    // usable if it ever did.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
