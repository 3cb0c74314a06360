//! tcp-conformance: the case language, the step engine, verification from pcap, the suite.
//!
//! Data flow of one trial (see DESIGN.md):
//!
//! ```text
//! cases/**/*.yaml --case::load_corpus--> CaseInstance (one per table row)
//!   --trial::run--> topology + target + tester --engine::run (LiveIo)--> live verdict,
//!                   trial.pcap + trial.events.jsonl
//!   --verify::verify_files (ReplayIo)--> offline verdict + invariants (must agree with live)
//!   --suite--> results.json
//! ```

pub mod build;
pub mod case;
pub mod engine;
#[cfg(test)]
mod engine_tests;
pub mod events;
pub mod invariants;
pub mod io;
pub mod matcher;
pub mod results;
pub mod segment;
pub mod suite;
pub mod trial;
pub mod verify;
