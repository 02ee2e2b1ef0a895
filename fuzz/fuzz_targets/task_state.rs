//! Random sequences of task state transitions against a model of the state word
//! (`brisk_tests::reliability::task_state`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brisk_tests::reliability::task_state::check(data);
});
