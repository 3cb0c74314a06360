//! The tester: raw frames out, every frame in, all of it recorded to a pcap file.
//!
//! One [`Tester`] per trial, on the tester's end of the veth. Every frame the capture sees (the
//! tester's own and the DUT's) is appended to the trial's pcap the moment it is read, so the file
//! holds exactly what the live run judged, in the order it saw it.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clock::Timestamp;
use crate::error::{HarnessError, Result};
use crate::netns::Netns;
use crate::pcap::PcapWriter;
use crate::rawsock::{Capture, CapturedFrame, Direction, Sender};

/// How long after a deadline the tester keeps reading, to collect frames the kernel stamped
/// before the deadline but queued to the capture socket after it.
///
/// Only frames stamped at or before the deadline count; this only covers the gap between the
/// stamp (taken when the veth enqueues the frame to the receive backlog) and the delivery to
/// the capture socket (when that backlog is processed, which a loaded machine may postpone).
/// Should a frame still arrive later than this, the live run misses it but the offline
/// verification sees it; the two verdicts then disagree and the trial is reported as a harness
/// error, never as a DUT failure.
pub const DEADLINE_GRACE: Duration = Duration::from_millis(20);

/// How long a frame the tester sent may take to show up in its own capture.
const SELF_CAPTURE_TIMEOUT: Duration = Duration::from_secs(2);

/// Raw I/O on the tester's interface, with capture to pcap.
#[derive(Debug)]
pub struct Tester {
    sender: Sender,
    capture: Capture,
    pcap: PcapWriter,
    /// Incoming (DUT) frames read from the capture but not yet handed out.
    pending: VecDeque<CapturedFrame>,
}

impl Tester {
    /// Opens the sockets in `ns` on `ifindex` and starts the capture file at `pcap_path`.
    pub fn open(ns: &Netns, ifindex: u32, pcap_path: &Path) -> Result<Self> {
        let (sender, capture) = ns.run(move || -> Result<_> {
            Ok((Sender::open(ifindex)?, Capture::open(ifindex)?))
        })??;
        Ok(Self {
            sender,
            capture,
            pcap: PcapWriter::create(pcap_path)?,
            pending: VecDeque::new(),
        })
    }

    /// Sends a frame and returns the capture's timestamp of it (when it went on the link).
    pub fn send(&mut self, frame: &[u8]) -> Result<Timestamp> {
        self.sender.send(frame)?;
        let deadline = Timestamp::now() + SELF_CAPTURE_TIMEOUT;
        loop {
            let Some(f) = self.capture.recv_until(deadline)? else {
                return Err(HarnessError::Capture(format!(
                    "a frame the tester sent did not show up in the capture within {SELF_CAPTURE_TIMEOUT:?}"
                )));
            };
            self.record(&f)?;
            match f.dir {
                Direction::Outgoing if f.bytes == frame => return Ok(f.ts),
                Direction::Outgoing => {
                    return Err(HarnessError::Capture(
                        "the capture shows an outgoing frame the tester did not send".into(),
                    ));
                }
                Direction::Incoming => self.pending.push_back(f),
            }
        }
    }

    /// The next frame from the DUT stamped no later than `deadline`, waiting for it until then
    /// (plus [`DEADLINE_GRACE`]). `None`: nothing (more) arrived by the deadline.
    pub fn recv_until(&mut self, deadline: Timestamp) -> Result<Option<CapturedFrame>> {
        loop {
            if let Some(f) = self.pending.front() {
                return Ok(if f.ts <= deadline {
                    self.pending.pop_front()
                } else {
                    None
                });
            }
            let Some(f) = self.capture.recv_until(deadline + DEADLINE_GRACE)? else {
                return Ok(None);
            };
            self.record(&f)?;
            if f.dir == Direction::Outgoing {
                return Err(HarnessError::Capture(
                    "the capture shows an outgoing frame the tester did not send".into(),
                ));
            }
            self.pending.push_back(f);
        }
    }

    /// Reads whatever the capture still holds into the pcap, checks that the kernel dropped
    /// nothing, and closes the file.
    pub fn finish(mut self) -> Result<PathBuf> {
        while let Some(f) = self.capture.try_recv()? {
            self.record(&f)?;
        }
        let drops = self.capture.drops()?;
        self.pcap.flush()?;
        if drops > 0 {
            return Err(HarnessError::Capture(format!(
                "the kernel dropped {drops} frame(s) from the capture queue"
            )));
        }
        Ok(self.pcap.path().to_owned())
    }

    fn record(&mut self, f: &CapturedFrame) -> Result<()> {
        self.pcap.write(f.ts, &f.bytes)
    }
}
