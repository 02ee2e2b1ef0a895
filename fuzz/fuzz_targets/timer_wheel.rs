//! Random insert / cancel / advance sequences on the runtime's timing wheel against a
//! `BTreeMap` model (`brisk_tests::reliability::timer_wheel`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    brisk_tests::reliability::timer_wheel::check(data);
});
