//! Unit tests of the reactor alone: hand-written wakers, explicit turns, the coop budget, and
//! socket types used outside a reactor.

mod reactor;
pub(crate) mod support;
