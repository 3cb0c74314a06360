//! The step engine: one function that executes a case's steps and judges them, over an I/O
//! abstraction that is either the live trial or its recording.
//!
//! Live, [`TrialIo`] sends frames through the tester, reads the capture and calls the target.
//! Offline, it replays the trial's pcap and DUT event log. Because the judging code is the same
//! and every time it compares is a capture or event timestamp, the offline verdict re-derived
//! from the files must equal the live one; when it does not, the harness is at fault, and the
//! trial is reported as a harness error.
//!
//! Timing: every step completes at a timestamp (an injected frame's capture time, an expected
//! frame's capture time, a call's return, a state observation, the end of a wait or a silence).
//! `within` and `after` windows count from the previous step's completion.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reference_stack::State;
use reference_stack::wire::TcpFlags;
use serde::{Deserialize, Serialize};

use crate::build;
use crate::case::{Call, CaseInstance, Payload, Step, StepAt};
use crate::matcher::{self, Mismatch};
use crate::segment::{Decoded, Segment, decode};
use harness::Timestamp;
use harness::rawsock::CapturedFrame;
use harness::target::{self, CallResult};

/// The fixed parameters of one trial: what the offline verifier needs to rebuild every frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialParams {
    /// The trial's name (`case::row::target::ip`).
    pub trial: String,
    /// IPv6?
    pub v6: bool,
    /// Tester MAC.
    pub tester_mac: [u8; 6],
    /// DUT MAC.
    pub dut_mac: [u8; 6],
    /// Tester IP address.
    pub tester_ip: IpAddr,
    /// DUT IP address.
    pub dut_ip: IpAddr,
    /// Tester port.
    pub tester_port: u16,
    /// DUT port (for an active DUT, the port it is expected to connect from is learned).
    pub dut_port: u16,
    /// The tester's initial sequence number.
    pub tester_isn: u32,
    /// First IPv4 identification value the tester uses (incremented per frame).
    pub ip_ident: u16,
    /// When the trial's steps started.
    pub start: Timestamp,
}

/// A trial step that the engine could not complete, and whose fault that is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// The DUT did something the case does not allow.
    Dut {
        /// Step index (0-based) in the instance's steps, or `None` for the end-of-trial check.
        step: Option<usize>,
        /// What happened: the step, the field, expected and observed.
        message: String,
        /// The timestamp of the frame that broke the step, if one did.
        frame_ts: Option<Timestamp>,
        /// The same, structured, for reports.
        #[serde(default)]
        detail: Box<Detail>,
    },
    /// The case itself is wrong (e.g. a relative number before the DUT's ISN is known).
    Case {
        /// Step index.
        step: usize,
        /// What is wrong.
        message: String,
    },
    /// The harness failed.
    Harness {
        /// Step index, if it happened during one.
        step: Option<usize>,
        /// What failed.
        message: String,
    },
}

impl Failure {
    /// The failed step, if any.
    pub fn step(&self) -> Option<usize> {
        match self {
            Self::Dut { step, .. } | Self::Harness { step, .. } => *step,
            Self::Case { step, .. } => Some(*step),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::Dut { message, .. }
            | Self::Case { message, .. }
            | Self::Harness { message, .. } => message,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dut { message, .. } => f.write_str(message),
            Self::Case { message, .. } => write!(f, "case error: {message}"),
            Self::Harness { message, .. } => write!(f, "harness error: {message}"),
        }
    }
}

/// One field of a DUT segment (or a state) that differed from the case's expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// `ack`, `options.mss`, `state`, `time`.
    pub field: String,
    /// What the case expected.
    pub expected: String,
    /// What the DUT did.
    pub observed: String,
}

/// A DUT failure, structured: what a report shows as "expected" against "observed".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    /// Field by field, when a segment or a state was compared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDiff>,
    /// What the step expected, in the case's terms (a segment matcher, a state, silence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What happened instead (the segment with relative numbers, the state, the call result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
}

