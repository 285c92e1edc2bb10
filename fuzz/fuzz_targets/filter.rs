//! Fuzz target: see `stratavec_testkit::fuzz::filter`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stratavec_testkit::fuzz::filter(data));
