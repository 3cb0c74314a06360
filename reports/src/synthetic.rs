//! Synthetic runs: a results directory with real pcap files and event logs, made without a
//! network, for the unit tests and the render benchmark.
//!
//! Each trial is the seed data exchange (handshake, two 512-byte segments acknowledged, 512 bytes
//! back) between the harness's fixed tester and DUT addresses; a failing trial stops at an
//! acknowledgement the case did not expect, like a case with a wrong `ack`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use conformance::engine::{StepRecord, TrialParams};
use conformance::events::{Event, EventLog};
use conformance::results::{Outcome, Results, RunInfo, TargetInfo, TrialRecord};
use harness::Timestamp;
use harness::pcap::{PcapFrame, PcapWriter};
use harness::topology::{DUT_MAC, TESTER_MAC};

/// The fields of one synthetic TCP frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    /// Sent by the DUT (else by the tester).
    pub from_dut: bool,
    /// The nine flag bits.
    pub flags: u16,
    /// Raw sequence number.
    pub seq: u32,
    /// Raw acknowledgement number.
    pub ack: u32,
    /// Window field.
    pub window: u16,
    /// Option bytes (padded to a multiple of four here).
    pub options: Vec<u8>,
    /// Payload length (the bytes are a pattern).
    pub payload_len: usize,
    /// IPv6 (else IPv4).
    pub v6: bool,
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        acc += u32::from(word);
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

fn addrs(v6: bool, from_dut: bool) -> (IpAddr, IpAddr) {
    let (tester, dut): (IpAddr, IpAddr) = if v6 {
        (
            Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1).into(),
            Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2).into(),
        )
    } else {
        (
            Ipv4Addr::new(198, 18, 0, 1).into(),
            Ipv4Addr::new(198, 18, 0, 2).into(),
        )
    };
    if from_dut {
        (dut, tester)
    } else {
        (tester, dut)
    }
}

/// An Ethernet frame carrying the segment, with correct checksums.
pub fn tcp_frame(spec: &FrameSpec) -> Vec<u8> {
    let (src, dst) = addrs(spec.v6, spec.from_dut);
    let (sport, dport) = if spec.from_dut {
        (5000, 40000)
    } else {
        (40000, 5000)
    };
    let mut options = spec.options.clone();
    while !options.len().is_multiple_of(4) {
        options.push(0);
    }
    let doff = (20 + options.len()) / 4;
    let mut tcp = Vec::with_capacity(20 + options.len() + spec.payload_len);
    tcp.extend_from_slice(&u16::to_be_bytes(sport));
    tcp.extend_from_slice(&u16::to_be_bytes(dport));
    tcp.extend_from_slice(&spec.seq.to_be_bytes());
    tcp.extend_from_slice(&spec.ack.to_be_bytes());
    tcp.push(((doff as u8) << 4) | ((spec.flags >> 8) as u8 & 1));
    tcp.push(spec.flags as u8);
    tcp.extend_from_slice(&spec.window.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend_from_slice(&options);
    tcp.extend((0..spec.payload_len).map(|i| b'a' + (i % 26) as u8));
    let mut pseudo = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&[0, 6]);
            pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&(tcp.len() as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, 6]);
        }
        _ => unreachable!("both addresses come from one family"),
    }
    let csum = fold(sum16(&tcp, sum16(&pseudo, 0)));
    tcp[16..18].copy_from_slice(&csum.to_be_bytes());

    let (src_mac, dst_mac) = if spec.from_dut {
        (DUT_MAC.0, TESTER_MAC.0)
    } else {
        (TESTER_MAC.0, DUT_MAC.0)
    };
    let mut frame = Vec::with_capacity(14 + 40 + tcp.len());
    frame.extend_from_slice(&dst_mac);
    frame.extend_from_slice(&src_mac);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            frame.extend_from_slice(&[0x08, 0x00]);
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
            ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let c = fold(sum16(&ip, 0));
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            frame.extend_from_slice(&ip);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            frame.extend_from_slice(&[0x86, 0xdd]);
            frame.extend_from_slice(&[0x60, 0, 0, 0]);
            frame.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
            frame.extend_from_slice(&[6, 64]);
            frame.extend_from_slice(&s.octets());
            frame.extend_from_slice(&d.octets());
        }
        _ => unreachable!("both addresses come from one family"),
    }
    frame.extend_from_slice(&tcp);
    frame
}

