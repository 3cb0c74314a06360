//! Ladder (sequence) diagrams drawn from a trial's capture.
//!
//! Two steps, so each can be tested on its own:
//!
//! 1. [`from_trial`] turns a capture, the trial's parameters (from the DUT event log) and its
//!    record into a [`LadderInput`]: every frame with its direction, its decoded segment and
//!    what the case made of it (the step that sent or matched it, tolerated, the failing frame,
//!    invariant violations), plus a note for every step that had no frame (calls, states,
//!    waits) and for a failing step without one.
//! 2. [`layout`] turns a [`LadderInput`] into a [`Ladder`]: coordinates and labels for the SVG
//!    template, and the same frames as table lines.
//!
//! The input is not tied to the tester/DUT pair: the lanes are just "left" and "right", so an
//! interop trial (stack A, wire, stack B) draws the same way. [`LadderFrame::fault`] carries what
//! the fault-injecting wire did to a frame (dropped, duplicated, ...). Nothing records that yet
//! (there are no interop runs); when the wire's per-frame log exists, its reader fills this field
//! and the layout already draws a dropped frame as an arrow that stops half-way with a cross,
//! and any other fault as a tag on the arrow.
//!
//! Numbers are relative, as in the case language: each side's sequence numbers count from its
//! own ISN, its acknowledgements from the other side's. An ISN the input does not give (the
//! DUT's, always) is learned from the first SYN that side sent in the capture; a side that sent
//! no SYN keeps raw numbers, and the legend under the ladder says so.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use conformance::engine::TrialParams;
use conformance::results::{Outcome, TrialRecord};
use conformance::segment::{Decoded, Opt, Segment, decode};
use harness::Timestamp;
use harness::pcap::PcapFrame;
use harness::topology::{DUT_MAC, TESTER_MAC};

/// One of the two lifelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The left lifeline (the tester; stack A in interop).
    Left,
    /// The right lifeline (the DUT; stack B in interop).
    Right,
}

impl Side {
    fn other(self) -> Self {
        match self {
            Self::Left => Self::Right,
            Self::Right => Self::Left,
        }
    }
}

/// What the fault-injecting wire of an interop trial did to a frame.
///
/// No run records this yet; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The wire dropped the frame: the sender sent it, the receiver never got it.
    Dropped,
    /// The wire delivered the frame twice (this is the copy).
    Duplicated,
    /// The wire delivered the frame out of order.
    Reordered,
    /// The wire held the frame back this long.
    Delayed(Duration),
    /// The wire corrupted the frame (what it changed).
    Corrupted(String),
    /// The wire rewrote a field (what it changed).
    Rewritten(String),
}

impl Fault {
    fn label(&self) -> String {
        match self {
            Self::Dropped => "dropped by the wire".into(),
            Self::Duplicated => "duplicated by the wire".into(),
            Self::Reordered => "reordered by the wire".into(),
            Self::Delayed(d) => format!("delayed {} by the wire", format_duration(*d)),
            Self::Corrupted(what) => format!("corrupted by the wire: {what}"),
            Self::Rewritten(what) => format!("rewritten by the wire: {what}"),
        }
    }
}

/// What a captured frame turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameContent {
    /// A TCP segment.
    Tcp(Box<Segment>),
    /// Something else (ARP, ICMP, ...), described.
    Other(String),
    /// Bytes that do not decode, and why.
    Undecodable(String),
}

/// One captured frame and what the case made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderFrame {
    /// 1-based frame number in the capture (as Wireshark counts).
    pub number: usize,
    /// Capture timestamp.
    pub ts: Timestamp,
    /// The side that sent it; `None` if neither lifeline's address.
    pub from: Option<Side>,
    /// The frame.
    pub content: FrameContent,
    /// The step (0-based) that sent or matched this frame, and that step's kind (`inject`).
    pub step: Option<(usize, String)>,
    /// A DUT frame no step matched that a `tolerate` rule allowed.
    pub tolerated: Option<Tolerated>,
    /// The frame that broke the case.
    pub failed: bool,
    /// Global invariant violations of this frame (`window: ...`).
    pub violations: Vec<String>,
    /// What the wire did to it (interop; nothing sets this yet).
    pub fault: Option<Fault>,
}

/// When a tolerated frame was passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerated {
    /// The step (0-based) that was waiting; `None`: the end-of-trial check.
    pub during: Option<usize>,
}

/// A moment without a frame: a call, a state observation, a wait, or a failing step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderNote {
    /// When.
    pub ts: Timestamp,
    /// The step (0-based), if it is one.
    pub step: Option<usize>,
    /// What happened (`call listen`).
    pub text: String,
    /// This is where the case failed.
    pub failed: bool,
}

/// Everything a ladder is drawn from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderInput {
    /// Name of the left lifeline.
    pub left: String,
    /// Name of the right lifeline.
    pub right: String,
    /// Time zero of the vertical axis.
    pub t0: Timestamp,
    /// End of the judged window; later frames are drawn greyed.
    pub window_end: Option<Timestamp>,
    /// The left side's ISN, if known (else learned from its first SYN).
    pub left_isn: Option<u32>,
    /// The right side's ISN, if known (else learned from its first SYN).
    pub right_isn: Option<u32>,
    /// Frames in capture order.
    pub frames: Vec<LadderFrame>,
    /// Moments without frames.
    pub notes: Vec<LadderNote>,
    /// What the failing frame should have been, in short (`ack: expected 1024`), if known.
    pub failure_detail: String,
}

