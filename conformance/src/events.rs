//! The DUT event log: one JSON object per line, next to the trial's pcap.
//!
//! The pcap holds what went over the wire; the event log holds everything else the verdict
//! depends on: the trial's parameters (ISN, ports, MACs), each call and what it returned, each
//! state observation, and the end of the judged window. Together they are enough to re-derive the
//! verdict offline (`conformance verify`).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{CallRecord, StateRecord, TrialParams};
use harness::Timestamp;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// First line: the trial's fixed parameters.
    Params(TrialParams),
    /// A segment the tester sent for a step, by capture timestamp.
    Inject {
        /// Step index.
        step: usize,
        /// Capture timestamp.
        ts: Timestamp,
    },
    /// A call and what it returned.
    Call {
        /// Step index.
        step: usize,
        /// The call, in short.
        call: String,
        /// Timing and result.
        record: CallRecord,
    },
    /// A state observation.
    State {
        /// Step index.
        step: usize,
        /// What was seen, and when.
        record: StateRecord,
        /// How many times the state was polled.
        polls: u32,
    },
    /// Last line: where the judged window ended.
    End {
        /// Completion time of the last step (or of the failure).
        ts: Timestamp,
    },
}

/// Writes the log as the trial runs.
#[derive(Debug)]
pub struct EventLog {
    out: BufWriter<File>,
    path: PathBuf,
}

impl EventLog {
    /// Creates the file.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Self {
            out: BufWriter::new(File::create(path)?),
            path: path.to_owned(),
        })
    }

    /// Appends one event, flushed at once: a run that dies still leaves its log readable.
    pub fn write(&mut self, e: &Event) -> Result<(), String> {
        let line = serde_json::to_string(e).map_err(|e| format!("encode event: {e}"))?;
        writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .map_err(|e| format!("write {}: {e}", self.path.display()))
    }

    /// Flushes the file.
    pub fn finish(mut self) -> Result<PathBuf, String> {
        self.out
            .flush()
            .map_err(|e| format!("write {}: {e}", self.path.display()))?;
        Ok(self.path)
    }
}

/// Reads a whole log; errors name the file and line.
pub fn read(path: &Path) -> Result<Vec<Event>, String> {
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut events = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        events.push(
            serde_json::from_str(&line)
                .map_err(|e| format!("{}:{}: not a DUT event: {e}", path.display(), i + 1))?,
        );
    }
    Ok(events)
}

/// The event log that belongs to a pcap: same path, `.events.jsonl` instead of `.pcap`.
pub fn path_for(pcap: &Path) -> PathBuf {
    pcap.with_extension("events.jsonl")
}