/// One synthetic trial: its record, parameters, frames and the end of its judged window.
#[derive(Debug, Clone)]
pub struct Trial {
    /// The record (`pcap` and `events` point below `trials/`).
    pub record: TrialRecord,
    /// The event log's parameters.
    pub params: TrialParams,
    /// `(timestamp, frame bytes)`.
    pub wire: Vec<(Timestamp, Vec<u8>)>,
    /// End of the judged window.
    pub end: Timestamp,
}

impl Trial {
    /// The frames as a pcap file would give them.
    pub fn frames(&self) -> Vec<PcapFrame> {
        self.wire
            .iter()
            .map(|(ts, bytes)| PcapFrame {
                ts: *ts,
                bytes: bytes.clone(),
                orig_len: bytes.len() as u32,
            })
            .collect()
    }
}

const FIN: u16 = 0x001;
const SYN: u16 = 0x002;
const PSH: u16 = 0x008;
const ACK: u16 = 0x010;

/// Trial `i`: case `synthetic/case-{i / 4}`, target `kernel` or `reference`, IPv4 or IPv6.
/// A `failing` trial stops at step 8, whose expected acknowledgement (1024) is not the one the
/// DUT sends (1025); a FIN after the window is greyed.
pub fn trial(i: usize, failing: bool) -> Trial {
    let v6 = i % 2 == 1;
    let target = ["kernel", "reference"][(i / 2) % 2];
    let ip = if v6 { "ipv6" } else { "ipv4" };
    let case = format!("synthetic/case-{:04}", i / 4);
    let tester_isn = 1_000_000u32.wrapping_add(i as u32 * 7919);
    let dut_isn = 3_000_000_000u32.wrapping_add(i as u32 * 104_729);
    let base = 1_800_000_000_000_000_000u64 + i as u64 * 1_000_000_000;
    let at = |us: u64| Timestamp(base + us * 1000);
    let mut wire = Vec::new();
    let mut steps = Vec::new();
    let mut frame = |us: u64, from_dut: bool, flags: u16, seq: u32, ack: u32, len: usize| {
        let (seq, ack) = if from_dut {
            (dut_isn.wrapping_add(seq), tester_isn.wrapping_add(ack))
        } else {
            (tester_isn.wrapping_add(seq), dut_isn.wrapping_add(ack))
        };
        let options = if flags & SYN != 0 {
            vec![2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2]
        } else {
            Vec::new()
        };
        wire.push((
            at(us),
            tcp_frame(&FrameSpec {
                from_dut,
                flags,
                seq,
                ack,
                window: if from_dut { 64240 } else { 5000 },
                options,
                payload_len: len,
                v6,
            }),
        ));
        at(us)
    };
    let mut step = |n: usize, summary: &str, end: Timestamp, frame_ts: Option<Timestamp>| {
        steps.push(StepRecord {
            step: n,
            summary: summary.into(),
            line: Some(n + 5),
            origin: if n < 5 {
                "prelude established-passive".into()
            } else {
                case.clone()
            },
            end,
            frame_ts,
            tolerated: Vec::new(),
        });
    };
    step(0, "call listen", at(100), None);
    let t = frame(200, false, SYN, 0, 0, 0);
    step(1, "inject [S] seq=0", t, Some(t));
    let t = frame(250, true, SYN | ACK, 0, 1, 0);
    step(2, "expect {flags=SA seq=0 ack=1}", t, Some(t));
    let t = frame(300, false, ACK, 1, 1, 0);
    step(3, "inject [A] seq=1 ack=1", t, Some(t));
    step(4, "call accept", at(350), None);
    let t = frame(400, false, ACK, 1, 1, 512);
    step(5, "inject [A] seq=1 ack=1 len=512", t, Some(t));
    let t = frame(450, false, PSH | ACK, 513, 1, 512);
    step(6, "inject [PA] seq=513 ack=1 len=512", t, Some(t));
    let ack_ts = frame(500, true, ACK, 1, 1025, 0);
    let (outcome, reason, failed_step, failed_frame_ts, end) = if failing {
        frame(40_000, true, FIN | ACK, 1, 1025, 0);
        (
            Outcome::Fail,
            Some(format!(
                "step 8 (expect, {case}.yaml:26): field ack: expected 1024, observed 1025\n  \
                 expected: flags=A seq=1 ack=1024 len=0\n  \
                 observed: [A] seq=1 ack=1025 win=64240 len=0"
            )),
            Some(7),
            Some(ack_ts.0),
            ack_ts,
        )
    } else {
        step(
            7,
            "expect {flags=A seq=1 ack=1025 len=0}",
            ack_ts,
            Some(ack_ts),
        );
        step(8, "call recv 1024", at(600), None);
        step(9, "call send 512", at(650), None);
        let t = frame(700, true, PSH | ACK, 1, 1025, 512);
        step(
            10,
            "expect {flags={has=A not=SFRU} seq=1 ack=1025 len=512}",
            t,
            Some(t),
        );
        let t = frame(750, false, ACK, 1025, 513, 0);
        step(11, "inject [A] seq=1025 ack=513", t, Some(t));
        step(12, "state ESTABLISHED", at(800), None);
        (Outcome::Pass, None, None, None, at(800))
    };
    let name = format!("{case}::{target}::{ip}");
    let pcap = format!("trials/{case}/{target}-{ip}.pcap");
    let (tester_ip, dut_ip) = addrs(v6, false);
    Trial {
        params: TrialParams {
            trial: name.clone(),
            v6,
            tester_mac: TESTER_MAC.0,
            dut_mac: DUT_MAC.0,
            tester_ip,
            dut_ip,
            tester_port: 40000,
            dut_port: 5000,
            tester_isn,
            ip_ident: 1,
            start: at(0),
        },
        record: TrialRecord {
            name,
            case: case.clone(),
            row: None,
            title: format!("Synthetic data exchange {}", i / 4),
            target: target.into(),
            driver: target.into(),
            ip: ip.into(),
            outcome,
            reason,
            failed_step,
            failed_frame_ts,
            detail: None,
            requirements: vec!["MUST-2".into(), "RFC9293-3.10.7.4-data-ack".into()],
            deviation: None,
            violations: Vec::new(),
            steps,
            started_ns: base,
            duration_ms: 1.0,
            events: Some(format!("trials/{case}/{target}-{ip}.events.jsonl")),
            pcap: Some(pcap),
            case_file: format!("{case}.yaml"),
        },
        wire,
        end,
    }
}