/// Builds the input of a trial's ladder from its capture, parameters and record.
///
/// `params` comes from the DUT event log's first line and `window_end` from its last; without
/// them the tester and DUT are told apart by the harness's fixed MAC addresses, the tester's
/// numbers stay raw unless it sent a SYN, and the window ends at the last step.
pub fn from_trial(
    record: &TrialRecord,
    frames: &[PcapFrame],
    params: Option<&TrialParams>,
    window_end: Option<Timestamp>,
) -> LadderInput {
    let (tester_mac, dut_mac) =
        params.map_or((TESTER_MAC.0, DUT_MAC.0), |p| (p.tester_mac, p.dut_mac));
    let mut matched: HashMap<u64, (usize, String)> = HashMap::new();
    let mut tolerated: HashMap<u64, usize> = HashMap::new();
    for s in &record.steps {
        if let Some(ts) = s.frame_ts {
            let kind = s.summary.split_whitespace().next().unwrap_or("step");
            matched.insert(ts.0, (s.step, kind.to_owned()));
        }
        for t in &s.tolerated {
            tolerated.insert(t.0, s.step);
        }
    }
    let ladder_frames = frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let content = match decode(&f.bytes) {
                Ok(Decoded::Tcp(seg)) => FrameContent::Tcp(seg),
                Ok(Decoded::Other(what)) => FrameContent::Other(what),
                Err(e) => FrameContent::Undecodable(e.to_string()),
            };
            let src = f.bytes.get(6..12);
            let from = if src == Some(&dut_mac[..]) {
                Some(Side::Right)
            } else if src == Some(&tester_mac[..]) {
                Some(Side::Left)
            } else {
                None
            };
            LadderFrame {
                number: i + 1,
                ts: f.ts,
                from,
                content,
                step: matched.get(&f.ts.0).cloned().or_else(|| {
                    // The failing step has no record; its frame is the failed one.
                    let step = record.failed_step?;
                    (record.failed_frame_ts == Some(f.ts.0)).then(|| (step, failed_kind(record)))
                }),
                tolerated: tolerated
                    .get(&f.ts.0)
                    .map(|s| Tolerated { during: Some(*s) }),
                failed: record.failed_frame_ts == Some(f.ts.0),
                violations: record
                    .violations
                    .iter()
                    .filter(|v| v.frame_ts == f.ts)
                    .map(|v| format!("{}: {}", v.rule, v.message))
                    .collect(),
                fault: None,
            }
        })
        .collect::<Vec<_>>();
    let last_step_end = record.steps.iter().map(|s| s.end).max();
    let window_end = window_end.or(last_step_end);
    let mut ladder_frames = ladder_frames;
    infer_tolerated(record, &mut ladder_frames, window_end);
    let mut notes: Vec<LadderNote> = record
        .steps
        .iter()
        .filter(|s| s.frame_ts.is_none())
        .map(|s| LadderNote {
            ts: s.end,
            step: Some(s.step),
            text: s.summary.clone(),
            failed: false,
        })
        .collect();
    let failed_without_frame = record.failed_frame_ts.is_none()
        && matches!(
            record.outcome,
            Outcome::Fail | Outcome::ExpectedDeviation | Outcome::Error
        );
    if failed_without_frame {
        let headline = record
            .reason
            .as_deref()
            .and_then(|r| r.lines().next())
            .unwrap_or("failed");
        let ts = window_end
            .or_else(|| frames.last().map(|f| f.ts))
            .unwrap_or(Timestamp(record.started_ns));
        notes.push(LadderNote {
            ts,
            step: record.failed_step,
            text: headline.to_owned(),
            failed: true,
        });
    }
    let t0 = params
        .map(|p| p.start)
        .or_else(|| frames.first().map(|f| f.ts))
        .unwrap_or(Timestamp(record.started_ns));
    LadderInput {
        left: "tester".into(),
        right: format!("DUT ({})", record.target),
        t0,
        window_end,
        left_isn: params.map(|p| p.tester_isn),
        right_isn: None,
        frames: ladder_frames,
        notes,
        failure_detail: crate::failure::of_record(record)
            .map(|f| {
                f.fields
                    .iter()
                    .map(|m| format!("{}: expected {}", m.field, m.expected))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default(),
    }
}

/// The kind of the failing step, from its message (`step 8 (expect, file:26): ...`).
fn failed_kind(record: &TrialRecord) -> String {
    record
        .reason
        .as_deref()
        .and_then(|r| r.strip_prefix("step "))
        .and_then(|r| r.split_once(" ("))
        .and_then(|(_, rest)| rest.split_once([',', ')']))
        .map_or_else(|| "step".to_owned(), |(kind, _)| kind.to_owned())
}

/// Marks the tolerated DUT frames that the record does not list.
///
/// The record lists the frames each *completed* step passed over; the ones the failing step
/// passed over and the ones the end-of-trial check allowed are not recorded. The engine passes
/// over a DUT frame only if a `tolerate` rule allows it (anything else fails the step), so:
/// in a trial that failed in an `expect` or `expect_none` step, every unclaimed DUT segment
/// before the failure was tolerated during that step; in a trial whose steps all completed, every
/// unclaimed DUT segment in the judged window was tolerated by the end-of-trial check (up to the
/// unexpected one, if that check failed).
fn infer_tolerated(
    record: &TrialRecord,
    frames: &mut [LadderFrame],
    window_end: Option<Timestamp>,
) {
    if record.outcome == Outcome::Error || record.outcome == Outcome::Skipped {
        return;
    }
    let failed_at = record.failed_frame_ts.map(Timestamp);
    let (during, limit) = match record.failed_step {
        Some(step) => {
            // Only expect and expect_none pass frames over.
            if !matches!(failed_kind(record).as_str(), "expect" | "expect_none") {
                return;
            }
            (Some(step), failed_at.or(window_end))
        }
        None => {
            let invariant = frames.iter().any(|f| f.failed && !f.violations.is_empty());
            (
                None,
                if invariant {
                    window_end
                } else {
                    failed_at.or(window_end)
                },
            )
        }
    };
    for f in frames.iter_mut() {
        let unclaimed = f.from == Some(Side::Right)
            && matches!(f.content, FrameContent::Tcp(_))
            && f.step.is_none()
            && f.tolerated.is_none()
            && !f.failed;
        if unclaimed
            && limit
                .is_none_or(|l| f.ts < l || (f.ts == l && during.is_none() && failed_at != Some(l)))
        {
            f.tolerated = Some(Tolerated { during });
        }
    }
}

/// A laid-out ladder, ready for the SVG template.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    /// SVG width.
    pub width: f64,
    /// SVG height.
    pub height: f64,
    /// x of the left lifeline.
    pub left_x: f64,
    /// x of the right lifeline.
    pub right_x: f64,
    /// Name of the left lifeline.
    pub left: String,
    /// Name of the right lifeline.
    pub right: String,
    /// Where the lifelines start.
    pub lifeline_top: f64,
    /// One per TCP segment between the lifelines.
    pub arrows: Vec<Arrow>,
    /// Boxes for notes and for frames that are not TCP between the lifelines.
    pub notes: Vec<Note>,
    /// Breaks in the time axis.
    pub gaps: Vec<Gap>,
    /// y of the end of the judged window, if frames follow it.
    pub window_end_y: Option<f64>,
    /// The frames as table lines.
    pub lines: Vec<FrameLine>,
    /// How the numbers are relative (the legend).
    pub legend: String,
    /// The failing frame or note is on the ladder.
    pub has_failure: bool,
}

