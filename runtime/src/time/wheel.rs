//! A hierarchical timing wheel: 6 levels of 64 slots, one tick per slot of level 0.
//!
//! Times are `u64` ticks since the wheel's own start (the time driver's tick is 1 µs; the
//! wheel itself is unit-free, and the text below writes "ms" for one tick). The wheel has advanced to
//! `elapsed`; it holds entries with a deadline, and [`Wheel::advance`] fires (hands back) every
//! entry whose deadline has been reached.
//!
//! # Layout
//!
//! Level `L` has 64 slots, each `64^L` ms wide, so one rotation of level `L` spans `64^(L+1)`
//! ms: level 0 slots are 1 ms, level 1 slots 64 ms, ..., level 5 slots `2^30` ms, and the whole
//! wheel spans `64^6 = 2^36` ms (about 2.18 years at 1 ms per tick, 19 hours at 1 µs). Read in base 64, a deadline's digit `L` is
//! its slot number on level `L`.
//!
//! Entries live in a slab (`Vec` with a free list) and each slot is a doubly linked list of slab
//! indices, so insert and cancel are O(1). One 64-bit occupancy bitmap per level lets
//! [`Wheel::next_expiration`] and [`Wheel::advance`] find the next non-empty slot with
//! `trailing_zeros` instead of stepping 1 ms at a time. Two more lists sit beside the levels:
//! *pending* (entries already due) and *overflow* (the slot beyond level 5's furthest slot).
//!
//! # Invariants
//!
//! With `e = elapsed`, an entry with deadline `d` is
//! - in **pending** if `d <= e`: it is due and fires at the start of the next `advance`;
//! - on **level `L`**, slot `(d >> 6L) & 63`, if `e < d` and `d` lies in `e`'s current `2^36` ms
//!   block, where `L` is the index of the highest base-64 digit in which `d` and `e` differ.
//!   So `d` and `e` agree on every digit above `L` (`d` falls in `e`'s current rotation of level
//!   `L`) and `d`'s digit `L` is strictly greater than `e`'s. The slot therefore *starts* at a
//!   time `s` with `e < s <= d`: `s` is `e` rounded down to a multiple of `64^(L+1)`, plus
//!   `slot * 64^L`;
//! - in **overflow** if `d` lies in a later `2^36` ms block than `e` (beyond the wheel's range).
//!   The overflow list is due at the start of the block holding the earliest overflow
//!   deadline (tracked as a lower bound, exact after each cascade of the list).
//!
//! Level `L` holds only deadlines inside `e`'s current level-`L` rotation and level `L + 1`
//! only deadlines after it, so every occupied slot of level `L` starts before every occupied
//! slot of level `L + 1`, and overflow starts after them all. The earliest slot of the whole
//! wheel is the lowest occupied slot (`trailing_zeros`) of the lowest non-empty level.
//!
//! # Advancing and cascading
//!
//! `advance(now)` targets `t = max(e, now)`. It fires pending, then repeatedly takes the
//! earliest non-empty list while it starts at `s <= t`: it sets `e = s` and re-links that
//! list's entries relative to the new `e`. An entry with `d == s` becomes pending (and fires);
//! any other entry now agrees with `e` on digit `L` too, so it drops to a strictly lower level
//! (an overflow entry moves into the levels, or back to overflow if its block is still ahead).
//! Moving `e` forward to the earliest slot start keeps every other entry's invariant, and so
//! does the final `e = t`, since no remaining list starts at or before `t`.
//!
//! **Nothing fires early:** an entry fires only out of pending, which holds only deadlines
//! `d <= e`, and `e` never passes the target of the running `advance`. **Nothing fires late:**
//! an entry's list starts at or before its deadline, so an `advance` to `t >= d` reaches it,
//! and each cascade moves it to a list that still starts at or before `d`, until it is pending.
//! Within one `advance` entries fire in nondecreasing deadline order, except that entries that
//! were already overdue when the call began fire first, in no particular order.
//!
//! The fire callback runs only while pending is drained, when every list satisfies the
//! invariants above, so a panicking callback leaves a consistent wheel (the unfired due
//! entries stay pending).

use std::fmt;

/// Bits of a deadline that select a slot on one level.
const LEVEL_BITS: u32 = 6;

/// Slots per level.
const SLOTS: usize = 1 << LEVEL_BITS;

