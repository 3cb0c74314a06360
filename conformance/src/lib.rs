//! tcp-conformance: cases, runner, verifier.