/// One segment arrow.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrow {
    /// Frame number.
    pub number: usize,
    /// Top of the arrow's row.
    pub row_y: f64,
    /// Height of the arrow's row.
    pub row_h: f64,
    /// Start of the arrow.
    pub x1: f64,
    /// Start of the arrow.
    pub y1: f64,
    /// End of the arrow.
    pub x2: f64,
    /// End of the arrow.
    pub y2: f64,
    /// The arrowhead polygon's points.
    pub head: String,
    /// x of the labels (centre).
    pub label_x: f64,
    /// Baseline of the main label.
    pub label_y: f64,
    /// Flags and numbers: `SYN+ACK seq=0 ack=1 win=65483`.
    pub label: String,
    /// Baseline of the second label line.
    pub sub_y: f64,
    /// Options and anything unusual: `mss 1460, sackOK, wscale 7`.
    pub sub: String,
    /// Time since t0, left of the tester's lifeline.
    pub time: String,
    /// Baseline of the time and mark.
    pub time_y: f64,
    /// What the case made of it: `step 3 · expect ✓`.
    pub mark: String,
    /// x of the mark.
    pub mark_x: f64,
    /// CSS classes (`from-left step failed late ...`).
    pub class: String,
    /// The failing step (1-based) or 0, for `data-failed-step`.
    pub failed_step: usize,
    /// Tooltip: every field.
    pub title: String,
    /// A cross where a dropped frame stopped.
    pub cross: Option<(f64, f64)>,
}

impl Arrow {
    /// The SVG path of the cross where a dropped frame stopped (empty if none).
    pub fn cross_path(&self) -> String {
        match self.cross {
            Some((x, y)) => format!(
                "M{} {} L{} {} M{} {} L{} {}",
                x - 5.0,
                y - 5.0,
                x + 5.0,
                y + 5.0,
                x + 5.0,
                y - 5.0,
                x - 5.0,
                y + 5.0
            ),
            None => String::new(),
        }
    }
}

/// A note box between the lifelines.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// Box left.
    pub x: f64,
    /// Box top.
    pub y: f64,
    /// Box width.
    pub w: f64,
    /// Box height.
    pub h: f64,
    /// Text centre.
    pub text_x: f64,
    /// Text baseline.
    pub text_y: f64,
    /// The text (shortened to fit).
    pub text: String,
    /// Time since t0.
    pub time: String,
    /// What the case made of it.
    pub mark: String,
    /// x of the mark.
    pub mark_x: f64,
    /// CSS classes.
    pub class: String,
    /// The failing step (1-based) or 0.
    pub failed_step: usize,
    /// Tooltip: the full text.
    pub title: String,
}

/// A break in the time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// Top of the band.
    pub y: f64,
    /// Height of the band.
    pub h: f64,
    /// Text baseline.
    pub text_y: f64,
    /// `+ 200.0 ms`.
    pub text: String,
}

/// One frame in the table under the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameLine {
    /// Frame number.
    pub number: usize,
    /// Time since t0.
    pub time: String,
    /// `tester → DUT`.
    pub dir: String,
    /// `SYN+ACK`.
    pub flags: String,
    /// Relative (or raw) sequence number.
    pub seq: String,
    /// Relative (or raw) acknowledgement number, if ACK is set.
    pub ack: String,
    /// Window field.
    pub win: String,
    /// Payload length.
    pub len: String,
    /// Every option in wire order.
    pub options: String,
    /// IP fields.
    pub ip: String,
    /// Anything wrong with the frame itself.
    pub checks: String,
    /// What the case made of it.
    pub mark: String,
    /// CSS classes.
    pub class: String,
}

const WIDTH: f64 = 1000.0;
const LEFT_X: f64 = 150.0;
const RIGHT_X: f64 = 640.0;
const MARK_X: f64 = RIGHT_X + 14.0;
const HEADER: f64 = 44.0;
/// Arrow drop from sender to receiver, so arrows read as travelling down the time axis.
const SLANT: f64 = 8.0;
/// Width of a character of the 12px monospace labels.
const LABEL_CHAR: f64 = 7.3;
/// Width of a character of the 11px mark and note text.
const SMALL_CHAR: f64 = 6.3;
/// Silences at least this long get a break in the time axis.
const GAP_MIN: Duration = Duration::from_millis(20);

/// The ISNs and names of both sides.
struct Sides<'a> {
    isns: (Option<u32>, Option<u32>),
    names: (&'a str, &'a str),
}

impl Sides<'_> {
    fn isn(&self, side: Side) -> Option<u32> {
        match side {
            Side::Left => self.isns.0,
            Side::Right => self.isns.1,
        }
    }

    fn name(&self, side: Side) -> &str {
        match side {
            Side::Left => self.names.0,
            Side::Right => self.names.1,
        }
    }
}

enum Item<'a> {
    Frame(&'a LadderFrame),
    Note(&'a LadderNote),
}

impl Item<'_> {
    fn ts(&self) -> Timestamp {
        match self {
            Self::Frame(f) => f.ts,
            Self::Note(n) => n.ts,
        }
    }
}

