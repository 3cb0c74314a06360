//! The case language: its typed model, and loading the corpus with precise errors.
//!
//! The language is specified in `cases/README.md`; this module accepts exactly that language.
//!
//! - [`load_corpus`] reads a corpus root (`cases/`): the [`Catalog`] of requirements, the
//!   [`Prelude`]s, the target [`Profile`]s, and every case file as a [`CaseEntry`]. Catalog,
//!   prelude and profile errors are fatal; a case's error stays in its entry, so it becomes one
//!   failing test and never stops the others.
//! - [`load_case`] reads one case file against a loaded catalog and preludes.
//! - A case file gives one [`CaseInstance`] per table row (one without a table), with
//!   placeholders replaced and prelude steps in front of its own.
//!
//! Every error is a [`LoadError`] naming the file, the line and column, and what was expected.
//! To get positions, everything is validated inside serde visitors (requirement ids and prelude
//! names against a thread-local context set by the loader); all YAML goes through one function
//! in the private `yaml` module.

mod call;
mod catalog;
mod context;
mod duration;
mod error;
mod flags;
mod load;
mod matcher;
mod model;
mod prelude;
mod profile;
mod segment;
mod table;
mod yaml;

#[cfg(test)]
mod tests;

pub use call::{Call, DEFAULT_BACKLOG, Errno, How, SocketOptions, UnknownErrno};
pub use catalog::{Catalog, Level, Requirement, Testability};
pub use duration::{DisplayDuration, format_duration, parse_duration};
pub use error::LoadError;
#[cfg(test)]
pub(crate) use load::load_case_text;
pub use load::{CaseEntry, Corpus, RESERVED_DIRS, case_id, load_case, load_corpus};
pub use matcher::{
    DEFAULT_WITHIN, EcrMatch, Expect, FlagsMatch, IpMatch, NumMatch, OptMatch, OptionsMatch,
    Presence, SegmentMatch, TsMatch,
};
pub use model::{
    CaseInstance, DEFAULT_DUT_PORT, DEFAULT_TESTER_WINDOW, Dut, IpVersion, Role, Step, StepAt,
    Tester,
};
pub use prelude::Prelude;
pub use profile::{Deviation, Profile, SysctlValue, glob_match};
pub use segment::{
    ChecksumSpec, EcnName, EcrSpec, Inject, IpInject, OptionSpec, Payload, Sender, SeqSpec,
};
