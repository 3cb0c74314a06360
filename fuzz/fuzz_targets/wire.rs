//! The wire codec on arbitrary bytes (see `reference_stack::fuzzing::wire`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reference_stack::fuzzing::wire(data));