/// Selects a slot number out of a deadline shifted down to a level.
const SLOT_MASK: u64 = SLOTS as u64 - 1;

/// Number of levels.
const LEVELS: usize = 6;

/// The span of the whole wheel, one rotation of the top level: `64^6 = 2^36` ms (~2.18 years).
const WHEEL_SPAN: u64 = 1 << (LEVEL_BITS as usize * LEVELS);

/// List number of the pending list (entries whose deadline has been reached).
const PENDING: usize = LEVELS * SLOTS;

/// List number of the overflow list (deadlines beyond the wheel's current `2^36` ms block).
const OVERFLOW: usize = PENDING + 1;

/// Number of lists: one per slot of every level, plus pending and overflow.
const LISTS: usize = OVERFLOW + 1;
const _: () = assert!(
    LISTS <= u16::MAX as usize,
    "a list number fits a node's u16"
);

/// At most this many entries of the earliest slot are read to give its earliest deadline
/// exactly ([`Wheel::next_expiration`]).
const EXACT_SCAN: usize = 32;

/// A hierarchical timing wheel holding values of type `T`; see the module docs.
pub(crate) struct Wheel<T> {
    /// The time the wheel has advanced to, in ms since its start.
    elapsed: u64,
    /// The slab: every entry ever allocated, live or vacant. Vacant ones form the free list.
    nodes: Vec<Node<T>>,
    /// Head of the free list of vacant nodes.
    free_head: Option<usize>,
    /// Head of every list (`level * SLOTS + slot`, then `PENDING`, then `OVERFLOW`).
    heads: Box<[Option<usize>]>,
    /// Per level, bit `slot` is set iff that slot's list is non-empty.
    occupied: [u64; LEVELS],
    /// A lower bound of the pending deadlines (`u64::MAX` when pending is empty).
    pending_min: u64,
    /// A lower bound of the overflow deadlines (`u64::MAX` when overflow is empty).
    overflow_min: u64,
    /// Number of live entries.
    len: usize,
}

/// Identifies an entry of a [`Wheel`]: its slab index and that node's generation when it was
/// inserted. A key whose entry has fired or been cancelled matches nothing, even after the
/// slab node is reused, because every release bumps the node's generation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Key {
    /// Slab index of the entry.
    index: usize,
    /// Generation of the slab node when the entry was inserted.
    generation: u64,
}

/// One slab node: a live entry (`value` is `Some`) or a vacant node on the free list. Kept
/// small (48 bytes with a `Waker`): a runtime with a million sleeps holds a million of them.
struct Node<T> {
    /// Bumped each time the node is released, so keys of earlier entries go stale.
    generation: u64,
    /// The payload; `None` while the node is vacant.
    value: Option<T>,
    /// Deadline of the live entry, in ms since the wheel's start.
    deadline: u64,
    /// Previous entry on the same list.
    prev: Link,
    /// Next entry on the same list; for a vacant node, the next vacant node.
    next: Link,
    /// The list the live entry is on (below [`LISTS`]).
    list: u16,
}

/// A slab index or none, in 4 bytes: a wheel holds fewer than `u32::MAX` nodes (an insert
/// beyond that panics).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Link(u32);

impl Link {
    const NONE: Link = Link(u32::MAX);

    fn to(index: usize) -> Link {
        match u32::try_from(index) {
            Ok(i) if i != u32::MAX => Link(i),
            _ => panic!(
                "brisk: more than {} timers in one timer shard",
                u32::MAX - 1
            ),
        }
    }

    fn from_option(index: Option<usize>) -> Link {
        index.map_or(Link::NONE, Link::to)
    }

    fn get(self) -> Option<usize> {
        (self != Link::NONE).then_some(self.0 as usize)
    }
}

/// The list on which an entry with `deadline` belongs when the wheel is at `elapsed`.
fn list_for(elapsed: u64, deadline: u64) -> usize {
    if deadline <= elapsed {
        return PENDING;
    }
    // The highest differing bit picks the level; `| SLOT_MASK` makes level 0 the minimum.
    let differing = (deadline ^ elapsed) | SLOT_MASK;
    if differing >= WHEEL_SPAN {
        return OVERFLOW;
    }
    let level = (u64::BITS - 1 - differing.leading_zeros()) / LEVEL_BITS;
    let slot = (deadline >> (level * LEVEL_BITS)) & SLOT_MASK;
    level as usize * SLOTS + slot as usize
}

