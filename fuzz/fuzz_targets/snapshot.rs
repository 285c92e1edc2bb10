//! Fuzz target: see `stratavec_testkit::fuzz::snapshot`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stratavec_testkit::fuzz::snapshot(data));