impl Detail {
    fn new(expected: impl Into<String>, observed: impl Into<String>) -> Self {
        Self {
            fields: Vec::new(),
            expected: Some(expected.into()),
            observed: Some(observed.into()),
        }
    }

    fn field(
        mut self,
        field: &str,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) -> Self {
        self.fields.push(FieldDiff {
            field: field.to_owned(),
            expected: expected.into(),
            observed: observed.into(),
        });
        self
    }
}

/// What one step did, for the report (its ladder diagram marks the frames steps matched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Step index.
    pub step: usize,
    /// The step, as the case wrote it, in short.
    pub summary: String,
    /// Source line in the case file or prelude.
    pub line: Option<usize>,
    /// Where the step comes from (case id or prelude).
    pub origin: String,
    /// When the step completed.
    pub end: Timestamp,
    /// The frame the step sent or matched.
    pub frame_ts: Option<Timestamp>,
    /// Frames tolerated while this step waited.
    pub tolerated: Vec<Timestamp>,
}

/// The result of running the steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineResult {
    /// `None`: every step passed (global invariants are judged separately).
    pub failure: Option<Failure>,
    /// The completed steps.
    pub steps: Vec<StepRecord>,
    /// End of the judged window: the last step's completion, or the failure time.
    pub end: Timestamp,
}

/// A completed call as the DUT event log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// When the call was made.
    pub start: Timestamp,
    /// When it returned.
    pub end: Timestamp,
    /// What it returned.
    pub result: CallResult,
}

/// A state observation as the DUT event log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRecord {
    /// When the state was observed (the last poll).
    pub ts: Timestamp,
    /// The state observed then.
    #[serde(with = "state_name")]
    pub observed: State,
}

/// States in JSON by their RFC name (`"TIME-WAIT"`).
mod state_name {
    use reference_stack::State;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(s: &State, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<State, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The engine's view of a trial: live, or replayed from its files.
pub trait TrialIo {
    /// Sends `frame` as step `step`'s segment; returns its capture timestamp.
    fn inject(&mut self, step: usize, frame: &[u8]) -> Result<Timestamp, String>;
    /// The next frame from the DUT stamped no later than `deadline`.
    fn next_frame(&mut self, deadline: Timestamp) -> Result<Option<CapturedFrame>, String>;
    /// Carries out (or replays) a call.
    fn call(&mut self, step: usize, call: &target::Call) -> Result<CallRecord, String>;
    /// Polls (or replays) the connection state until it is `expected` or `deadline` passes.
    fn state(
        &mut self,
        step: usize,
        local: SocketAddr,
        remote: SocketAddr,
        expected: State,
        deadline: Timestamp,
    ) -> Result<StateRecord, String>;
    /// Lets time pass until `until` (a no-op offline).
    fn wait_until(&mut self, step: usize, until: Timestamp) -> Result<(), String>;
}

/// What the engine tracks while it runs: the relative-number bases and the running values.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Trial parameters.
    pub params: TrialParams,
    /// The DUT's port (learned for an active DUT).
    pub dut_port: u16,
    /// The DUT's ISN, once its SYN was seen.
    pub dut_isn: Option<u32>,
    /// Tester's next sequence number, relative to its ISN.
    pub snd_nxt: u32,
    /// Next sequence number expected from the DUT, relative to the DUT's ISN.
    pub rcv_nxt: u32,
    /// The last TSval the tester sent.
    pub last_tsval_sent: Option<u32>,
    /// The last TSval the DUT sent.
    pub last_dut_tsval: Option<u32>,
    /// Bytes of the tester's stream the DUT application has read.
    pub dut_read: u64,
    /// Bytes the DUT application has written.
    pub dut_written: u64,
    /// Next IPv4 identification.
    pub ip_ident: u16,
    /// Window scale the tester offered in its SYN (for the window invariant).
    pub tester_wscale: Option<u8>,
}

impl Ctx {
    /// The starting context of a trial.
    pub fn new(params: TrialParams) -> Self {
        Self {
            dut_port: params.dut_port,
            ip_ident: params.ip_ident,
            params,
            dut_isn: None,
            snd_nxt: 0,
            rcv_nxt: 1,
            last_tsval_sent: None,
            last_dut_tsval: None,
            dut_read: 0,
            dut_written: 0,
            tester_wscale: None,
        }
    }