impl<T> Wheel<T> {
    /// An empty wheel at time 0.
    pub(crate) fn new() -> Self {
        Wheel {
            elapsed: 0,
            nodes: Vec::new(),
            free_head: None,
            heads: vec![None; LISTS].into_boxed_slice(),
            occupied: [0; LEVELS],
            pending_min: u64::MAX,
            overflow_min: u64::MAX,
            len: 0,
        }
    }

    /// The time the wheel has advanced to (ms since its start).
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of entries that have neither fired nor been cancelled.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the wheel holds no entry.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `value`, due at `deadline` (ms since the wheel's start), in O(1). A deadline at or
    /// before [`elapsed`](Self::elapsed) is due at once: it fires at the next `advance`. Any
    /// deadline is accepted, up to `u64::MAX`.
    pub(crate) fn insert(&mut self, deadline: u64, value: T) -> Key {
        let node = Node {
            generation: 0,
            value: Some(value),
            deadline,
            list: PENDING as u16,
            prev: Link::NONE,
            next: Link::NONE,
        };
        let index = match self.free_head {
            Some(index) => {
                let slot = &mut self.nodes[index];
                self.free_head = slot.next.get();
                *slot = Node {
                    generation: slot.generation,
                    ..node
                };
                index
            }
            None => {
                // Checked before the push: the index must fit a `Link`.
                let index = self.nodes.len();
                Link::to(index);
                self.nodes.push(node);
                index
            }
        };
        self.link(index);
        self.len += 1;
        Key {
            index,
            generation: self.nodes[index].generation,
        }
    }

    /// Removes the entry of `key` in O(1) and returns its value; `None` if it has already
    /// fired or been cancelled.
    pub(crate) fn cancel(&mut self, key: Key) -> Option<T> {
        let node = self.nodes.get(key.index)?;
        if node.generation != key.generation || node.value.is_none() {
            return None;
        }
        self.unlink(key.index);
        self.release(key.index)
    }

    /// The earliest time at which an `advance` may fire something, or `None` when the wheel is
    /// empty. Never later than the earliest deadline (it is that deadline, or a slot start
    /// before it, or at most `elapsed` when something is already due), and advancing to it
    /// always fires or cascades something, so `next_expiration` strictly grows between
    /// advances that fire nothing. O(levels + [`EXACT_SCAN`]).
    ///
    /// When the earliest list is a slot above level 0 holding at most [`EXACT_SCAN`] entries,
    /// it is their earliest deadline rather than the slot's start: every deadline of that
    /// slot is at or after its start and before every other list's, so it is still the
    /// earliest deadline, and a driver sleeping until it wakes once instead of first at the
    /// slot start (to cascade) and again at the deadline.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        if self.heads[PENDING].is_some() {
            return Some(self.pending_min);
        }
        let (list, start) = self.next_list()?;
        if list < SLOTS || list == OVERFLOW || cfg!(brisk_mutant = "wheel_slot_start_only") {
            // A level-0 slot is one tick wide: its start is its deadline.
            return Some(start);
        }
        Some(self.short_list_min(list).unwrap_or(start))
    }

    /// The earliest deadline on `list` if it holds at most [`EXACT_SCAN`] entries.
    fn short_list_min(&self, list: usize) -> Option<u64> {
        let mut next = self.heads[list];
        let mut min = u64::MAX;
        for _ in 0..EXACT_SCAN {
            let Some(index) = next else {
                return Some(min);
            };
            min = min.min(self.nodes[index].deadline);
            next = self.nodes[index].next.get();
        }
        next.is_none().then_some(min)
    }

    /// Advances the wheel to `max(elapsed, now)` and calls `fire` with the value of every
    /// entry whose deadline is at or before that time (including every entry inserted with a
    /// deadline already reached). No entry fires before its deadline; entries fire in
    /// nondecreasing deadline order except that the ones already due when the call began come
    /// first. Costs O(levels) per non-empty slot reached plus O(1) per entry fired or
    /// cascaded, however far `now` jumps.
    pub(crate) fn advance(&mut self, now: u64, fire: &mut impl FnMut(T)) {
        let target = now.max(self.elapsed);
        loop {
            while let Some(index) = self.heads[PENDING] {
                self.unlink(index);
                if let Some(value) = self.release(index) {
                    fire(value);
                }
            }
            match self.next_list() {
                Some((list, start)) if start <= target => {
                    self.elapsed = start;
                    self.cascade(list);
                }
                _ => break,
            }
        }
        self.elapsed = target;
    }

    /// The earliest non-empty list other than pending, and the time it starts.
    fn next_list(&self) -> Option<(usize, u64)> {
        for (level, &bits) in self.occupied.iter().enumerate() {
            if bits != 0 {
                let slot = bits.trailing_zeros();
                let shift = level as u32 * LEVEL_BITS;
                let rotation_start = self.elapsed & !((1u64 << (shift + LEVEL_BITS)) - 1);
                let start = rotation_start + (u64::from(slot) << shift);
                return Some((level * SLOTS + slot as usize, start));
            }
        }
        if self.heads[OVERFLOW].is_some() {
            return Some((OVERFLOW, self.overflow_min & !(WHEEL_SPAN - 1)));
        }
        None
    }

    /// Detaches the whole of `list` and re-links each of its entries relative to `elapsed`.
    fn cascade(&mut self, list: usize) {
        let mut next = self.heads[list].take();
        self.mark_empty(list);
        while let Some(index) = next {
            next = self.nodes[index].next.get();
            self.link(index);
        }
    }

    /// Pushes the live node `index` onto the front of the list its deadline belongs to.
    fn link(&mut self, index: usize) {
        let deadline = self.nodes[index].deadline;
        let list = list_for(self.elapsed, deadline);
        match list {
            PENDING => self.pending_min = self.pending_min.min(deadline),
            OVERFLOW => self.overflow_min = self.overflow_min.min(deadline),
            _ => self.occupied[list / SLOTS] |= 1 << (list % SLOTS),
        }
        let head = self.heads[list].replace(index);
        if let Some(head) = head {
            self.nodes[head].prev = Link::to(index);
        }
        let node = &mut self.nodes[index];
        // LISTS < 2^16.
        node.list = list as u16;
        node.prev = Link::NONE;
        node.next = Link::from_option(head);
    }

    /// Removes the live node `index` from its list.
    fn unlink(&mut self, index: usize) {
        let Node {
            list, prev, next, ..
        } = self.nodes[index];
        let list = usize::from(list);
        match prev.get() {
            Some(p) => self.nodes[p].next = next,
            None => self.heads[list] = next.get(),
        }
        if let Some(n) = next.get() {
            self.nodes[n].prev = prev;
        }
        if self.heads[list].is_none() {
            self.mark_empty(list);
        }
    }

    /// Records that `list` has become empty.
    fn mark_empty(&mut self, list: usize) {
        match list {
            PENDING => self.pending_min = u64::MAX,
            OVERFLOW => self.overflow_min = u64::MAX,
            _ => self.occupied[list / SLOTS] &= !(1 << (list % SLOTS)),
        }
    }

    /// Frees the unlinked node `index` for reuse (staling its key) and returns its value.
    fn release(&mut self, index: usize) -> Option<T> {
        let node = &mut self.nodes[index];
        let value = node.value.take();
        node.generation = node.generation.wrapping_add(1);
        node.next = Link::from_option(self.free_head);
        self.free_head = Some(index);
        self.len -= 1;
        value
    }
}

