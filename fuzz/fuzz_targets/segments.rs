//! Arbitrary segment sequences on a live connection (see `reference_stack::fuzzing::segments`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reference_stack::fuzzing::segments(data));
