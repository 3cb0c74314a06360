//! Global invariants: rules every capture must satisfy, whatever the case.
//!
//! They are checked offline over every TCP segment the DUT sent in the capture, on top of the
//! case's own steps. A violation is a DUT failure (the DUT put it on the wire).
//!
//! - **checksum** (RFC 9293 MUST-2): every DUT segment carries a correct TCP checksum, and every
//!   IPv4 header a correct header checksum (RFC 791).
//! - **ack-monotonic** (RFC 9293 section 3.4, SND.UNA never decreases at the receiver): on one
//!   connection, the acknowledgement number of the DUT's ACK-bearing segments never moves
//!   backwards. RST segments are exempt (a RST's ACK field answers the segment that provoked it,
//!   RFC 9293 section 3.10.7.1), and a new SYN from the DUT starts a new connection.
//! - **window** (RFC 9293 section 3.8.6, SHLD-15): the DUT never sends data beyond the
//!   rightmost window edge the tester ever advertised on that connection (ACK + window, scaled
//!   per RFC 7323 once both SYNs carried the option), except one byte, which a zero-window probe
//!   may carry (RFC 9293 section 3.8.6.1, MUST-36).

use std::collections::HashMap;

use reference_stack::wire::{TcpFlags, TcpSeqNumber};
use serde::{Deserialize, Serialize};

use crate::engine::TrialParams;
use crate::segment::{Decoded, Segment, decode};
use harness::Timestamp;
use harness::pcap::PcapFrame;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The rule (`checksum`, `ack-monotonic`, `window`).
    pub rule: String,
    /// The catalog requirement it enforces, if one states it.
    pub requirement: Option<String>,
    /// The offending frame.
    pub frame_ts: Timestamp,
    /// 1-based frame number in the capture (as Wireshark counts).
    pub frame: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Default)]
struct Conn {
    last_ack: Option<u32>,
    max_right_edge: Option<u32>,
    tester_wscale: Option<u8>,
    dut_wscale: Option<u8>,
}

impl Conn {
    fn scaling(&self) -> u8 {
        match (self.tester_wscale, self.dut_wscale) {
            (Some(t), Some(_)) => t.min(14),
            _ => 0,
        }
    }
}

/// Checks every frame of a capture.
pub fn check(frames: &[PcapFrame], params: &TrialParams) -> Vec<Violation> {
    let mut out = Vec::new();
    // Keyed by (DUT port, tester port).
    let mut conns: HashMap<(u16, u16), Conn> = HashMap::new();
    for (i, f) in frames.iter().enumerate() {
        let Ok(Decoded::Tcp(seg)) = decode(&f.bytes) else {
            continue;
        };
        let from_dut = seg.src_mac == params.dut_mac;
        let key = if from_dut {
            (seg.src_port, seg.dst_port)
        } else {
            (seg.dst_port, seg.src_port)
        };
        let conn = conns.entry(key).or_default();
        let mut violation = |rule: &str, requirement: Option<&str>, message: String| {
            out.push(Violation {
                rule: rule.into(),
                requirement: requirement.map(Into::into),
                frame_ts: f.ts,
                frame: i + 1,
                message,
            });
        };
        if !from_dut {
            tester_segment(&seg, conn);
            continue;
        }
        if !seg.checksum_ok {
            violation(
                "checksum",
                Some("MUST-2"),
                format!(
                    "the DUT sent a segment with a wrong TCP checksum {:#06x}: {seg}",
                    seg.checksum
                ),
            );
        }
        if !seg.ip.header_checksum_ok {
            violation(
                "checksum",
                Some("MUST-2"),
                format!("the DUT sent an IPv4 header with a wrong checksum: {seg}"),
            );
        }
        if seg.has(TcpFlags::SYN) {
            conn.last_ack = None;
            conn.dut_wscale = seg.wscale();
        }
        if seg.has(TcpFlags::ACK) && !seg.has(TcpFlags::RST) {
            if let Some(prev) = conn.last_ack
                && TcpSeqNumber(seg.ack) < TcpSeqNumber(prev)
            {
                violation(
                    "ack-monotonic",
                    None,
                    format!(
                        "the DUT's acknowledgement moved backwards by {} bytes (from {prev} \
                             to {}): {seg}",
                        prev.wrapping_sub(seg.ack),
                        seg.ack
                    ),
                );
            }
            if conn
                .last_ack
                .is_none_or(|p| TcpSeqNumber(seg.ack) > TcpSeqNumber(p))
            {
                conn.last_ack = Some(seg.ack);
            }
        }
        let data_end = seg
            .seq
            .wrapping_add(seg.payload.len() as u32)
            .wrapping_add(u32::from(seg.has(TcpFlags::SYN)));
        if !seg.payload.is_empty()
            && let Some(edge) = conn.max_right_edge
        {
            // One byte past the edge is a zero-window probe (MUST-36).
            if TcpSeqNumber(data_end) > TcpSeqNumber(edge.wrapping_add(1)) {
                violation(
                    "window",
                    Some("SHLD-15"),
                    format!(
                        "the DUT sent data {} bytes beyond the right edge of the window \
                             the tester advertised: {seg}",
                        data_end.wrapping_sub(edge)
                    ),
                );
            }
        }
    }
    out
}

fn tester_segment(seg: &Segment, conn: &mut Conn) {
    if seg.has(TcpFlags::SYN) {
        conn.tester_wscale = seg.wscale();
        conn.max_right_edge = None;
    }
    if !seg.has(TcpFlags::ACK) || seg.has(TcpFlags::RST) {
        return;
    }
    // RFC 7323 section 2.2: the window field of a SYN is never scaled.
    let shift = if seg.has(TcpFlags::SYN) {
        0
    } else {
        conn.scaling()
    };
    let window = u32::from(seg.window) << shift;
    let edge = seg.ack.wrapping_add(window);
    if conn
        .max_right_edge
        .is_none_or(|e| TcpSeqNumber(edge) > TcpSeqNumber(e))
    {
        conn.max_right_edge = Some(edge);
    }
}
