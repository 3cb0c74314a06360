//! `results.json`: one record per trial, the contract between running and reporting.
//!
//! The file is written once at the end of a run. Paths inside it are relative to the directory
//! that holds it, so a results directory can be moved, archived or merged as a whole.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::{Detail, StepRecord};
use crate::invariants::Violation;

/// Version of this schema; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// How a trial ended. Exactly these five, as DESIGN.md defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The DUT did everything the case requires.
    Pass,
    /// The DUT violated the case.
    Fail,
    /// The DUT failed in a way its profile documents as a known deviation.
    ExpectedDeviation,
    /// Not run, for the stated reason.
    Skipped,
    /// The harness itself failed (or the case is malformed); says nothing about the DUT.
    Error,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Self; 5] = [
        Self::Pass,
        Self::Fail,
        Self::ExpectedDeviation,
        Self::Skipped,
        Self::Error,
    ];

    /// The kebab-case name used in JSON and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::ExpectedDeviation => "expected-deviation",
            Self::Skipped => "skipped",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The deviation a profile documents for a trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviationNote {
    /// Requirement ids the target deviates from.
    pub requirements: Vec<String>,
    /// Why.
    pub reason: String,
    /// The deviation is listed but the trial passed: the list needs updating.
    pub stale: bool,
}

/// One trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// `case::row::target::ip`.
    pub name: String,
    /// Case id.
    pub case: String,
    /// Table row, if any.
    pub row: Option<String>,
    /// Case title (row-instantiated).
    pub title: String,
    /// The target profile (`kernel`, `reference`, `kernel-no-sack`).
    pub target: String,
    /// The driver behind the profile (`kernel`, `reference`, `agent`).
    pub driver: String,
    /// `ipv4` or `ipv6`.
    pub ip: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why (failure message, skip reason, harness error); `None` for a plain pass.
    pub reason: Option<String>,
    /// The failed step (0-based), if a step failed.
    pub failed_step: Option<usize>,
    /// The capture timestamp (ns since the epoch) of the frame that broke the case, if any.
    pub failed_frame_ts: Option<u64>,
    /// A DUT failure, structured: field by field, expected against observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
    /// Requirement ids the case checks.
    pub requirements: Vec<String>,
    /// A documented deviation that applies to this trial.
    pub deviation: Option<DeviationNote>,
    /// Global invariant violations found in the capture.
    pub violations: Vec<Violation>,
    /// What each completed step did (from the offline verification).
    pub steps: Vec<StepRecord>,
    /// When the trial started (ns since the epoch).
    pub started_ns: u64,
    /// Wall-clock duration in milliseconds.
    pub duration_ms: f64,
    /// The capture, relative to the results directory.
    pub pcap: Option<String>,
    /// The DUT event log, relative to the results directory.
    pub events: Option<String>,
    /// Path of the case file, relative to the cases directory.
    pub case_file: String,
}

/// Facts about the run as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Suite name and version (`tcp-conformance 0.1.0`).
    pub suite: String,
    /// Schema version of this file.
    pub schema: u32,
    /// Start (RFC 3339, UTC).
    pub started: String,
    /// End (RFC 3339, UTC).
    pub finished: String,
    /// `uname -sr` of the machine.
    pub kernel: String,
    /// Host name.
    pub host: String,
    /// Profiles that ran, with their drivers.
    pub targets: Vec<TargetInfo>,
    /// The cases directory used.
    pub cases_dir: String,
    /// The shard, if the run was one (`1/4`).
    pub shard: Option<String>,
    /// Case files that failed to load: `(case id, error)`.
    pub load_errors: Vec<(String, String)>,
}

/// A target profile as run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Profile name.
    pub name: String,
    /// Driver.
    pub driver: String,
    /// Description from the profile.
    pub description: String,
    /// Sysctls set in the DUT namespace.
    pub sysctls: Vec<(String, String)>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Run facts.
    pub run: RunInfo,
    /// Trials, sorted by name.
    pub trials: Vec<TrialRecord>,
}

impl Results {
    /// Reads a results file.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: not a tcp-conformance results file: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })
    }

    /// Writes it (pretty-printed, so diffs between runs are readable).
    pub fn write(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Count of trials per outcome.
    pub fn counts(&self) -> [(Outcome, usize); 5] {
        Outcome::ALL.map(|o| (o, self.trials.iter().filter(|t| t.outcome == o).count()))
    }
}

/// Current UTC time as RFC 3339 (seconds precision), without a date crate.
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_219_200), "2026-11-21T00:00:00Z");
    }
}