/// Writes a results directory of `n` trials (every `fail_every`-th failing; 0: none) into
/// `dir`, and returns the path of its `results.json`.
pub fn write_run(dir: &Path, n: usize, fail_every: usize) -> Result<PathBuf, String> {
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        let t = trial(i, fail_every != 0 && i % fail_every == fail_every - 1);
        let pcap_path = dir.join(t.record.pcap.as_deref().unwrap_or_default());
        let mut w = PcapWriter::create(&pcap_path).map_err(|e| e.to_string())?;
        for (ts, bytes) in &t.wire {
            w.write(*ts, bytes).map_err(|e| e.to_string())?;
        }
        w.flush().map_err(|e| e.to_string())?;
        let events_path = dir.join(t.record.events.as_deref().unwrap_or_default());
        let mut log = EventLog::create(&events_path)
            .map_err(|e| format!("{}: {e}", events_path.display()))?;
        log.write(&Event::Params(t.params.clone()))?;
        log.write(&Event::End { ts: t.end })?;
        log.finish()?;
        records.push(t.record);
    }
    records.sort_by(|a, b| a.name.cmp(&b.name));
    let target = |name: &str| TargetInfo {
        name: name.into(),
        driver: name.into(),
        description: format!("synthetic {name} target"),
        sysctls: vec![("net.ipv4.tcp_sack".into(), "1".into())],
    };
    let results = Results {
        run: RunInfo {
            suite: "tcp-conformance 0.1.0".into(),
            schema: conformance::results::SCHEMA_VERSION,
            started: "2027-01-15T08:00:00Z".into(),
            finished: "2027-01-15T08:00:09Z".into(),
            kernel: "Linux 6.18.0-synthetic".into(),
            host: "synthetic".into(),
            targets: vec![target("kernel"), target("reference")],
            cases_dir: "cases".into(),
            shard: None,
            load_errors: Vec::new(),
        },
        trials: records,
    };
    let path = dir.join("results.json");
    results.write(&path)?;
    Ok(path)
}
