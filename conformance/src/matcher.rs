//! Segment matchers: does a DUT segment satisfy an `expect` (or a `tolerate` rule)?
//!
//! Each field of a [`SegmentMatch`] is checked against the decoded [`Segment`]; every field that
//! differs is reported with what was expected and what was observed, in the case's own terms
//! (sequence numbers relative to the ISNs).

use std::fmt;

use reference_stack::wire::{TcpFlags, TcpSeqNumber};

use crate::case::{
    EcnName, EcrMatch, FlagsMatch, NumMatch, OptMatch, Presence, SegmentMatch, TsMatch,
};
use crate::engine::{Ctx, dut_pattern, payload_bytes};
use crate::segment::Segment;

/// One field that did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The field (`ack`, `options.mss`, `ip.ttl`).
    pub field: &'static str,
    /// What the case expected.
    pub expected: String,
    /// What the DUT sent.
    pub observed: String,
}

impl Mismatch {
    /// `field ack: expected 1024, observed 1025; field window: ...`.
    pub fn list(ms: &[Self]) -> String {
        ms.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "field {}: expected {}, observed {}",
            self.field, self.expected, self.observed
        )
    }
}

/// Which relative base a number field uses.
#[derive(Clone, Copy)]
enum Base {
    /// Not a sequence number.
    None,
    /// Relative to this ISN; `next` is the given value.
    Seq { isn: Option<u32>, next: u32 },
}

fn num(
    out: &mut Vec<Mismatch>,
    field: &'static str,
    m: &NumMatch,
    raw: u32,
    base: Base,
) -> Result<(), String> {
    let (value, shown) = match (m, base) {
        (NumMatch::Abs(_), _) | (_, Base::None) => (raw, raw.to_string()),
        (_, Base::Seq { isn: Some(isn), .. }) => {
            let rel = raw.wrapping_sub(isn);
            (rel, rel.to_string())
        }
        (NumMatch::Any, Base::Seq { isn: None, .. }) => return Ok(()),
        // Another field already differs (e.g. the flags: the case waits for the DUT's SYN and
        // got something else): a plain mismatch, shown raw.
        (_, Base::Seq { isn: None, .. }) if !out.is_empty() => {
            out.push(Mismatch {
                field,
                expected: m.to_string(),
                observed: format!("{raw} (raw: the DUT's ISN is not known)"),
            });
            return Ok(());
        }
        (_, Base::Seq { isn: None, .. }) => {
            return Err(format!(
                "`{field}` is relative to the DUT's ISN, which is not known yet (the DUT has not \
                 sent a SYN); write {{abs: N}} for a raw value"
            ));
        }
    };
    let ok = match (m, base) {
        (NumMatch::Exact(v), _) => value == *v,
        (NumMatch::Abs(v), _) => raw == *v,
        (NumMatch::Any, _) => true,
        (NumMatch::Range(lo, hi), _) => (*lo..=*hi).contains(&value),
        (NumMatch::AtLeast(v), _) => value >= *v,
        (NumMatch::AtMost(v), _) => value <= *v,
        (NumMatch::Next, Base::Seq { next, .. }) => value == next,
        (NumMatch::Next, Base::None) => {
            return Err(format!(
                "`next` only applies to seq and ack, not to `{field}`"
            ));
        }
    };
    if !ok {
        let expected = match (m, base) {
            (NumMatch::Next, Base::Seq { next, .. }) => format!("next ({next})"),
            _ => m.to_string(),
        };
        out.push(Mismatch {
            field,
            expected,
            observed: shown,
        });
    }
    Ok(())
}

fn presence(out: &mut Vec<Mismatch>, field: &'static str, p: &Presence, present: bool) {
    let want = matches!(p, Presence::Present);
    if want != present {
        out.push(Mismatch {
            field,
            expected: if want { "present" } else { "absent" }.into(),
            observed: if present { "present" } else { "absent" }.into(),
        });
    }
}

