//! The step engine and the invariants against scripted DUT behaviour: every rule of judging
//! (matching, strictness, tolerate, timing windows, silence, states, case errors) must be able
//! to fail, and fail with a message that names the step and the field.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use reference_stack::State;
use reference_stack::wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Packet, Ipv4Repr,
    TcpFlags, TcpPacket, TcpRepr, TcpSeqNumber,
};

use crate::case::{CaseInstance, load_case_text};
use crate::engine::{self, CallRecord, Ctx, Failure, StateRecord, TrialIo, TrialParams};
use crate::invariants;
use harness::Timestamp;
use harness::pcap::PcapFrame;
use harness::rawsock::{CapturedFrame, Direction};
use harness::target::{self, CallResult};

const TESTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DUT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const TESTER_ISN: u32 = 1000;
const DUT_ISN: u32 = 0xffff_fff0; // wraps: relative arithmetic must hold across 2^32
const T0: u64 = 1_000_000_000_000;

fn ms(n: u64) -> Timestamp {
    Timestamp(T0 + n * 1_000_000)
}

fn params() -> TrialParams {
    TrialParams {
        trial: "t".into(),
        v6: false,
        tester_mac: [2, 0, 0, 0, 0, 1],
        dut_mac: [2, 0, 0, 0, 0, 2],
        tester_ip: IpAddr::V4(TESTER),
        dut_ip: IpAddr::V4(DUT),
        tester_port: 40000,
        dut_port: 5000,
        tester_isn: TESTER_ISN,
        ip_ident: 7,
        start: ms(0),
    }
}