/// The ISNs of both sides: given, or learned from each side's first SYN.
fn isns(input: &LadderInput) -> (Option<u32>, Option<u32>) {
    let first_syn = |side: Side| {
        input.frames.iter().find_map(|f| match &f.content {
            FrameContent::Tcp(seg) if f.from == Some(side) && seg.flags & SYN != 0 => Some(seg.seq),
            _ => None,
        })
    };
    (
        input.left_isn.or_else(|| first_syn(Side::Left)),
        input.right_isn.or_else(|| first_syn(Side::Right)),
    )
}

const FIN: u16 = 0x001;
const SYN: u16 = 0x002;
const RST: u16 = 0x004;
const PSH: u16 = 0x008;
const ACK: u16 = 0x010;
const URG: u16 = 0x020;
const ECE: u16 = 0x040;
const CWR: u16 = 0x080;
const AE: u16 = 0x100;

/// Flag names joined with `+`, in the order people say them: `SYN+ACK`, `FIN+PSH+ACK`.
pub fn flag_names(flags: u16) -> String {
    const NAMES: [(u16, &str); 9] = [
        (SYN, "SYN"),
        (FIN, "FIN"),
        (RST, "RST"),
        (PSH, "PSH"),
        (URG, "URG"),
        (ACK, "ACK"),
        (ECE, "ECE"),
        (CWR, "CWR"),
        (AE, "AE"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "(no flags)".into()
    } else {
        names.join("+")
    }
}

fn ecn_name(ecn: u8) -> &'static str {
    match ecn {
        0 => "not-ect",
        1 => "ect1",
        2 => "ect0",
        _ => "ce",
    }
}

/// A time since t0: `0.412 ms`, `1.204 s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 1000.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

fn rel(raw: u32, isn: Option<u32>) -> String {
    match isn {
        Some(isn) => raw.wrapping_sub(isn).to_string(),
        None => raw.to_string(),
    }
}

/// The numbers and options of a segment, relative to the ISNs.
struct SegmentText {
    seq: String,
    ack: String,
    options: String,
    options_short: String,
    oddities: Vec<String>,
}

fn segment_text(seg: &Segment, own_isn: Option<u32>, peer_isn: Option<u32>) -> SegmentText {
    let opt = |o: &Opt| match o {
        Opt::Sack(blocks) => {
            let mut s = String::from("sack");
            for (l, r) in blocks {
                let _ = write!(s, " {}-{}", rel(*l, peer_isn), rel(*r, peer_isn));
            }
            s
        }
        Opt::Timestamp { val, ecr } => format!("TS {val}/{ecr}"),
        other => other.to_string(),
    };
    let mut all: Vec<String> = seg.options.iter().map(opt).collect();
    let mut short: Vec<String> = seg
        .options
        .iter()
        .filter(|o| !matches!(o, Opt::Nop))
        .map(opt)
        .collect();
    if seg.options_malformed {
        all.push("malformed".into());
        short.push("malformed options".into());
    }
    let mut oddities = Vec::new();
    if !seg.checksum_ok {
        oddities.push("bad TCP checksum".to_owned());
    }
    if !seg.ip.header_checksum_ok {
        oddities.push("bad IPv4 header checksum".to_owned());
    }
    if seg.reserved != 0 {
        oddities.push(format!("reserved bits {}", seg.reserved));
    }
    if seg.flags & URG != 0 || seg.urgent != 0 {
        oddities.push(format!("urg {}", seg.urgent));
    }
    if seg.ip.ecn != 0 {
        oddities.push(format!("ECN {}", ecn_name(seg.ip.ecn)));
    }
    let expected_doff = 5 + seg.options.len().div_ceil(4).min(10);
    if seg.data_offset < 5
        || (seg.options_malformed && usize::from(seg.data_offset) != expected_doff)
    {
        oddities.push(format!("data offset {}", seg.data_offset));
    }
    SegmentText {
        seq: rel(seg.seq, own_isn),
        ack: if seg.flags & ACK != 0 {
            rel(seg.ack, peer_isn)
        } else {
            String::new()
        },
        options: all.join(", "),
        options_short: short.join(", "),
        oddities,
    }
}

