//! The cooperative budget (bound F7), shared with `brisk-io` so that join, timer and I/O polls
//! spend one budget: see `brisk_io::coop` for the invariants. Each tick (one poll of a queued
//! task or of a `block_on` future) starts with `DEFAULT_BUDGET`; eager inline polls run inside
//! their parent's tick and spend the same budget.

pub(crate) use brisk_io::coop::{poll_proceed, set_budget, DEFAULT_BUDGET};
