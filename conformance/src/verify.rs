//! Offline verification: the verdict re-derived from a trial's pcap and DUT event log alone.

use std::path::Path;

use crate::case::CaseInstance;
use crate::engine::{self, Ctx, EngineResult, TrialParams};
use crate::events::{self, Event};
use crate::invariants::{self, Violation};
use crate::io::ReplayIo;
use harness::Timestamp;
use harness::pcap::{self, PcapFrame};

/// What the files say.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The trial's parameters, from the log.
    pub params: TrialParams,
    /// The steps, judged again.
    pub engine: EngineResult,
    /// Global invariant violations in the capture.
    pub violations: Vec<Violation>,
    /// The end of the judged window as the live run logged it.
    pub logged_end: Option<Timestamp>,
}

/// The trial parameters at the head of an event log.
pub fn params_of(events: &[Event]) -> Result<TrialParams, String> {
    match events.first() {
        Some(Event::Params(p)) => Ok(p.clone()),
        _ => Err("the event log does not start with the trial parameters".into()),
    }
}

/// Re-judges `inst` from a capture and an event log already read.
pub fn verify(
    inst: &CaseInstance,
    frames: Vec<PcapFrame>,
    events: Vec<Event>,
) -> Result<Verification, String> {
    let params = params_of(&events)?;
    let logged_end = events.iter().rev().find_map(|e| match e {
        Event::End { ts } => Some(*ts),
        _ => None,
    });
    let violations = invariants::check(&frames, &params);
    let mut ctx = Ctx::new(params.clone());
    let mut io = ReplayIo::new(frames, events, &params);
    let engine = engine::run(inst, &mut ctx, &mut io);
    Ok(Verification {
        params,
        engine,
        violations,
        logged_end,
    })
}

/// Reads the files and re-judges. The event log defaults to the one next to the pcap.
pub fn verify_files(
    inst: &CaseInstance,
    pcap_path: &Path,
    events_path: Option<&Path>,
) -> Result<Verification, String> {
    let frames = pcap::read(pcap_path).map_err(|e| e.to_string())?;
    let events_path = events_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| events::path_for(pcap_path));
    if !events_path.exists() {
        return Err(format!(
            "the DUT event log {} is missing: verification needs the pcap and the event log \
             the run wrote next to it (or pass --events)",
            events_path.display()
        ));
    }
    let events = events::read(&events_path)?;
    verify(inst, frames, events)
}
