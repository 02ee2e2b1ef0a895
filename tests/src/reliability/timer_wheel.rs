//! The fuzz check of the runtime's hierarchical timing wheel (`runtime/src/time/wheel.rs`,
//! compiled into this crate as is): random inserts, cancels and advances against a `BTreeMap`
//! model.
//!
//! Checked after every operation: the set of entries an `advance` fires is exactly the model's
//! entries due at its target, in nondecreasing deadline order (overdue ones first), never
//! early; `cancel` returns the value exactly while the entry is live (stale keys, even of
//! reused slab nodes, match nothing); `len` matches; `next_expiration` is `None` exactly when
//! empty, never later than the earliest deadline, and advancing to it makes progress.

use std::collections::BTreeMap;

use arbitrary::Unstructured;

#[allow(dead_code, unreachable_pub)]
#[path = "../../../runtime/src/time/wheel.rs"]
mod wheel;

use wheel::{Key, Wheel};

/// The wheel's span (`64^6` ms): deadlines beyond it sit in the overflow list.
const SPAN: u64 = 1 << 36;

/// At most this many operations per input (keeps each run short).
const MAX_OPS: usize = 4096;

/// A distance in ms, drawn to hit slot, level and span boundaries often.
fn offset(u: &mut Unstructured<'_>) -> arbitrary::Result<u64> {
    Ok(match u.int_in_range(0u8..=7)? {
        0 => u.int_in_range(0..=70)?,
        1 => {
            let level = u.int_in_range(1u32..=6)?;
            let base = 1u64 << (6 * level);
            let times = u.int_in_range(1u64..=3)?;
            (base * times).saturating_add_signed(u.int_in_range(-1i64..=1)?)
        }
        2 => u.int_in_range(0..=(1 << 20))?,
        3 => u.int_in_range(0..=(1 << 40))?,
        4 => u.arbitrary()?,
        5 => SPAN * u.int_in_range(1u64..=4)?,
        6 => u.int_in_range(0..=5000)?,
        _ => 0,
    })
}

/// Runs the operations encoded in `data`; panics if the wheel and the model disagree.
pub fn check(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut wheel: Wheel<u64> = Wheel::new();
    // The wheel's `elapsed()` exists only in its own unit tests: track it here.
    let mut elapsed = 0u64;
    // id -> deadline, for live entries.
    let mut model: BTreeMap<u64, u64> = BTreeMap::new();
    // Every key ever issued (to cancel stale ones too).
    let mut keys: Vec<(u64, Key)> = Vec::new();
    let mut next_id = 0u64;
    for op in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        let Ok(kind) = u.int_in_range(0u8..=9) else {
            break;
        };
        match kind {
            0..=3 => {
                let Ok(deadline) = (|| -> arbitrary::Result<u64> {
                    Ok(match u.int_in_range(0u8..=5)? {
                        0 => elapsed.saturating_sub(offset(&mut u)?),
                        1 => u64::MAX / 2,
                        2 => u64::MAX - u.int_in_range(0..=1)?,
                        _ => elapsed.saturating_add(offset(&mut u)?),
                    })
                })() else {
                    break;
                };
                let id = next_id;
                next_id += 1;
                let key = wheel.insert(deadline, id);
                model.insert(id, deadline);
                keys.push((id, key));
            }
            4..=5 => {
                if keys.is_empty() {
                    continue;
                }
                let Ok(i) = u.choose_index(keys.len()) else {
                    break;
                };
                let (id, key) = keys[i];
                let expected = model.remove(&id).map(|_| id);
                assert_eq!(wheel.cancel(key), expected, "op {op}: cancel of entry {id}");
            }
            _ => {
                let next = wheel.next_expiration();
                let Ok(now) = (|| -> arbitrary::Result<u64> {
                    Ok(match u.int_in_range(0u8..=4)? {
                        0 => elapsed.saturating_sub(u.int_in_range(0..=50)?),
                        1 => next.unwrap_or(elapsed),
                        _ => elapsed.saturating_add(offset(&mut u)?),
                    })
                })() else {
                    break;
                };
                let before = elapsed;
                let target = now.max(elapsed);
                let mut fired = Vec::new();
                wheel.advance(now, &mut |id| fired.push(id));
                elapsed = target;
                // Order: nondecreasing deadline, overdue entries (due at `before`) first.
                let due_at: Vec<u64> = fired
                    .iter()
                    .map(|id| {
                        let d = *model
                            .get(id)
                            .unwrap_or_else(|| panic!("op {op}: fired {id}, not live"));
                        d.max(before)
                    })
                    .collect();
                assert!(
                    due_at.windows(2).all(|w| w[0] <= w[1]),
                    "op {op}: fired out of order: {due_at:?}"
                );
                let mut fired_sorted = fired.clone();
                fired_sorted.sort_unstable();
                assert!(
                    fired_sorted.windows(2).all(|w| w[0] < w[1]),
                    "op {op}: an entry fired twice"
                );
                let expected: Vec<u64> = model
                    .iter()
                    .filter(|(_, &d)| d <= target)
                    .map(|(&id, _)| id)
                    .collect();
                assert_eq!(
                    fired_sorted, expected,
                    "op {op}: advance from {before} to {now}"
                );
                for id in &expected {
                    model.remove(id);
                }
                if next == Some(now) && fired.is_empty() {
                    assert!(
                        wheel.next_expiration().is_some_and(|n| n > now),
                        "op {op}: advancing to next_expiration {now} made no progress"
                    );
                }
            }
        }
        check_invariants(&wheel, &model, op);
    }
    // The end of time: everything left fires, exactly once.
    let mut fired = Vec::new();
    wheel.advance(u64::MAX, &mut |id| fired.push(id));
    fired.sort_unstable();
    let expected: Vec<u64> = model.keys().copied().collect();
    assert_eq!(fired, expected, "advance to u64::MAX");
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_expiration(), None);
    for (id, key) in keys {
        assert_eq!(wheel.cancel(key), None, "entry {id} is gone");
    }
}

fn check_invariants(wheel: &Wheel<u64>, model: &BTreeMap<u64, u64>, op: usize) {
    assert_eq!(wheel.len(), model.len(), "op {op}: len");
    let earliest = model.values().min().copied();
    match (wheel.next_expiration(), earliest) {
        (Some(next), Some(min)) => assert!(
            next <= min,
            "op {op}: next_expiration {next} is after the earliest deadline {min}"
        ),
        (None, None) => {}
        (next, min) => panic!("op {op}: next_expiration {next:?}, earliest deadline {min:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_short_inputs() {
        check(&[]);
        check(&[0]);
        check(&[0xFF; 64]);
    }

    #[test]
    fn pseudo_random_inputs() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..50 {
            let data: Vec<u8> = (0..2048)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            check(&data);
        }
    }
}