fn opt_num(
    out: &mut Vec<Mismatch>,
    field: &'static str,
    m: &OptMatch,
    value: Option<u32>,
) -> Result<(), String> {
    match (m, value) {
        (OptMatch::Present, Some(_)) | (OptMatch::Absent, None) => Ok(()),
        (OptMatch::Present, None) | (OptMatch::Value(_), None) => {
            out.push(Mismatch {
                field,
                expected: match m {
                    OptMatch::Value(v) => v.to_string(),
                    _ => "present".into(),
                },
                observed: "absent".into(),
            });
            Ok(())
        }
        (OptMatch::Absent, Some(v)) => {
            out.push(Mismatch {
                field,
                expected: "absent".into(),
                observed: v.to_string(),
            });
            Ok(())
        }
        (OptMatch::Value(n), Some(v)) => num(out, field, n, v, Base::None),
    }
}

/// Checks `seg` against `m`. `Ok(vec![])` is a match; `Err` means the matcher cannot be applied
/// (a case error). `expect` is false for tolerate rules, which never learn the DUT's ISN.
pub fn check(
    m: &SegmentMatch,
    seg: &Segment,
    ctx: &Ctx,
    expect: bool,
) -> Result<Vec<Mismatch>, String> {
    let mut out = Vec::new();
    // The DUT's first SYN defines its ISN: seq 0 of that very segment.
    let dut_isn = ctx
        .dut_isn
        .or_else(|| (expect && seg.has(TcpFlags::SYN)).then_some(seg.seq));
    let flags = seg.tcp_flags();
    if let Some(f) = &m.flags {
        let ok = match f {
            FlagsMatch::Exact(want) => flags == *want,
            FlagsMatch::Mask { has, not } => flags.contains(*has) && !flags.intersects(*not),
        };
        if !ok {
            out.push(Mismatch {
                field: "flags",
                expected: f.to_string(),
                observed: flags.to_string(),
            });
        }
    }
    if let Some(s) = &m.seq {
        num(
            &mut out,
            "seq",
            s,
            seg.seq,
            Base::Seq {
                isn: dut_isn,
                next: ctx.rcv_nxt,
            },
        )?;
    }
    if let Some(a) = &m.ack {
        if !seg.has(TcpFlags::ACK) && !matches!(a, NumMatch::Any) {
            out.push(Mismatch {
                field: "ack",
                expected: a.to_string(),
                observed: "none (ACK flag not set)".into(),
            });
        } else {
            num(
                &mut out,
                "ack",
                a,
                seg.ack,
                Base::Seq {
                    isn: Some(ctx.params.tester_isn),
                    next: ctx.snd_nxt,
                },
            )?;
        }
    }
    if let Some(w) = &m.window {
        num(&mut out, "window", w, u32::from(seg.window), Base::None)?;
    }
    if let Some(u) = &m.urgent {
        num(&mut out, "urgent", u, u32::from(seg.urgent), Base::None)?;
    }
    if let Some(l) = &m.len {
        num(&mut out, "len", l, seg.payload.len() as u32, Base::None)?;
    }
    if let Some(d) = &m.data_offset {
        num(
            &mut out,
            "data_offset",
            d,
            u32::from(seg.data_offset),
            Base::None,
        )?;
    }
    if let Some(r) = &m.reserved {
        num(&mut out, "reserved", r, u32::from(seg.reserved), Base::None)?;
    }
    if let Some(p) = &m.data {
        let first = match dut_isn {
            Some(isn) => u64::from(seg.seq.wrapping_sub(isn)) + u64::from(seg.has(TcpFlags::SYN)),
            None => 1,
        };
        let want = payload_bytes(p, first, dut_pattern);
        if want != seg.payload {
            let at = want
                .iter()
                .zip(&seg.payload)
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| want.len().min(seg.payload.len()));
            out.push(Mismatch {
                field: "data",
                expected: format!("{} bytes ({p})", want.len()),
                observed: format!(
                    "{} bytes, first difference at offset {at}",
                    seg.payload.len()
                ),
            });
        }
    }
    let o = &m.options;
    if let Some(x) = &o.mss {
        opt_num(&mut out, "options.mss", x, seg.mss().map(u32::from))?;
    }
    if let Some(x) = &o.wscale {
        opt_num(&mut out, "options.wscale", x, seg.wscale().map(u32::from))?;
    }
    if let Some(p) = &o.sack_permitted {
        presence(&mut out, "options.sack_permitted", p, seg.sack_permitted());
    }
    if let Some(p) = &o.sack {
        presence(&mut out, "options.sack", p, seg.sack().is_some());
    }
    if let Some(t) = &o.timestamp {
        match (t, seg.timestamp()) {
            (TsMatch::Present, Some(_)) | (TsMatch::Absent, None) => {}
            (TsMatch::Absent, Some((v, e))) => out.push(Mismatch {
                field: "options.timestamp",
                expected: "absent".into(),
                observed: format!("val {v} ecr {e}"),
            }),
            (_, None) => out.push(Mismatch {
                field: "options.timestamp",
                expected: "present".into(),
                observed: "absent".into(),
            }),
            (TsMatch::Fields { val, ecr }, Some((v, e))) => {
                num(&mut out, "options.timestamp.val", val, v, Base::None)?;
                match ecr {
                    EcrMatch::Num(n) => num(&mut out, "options.timestamp.ecr", n, e, Base::None)?,
                    EcrMatch::Echo => {
                        let Some(sent) = ctx.last_tsval_sent else {
                            return Err(
                                "`ecr: echo` but the tester has not sent a timestamp yet".into()
                            );
                        };
                        if e != sent {
                            out.push(Mismatch {
                                field: "options.timestamp.ecr",
                                expected: format!("echo ({sent})"),
                                observed: e.to_string(),
                            });
                        }
                    }
                }
            }
        }
    }
    let ip = &m.ip;
    if let Some(t) = ip.ttl.as_ref().or(ip.hop_limit.as_ref()) {
        let field = if seg.ip.version == 4 {
            "ip.ttl"
        } else {
            "ip.hop_limit"
        };
        num(&mut out, field, t, u32::from(seg.ip.hop_limit), Base::None)?;
    }
    if let Some(e) = &ip.ecn {
        let got = EcnName::from_bits(seg.ip.ecn);
        if got != *e {
            out.push(Mismatch {
                field: "ip.ecn",
                expected: e.to_string(),
                observed: got.to_string(),
            });
        }
    }
    if let Some(df) = ip.df
        && seg.ip.df != df
    {
        out.push(Mismatch {
            field: "ip.df",
            expected: df.to_string(),
            observed: seg.ip.df.to_string(),
        });
    }
    Ok(out)
}

/// Updates the context after an `expect` matched `seg`.
pub fn learn(seg: &Segment, ctx: &mut Ctx) {
    if seg.has(TcpFlags::SYN) && ctx.dut_isn.is_none() {
        ctx.dut_isn = Some(seg.seq);
        ctx.dut_port = seg.src_port;
    }
    learn_tolerated(seg, ctx);
}

/// Updates the running values after any DUT segment the case accepted.
pub fn learn_tolerated(seg: &Segment, ctx: &mut Ctx) {
    if let Some((val, _)) = seg.timestamp() {
        ctx.last_dut_tsval = Some(val);
    }
    if let Some(isn) = ctx.dut_isn
        && !seg.has(TcpFlags::RST)
    {
        let end = seg.seq.wrapping_sub(isn).wrapping_add(seg.seq_len());
        if TcpSeqNumber(end) > TcpSeqNumber(ctx.rcv_nxt) {
            ctx.rcv_nxt = end;
        }
    }
}