fn fit(text: &str, width: f64, char_width: f64) -> String {
    let max = ((width / char_width).floor() as usize).max(4);
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn arrowhead(x1: f64, y1: f64, x2: f64, y2: f64) -> String {
    let (dx, dy) = (x2 - x1, y2 - y1);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let (bx, by) = (x2 - ux * 10.0, y2 - uy * 10.0);
    let (px, py) = (-uy * 4.5, ux * 4.5);
    format!(
        "{},{} {},{} {},{}",
        r1(x2),
        r1(y2),
        r1(bx + px),
        r1(by + py),
        r1(bx - px),
        r1(by - py)
    )
}

/// Lays a ladder out.
pub fn layout(input: &LadderInput) -> Ladder {
    let (left_isn, right_isn) = isns(input);
    let sides = Sides {
        isns: (left_isn, right_isn),
        names: (&input.left, &input.right),
    };
    let mut items: Vec<Item<'_>> = input
        .frames
        .iter()
        .map(Item::Frame)
        .chain(input.notes.iter().map(Item::Note))
        .collect();
    // Stable: frames before notes at the same instant, each in its own order.
    items.sort_by_key(Item::ts);

    let span = RIGHT_X - LEFT_X;
    let mid = (LEFT_X + RIGHT_X) / 2.0;
    let mut ladder = Ladder {
        width: WIDTH,
        height: 0.0,
        left_x: LEFT_X,
        right_x: RIGHT_X,
        left: input.left.clone(),
        right: input.right.clone(),
        lifeline_top: 34.0,
        arrows: Vec::new(),
        notes: Vec::new(),
        gaps: Vec::new(),
        window_end_y: None,
        lines: Vec::new(),
        legend: String::new(),
        has_failure: false,
    };
    let mut y = HEADER;
    let mut prev: Option<Timestamp> = None;
    let mut window_drawn = false;
    for item in &items {
        let ts = item.ts();
        if let Some(p) = prev {
            let gap = ts.saturating_since(p);
            if gap >= GAP_MIN {
                ladder.gaps.push(Gap {
                    y,
                    h: 22.0,
                    text_y: y + 15.0,
                    text: format!("+ {}", format_duration(gap)),
                });
                y += 22.0;
            }
        }
        prev = Some(ts);
        let late = input.window_end.is_some_and(|end| ts > end);
        if late && !window_drawn {
            ladder.window_end_y = Some(y + 4.0);
            window_drawn = true;
            y += 14.0;
        }
        let time = format_duration(ts.saturating_since(input.t0));
        match item {
            Item::Frame(f) => {
                let (arrow, line, height) =
                    frame_row(f, y, time.clone(), late, &sides, &input.failure_detail);
                if let Some(a) = arrow {
                    if a.failed_step > 0 || a.class.contains("failed") {
                        ladder.has_failure = true;
                    }
                    ladder.arrows.push(a);
                } else {
                    // Not between the two lifelines: a note box with what it is.
                    let text = match &f.content {
                        FrameContent::Tcp(seg) => format!("frame {}: {}", f.number, seg),
                        FrameContent::Other(what) => format!("frame {}: {what}", f.number),
                        FrameContent::Undecodable(why) => format!("frame {}: {why}", f.number),
                    };
                    let mut class = String::from("note frame-note");
                    if late {
                        class.push_str(" late");
                    }
                    ladder.notes.push(note_box(
                        &text,
                        y,
                        time,
                        line.mark.clone(),
                        class,
                        0,
                        mid,
                        span,
                    ));
                }
                ladder.lines.push(line);
                y += height;
            }
            Item::Note(n) => {
                let step = n.step.map(|s| s + 1).unwrap_or(0);
                let text = match (n.step, n.failed) {
                    (Some(_), true) if n.text.starts_with("step ") => n.text.clone(),
                    (Some(s), _) => format!("step {} · {}", s + 1, n.text),
                    (None, _) => n.text.clone(),
                };
                let (mark, mut class) = if n.failed {
                    ladder.has_failure = true;
                    (
                        match n.step {
                            Some(s) => format!("✗ step {} failed", s + 1),
                            None => "✗ failed".to_owned(),
                        },
                        String::from("note failed"),
                    )
                } else {
                    ("✓".to_owned(), String::from("note"))
                };
                if late && !n.failed {
                    class.push_str(" late");
                }
                ladder.notes.push(note_box(
                    &text,
                    y,
                    time,
                    mark,
                    class,
                    if n.failed { step } else { 0 },
                    mid,
                    span,
                ));
                y += 26.0;
            }
        }
    }
    ladder.height = y + 10.0;
    let describe = |side: Side, given: Option<u32>| match (sides.isn(side), given) {
        (Some(isn), Some(_)) => format!("{}'s ISN {isn}", sides.name(side)),
        (Some(isn), None) => format!("{}'s ISN {isn} (from its first SYN)", sides.name(side)),
        (None, _) => format!("{}'s raw numbers (it sent no SYN)", sides.name(side)),
    };
    ladder.legend = format!(
        "Sequence numbers relative to the sender's ISN, acknowledgements to the receiver's: {}; {}. \
         Time from the start of the trial's steps.",
        describe(Side::Left, input.left_isn),
        describe(Side::Right, input.right_isn)
    );
    ladder
}

#[allow(clippy::too_many_arguments)]
fn note_box(
    text: &str,
    y: f64,
    time: String,
    mark: String,
    class: String,
    failed_step: usize,
    mid: f64,
    span: f64,
) -> Note {
    let shown = fit(text, span - 20.0, SMALL_CHAR);
    let w = (shown.chars().count() as f64 * SMALL_CHAR + 16.0).min(span - 4.0);
    Note {
        x: r1(mid - w / 2.0),
        y: y + 3.0,
        w: r1(w),
        h: 19.0,
        text_x: mid,
        text_y: y + 16.5,
        text: shown,
        time,
        mark: fit(&mark, WIDTH - MARK_X - 4.0, SMALL_CHAR),
        mark_x: MARK_X,
        class,
        failed_step,
        title: text.to_owned(),
    }
}

fn frame_row(
    f: &LadderFrame,
    y: f64,
    time: String,
    late: bool,
    sides: &Sides<'_>,
    failure_detail: &str,
) -> (Option<Arrow>, FrameLine, f64) {
    let span = RIGHT_X - LEFT_X;
    let mid = (LEFT_X + RIGHT_X) / 2.0;
    let mut marks: Vec<String> = Vec::new();
    let mut class: Vec<&str> = vec!["frame"];
    let mut failed_step = 0;
    if f.failed {
        class.push("failed");
        match &f.step {
            Some((s, _)) => {
                marks.push(format!("✗ step {} failed", s + 1));
                failed_step = s + 1;
            }
            None => marks.push("✗ failed here".into()),
        }
        if !failure_detail.is_empty() {
            marks.push(failure_detail.to_owned());
        }
    } else if let Some((s, kind)) = &f.step {
        class.push("step");
        if kind == "expect" {
            marks.push(format!("step {} · expect ✓", s + 1));
        } else {
            marks.push(format!("step {} · {kind}", s + 1));
        }
    } else if let Some(t) = f.tolerated {
        class.push("tolerated");
        marks.push(match t.during {
            Some(s) => format!("tolerated (during step {})", s + 1),
            None => "tolerated".to_owned(),
        });
    }
    if !f.violations.is_empty() {
        class.push("violation");
        for v in &f.violations {
            marks.push(format!("⚠ {v}"));
        }
    }
    if let Some(fault) = &f.fault {
        class.push("fault");
        if *fault == Fault::Dropped {
            class.push("dropped");
        }
        marks.push(fault.label());
    }
    if late {
        class.push("late");
        if marks.is_empty() {
            marks.push("after the judged window".into());
        }
    }
    let mark = marks.join(" · ");
    let dir = match f.from {
        Some(side) => format!("{} → {}", sides.name(side), sides.name(side.other())),
        None => "?".into(),
    };
    let mut line = FrameLine {
        number: f.number,
        time: time.clone(),
        dir,
        flags: String::new(),
        seq: String::new(),
        ack: String::new(),
        win: String::new(),
        len: String::new(),
        options: String::new(),
        ip: String::new(),
        checks: String::new(),
        mark: mark.clone(),
        class: class.join(" "),
    };
    let (FrameContent::Tcp(seg), Some(from)) = (&f.content, f.from) else {
        match &f.content {
            FrameContent::Tcp(seg) => {
                line.flags = flag_names(seg.flags);
                line.checks = "neither lifeline's address".into();
            }
            FrameContent::Other(what) => line.checks = what.clone(),
            FrameContent::Undecodable(why) => line.checks = why.clone(),
        }
        return (None, line, 26.0);
    };
    let text = segment_text(seg, sides.isn(from), sides.isn(from.other()));
    if text.oddities.iter().any(|o| o.starts_with("bad")) {
        class.push("malformed");
    }
    let mut label = format!("{} seq={}", flag_names(seg.flags), text.seq);
    if !text.ack.is_empty() {
        let _ = write!(label, " ack={}", text.ack);
    }
    let _ = write!(label, " win={}", seg.window);
    if !seg.payload.is_empty() {
        let _ = write!(label, " len={}", seg.payload.len());
    }
    let mut sub_parts: Vec<String> = Vec::new();
    if !text.options_short.is_empty() {
        sub_parts.push(text.options_short.clone());
    }
    sub_parts.extend(text.oddities.iter().cloned());
    if let Some(fault) = &f.fault {
        sub_parts.push(fault.label());
    }
    let sub = sub_parts.join(" · ");
    let height = if sub.is_empty() { 34.0 } else { 46.0 };
    let (x1, x2) = match from {
        Side::Left => (LEFT_X, RIGHT_X),
        Side::Right => (RIGHT_X, LEFT_X),
    };
    // The labels sit above the arrow: flags and numbers, then options in smaller type.
    let (label_y, sub_y, y1) = if sub.is_empty() {
        (y + 13.0, y + 13.0, y + 19.0)
    } else {
        (y + 12.0, y + 25.0, y + 31.0)
    };
    let mut y2 = y1 + SLANT;
    let mut x_end = x2;
    let mut cross = None;
    if f.fault == Some(Fault::Dropped) {
        // Stops a little past the middle: the receiver never got it.
        x_end = mid + (x2 - mid) * 0.25;
        y2 = y1 + SLANT * 0.6;
        cross = Some((r1(x_end + (x2 - x1).signum() * 8.0), r1(y2)));
    }
    let ip = &seg.ip;
    line.flags = flag_names(seg.flags);
    line.seq = text.seq.clone();
    line.ack = text.ack.clone();
    line.win = seg.window.to_string();
    line.len = seg.payload.len().to_string();
    line.options = text.options.clone();
    line.ip = if ip.version == 4 {
        format!(
            "IPv4 ttl {}{} {}",
            ip.hop_limit,
            if ip.df { " DF" } else { "" },
            ecn_name(ip.ecn)
        )
    } else {
        format!("IPv6 hlim {} {}", ip.hop_limit, ecn_name(ip.ecn))
    };
    line.checks = text.oddities.join(", ");
    line.class = class.join(" ");
    let mut title = format!(
        "frame {} at {time}: {} seq={} (raw {})",
        f.number, line.dir, text.seq, seg.seq
    );
    if !text.ack.is_empty() {
        let _ = write!(title, " ack={} (raw {})", text.ack, seg.ack);
    }
    let _ = write!(
        title,
        " [{}] win={} len={} {}",
        line.flags,
        seg.window,
        seg.payload.len(),
        line.ip
    );
    if !text.options.is_empty() {
        let _ = write!(title, " options: {}", text.options);
    }
    if !line.checks.is_empty() {
        let _ = write!(title, " ({})", line.checks);
    }
    if !mark.is_empty() {
        let _ = write!(title, " — {mark}");
    }
    let arrow = Arrow {
        number: f.number,
        row_y: y,
        row_h: height,
        x1,
        y1,
        x2: r1(x_end),
        y2: r1(y2),
        head: if cross.is_some() {
            String::new()
        } else {
            arrowhead(x1, y1, x_end, y2)
        },
        label_x: mid,
        label_y,
        label: fit(&label, span - 8.0, LABEL_CHAR),
        sub_y,
        sub: fit(&sub, span - 8.0, SMALL_CHAR),
        time,
        time_y: y1 + 4.0,
        mark: fit(&mark, WIDTH - MARK_X - 4.0, SMALL_CHAR),
        mark_x: MARK_X,
        class: class.join(" "),
        failed_step,
        title,
        cross,
    };
    (Some(arrow), line, height)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::synthetic;

    fn input_with(frames: Vec<LadderFrame>, notes: Vec<LadderNote>) -> LadderInput {
        LadderInput {
            left: "tester".into(),
            right: "DUT (kernel)".into(),
            t0: Timestamp(1_000_000_000),
            window_end: None,
            left_isn: Some(1000),
            right_isn: None,
            frames,
            notes,
            failure_detail: String::new(),
        }
    }

    fn frame(number: usize, ms: u64, from: Side, seg: Segment) -> LadderFrame {
        LadderFrame {
            number,
            ts: Timestamp(1_000_000_000 + ms * 1_000_000),
            from: Some(from),
            content: FrameContent::Tcp(Box::new(seg)),
            step: None,
            tolerated: None,
            failed: false,
            violations: Vec::new(),
            fault: None,
        }
    }

    fn seg(flags: u16, seq: u32, ack: u32, len: usize) -> Segment {
        let bytes = synthetic::tcp_frame(&synthetic::FrameSpec {
            from_dut: false,
            flags,
            seq,
            ack,
            window: 5000,
            options: Vec::new(),
            payload_len: len,
            v6: false,
        });
        match decode(&bytes).unwrap() {
            Decoded::Tcp(s) => *s,
            Decoded::Other(o) => panic!("synthetic frame decoded as {o}"),
        }
    }

    #[test]
    fn numbers_are_relative_to_each_sides_isn() {
        let l = layout(&input_with(
            vec![
                frame(1, 0, Side::Left, seg(SYN, 1000, 0, 0)),
                frame(2, 1, Side::Right, seg(SYN | ACK, 7000, 1001, 0)),
                frame(3, 2, Side::Left, seg(ACK, 1001, 7001, 0)),
                frame(4, 3, Side::Left, seg(PSH | ACK, 1001, 7001, 512)),
            ],
            Vec::new(),
        ));
        let labels: Vec<&str> = l.arrows.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "SYN seq=0 win=5000",
                "SYN+ACK seq=0 ack=1 win=5000",
                "ACK seq=1 ack=1 win=5000",
                "PSH+ACK seq=1 ack=1 win=5000 len=512",
            ]
        );
        // Left to right, then right to left, each slanting down.
        assert_eq!((l.arrows[0].x1, l.arrows[0].x2), (LEFT_X, RIGHT_X));
        assert_eq!((l.arrows[1].x1, l.arrows[1].x2), (RIGHT_X, LEFT_X));
        for a in &l.arrows {
            assert!(a.y2 > a.y1);
        }
        // Time runs down.
        for w in l.arrows.windows(2) {
            assert!(w[1].y1 > w[0].y1);
        }
        assert!(
            l.legend.contains("ISN 7000 (from its first SYN)"),
            "{}",
            l.legend
        );
        assert_eq!(l.lines[3].len, "512");
        assert_eq!(l.lines[1].dir, "DUT (kernel) → tester");
    }

    #[test]
    fn without_a_syn_numbers_stay_raw() {
        let l = layout(&input_with(
            vec![
                frame(1, 0, Side::Left, seg(ACK, 1001, 555, 0)),
                frame(2, 1, Side::Right, seg(RST, 555, 0, 0)),
            ],
            Vec::new(),
        ));
        assert_eq!(l.arrows[0].label, "ACK seq=1 ack=555 win=5000");
        assert_eq!(l.arrows[1].label, "RST seq=555 win=5000");
        assert!(l.legend.contains("raw numbers"));
    }

    #[test]
    fn marks_steps_tolerated_failed_and_late_frames() {
        let mut frames = vec![
            frame(1, 0, Side::Left, seg(SYN, 1000, 0, 0)),
            frame(2, 1, Side::Right, seg(SYN | ACK, 7000, 1001, 0)),
            frame(3, 2, Side::Right, seg(ACK, 7001, 1001, 0)),
            frame(4, 3, Side::Right, seg(ACK, 7001, 1001, 0)),
            frame(5, 100, Side::Right, seg(FIN | ACK, 7001, 1001, 0)),
        ];
        frames[0].step = Some((1, "inject".into()));
        frames[1].step = Some((2, "expect".into()));
        frames[2].tolerated = Some(Tolerated { during: Some(3) });
        frames[3].failed = true;
        frames[3].violations = vec!["window: beyond the edge".into()];
        let mut input = input_with(
            frames,
            vec![LadderNote {
                ts: Timestamp(1_000_000_000),
                step: Some(0),
                text: "call listen".into(),
                failed: false,
            }],
        );
        input.window_end = Some(Timestamp(1_000_000_000 + 3_000_000));
        let l = layout(&input);
        assert!(l.arrows[0].class.contains("step"));
        assert_eq!(l.arrows[0].mark, "step 2 · inject");
        assert_eq!(l.arrows[1].mark, "step 3 · expect ✓");
        assert!(l.arrows[2].class.contains("tolerated"));
        assert!(l.arrows[3].class.contains("failed"));
        assert!(l.arrows[3].class.contains("violation"));
        assert!(l.arrows[3].mark.starts_with("✗ failed here · ⚠ window"));
        assert!(l.has_failure);
        assert!(l.arrows[4].class.contains("late"));
        assert!(!l.arrows[3].class.contains("late"));
        let end = l.window_end_y.expect("window line");
        assert!(end > l.arrows[3].y2 && end < l.arrows[4].y1);
        // The 97 ms silence before the FIN is a break in the time axis.
        assert_eq!(l.gaps.len(), 1);
        assert_eq!(l.gaps[0].text, "+ 97.000 ms");
        // The call comes first (frames sort before notes only at the same instant).
        assert_eq!(l.notes[0].text, "step 1 · call listen");
        assert!(l.notes[0].y < l.arrows[1].y1);
    }

    #[test]
    fn a_failing_step_without_a_frame_is_a_failed_note() {
        let input = LadderInput {
            notes: vec![LadderNote {
                ts: Timestamp(1_000_000_000 + 1_000_000_000),
                step: Some(7),
                text: "step 8 (expect, x.yaml:3): no segment matching {flags=A} within 1000.0ms"
                    .into(),
                failed: true,
            }],
            ..input_with(
                vec![frame(1, 0, Side::Left, seg(SYN, 1000, 0, 0))],
                Vec::new(),
            )
        };
        let l = layout(&input);
        assert!(l.has_failure);
        let n = &l.notes[0];
        assert_eq!(n.failed_step, 8);
        assert!(n.class.contains("failed"));
        assert_eq!(n.mark, "✗ step 8 failed");
        assert!(n.text.starts_with("step 8 (expect"));
        assert_eq!(n.time, "1.000 s");
    }

    #[test]
    fn a_dropped_frame_stops_half_way_and_other_faults_are_tagged() {
        let mut frames = vec![
            frame(1, 0, Side::Left, seg(PSH | ACK, 1001, 1, 100)),
            frame(2, 1, Side::Left, seg(PSH | ACK, 1001, 1, 100)),
        ];
        frames[0].fault = Some(Fault::Dropped);
        frames[1].fault = Some(Fault::Delayed(Duration::from_millis(5)));
        let l = layout(&input_with(frames, Vec::new()));
        let dropped = &l.arrows[0];
        assert!(dropped.class.contains("dropped"));
        assert!(dropped.x2 < RIGHT_X && dropped.x2 > (LEFT_X + RIGHT_X) / 2.0);
        assert!(dropped.cross.is_some() && dropped.head.is_empty());
        assert!(dropped.sub.contains("dropped by the wire"));
        let delayed = &l.arrows[1];
        assert_eq!(delayed.x2, RIGHT_X);
        assert!(delayed.mark.contains("delayed 5.000 ms by the wire"));
    }

    #[test]
    fn odd_segments_say_what_is_odd() {
        let mut s = seg(SYN, 1000, 0, 0);
        s.checksum_ok = false;
        s.reserved = 2;
        s.ip.ecn = 3;
        s.options = vec![Opt::Mss(1460), Opt::Nop, Opt::Wscale(7), Opt::SackPermitted];
        let l = layout(&input_with(vec![frame(1, 0, Side::Left, s)], Vec::new()));
        let a = &l.arrows[0];
        assert!(a.class.contains("malformed"));
        assert_eq!(
            a.sub,
            "mss 1460, wscale 7, sackOK · bad TCP checksum · reserved bits 2 · ECN ce"
        );
        assert_eq!(l.lines[0].options, "mss 1460, nop, wscale 7, sackOK");
    }

    #[test]
    fn frames_of_neither_side_are_notes() {
        let mut f = frame(1, 0, Side::Left, seg(SYN, 1000, 0, 0));
        f.from = None;
        let g = LadderFrame {
            content: FrameContent::Other("ethertype 0x0806".into()),
            number: 2,
            ..f.clone()
        };
        let l = layout(&input_with(vec![f, g], Vec::new()));
        assert!(l.arrows.is_empty());
        assert_eq!(l.notes.len(), 2);
        assert!(l.notes[1].text.contains("ethertype 0x0806"));
        assert_eq!(l.lines.len(), 2);
    }

    #[test]
    fn from_trial_uses_params_steps_and_record() {
        let run = synthetic::trial(0, true);
        let frames = run.frames();
        let input = from_trial(&run.record, &frames, Some(&run.params), Some(run.end));
        assert_eq!(input.left_isn, Some(run.params.tester_isn));
        let failed: Vec<&LadderFrame> = input.frames.iter().filter(|f| f.failed).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].from, Some(Side::Right));
        assert!(input.frames.iter().any(|f| f.step.is_some()));
        assert!(input.notes.iter().any(|n| n.text.starts_with("call ")));
        let l = layout(&input);
        assert!(l.has_failure);
        let failed = l.arrows.iter().find(|a| a.failed_step > 0).unwrap();
        assert_eq!(failed.failed_step, 8);
        assert_eq!(failed.mark, "✗ step 8 failed · ack: expected 1024");
        // The FIN after the failure is outside the judged window.
        let fin = l.arrows.last().unwrap();
        assert!(fin.label.starts_with("FIN+ACK") && fin.class.contains("late"));
        assert!(l.window_end_y.is_some());
    }

    /// A DUT segment `us` microseconds into synthetic trial `t`, matched by no step.
    fn unclaimed(t: &synthetic::Trial, us: u64) -> PcapFrame {
        let bytes = synthetic::tcp_frame(&synthetic::FrameSpec {
            from_dut: true,
            flags: ACK,
            seq: 1,
            ack: t.params.tester_isn.wrapping_add(513),
            window: 100,
            options: Vec::new(),
            payload_len: 0,
            v6: t.params.v6,
        });
        PcapFrame {
            ts: Timestamp(t.params.start.0 + us * 1000),
            orig_len: bytes.len() as u32,
            bytes,
        }
    }

    fn tolerated_of(input: &LadderInput) -> Vec<(usize, Option<Tolerated>)> {
        input
            .frames
            .iter()
            .filter(|f| f.from == Some(Side::Right) && f.step.is_none() && !f.failed)
            .map(|f| (f.number, f.tolerated))
            .collect()
    }

    #[test]
    fn unrecorded_tolerated_frames_are_inferred() {
        // Failing in an expect step: what the step passed over before the failure was tolerated
        // during it; what came after the failure was not judged.
        let t = synthetic::trial(0, true);
        let mut frames = t.frames();
        frames.insert(5, unclaimed(&t, 470));
        let input = from_trial(&t.record, &frames, Some(&t.params), Some(t.end));
        assert_eq!(
            tolerated_of(&input),
            [(6, Some(Tolerated { during: Some(7) })), (8, None)]
        );
        let l = layout(&input);
        assert_eq!(l.arrows[5].mark, "tolerated (during step 8)");

        // All steps completed: what no step matched in the window passed the end-of-trial check.
        let t = synthetic::trial(0, false);
        let mut frames = t.frames();
        frames.insert(6, unclaimed(&t, 520));
        frames.push(unclaimed(&t, 5_000));
        let input = from_trial(&t.record, &frames, Some(&t.params), Some(t.end));
        assert_eq!(
            tolerated_of(&input),
            [(7, Some(Tolerated { during: None })), (10, None)]
        );

        // A step that is no expect passes nothing over.
        let mut t = synthetic::trial(0, true);
        t.record.reason =
            Some("step 8 (state, x.yaml:3): expected ESTABLISHED, observed CLOSED".into());
        t.record.failed_frame_ts = None;
        let mut frames = t.frames();
        frames.insert(5, unclaimed(&t, 470));
        let input = from_trial(&t.record, &frames, Some(&t.params), Some(t.end));
        assert!(tolerated_of(&input).iter().all(|(_, tol)| tol.is_none()));
        let note = input.notes.iter().find(|n| n.failed).unwrap();
        assert_eq!(note.step, Some(7));
    }

    #[test]
    fn flag_names_read_like_prose() {
        assert_eq!(flag_names(SYN | ACK), "SYN+ACK");
        assert_eq!(flag_names(FIN | PSH | ACK), "FIN+PSH+ACK");
        assert_eq!(flag_names(0), "(no flags)");
        assert_eq!(flag_names(AE | CWR | ECE), "ECE+CWR+AE");
    }
}