impl<T> fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.len)
            .field("next_expiration", &self.next_expiration())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Ten years of 365.25 days, in ms.
    const TEN_YEARS: u64 = 10 * 36_525 * 24 * 3_600_000 / 100;

    /// A deterministic xorshift64 generator (std only, so the tests stay std only).
    struct XorShift(u64);

    impl XorShift {
        /// The next 64 random bits.
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        /// A random number in `0..n` (`n > 0`).
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Advances `wheel` to `now` and returns the fired values in firing order.
    fn advance<T>(wheel: &mut Wheel<T>, now: u64) -> Vec<T> {
        let mut fired = Vec::new();
        wheel.advance(now, &mut |v| fired.push(v));
        fired
    }

    /// Offsets around every level boundary: `64^k - 1`, `64^k`, `64^k + 1` for `k` in 1..=7
    /// (`64^6` is the wheel's span, `64^7` is far beyond it), plus 1 and 2.
    fn boundary_offsets() -> Vec<u64> {
        let mut offsets = vec![1, 2];
        for k in 1..=7 {
            let p = 64u64.pow(k);
            offsets.extend([p - 1, p, p + 1]);
        }
        offsets
    }

    /// Inserts `deadlines` into a wheel advanced to `base`, advances it through `times`, and
    /// checks at every advance that exactly the not yet fired entries with a deadline at or
    /// before the new `elapsed` fire (so each fires once, never early, at the first advance
    /// that reaches it), and that `next_expiration` never exceeds the earliest pending
    /// deadline. Finally advances past every deadline and checks that all have fired.
    fn check_schedule(base: u64, deadlines: &[u64], times: impl IntoIterator<Item = u64>) {
        let mut wheel = Wheel::new();
        assert!(advance(&mut wheel, base).is_empty());
        for (i, &d) in deadlines.iter().enumerate() {
            wheel.insert(d, i);
        }
        let mut fired = vec![false; deadlines.len()];
        let last = deadlines.iter().copied().max().unwrap_or(0);
        for now in times.into_iter().chain([last]) {
            let min_pending = (0..deadlines.len())
                .filter(|&i| !fired[i])
                .map(|i| deadlines[i])
                .min();
            match (wheel.next_expiration(), min_pending) {
                (Some(next), Some(min)) => assert!(next <= min, "next {next} > deadline {min}"),
                (None, None) => {}
                other => panic!("next_expiration/pending mismatch: {other:?}"),
            }
            let target = now.max(wheel.elapsed());
            let mut got = advance(&mut wheel, now);
            got.sort_unstable();
            let expected: Vec<usize> = (0..deadlines.len())
                .filter(|&i| !fired[i] && deadlines[i] <= target)
                .collect();
            assert_eq!(got, expected, "base {base}, advance to {now}");
            for i in got {
                fired[i] = true;
            }
            assert_eq!(wheel.elapsed(), target);
        }
        assert!(fired.iter().all(|&f| f));
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_expiration(), None);
    }

    #[test]
    fn cascades_across_every_level_boundary() {
        let bases = [
            0,
            1,
            62,
            63,
            64,
            4095,
            4096,
            64u64.pow(3) - 1,
            64u64.pow(4) + 17,
            64u64.pow(5) - 3,
            WHEEL_SPAN - 2,
            WHEEL_SPAN - 1,
            WHEEL_SPAN,
            3 * WHEEL_SPAN - 64u64.pow(5) + 5,
        ];
        for base in bases {
            // Deadlines at boundaries relative to the base and absolute ones (some in the past).
            let mut deadlines: Vec<u64> = boundary_offsets().iter().map(|o| base + o).collect();
            deadlines.extend(boundary_offsets());
            deadlines.push(base);
            let last = *deadlines.iter().max().unwrap();

            // Exactly around every deadline.
            let mut around: Vec<u64> = deadlines
                .iter()
                .flat_map(|&d| [d.saturating_sub(1), d, d + 1])
                .collect();
            around.sort_unstable();
            check_schedule(base, &deadlines, around);

            // One big jump.
            check_schedule(base, &deadlines, [last]);

            // Fixed steps, small and big; each covers at least one more level boundary.
            for step in [
                1,
                7,
                63,
                64,
                65,
                4097,
                262_143,
                16_777_217,
                1_073_741_823,
                WHEEL_SPAN + 1,
            ] {
                let times = (1..=5000u64)
                    .map(|i| base + i * step)
                    .take_while(|&t| t <= last);
                check_schedule(base, &deadlines, times);
            }
        }
    }

    #[test]
    fn entries_sharing_a_slot_cancel_in_any_position() {
        // Five entries on one level-0 slot and five on one level-2 slot; cancel the head,
        // a middle one and the tail of each list (lists push at the front).
        for deadline in [10, 3 * 4096 + 5] {
            let mut wheel = Wheel::new();
            let keys: Vec<Key> = (0..5).map(|i| wheel.insert(deadline, i)).collect();
            assert_eq!(wheel.cancel(keys[4]), Some(4));
            assert_eq!(wheel.cancel(keys[2]), Some(2));
            assert_eq!(wheel.cancel(keys[0]), Some(0));
            assert_eq!(wheel.len(), 2);
            assert!(advance(&mut wheel, deadline - 1).is_empty());
            let mut fired = advance(&mut wheel, deadline);
            fired.sort_unstable();
            assert_eq!(fired, [1, 3]);
            assert!(wheel.is_empty());
        }
    }

    #[test]
    fn cancel_before_fire_returns_the_value_and_it_never_fires() {
        let mut wheel = Wheel::new();
        assert!(advance(&mut wheel, 1000).is_empty());
        // One entry on each kind of list: pending, every level, overflow.
        let deadlines = [
            5,
            1000,
            1001,
            1000 + 64,
            1000 + 4096,
            1000 + 64u64.pow(3),
            1000 + 64u64.pow(4),
            1000 + 64u64.pow(5),
            WHEEL_SPAN + 7,
            u64::MAX / 2,
            u64::MAX,
        ];
        let keys: Vec<Key> = deadlines
            .iter()
            .enumerate()
            .map(|(i, &d)| wheel.insert(d, i))
            .collect();
        for (i, &key) in keys.iter().enumerate().step_by(2) {
            assert_eq!(wheel.cancel(key), Some(i));
            assert_eq!(wheel.cancel(key), None, "second cancel of {i}");
        }
        assert_eq!(wheel.len(), deadlines.len() / 2);
        let mut fired = advance(&mut wheel, u64::MAX);
        fired.sort_unstable();
        let expected: Vec<usize> = (1..deadlines.len()).step_by(2).collect();
        assert_eq!(fired, expected);
        assert!(wheel.is_empty());
        for key in keys {
            assert_eq!(wheel.cancel(key), None);
        }
    }

    #[test]
    fn stale_keys_cancel_nothing_even_after_reuse() {
        let mut wheel = Wheel::new();
        let a = wheel.insert(10, 'a');
        assert_eq!(advance(&mut wheel, 10), ['a']);
        assert_eq!(wheel.cancel(a), None, "fired");

        let b = wheel.insert(20, 'b');
        assert_eq!(b.index, a.index, "the fired node is reused");
        assert_ne!(a, b);
        assert_eq!(wheel.cancel(a), None, "stale key of a reused node");
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.cancel(b), Some('b'));
        assert_eq!(wheel.cancel(b), None, "cancelled");

        let c = wheel.insert(30, 'c');
        assert_eq!(c.index, a.index, "the cancelled node is reused");
        assert_eq!(wheel.cancel(a), None);
        assert_eq!(wheel.cancel(b), None);
        assert_eq!(advance(&mut wheel, 30), ['c']);
    }

    #[test]
    fn memory_of_fired_and_cancelled_entries_is_reused() {
        let mut wheel = Wheel::new();
        for round in 0..5u64 {
            let keys: Vec<Key> = (0..1000u64)
                .map(|i| wheel.insert(round * 10_000 + i * 7, i))
                .collect();
            for key in keys.iter().step_by(2) {
                assert!(wheel.cancel(*key).is_some());
            }
            assert_eq!(advance(&mut wheel, (round + 1) * 10_000).len(), 500);
            assert_eq!(wheel.nodes.len(), 1000, "round {round}");
        }
    }

    #[test]
    fn next_expiration_is_exact_for_a_short_earliest_slot() {
        // 1000 and 1010 share the level-1 slot starting at 960: the exact earliest deadline.
        let mut wheel = Wheel::new();
        wheel.insert(1010, 'b');
        wheel.insert(1000, 'a');
        wheel.insert(5000, 'c');
        assert_eq!(wheel.next_expiration(), Some(1000));
        assert!(advance(&mut wheel, 999).is_empty());
        assert_eq!(advance(&mut wheel, 1000), ['a']);
        assert_eq!(wheel.next_expiration(), Some(1010));

        // A slot longer than EXACT_SCAN: its start, a lower bound, without reading it all.
        let mut wheel = Wheel::new();
        for i in 0..=EXACT_SCAN as u64 {
            wheel.insert(1000 + i % 20, i);
        }
        assert_eq!(wheel.next_expiration(), Some(960));
        assert!(advance(&mut wheel, 960).is_empty());
        assert_eq!(wheel.next_expiration(), Some(1000));
    }

    #[test]
    fn a_node_holding_a_waker_is_48_bytes() {
        // A million sleeps hold a million nodes (the `sleep_memory` bench).
        assert_eq!(std::mem::size_of::<Node<std::task::Waker>>(), 48);
        assert_eq!(Link::from_option(None).get(), None);
        assert_eq!(Link::to(0).get(), Some(0));
        assert_eq!(
            Link::to(u32::MAX as usize - 1).get(),
            Some(u32::MAX as usize - 1)
        );
    }

    #[test]
    #[should_panic(expected = "timers in one timer shard")]
    fn an_index_beyond_a_link_panics() {
        Link::to(u32::MAX as usize);
    }

    #[test]
    fn insert_in_the_past_fires_at_the_next_advance() {
        let mut wheel = Wheel::new();
        assert!(advance(&mut wheel, 1000).is_empty());
        wheel.insert(5, 5u64);
        wheel.insert(0, 0);
        wheel.insert(1000, 1000);
        wheel.insert(1001, 1001);
        assert_eq!(wheel.next_expiration(), Some(0));
        // An advance to an earlier time fires what is due but does not move `elapsed` back.
        let mut fired = advance(&mut wheel, 10);
        fired.sort_unstable();
        assert_eq!(fired, [0, 5, 1000]);
        assert_eq!(wheel.elapsed(), 1000);
        assert_eq!(wheel.next_expiration(), Some(1001));
        assert_eq!(advance(&mut wheel, 1001), [1001]);
    }

    #[test]
    fn huge_deadlines_do_not_overflow() {
        for base in [0, 12_345, WHEEL_SPAN - 1, u64::MAX / 2 - 3] {
            let mut wheel = Wheel::new();
            assert!(advance(&mut wheel, base).is_empty());
            let mut deadlines = [base + TEN_YEARS, u64::MAX / 2, u64::MAX - 1, u64::MAX];
            deadlines.sort_unstable();
            for d in deadlines {
                if d <= wheel.elapsed() {
                    continue;
                }
                let key = wheel.insert(d, d);
                assert!(wheel.next_expiration().unwrap() <= d);
                assert!(advance(&mut wheel, d - 1).is_empty(), "{d} fired early");
                assert_eq!(advance(&mut wheel, d), [d]);
                assert_eq!(wheel.cancel(key), None);
            }
            wheel.insert(u64::MAX, 1);
            wheel.insert(u64::MAX / 2, 2);
            let mut fired = advance(&mut wheel, u64::MAX);
            fired.sort_unstable();
            assert_eq!(fired, [1, 2]);
            assert_eq!(wheel.elapsed(), u64::MAX);
            // At the end of time a deadline of `u64::MAX` is due at once.
            wheel.insert(u64::MAX, 3);
            assert_eq!(wheel.next_expiration(), Some(u64::MAX));
            assert_eq!(advance(&mut wheel, 0), [3]);
        }
    }

    #[test]
    fn next_expiration_drives_the_wheel_exactly_to_each_deadline() {
        // Like the driver: sleep until next_expiration, advance, repeat. Every advance must
        // fire only entries due exactly then or make progress, and each deadline must be hit.
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut wheel = Wheel::new();
        let mut deadlines = Vec::new();
        for i in 0..2000u64 {
            let d = match i % 4 {
                0 => rng.below(5000),
                1 => rng.below(WHEEL_SPAN),
                2 => rng.below(4 * TEN_YEARS),
                _ => boundary_offsets()[rng.below(23) as usize],
            };
            deadlines.push(d);
            wheel.insert(d, d);
        }
        deadlines.sort_unstable();
        let mut fired_all = Vec::new();
        let mut iterations = 0;
        while let Some(next) = wheel.next_expiration() {
            iterations += 1;
            assert!(
                next <= deadlines[fired_all.len()],
                "next {next} is too late"
            );
            let fired = advance(&mut wheel, next);
            assert!(
                fired.iter().all(|&d| d == next),
                "fired early or late at {next}"
            );
            if fired.is_empty() {
                assert!(
                    wheel.next_expiration().is_some_and(|n| n > next),
                    "no progress"
                );
            }
            fired_all.extend(fired);
        }
        assert_eq!(fired_all, deadlines);
        assert!(
            iterations <= deadlines.len() * (LEVELS + 2),
            "{iterations} iterations"
        );
    }

    #[test]
    fn random_operations_match_a_btreemap_model() {
        for seed in 1..=16u64 {
            let mut rng = XorShift(seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
            let mut wheel = Wheel::new();
            // id -> (deadline, key); every key ever issued, to cancel stale ones too.
            let mut model: BTreeMap<u64, (u64, Key)> = BTreeMap::new();
            let mut keys: Vec<(u64, Key)> = Vec::new();
            for op in 0..3000u64 {
                let elapsed = wheel.elapsed();
                match rng.below(10) {
                    0..=3 => {
                        let deadline = match rng.below(8) {
                            0 => elapsed.saturating_sub(rng.below(100)),
                            1 => elapsed.saturating_add(rng.below(70)),
                            2 => {
                                let offsets = boundary_offsets();
                                let o = offsets[rng.below(offsets.len() as u64) as usize];
                                elapsed.saturating_add(o)
                            }
                            3 => elapsed.saturating_add(rng.below(1 << 20)),
                            4 => elapsed.saturating_add(rng.below(1 << 40)),
                            5 => u64::MAX / 2,
                            6 => rng.next(),
                            _ => elapsed.saturating_add(rng.below(5000)),
                        };
                        let key = wheel.insert(deadline, op);
                        model.insert(op, (deadline, key));
                        keys.push((op, key));
                    }
                    4..=5 if !keys.is_empty() => {
                        let (id, key) = keys[rng.below(keys.len() as u64) as usize];
                        let expected = model.remove(&id).map(|_| id);
                        assert_eq!(wheel.cancel(key), expected, "seed {seed} op {op}");
                    }
                    _ => {
                        let now = match rng.below(8) {
                            0 => elapsed.saturating_sub(rng.below(50)),
                            1 => wheel.next_expiration().unwrap_or(elapsed),
                            2 => elapsed.saturating_add(rng.below(1 << 24)),
                            3 => elapsed.saturating_add(rng.below(1 << 38)),
                            4 => elapsed.saturating_add(WHEEL_SPAN),
                            _ => elapsed.saturating_add(rng.below(300)),
                        };
                        let next = wheel.next_expiration();
                        let target = now.max(elapsed);
                        let fired = advance(&mut wheel, now);
                        let fired_at: Vec<u64> =
                            fired.iter().map(|id| model[id].0.max(elapsed)).collect();
                        assert!(
                            fired_at.windows(2).all(|w| w[0] <= w[1]),
                            "seed {seed} op {op}: out of order {fired_at:?}"
                        );
                        let mut fired = fired;
                        fired.sort_unstable();
                        let expected: Vec<u64> = model
                            .iter()
                            .filter(|(_, &(d, _))| d <= target)
                            .map(|(&id, _)| id)
                            .collect();
                        assert_eq!(fired, expected, "seed {seed} op {op}: advance to {now}");
                        for id in &expected {
                            model.remove(id);
                        }
                        assert_eq!(wheel.elapsed(), target);
                        if next == Some(now) && fired.is_empty() {
                            assert!(
                                wheel.next_expiration().is_some_and(|n| n > now),
                                "seed {seed} op {op}: no progress at {now}: {wheel:?}"
                            );
                        }
                    }
                }
                assert_eq!(wheel.len(), model.len(), "seed {seed} op {op}");
                assert_eq!(wheel.is_empty(), model.is_empty());
                let earliest = model.values().map(|&(d, _)| d).min();
                match (wheel.next_expiration(), earliest) {
                    (Some(next), Some(min)) => {
                        assert!(
                            next <= min,
                            "seed {seed} op {op}: {next} > {min}: {wheel:?}"
                        )
                    }
                    (None, None) => {}
                    other => panic!("seed {seed} op {op}: {other:?}: {wheel:?}"),
                }
            }
        }
    }

    #[test]
    fn a_large_jump_over_many_entries() {
        const HOUR: u64 = 3_600_000;
        let mut rng = XorShift(42);
        let mut wheel = Wheel::new();
        let mut within_hour = 0;
        for i in 0..100_000u64 {
            let d = if i % 100 == 0 {
                TEN_YEARS + rng.below(TEN_YEARS)
            } else {
                rng.below(2 * HOUR)
            };
            within_hour += usize::from(d <= HOUR);
            wheel.insert(d, i);
        }
        assert_eq!(advance(&mut wheel, HOUR).len(), within_hour);
        assert_eq!(wheel.len(), 100_000 - within_hour);
        assert_eq!(
            advance(&mut wheel, HOUR + 3 * TEN_YEARS).len(),
            100_000 - within_hour
        );
        assert!(wheel.is_empty());
    }
}