fn instance(yaml: &str) -> CaseInstance {
    let reqs: BTreeSet<String> = ["MUST-3".to_owned()].into();
    let mut v = load_case_text(
        yaml,
        Path::new("t/case.yaml"),
        "t/case",
        &reqs,
        &BTreeMap::new(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    v.remove(0)
}

/// A segment from the DUT, numbers relative to the ISNs.
fn dut(flags: &str, seq: u32, ack: u32, len: usize) -> Vec<u8> {
    dut_with(flags, seq, ack, len, |_| {})
}

fn dut_with(
    flags: &str,
    seq: u32,
    ack: u32,
    len: usize,
    f: impl FnOnce(&mut TcpRepr<'_>),
) -> Vec<u8> {
    let payload = vec![b'A'; len];
    let flags: TcpFlags = flags.parse().unwrap();
    let mut tcp = TcpRepr {
        src_port: 5000,
        dst_port: 40000,
        flags,
        seq_number: TcpSeqNumber(DUT_ISN.wrapping_add(seq)),
        ack_number: TcpSeqNumber(TESTER_ISN.wrapping_add(ack)),
        window_len: 64000,
        payload: &payload,
        ..TcpRepr::default()
    };
    if flags.contains(TcpFlags::SYN) {
        tcp.max_seg_size = Some(1460);
    }
    f(&mut tcp);
    let ip = Ipv4Repr {
        src_addr: DUT,
        dst_addr: TESTER,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
        ecn: 0.into(),
        dscp: 0,
        ident: 0,
        dont_frag: true,
    };
    let mut buf = vec![0u8; 14 + ip.buffer_len() + tcp.buffer_len()];
    EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[14..34]));
    tcp.emit(
        &mut TcpPacket::new_unchecked(&mut buf[34..]),
        &DUT.into(),
        &TESTER.into(),
    );
    buf
}

/// Scripted I/O: injects take 1 ms each; DUT frames arrive at the scripted times; calls and
/// states answer from scripts.
#[derive(Default)]
struct Script {
    now: u64,
    dut: VecDeque<(u64, Vec<u8>)>,
    calls: VecDeque<CallResult>,
    states: VecDeque<(u64, State)>,
    injected: Vec<Vec<u8>>,
}

impl TrialIo for Script {
    fn inject(&mut self, _step: usize, frame: &[u8]) -> Result<Timestamp, String> {
        self.now += 1;
        self.injected.push(frame.to_vec());
        Ok(ms(self.now))
    }

    fn next_frame(&mut self, deadline: Timestamp) -> Result<Option<CapturedFrame>, String> {
        match self.dut.front() {
            Some((t, _)) if ms(*t) <= deadline => {
                let (t, bytes) = self.dut.pop_front().unwrap();
                self.now = self.now.max(t);
                Ok(Some(CapturedFrame {
                    ts: ms(t),
                    dir: Direction::Incoming,
                    bytes,
                }))
            }
            _ => Ok(None),
        }
    }

    fn call(&mut self, _step: usize, _call: &target::Call) -> Result<CallRecord, String> {
        self.now += 1;
        Ok(CallRecord {
            start: ms(self.now),
            end: ms(self.now),
            result: self.calls.pop_front().expect("scripted call result"),
        })
    }

    fn state(
        &mut self,
        _step: usize,
        _l: SocketAddr,
        _r: SocketAddr,
        _e: State,
        _d: Timestamp,
    ) -> Result<StateRecord, String> {
        let (t, observed) = self.states.pop_front().expect("scripted state");
        Ok(StateRecord {
            ts: ms(t),
            observed,
        })
    }

    fn wait_until(&mut self, _step: usize, until: Timestamp) -> Result<(), String> {
        self.now = (until.0 - T0) / 1_000_000;
        Ok(())
    }
}

const HANDSHAKE: &str = "title: t\nrequirements: [MUST-3]\ndut: {role: passive}\nsteps:\n  \
    - call: listen\n  \
    - inject: {flags: S, seq: 0}\n  \
    - expect: {flags: SA, seq: 0, ack: 1, within: 100ms}\n  \
    - inject: {flags: A, seq: 1, ack: 1}\n";

fn listening() -> Script {
    Script {
        calls: [CallResult::Listening {
            local: SocketAddr::from((DUT, 5000)),
        }]
        .into(),
        ..Script::default()
    }
}

fn run(yaml: &str, io: &mut Script) -> (Option<Failure>, Ctx) {
    let inst = instance(yaml);
    let mut ctx = Ctx::new(params());
    let r = engine::run(&inst, &mut ctx, io);
    (r.failure, ctx)
}

#[track_caller]
fn dut_failure(f: Option<Failure>) -> (Option<usize>, String) {
    match f {
        Some(Failure::Dut { step, message, .. }) => (step, message),
        other => panic!("expected a DUT failure, got {other:?}"),
    }
}

#[test]
fn handshake_passes_and_learns_the_isn() {
    let mut io = listening();
    io.dut.push_back((3, dut("SA", 0, 1, 0)));
    let (f, ctx) = run(HANDSHAKE, &mut io);
    assert_eq!(f, None);
    assert_eq!(ctx.dut_isn, Some(DUT_ISN));
    assert_eq!(ctx.rcv_nxt, 1);
    assert_eq!(ctx.snd_nxt, 1);
    // The final ACK acknowledges the DUT's ISN + 1 across the 2^32 wrap.
    let last = io.injected.last().unwrap();
    let tcp = TcpPacket::new_checked(&last[34..]).unwrap();
    assert_eq!(tcp.ack_number(), TcpSeqNumber(DUT_ISN.wrapping_add(1)));
    assert_eq!(tcp.seq_number(), TcpSeqNumber(TESTER_ISN + 1));
}

#[test]
fn a_wrong_field_names_step_field_expected_and_observed() {
    let mut io = listening();
    io.dut.push_back((3, dut("SA", 0, 2, 0)));
    let (step, msg) = dut_failure(run(HANDSHAKE, &mut io).0);
    assert_eq!(step, Some(2));
    assert!(
        msg.starts_with("step 3 (expect, t/case.yaml:7): field ack: expected 1, observed 2"),
        "{msg}"
    );
    assert!(msg.contains("observed: [SA] seq=0 ack=2"), "{msg}");
}

#[test]
fn a_missing_segment_fails_after_the_window() {
    let mut io = listening();
    io.dut.push_back((150, dut("SA", 0, 1, 0))); // 149 ms after the SYN: too late for 100ms
    let (step, msg) = dut_failure(run(HANDSHAKE, &mut io).0);
    assert_eq!(step, Some(2));
    assert!(
        msg.contains("no segment matching {flags=SA seq=0 ack=1} within 100.0ms"),
        "{msg}"
    );
}

#[test]
fn a_segment_earlier_than_after_fails() {
    let yaml = HANDSHAKE.replace("within: 100ms", "after: 50ms, within: 100ms");
    let mut io = listening();
    io.dut.push_back((12, dut("SA", 0, 1, 0)));
    let (_, msg) = dut_failure(run(&yaml, &mut io).0);
    assert!(
        msg.contains("came 10.0ms after the previous step, earlier than the 50.0ms"),
        "{msg}"
    );
}

#[test]
fn an_unexplained_segment_fails_unless_tolerated() {
    // A duplicate SYN-ACK after the handshake: nobody expects it.
    let mut io = listening();
    io.dut.push_back((3, dut("SA", 0, 1, 0)));
    io.dut.push_back((4, dut("SA", 0, 1, 0)));
    let (step, msg) = dut_failure(run(HANDSHAKE, &mut io).0);
    assert_eq!(step, None);
    assert!(
        msg.contains("no step expects and no rule tolerates: [SA] seq=0 ack=1"),
        "{msg}"
    );

    let tolerant = HANDSHAKE.replace("steps:", "tolerate:\n  - {flags: SA}\nsteps:");
    let mut io = listening();
    io.dut.push_back((3, dut("SA", 0, 1, 0)));
    io.dut.push_back((4, dut("SA", 0, 1, 0)));
    assert_eq!(run(&tolerant, &mut io).0, None);
}

#[test]
fn an_unexpected_segment_before_the_expected_one_fails() {
    let mut io = listening();
    io.dut.push_back((3, dut("RA", 0, 1, 0)));
    io.dut.push_back((4, dut("SA", 0, 1, 0)));
    let (step, msg) = dut_failure(run(HANDSHAKE, &mut io).0);
    assert_eq!(step, Some(2));
    assert!(
        msg.contains("field flags: expected SA, observed RA"),
        "{msg}"
    );
}

#[test]
fn silence_is_checked() {
    let yaml = format!("{HANDSHAKE}  - expect_none: 200ms\n");
    let mut io = listening();
    io.dut.push_back((3, dut("SA", 0, 1, 0)));
    io.dut.push_back((150, dut("A", 1, 1, 0)));
    let (step, msg) = dut_failure(run(&yaml, &mut io).0);
    assert_eq!(step, Some(4));
    assert!(
        msg.contains("expected no segment for 200.0ms, but 146.0ms after"),
        "{msg}"
    );

    // The same segment after the silence window ends the trial unexplained... but later than
    // the end of the judged window, which closes when the last step completes.
    let mut io = listening();
    io.dut.push_back((3, dut("SA", 0, 1, 0)));
    io.dut.push_back((300, dut("A", 1, 1, 0)));
    assert_eq!(run(&yaml, &mut io).0, None);
}

#[test]
fn states_and_calls_are_judged() {
    let yaml = format!("{HANDSHAKE}  - state: ESTABLISHED\n");
    let mut io = listening();
    io.dut.push_back((3, dut("SA", 0, 1, 0)));
    io.states.push_back((900, State::SynReceived));
    let (step, msg) = dut_failure(run(&yaml, &mut io).0);
    assert_eq!(step, Some(4));
    assert!(
        msg.contains("expected ESTABLISHED, observed SYN-RECEIVED"),
        "{msg}"
    );

    let yaml = format!("{HANDSHAKE}  - call: {{recv: 3}}\n");
    let mut io = listening();
    io.dut.push_back((3, dut("SA", 0, 1, 0)));
    io.calls.push_back(CallResult::Received {
        data: b"abd".to_vec(),
        eof: false,
        error: None,
    });
    let (_, msg) = dut_failure(run(&yaml, &mut io).0);
    assert!(
        msg.contains("differ from what the tester sent, first at offset 2"),
        "{msg}"
    );
}

#[test]
fn relative_numbers_before_the_dut_isn_is_known_are_a_case_error() {
    let yaml = "title: t\nrequirements: [MUST-3]\ndut: {role: closed}\nsteps:\n  \
        - inject: {flags: A, seq: 1, ack: 5}\n";
    let mut io = Script::default();
    match run(yaml, &mut io).0 {
        Some(Failure::Case { step: 0, message }) => {
            assert!(message.contains("relative to the DUT's ISN"), "{message}")
        }
        other => panic!("expected a case error, got {other:?}"),
    }
}

fn pcap(frames: Vec<(u64, Vec<u8>)>) -> Vec<PcapFrame> {
    frames
        .into_iter()
        .map(|(t, bytes)| PcapFrame {
            ts: ms(t),
            orig_len: bytes.len() as u32,
            bytes,
        })
        .collect()
}

#[test]
fn invariants_catch_bad_checksums_backward_acks_and_data_beyond_the_window() {
    // A clean exchange: no violation.
    let clean = pcap(vec![(1, dut("SA", 0, 1, 0)), (2, dut("A", 1, 1, 0))]);
    assert_eq!(invariants::check(&clean, &params()), vec![]);

    // Ethernet (14) + IPv4 (20) + 16: the TCP checksum field.
    let mut bad_sum = dut("A", 1, 1, 0);
    bad_sum[14 + 20 + 16] ^= 0x01;
    let v = invariants::check(&pcap(vec![(1, bad_sum)]), &params());
    assert!(
        v.iter()
            .any(|v| v.rule == "checksum" && v.requirement.as_deref() == Some("MUST-2")),
        "{v:?}"
    );

    let backwards = pcap(vec![(1, dut("A", 1, 100, 0)), (2, dut("A", 1, 50, 0))]);
    let v = invariants::check(&backwards, &params());
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].rule, "ack-monotonic");
    assert!(
        v[0].message.contains("moved backwards by 50 bytes"),
        "{}",
        v[0].message
    );
    // A RST's ACK field answers what provoked it: exempt.
    let rst = pcap(vec![(1, dut("A", 1, 100, 0)), (2, dut("RA", 1, 50, 0))]);
    assert_eq!(invariants::check(&rst, &params()), vec![]);

    // The tester advertises ack 1 + window 100; 101 bytes at seq 1 overrun it by one byte more
    // than a zero-window probe may.
    let tester_ack = {
        let mut f = dut_with("A", 0, 0, 0, |t| {
            t.src_port = 40000;
            t.dst_port = 5000;
            t.seq_number = TcpSeqNumber(TESTER_ISN + 1);
            t.ack_number = TcpSeqNumber(DUT_ISN.wrapping_add(1));
            t.window_len = 100;
        });
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f
    };
    let within = pcap(vec![(1, tester_ack.clone()), (2, dut("PA", 1, 1, 101))]);
    assert_eq!(
        invariants::check(&within, &params()),
        vec![],
        "one byte past: a probe"
    );
    let beyond = pcap(vec![(1, tester_ack), (2, dut("PA", 1, 1, 102))]);
    let v = invariants::check(&beyond, &params());
    assert!(v.iter().any(|v| v.rule == "window"), "{v:?}");
}