    /// The DUT's end of the trial's connection.
    pub fn dut_addr(&self) -> SocketAddr {
        SocketAddr::new(self.params.dut_ip, self.dut_port)
    }

    /// The tester's end.
    pub fn tester_addr(&self) -> SocketAddr {
        SocketAddr::new(self.params.tester_ip, self.params.tester_port)
    }

    fn sent_by_dut(&self, seg: &Segment) -> bool {
        seg.src_mac == self.params.dut_mac
    }
}

/// Pattern byte of the tester's stream at relative sequence number `rel` (first data byte: 1).
pub fn tester_pattern(rel: u64) -> u8 {
    b'a' + ((rel.wrapping_sub(1)) % 26) as u8
}

/// Pattern byte of the DUT's stream at relative sequence number `rel`.
pub fn dut_pattern(rel: u64) -> u8 {
    b'A' + ((rel.wrapping_sub(1)) % 26) as u8
}

/// Bytes of a payload; a pattern starts at relative sequence number `first_rel` of `stream`.
pub fn payload_bytes(p: &Payload, first_rel: u64, pattern: fn(u64) -> u8) -> Vec<u8> {
    match p {
        Payload::Pattern(n) => (0..*n as u64).map(|i| pattern(first_rel + i)).collect(),
        Payload::Text(s) => s.as_bytes().to_vec(),
        Payload::Hex(b) => b.clone(),
        Payload::Repeat { len, byte } => vec![*byte; *len],
    }
}

/// Executes and judges every step of `inst`.
pub fn run(inst: &CaseInstance, ctx: &mut Ctx, io: &mut dyn TrialIo) -> EngineResult {
    let mut records = Vec::new();
    let mut prev = ctx.params.start;
    for (i, step) in inst.steps.iter().enumerate() {
        match run_step(inst, i, step, ctx, io, prev) {
            Ok(rec) => {
                prev = rec.end;
                records.push(rec);
            }
            Err(failure) => {
                let end = match &failure {
                    Failure::Dut {
                        frame_ts: Some(t), ..
                    } => (*t).max(prev),
                    _ => prev,
                };
                return EngineResult {
                    failure: Some(failure),
                    steps: records,
                    end,
                };
            }
        }
    }
    // Strictness: anything the DUT sent up to the last step's completion must have been
    // expected or tolerated.
    let failure = drain_unexplained(inst, ctx, io, prev).err();
    EngineResult {
        failure,
        steps: records,
        end: prev,
    }
}

fn harness(step: usize) -> impl Fn(String) -> Failure {
    move |message| Failure::Harness {
        step: Some(step),
        message,
    }
}

/// "step 3 (expect, handshake/x.yaml:12)".
pub fn step_label(inst: &CaseInstance, i: usize) -> String {
    let s = &inst.steps[i];
    let kind = match &s.step {
        Step::Inject(_) => "inject",
        Step::Expect(_) => "expect",
        Step::ExpectNone { .. } => "expect_none",
        Step::Call(_) => "call",
        Step::State { .. } => "state",
        Step::Wait(_) => "wait",
    };
    // Paths relative to the cases directory: `data/seed-transfer.yaml`, `preludes/x.yaml`.
    let file = match s.origin.strip_prefix("prelude ") {
        Some(name) => format!("preludes/{name}.yaml"),
        None => format!("{}.yaml", s.origin),
    };
    match s.line {
        Some(l) => format!("step {} ({kind}, {file}:{l})", i + 1),
        None => format!("step {} ({kind}, {file})", i + 1),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1e3)
}

fn run_step(
    inst: &CaseInstance,
    i: usize,
    at: &StepAt,
    ctx: &mut Ctx,
    io: &mut dyn TrialIo,
    prev: Timestamp,
) -> Result<StepRecord, Failure> {
    let label = step_label(inst, i);
    let mut rec = StepRecord {
        step: i,
        summary: summary(&at.step),
        line: at.line,
        origin: at.origin.clone(),
        end: prev,
        frame_ts: None,
        tolerated: Vec::new(),
    };
    match &at.step {
        Step::Inject(inj) => {
            let frame = build::inject_frame(inj, inst, ctx).map_err(|message| Failure::Case {
                step: i,
                message: format!("{label}: {message}"),
            })?;
            let ts = io.inject(i, &frame).map_err(harness(i))?;
            rec.end = ts;
            rec.frame_ts = Some(ts);
        }
        Step::Expect(exp) => {
            let deadline = prev + exp.within;
            loop {
                let Some(frame) = io.next_frame(deadline).map_err(harness(i))? else {
                    return Err(Failure::Dut {
                        step: Some(i),
                        message: format!(
                            "{label}: no segment matching {{{}}} within {}",
                            exp.matcher,
                            ms(exp.within)
                        ),
                        frame_ts: None,
                        detail: Box::new(Detail::new(
                            exp.matcher.to_string(),
                            format!("no segment within {}", ms(exp.within)),
                        )),
                    });
                };
                let Some(seg) = dut_segment(ctx, &frame) else {
                    continue;
                };
                let mismatches =
                    matcher::check(&exp.matcher, &seg, ctx, true).map_err(|message| {
                        Failure::Case {
                            step: i,
                            message: format!("{label}: {message}"),
                        }
                    })?;
                if mismatches.is_empty() {
                    let since = frame.ts.saturating_since(prev);
                    if since < exp.after {
                        return Err(Failure::Dut {
                            step: Some(i),
                            message: format!(
                                "{label}: the segment came {} after the previous step, earlier \
                                 than the {} the case allows: {}",
                                ms(since),
                                ms(exp.after),
                                seg_rel(&seg, ctx)
                            ),
                            frame_ts: Some(frame.ts),
                            detail: Box::new(
                                Detail::new(exp.matcher.to_string(), seg_rel(&seg, ctx)).field(
                                    "time",
                                    format!(">= {}", ms(exp.after)),
                                    ms(since),
                                ),
                            ),
                        });
                    }
                    matcher::learn(&seg, ctx);
                    rec.end = frame.ts;
                    rec.frame_ts = Some(frame.ts);
                    break;
                }
                if tolerated(inst, &seg, ctx) {
                    matcher::learn_tolerated(&seg, ctx);
                    rec.tolerated.push(frame.ts);
                    continue;
                }
                return Err(Failure::Dut {
                    step: Some(i),
                    message: format!(
                        "{label}: {}\n  expected: {}\n  observed: {}",
                        Mismatch::list(&mismatches),
                        exp.matcher,
                        seg_rel(&seg, ctx)
                    ),
                    frame_ts: Some(frame.ts),
                    detail: Box::new(Detail {
                        fields: mismatches
                            .iter()
                            .map(|m| FieldDiff {
                                field: m.field.to_owned(),
                                expected: m.expected.clone(),
                                observed: m.observed.clone(),
                            })
                            .collect(),
                        ..Detail::new(exp.matcher.to_string(), seg_rel(&seg, ctx))
                    }),
                });
            }
        }
        Step::ExpectNone { duration } => {
            let until = prev + *duration;
            while let Some(frame) = io.next_frame(until).map_err(harness(i))? {
                let Some(seg) = dut_segment(ctx, &frame) else {
                    continue;
                };
                if tolerated(inst, &seg, ctx) {
                    matcher::learn_tolerated(&seg, ctx);
                    rec.tolerated.push(frame.ts);
                    continue;
                }
                return Err(Failure::Dut {
                    step: Some(i),
                    message: format!(
                        "{label}: expected no segment for {}, but {} after the previous step \
                         the DUT sent: {}",
                        ms(*duration),
                        ms(frame.ts.saturating_since(prev)),
                        seg_rel(&seg, ctx)
                    ),
                    frame_ts: Some(frame.ts),
                    detail: Box::new(Detail::new(
                        format!("no segment for {}", ms(*duration)),
                        seg_rel(&seg, ctx),
                    )),
                });
            }
            rec.end = until;
        }
        Step::Wait(d) => {
            let until = prev + *d;
            io.wait_until(i, until).map_err(harness(i))?;
            rec.end = until;
        }
        Step::Call(call) => {
            let tcall = build::target_call(call, inst, ctx);
            let record = io.call(i, &tcall).map_err(harness(i))?;
            judge_call(call, &record.result, ctx).map_err(|message| Failure::Dut {
                step: Some(i),
                message: format!("{label}: call `{call}`: {message}"),
                frame_ts: None,
                detail: Box::new(Detail {
                    observed: Some(record.result.to_string()),
                    ..Detail::default()
                }),
            })?;
            rec.end = record.end;
        }
        Step::State { is, within } => {
            let deadline = prev + *within;
            let local = ctx.dut_addr();
            let remote = ctx.tester_addr();
            let obs = io
                .state(i, local, remote, *is, deadline)
                .map_err(harness(i))?;
            if obs.observed != *is {
                return Err(Failure::Dut {
                    step: Some(i),
                    message: format!(
                        "{label}: state of {local} <-> {remote}: expected {is}, observed {} \
                         (still so {} after the previous step)",
                        obs.observed,
                        ms(obs.ts.saturating_since(prev))
                    ),
                    frame_ts: None,
                    detail: Box::new(Detail::new(is.to_string(), obs.observed.to_string()).field(
                        "state",
                        is.to_string(),
                        obs.observed.to_string(),
                    )),
                });
            }
            rec.end = obs.ts;
        }
    }
    Ok(rec)
}

/// Short description of a step for records and reports.
pub fn summary(step: &Step) -> String {
    match step {
        Step::Inject(inj) => {
            let mut s = format!("inject [{}]", inj.flags);
            if let Some(seq) = &inj.seq {
                s.push_str(&format!(" seq={seq}"));
            }
            if let Some(ack) = &inj.ack {
                s.push_str(&format!(" ack={ack}"));
            }
            if let Some(d) = &inj.data {
                s.push_str(&format!(" len={}", d.len()));
            }
            s
        }
        Step::Expect(e) => format!("expect {{{}}}", e.matcher),
        Step::ExpectNone { duration } => format!("expect_none {}", ms(*duration)),
        Step::Call(c) => format!("call {c}"),
        Step::State { is, .. } => format!("state {is}"),
        Step::Wait(d) => format!("wait {}", ms(*d)),
    }
}

/// Decodes a DUT frame; frames that are not TCP from the DUT are not the case's business.
fn dut_segment(ctx: &Ctx, frame: &CapturedFrame) -> Option<Segment> {
    match decode(&frame.bytes) {
        Ok(Decoded::Tcp(seg)) if ctx.sent_by_dut(&seg) => Some(*seg),
        _ => None,
    }
}

fn tolerated(inst: &CaseInstance, seg: &Segment, ctx: &Ctx) -> bool {
    inst.tolerate
        .iter()
        .any(|rule| matches!(matcher::check(rule, seg, ctx, false), Ok(m) if m.is_empty()))
}

/// A segment with seq/ack relative to the ISNs, as failure messages show it.
pub fn seg_rel(seg: &Segment, ctx: &Ctx) -> String {
    // Before the DUT's ISN is learned, its SYN is shown relative to itself.
    let isn = ctx
        .dut_isn
        .or_else(|| seg.has(TcpFlags::SYN).then_some(seg.seq));
    let seq = match isn {
        Some(isn) => format!("{}", seg.seq.wrapping_sub(isn)),
        None => format!("{} (raw)", seg.seq),
    };
    let ack = if seg.has(TcpFlags::ACK) {
        format!(" ack={}", seg.ack.wrapping_sub(ctx.params.tester_isn))
    } else {
        String::new()
    };
    let mut s = format!(
        "[{}] seq={seq}{ack} win={} len={}",
        seg.tcp_flags(),
        seg.window,
        seg.payload.len()
    );
    if !seg.options.is_empty() || seg.options_malformed {
        s.push_str(&format!(" [{}]", seg.options_summary()));
    }
    s
}

fn drain_unexplained(
    inst: &CaseInstance,
    ctx: &mut Ctx,
    io: &mut dyn TrialIo,
    end: Timestamp,
) -> Result<(), Failure> {
    while let Some(frame) = io.next_frame(end).map_err(|message| Failure::Harness {
        step: None,
        message,
    })? {
        let Some(seg) = dut_segment(ctx, &frame) else {
            continue;
        };
        if tolerated(inst, &seg, ctx) {
            continue;
        }
        return Err(Failure::Dut {
            step: None,
            message: format!(
                "the DUT sent a segment no step expects and no rule tolerates: {}",
                seg_rel(&seg, ctx)
            ),
            frame_ts: Some(frame.ts),
            detail: Box::new(Detail::new(
                "no segment no step expects",
                seg_rel(&seg, ctx),
            )),
        });
    }
    Ok(())
}

/// Checks a call's result against what the case expects, updating the stream offsets.
fn judge_call(call: &Call, result: &CallResult, ctx: &mut Ctx) -> Result<(), String> {
    let unexpected = |what: &str| Err(format!("expected {what}, got {result}"));
    match call {
        Call::Listen { .. } => match result {
            CallResult::Listening { .. } => Ok(()),
            _ => unexpected("success"),
        },
        Call::Accept { .. } => match result {
            CallResult::Accepted { remote, .. } if *remote == ctx.tester_addr() => Ok(()),
            CallResult::Accepted { remote, .. } => Err(format!(
                "accepted a connection from {remote}, not from the tester at {}",
                ctx.tester_addr()
            )),
            _ => unexpected("a connection"),
        },
        Call::Connect => match result {
            CallResult::Connecting { local } => {
                ctx.dut_port = local.port();
                Ok(())
            }
            _ => unexpected("a connect in progress"),
        },
        Call::Send { data, error } => match (error, result) {
            (None, CallResult::Sent(n)) if *n == data.len() => {
                ctx.dut_written += *n as u64;
                Ok(())
            }
            (None, _) => unexpected(&format!("all {} bytes sent", data.len())),
            (Some(e), CallResult::Error(got)) if got.name() == e.name() => Ok(()),
            (Some(e), _) => unexpected(&format!("error {}", e.name())),
        },
        Call::Recv {
            len,
            data,
            eof,
            error,
            ..
        } => {
            let (got, got_eof, got_err) = match result {
                CallResult::Received { data, eof, error } => (data.as_slice(), *eof, *error),
                CallResult::Error(e) => (&[][..], false, Some(*e)),
                CallResult::TimedOut => (&[][..], false, None),
                _ => return unexpected("data"),
            };
            let want_len = len.or(data.as_ref().map(Payload::len)).unwrap_or(0);
            if got.len() != want_len {
                return Err(format!(
                    "expected {want_len} bytes{}, got {result}",
                    if *eof { " then end of stream" } else { "" }
                ));
            }
            let want = match data {
                Some(p) => payload_bytes(p, 1 + ctx.dut_read, tester_pattern),
                None => (0..want_len as u64)
                    .map(|i| tester_pattern(1 + ctx.dut_read + i))
                    .collect(),
            };
            if got != want.as_slice() {
                let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
                return Err(format!(
                    "the bytes read differ from what the tester sent, first at offset {at} \
                     (stream byte {})",
                    ctx.dut_read + at as u64
                ));
            }
            ctx.dut_read += got.len() as u64;
            if *eof && !got_eof {
                return unexpected("end of stream");
            }
            match (error, got_err) {
                (Some(e), Some(g)) if g.name() == e.name() => Ok(()),
                (Some(e), _) => unexpected(&format!("error {}", e.name())),
                (None, Some(_)) => unexpected("no error"),
                (None, None) => Ok(()),
            }
        }
        Call::Shutdown(_) | Call::Close | Call::Abort | Call::Setsockopt(_) => match result {
            CallResult::Ok => Ok(()),
            _ => unexpected("success"),
        },
    }
}
