//! The two implementations of [`TrialIo`]: the live trial and its replay from files.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use reference_stack::State;

use crate::engine::{CallRecord, StateRecord, TrialIo, TrialParams};
use crate::events::{Event, EventLog};
use harness::pcap::PcapFrame;
use harness::rawsock::{CapturedFrame, Direction};
use harness::target::{self, Target};
use harness::{Tester, Timestamp};

/// The live trial: the tester's raw I/O, the target, and the event log being written.
pub struct LiveIo<'a> {
    /// The tester.
    pub tester: &'a mut Tester,
    /// The DUT.
    pub target: &'a mut dyn Target,
    /// The log.
    pub log: &'a mut EventLog,
}

/// First and largest pause between two state polls. Polling an observable condition with a
/// deadline is the only way to see a kernel state change (there is no notification for it).
const STATE_POLL_MIN: Duration = Duration::from_micros(200);
const STATE_POLL_MAX: Duration = Duration::from_millis(20);

impl TrialIo for LiveIo<'_> {
    fn inject(&mut self, step: usize, frame: &[u8]) -> Result<Timestamp, String> {
        let ts = self.tester.send(frame).map_err(|e| e.to_string())?;
        self.log.write(&Event::Inject { step, ts })?;
        Ok(ts)
    }

    fn next_frame(&mut self, deadline: Timestamp) -> Result<Option<CapturedFrame>, String> {
        self.tester.recv_until(deadline).map_err(|e| e.to_string())
    }

    fn call(&mut self, step: usize, call: &target::Call) -> Result<CallRecord, String> {
        let start = Timestamp::now();
        let result = self.target.call(call).map_err(|e| e.to_string())?;
        let end = Timestamp::now();
        let record = CallRecord { start, end, result };
        self.log.write(&Event::Call {
            step,
            call: call.to_string(),
            record: record.clone(),
        })?;
        Ok(record)
    }

    fn state(
        &mut self,
        step: usize,
        local: SocketAddr,
        remote: SocketAddr,
        expected: State,
        deadline: Timestamp,
    ) -> Result<StateRecord, String> {
        let mut pause = STATE_POLL_MIN;
        let mut polls = 0;
        loop {
            let observed = self
                .target
                .state(local, remote)
                .map_err(|e| e.to_string())?;
            let ts = Timestamp::now();
            polls += 1;
            if observed == expected || ts >= deadline {
                let record = StateRecord { ts, observed };
                self.log.write(&Event::State {
                    step,
                    record,
                    polls,
                })?;
                return Ok(record);
            }
            std::thread::sleep(pause.min(deadline.saturating_since(ts)));
            pause = (pause * 2).min(STATE_POLL_MAX);
        }
    }

    fn wait_until(&mut self, _step: usize, until: Timestamp) -> Result<(), String> {
        // Time passing is what the step is about; frames arriving meanwhile queue in the
        // capture socket and are judged by the next step.
        let now = Timestamp::now();
        if until > now {
            std::thread::sleep(until.saturating_since(now));
        }
        Ok(())
    }
}

/// A trial replayed from its pcap and event log.
#[derive(Debug)]
pub struct ReplayIo {
    tester_frames: VecDeque<PcapFrame>,
    dut_frames: VecDeque<PcapFrame>,
    events: VecDeque<Event>,
}

impl ReplayIo {
    /// Splits the capture by direction (the tester's MAC) and queues the events after `Params`.
    pub fn new(frames: Vec<PcapFrame>, events: Vec<Event>, params: &TrialParams) -> Self {
        let (tester_frames, dut_frames) = frames
            .into_iter()
            .partition(|f| f.bytes.get(6..12) == Some(&params.tester_mac[..]));
        Self {
            tester_frames,
            dut_frames,
            events: events
                .into_iter()
                .filter(|e| !matches!(e, Event::Params(_) | Event::End { .. }))
                .collect(),
        }
    }

    fn next_event(&mut self, step: usize, what: &str) -> Result<Event, String> {
        match self.events.pop_front() {
            Some(e) => Ok(e),
            None => Err(format!(
                "the event log ends before step {} ({what})",
                step + 1
            )),
        }
    }
}

impl TrialIo for ReplayIo {
    fn inject(&mut self, step: usize, frame: &[u8]) -> Result<Timestamp, String> {
        let Some(f) = self.tester_frames.pop_front() else {
            return Err(format!(
                "the capture has no tester frame for step {} (inject)",
                step + 1
            ));
        };
        if f.bytes != frame {
            return Err(format!(
                "the tester frame in the capture for step {} differs from the one the case \
                 builds (the pcap does not belong to this case, row or event log)",
                step + 1
            ));
        }
        match self.next_event(step, "inject")? {
            Event::Inject { step: s, ts } if s == step && ts == f.ts => Ok(f.ts),
            other => Err(format!(
                "step {}: expected the inject event in the log, found {other:?}",
                step + 1
            )),
        }
    }

    fn next_frame(&mut self, deadline: Timestamp) -> Result<Option<CapturedFrame>, String> {
        Ok(match self.dut_frames.front() {
            Some(f) if f.ts <= deadline => self.dut_frames.pop_front().map(|f| CapturedFrame {
                ts: f.ts,
                dir: Direction::Incoming,
                bytes: f.bytes,
            }),
            _ => None,
        })
    }

    fn call(&mut self, step: usize, call: &target::Call) -> Result<CallRecord, String> {
        match self.next_event(step, "call")? {
            Event::Call {
                step: s,
                call: c,
                record,
            } if s == step => {
                if c != call.to_string() {
                    return Err(format!(
                        "step {}: the log records the call `{c}`, the case makes `{call}`",
                        step + 1
                    ));
                }
                Ok(record)
            }
            other => Err(format!(
                "step {}: expected a call event in the log, found {other:?}",
                step + 1
            )),
        }
    }

    fn state(
        &mut self,
        step: usize,
        _local: SocketAddr,
        _remote: SocketAddr,
        _expected: State,
        _deadline: Timestamp,
    ) -> Result<StateRecord, String> {
        match self.next_event(step, "state")? {
            Event::State {
                step: s, record, ..
            } if s == step => Ok(record),
            other => Err(format!(
                "step {}: expected a state event in the log, found {other:?}",
                step + 1
            )),
        }
    }

    fn wait_until(&mut self, _step: usize, _until: Timestamp) -> Result<(), String> {
        Ok(())
    }
}
