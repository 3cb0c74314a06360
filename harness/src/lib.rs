//! tcp-conformance harness.
