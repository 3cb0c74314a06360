//! What the DUT must (or may) send: [`SegmentMatch`] and its parts, and the [`Expect`] step.

use std::fmt;
use std::time::Duration;

use reference_stack::wire::TcpFlags;
use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::duration::{self, DisplayDuration};
use super::flags::{FlagsSeed, parse_flags};
use super::segment::{EcnName, Payload, read_abs, to_u32};
use super::yaml::Key;

/// A number matcher: `1025`, `any`, `"1..65535"`, `">=1"`, `"<=100"`, `next`, `{abs: N}`.
///
/// For `seq` and `ack`, [`Exact`](Self::Exact), [`Range`](Self::Range),
/// [`AtLeast`](Self::AtLeast) and [`AtMost`](Self::AtMost) are relative to the ISN of the side
/// the number refers to, and [`Abs`](Self::Abs) is raw; `next` and `{abs: N}` are only accepted
/// for `seq` and `ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumMatch {
    /// Exactly this value.
    Exact(u32),
    /// Any value.
    Any,
    /// An inclusive range, start <= end.
    Range(u32, u32),
    /// This value or more.
    AtLeast(u32),
    /// This value or less.
    AtMost(u32),
    /// For `seq`: the next byte the tester expects from the DUT; for `ack`: the tester's next
    /// sequence number.
    Next,
    /// A raw 32-bit value, not relative.
    Abs(u32),
}

impl NumMatch {
    /// Parses the string forms: an integer, `any`, `next`, `a..b`, `>=n`, `<=n`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let num = |s: &str| -> Result<u32, String> {
            s.trim().parse::<u32>().map_err(|_| {
                format!(
                    "bad number matcher `{text}`: `{}` is not a number in 0..=4294967295",
                    s.trim()
                )
            })
        };
        if t == "any" {
            Ok(Self::Any)
        } else if t == "next" {
            Ok(Self::Next)
        } else if let Some(rest) = t.strip_prefix(">=") {
            num(rest).map(Self::AtLeast)
        } else if let Some(rest) = t.strip_prefix("<=") {
            num(rest).map(Self::AtMost)
        } else if let Some((a, b)) = t.split_once("..") {
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                Err(format!(
                    "empty range `{text}`: the start {a} is above the end {b}"
                ))
            } else {
                Ok(Self::Range(a, b))
            }
        } else if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            num(t).map(Self::Exact)
        } else {
            Err(format!(
                "bad number matcher `{text}`, expected an integer, `any`, `next`, \"a..b\", \">=n\", \"<=n\" or `{{abs: N}}`"
            ))
        }
    }

    /// True for the forms that make sense for every field (not `next`, not `{abs: N}`).
    pub const fn is_plain(self) -> bool {
        !matches!(self, Self::Next | Self::Abs(_))
    }
}

impl fmt::Display for NumMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(n) => write!(f, "{n}"),
            Self::Any => f.write_str("any"),
            Self::Range(a, b) => write!(f, "{a}..{b}"),
            Self::AtLeast(n) => write!(f, ">={n}"),
            Self::AtMost(n) => write!(f, "<={n}"),
            Self::Next => f.write_str("next"),
            Self::Abs(n) => write!(f, "abs:{n}"),
        }
    }
}

/// The visitor of number matchers; `seq` allows `next` and `{abs: N}`.
#[derive(Clone, Copy)]
struct NumVisitor {
    seq: bool,
}

impl NumVisitor {
    fn check<E: de::Error>(self, m: NumMatch) -> Result<NumMatch, E> {
        if self.seq || m.is_plain() {
            Ok(m)
        } else {
            Err(E::custom(format!(
                "`{m}` only applies to `seq` and `ack`, expected an integer, `any`, \"a..b\", \">=n\" or \"<=n\""
            )))
        }
    }
}

impl<'de> Visitor<'de> for NumVisitor {
    type Value = NumMatch;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seq {
            f.write_str("a number matcher: an integer, `any`, `next`, \"a..b\", \">=n\", \"<=n\" or `{abs: N}`")
        } else {
            f.write_str("a number matcher: an integer, `any`, \"a..b\", \">=n\" or \"<=n\"")
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumMatch, E> {
        to_u32(v, "a number matcher").map(NumMatch::Exact)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumMatch, E> {
        Err(E::custom(format!("{v}: header numbers are not negative")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<NumMatch, E> {
        let m = NumMatch::parse(v).map_err(|e| {
            if self.seq {
                E::custom(e)
            } else {
                // The generic message offers `next` and `{abs: N}`, which this field refuses.
                E::custom(
                    e.replace(", `next`,", ",")
                        .replace(", \"<=n\" or `{abs: N}`", " or \"<=n\""),
                )
            }
        })?;
        self.check(m)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NumMatch, A::Error> {
        if !self.seq {
            return Err(de::Error::custom(
                "`{abs: N}` only applies to `seq` and `ack`",
            ));
        }
        read_abs(map).map(NumMatch::Abs)
    }
}

/// `deserialize_with` for an optional number matcher of `seq`/`ack`.
fn num_seq_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NumMatch>, D::Error> {
    d.deserialize_any(NumVisitor { seq: true }).map(Some)
}

/// `deserialize_with` for an optional number matcher of any other field.
fn num_plain_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NumMatch>, D::Error> {
    d.deserialize_any(NumVisitor { seq: false }).map(Some)
}

/// `deserialize_with` for a number matcher of any other field, defaulting to `any`.
fn num_plain_any<'de, D: Deserializer<'de>>(d: D) -> Result<NumMatch, D::Error> {
    d.deserialize_any(NumVisitor { seq: false })
}

/// The flags of a matcher: an exact set (`SA`) or `{has: "A", not: "SF"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagsMatch {
    /// Exactly these flags.
    Exact(TcpFlags),
    /// All of `has` set and none of `not`.
    Mask {
        /// Flags that must be set.
        has: TcpFlags,
        /// Flags that must be clear.
        not: TcpFlags,
    },
}

impl FlagsMatch {
    /// True if `flags` satisfies the matcher.
    pub fn matches(self, flags: TcpFlags) -> bool {
        match self {
            Self::Exact(f) => f == flags,
            Self::Mask { has, not } => flags.contains(has) && !flags.intersects(not),
        }
    }
}

impl fmt::Display for FlagsMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(flags) if flags.is_empty() => f.write_str("\"\""),
            Self::Exact(flags) => write!(f, "{flags}"),
            Self::Mask { has, not } => {
                let mut parts = Vec::new();
                if !has.is_empty() {
                    parts.push(format!("has={has}"));
                }
                if !not.is_empty() {
                    parts.push(format!("not={not}"));
                }
                write!(f, "{{{}}}", parts.join(" "))
            }
        }
    }
}

impl<'de> Deserialize<'de> for FlagsMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FlagsMatch;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("flag letters (`SA`) or `{has: \"A\", not: \"SF\"}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FlagsMatch, E> {
                parse_flags(v).map(FlagsMatch::Exact).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FlagsMatch, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FlagsMatch, A::Error> {
                let key = Key {
                    allowed: &["has", "not"],
                    what: "flags field",
                };
                let (mut has, mut not) = (None, None);
                while let Some(k) = map.next_key_seed(key)? {
                    let slot = if k == "has" { &mut has } else { &mut not };
                    if slot.is_some() {
                        return Err(de::Error::custom(format!("`{k}` given twice")));
                    }
                    *slot = Some(map.next_value_seed(FlagsSeed)?);
                }
                let (has, not) = (has.unwrap_or_default(), not.unwrap_or_default());
                if has.intersects(not) {
                    return Err(de::Error::custom(format!(
                        "flags `{has}` required and `{not}` forbidden overlap"
                    )));
                }
                Ok(FlagsMatch::Mask { has, not })
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether an option is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// `present`.
    Present,
    /// `absent`.
    Absent,
}

impl fmt::Display for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Present => "present",
            Self::Absent => "absent",
        })
    }
}

/// A matcher for a numeric option (`mss`, `wscale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptMatch {
    /// `present`: with any value.
    Present,
    /// `absent`.
    Absent,
    /// Present with a value the matcher accepts (`any` is the same as `present`).
    Value(NumMatch),
}

impl fmt::Display for OptMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Present => f.write_str("present"),
            Self::Absent => f.write_str("absent"),
            Self::Value(m) => write!(f, "{m}"),
        }
    }
}

impl<'de> Deserialize<'de> for OptMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OptMatch;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`present`, `absent` or a number matcher")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OptMatch, E> {
                NumVisitor { seq: false }.visit_u64(v).map(OptMatch::Value)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<OptMatch, E> {
                NumVisitor { seq: false }.visit_i64(v).map(OptMatch::Value)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OptMatch, E> {
                match v {
                    "present" => Ok(OptMatch::Present),
                    "absent" => Ok(OptMatch::Absent),
                    _ => NumVisitor { seq: false }.visit_str(v).map(OptMatch::Value),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A matcher for the timestamp option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsMatch {
    /// `present`.
    Present,
    /// `absent`.
    Absent,
    /// `{val: M, ecr: M}`: present with these fields (a field left out is `any`).
    Fields {
        /// TSval.
        val: NumMatch,
        /// TSecr.
        ecr: EcrMatch,
    },
}

impl fmt::Display for TsMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Present => f.write_str("present"),
            Self::Absent => f.write_str("absent"),
            Self::Fields { val, ecr } => write!(f, "{{val={val} ecr={ecr}}}"),
        }
    }
}

/// The `{val, ecr}` form of [`TsMatch`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTs {
    #[serde(default = "any", deserialize_with = "num_plain_any")]
    val: NumMatch,
    #[serde(default)]
    ecr: Option<EcrMatch>,
}

const fn any() -> NumMatch {
    NumMatch::Any
}

impl<'de> Deserialize<'de> for TsMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TsMatch;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`present`, `absent` or `{val: M, ecr: M}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TsMatch, E> {
                match v {
                    "present" => Ok(TsMatch::Present),
                    "absent" => Ok(TsMatch::Absent),
                    _ => Err(E::custom(format!(
                        "bad timestamp matcher `{v}`, expected `present`, `absent` or `{{val: M, ecr: M}}`"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TsMatch, A::Error> {
                let raw = RawTs::deserialize(MapAccessDeserializer::new(map))?;
                Ok(TsMatch::Fields {
                    val: raw.val,
                    ecr: raw.ecr.unwrap_or(EcrMatch::Num(NumMatch::Any)),
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A matcher for TSecr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcrMatch {
    /// A number matcher on the raw value.
    Num(NumMatch),
    /// `echo`: the last TSval the tester sent.
    Echo,
}

impl fmt::Display for EcrMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Num(m) => write!(f, "{m}"),
            Self::Echo => f.write_str("echo"),
        }
    }
}

impl<'de> Deserialize<'de> for EcrMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EcrMatch;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`echo` or a number matcher")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EcrMatch, E> {
                NumVisitor { seq: false }.visit_u64(v).map(EcrMatch::Num)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EcrMatch, E> {
                if v == "echo" {
                    Ok(EcrMatch::Echo)
                } else {
                    NumVisitor { seq: false }.visit_str(v).map(EcrMatch::Num)
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Matchers for the TCP options of a DUT segment; a missing field matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsMatch {
    /// MSS.
    #[serde(default)]
    pub mss: Option<OptMatch>,
    /// Window scale shift.
    #[serde(default)]
    pub wscale: Option<OptMatch>,
    /// SACK-permitted.
    #[serde(default)]
    pub sack_permitted: Option<Presence>,
    /// Timestamps.
    #[serde(default)]
    pub timestamp: Option<TsMatch>,
    /// SACK blocks.
    #[serde(default)]
    pub sack: Option<Presence>,
}

impl OptionsMatch {
    /// True if nothing is constrained.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl fmt::Display for OptionsMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(m) = self.mss {
            parts.push(format!("mss={m}"));
        }
        if let Some(m) = self.wscale {
            parts.push(format!("wscale={m}"));
        }
        if let Some(m) = self.sack_permitted {
            parts.push(format!("sack_permitted={m}"));
        }
        if let Some(m) = self.timestamp {
            parts.push(format!("timestamp={m}"));
        }
        if let Some(m) = self.sack {
            parts.push(format!("sack={m}"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// Matchers for IP header fields of a DUT segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpMatch {
    /// IPv4 TTL.
    #[serde(default, deserialize_with = "num_plain_opt")]
    pub ttl: Option<NumMatch>,
    /// IPv6 hop limit.
    #[serde(default, deserialize_with = "num_plain_opt")]
    pub hop_limit: Option<NumMatch>,
    /// The ECN codepoint (`any` is the same as leaving it out).
    #[serde(default, deserialize_with = "ecn_match")]
    pub ecn: Option<EcnName>,
    /// IPv4 don't-fragment bit.
    #[serde(default)]
    pub df: Option<bool>,
}

impl IpMatch {
    /// True if nothing is constrained.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl fmt::Display for IpMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(m) = self.ttl {
            parts.push(format!("ttl={m}"));
        }
        if let Some(m) = self.hop_limit {
            parts.push(format!("hop_limit={m}"));
        }
        if let Some(m) = self.ecn {
            parts.push(format!("ecn={m}"));
        }
        if let Some(m) = self.df {
            parts.push(format!("df={m}"));
        }
        f.write_str(&parts.join(" "))
    }
}

fn ecn_match<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EcnName>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<EcnName>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an ECN codepoint (`not-ect`, `ect0`, `ect1`, `ce`) or `any`")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            match v {
                "any" => Ok(None),
                "not-ect" => Ok(Some(EcnName::NotEct)),
                "ect0" => Ok(Some(EcnName::Ect0)),
                "ect1" => Ok(Some(EcnName::Ect1)),
                "ce" => Ok(Some(EcnName::Ce)),
                _ => Err(E::custom(format!(
                    "unknown ECN codepoint `{v}`, expected one of `not-ect`, `ect0`, `ect1`, `ce`, `any`"
                ))),
            }
        }
    }
    d.deserialize_str(V)
}

/// Declares a struct with the fields of a segment matcher, plus `$extra` fields.
macro_rules! segment_match_struct {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $fvis:vis fields; $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        $vis struct $name {
            /// Exact flags or a has/not mask.
            #[serde(default)]
            $fvis flags: Option<FlagsMatch>,
            /// Relative to the DUT's ISN.
            #[serde(default, deserialize_with = "num_seq_opt")]
            $fvis seq: Option<NumMatch>,
            /// Relative to the tester's ISN.
            #[serde(default, deserialize_with = "num_seq_opt")]
            $fvis ack: Option<NumMatch>,
            /// The raw window field.
            #[serde(default, deserialize_with = "num_plain_opt")]
            $fvis window: Option<NumMatch>,
            /// The urgent pointer.
            #[serde(default, deserialize_with = "num_plain_opt")]
            $fvis urgent: Option<NumMatch>,
            /// The payload length.
            #[serde(default, deserialize_with = "num_plain_opt")]
            $fvis len: Option<NumMatch>,
            /// The data-offset field in 32-bit words.
            #[serde(default, deserialize_with = "num_plain_opt")]
            $fvis data_offset: Option<NumMatch>,
            /// The reserved bits.
            #[serde(default, deserialize_with = "num_plain_opt")]
            $fvis reserved: Option<NumMatch>,
            /// The exact payload.
            #[serde(default)]
            $fvis data: Option<Payload>,
            /// TCP options.
            #[serde(default)]
            $fvis options: OptionsMatch,
            /// IP header fields.
            #[serde(default)]
            $fvis ip: IpMatch,
            $($extra)*
        }
    };
}

segment_match_struct! {
    /// A segment matcher (`expect`, `tolerate`): every field is optional and a missing field
    /// matches anything.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct SegmentMatch { pub fields; }
}

segment_match_struct! {
    /// The `expect` map as written: the matcher fields plus timing.
    struct RawExpect {
        fields;
        #[serde(default, deserialize_with = "duration::deserialize_opt")]
        within: Option<Duration>,
        #[serde(default, deserialize_with = "duration::deserialize_opt")]
        after: Option<Duration>,
    }
}

impl SegmentMatch {
    /// True if the matcher accepts every segment.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl fmt::Display for SegmentMatch {
    /// Compact, as in failure messages: `flags=SA ack=1 options{mss=any}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(m) = self.flags {
            parts.push(format!("flags={m}"));
        }
        let nums = [
            ("seq", self.seq),
            ("ack", self.ack),
            ("window", self.window),
            ("urgent", self.urgent),
            ("len", self.len),
            ("data_offset", self.data_offset),
            ("reserved", self.reserved),
        ];
        for (name, m) in nums {
            if let Some(m) = m {
                parts.push(format!("{name}={m}"));
            }
        }
        if let Some(d) = &self.data {
            parts.push(format!("data={d}"));
        }
        if !self.options.is_empty() {
            parts.push(format!("options{{{}}}", self.options));
        }
        if !self.ip.is_empty() {
            parts.push(format!("ip{{{}}}", self.ip));
        }
        if parts.is_empty() {
            f.write_str("any segment")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// The default `within` of `expect`, `accept`, `recv` and `state`.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(1);

/// An `expect` step: the first DUT segment not tolerated and not yet consumed must match,
/// arriving no earlier than `after` and no later than `within` after the previous step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// What the segment must look like.
    pub matcher: SegmentMatch,
    /// The latest arrival (default 1s).
    pub within: Duration,
    /// The earliest arrival (default 0s).
    pub after: Duration,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.matcher)?;
        if self.within != DEFAULT_WITHIN {
            write!(f, " within={}", DisplayDuration(self.within))?;
        }
        if !self.after.is_zero() {
            write!(f, " after={}", DisplayDuration(self.after))?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Expect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a segment matcher map, with optional `within` and `after`")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Expect, A::Error> {
                let raw = RawExpect::deserialize(MapAccessDeserializer::new(map))?;
                let within = raw.within.unwrap_or(DEFAULT_WITHIN);
                let after = raw.after.unwrap_or(Duration::ZERO);
                if after > within {
                    return Err(de::Error::custom(format!(
                        "`after: {}` is later than `within: {}`, no arrival time can match",
                        DisplayDuration(after),
                        DisplayDuration(within)
                    )));
                }
                Ok(Expect {
                    matcher: SegmentMatch {
                        flags: raw.flags,
                        seq: raw.seq,
                        ack: raw.ack,
                        window: raw.window,
                        urgent: raw.urgent,
                        len: raw.len,
                        data_offset: raw.data_offset,
                        reserved: raw.reserved,
                        data: raw.data,
                        options: raw.options,
                        ip: raw.ip,
                    },
                    within,
                    after,
                })
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("1025", NumMatch::Exact(1025))]
    #[case("any", NumMatch::Any)]
    #[case("next", NumMatch::Next)]
    #[case("1..65535", NumMatch::Range(1, 65535))]
    #[case("3..3", NumMatch::Range(3, 3))]
    #[case(">=1", NumMatch::AtLeast(1))]
    #[case("<= 100", NumMatch::AtMost(100))]
    fn num_match_parses(#[case] text: &str, #[case] m: NumMatch) {
        assert_eq!(NumMatch::parse(text), Ok(m));
    }

    #[rstest]
    #[case("5..3", "empty range `5..3`")]
    #[case("lots", "bad number matcher `lots`")]
    #[case(">=x", "`x` is not a number")]
    #[case("1..", "`` is not a number")]
    #[case("99999999999", "bad number matcher")]
    fn num_match_rejects(#[case] text: &str, #[case] message: &str) {
        let err = NumMatch::parse(text).unwrap_err();
        assert!(err.contains(message), "{err}");
    }

    #[test]
    fn display_round_trips_forms() {
        let m = SegmentMatch {
            flags: Some(FlagsMatch::Exact(TcpFlags::SYN | TcpFlags::ACK)),
            ack: Some(NumMatch::Exact(1)),
            options: OptionsMatch {
                mss: Some(OptMatch::Value(NumMatch::Any)),
                ..OptionsMatch::default()
            },
            ..SegmentMatch::default()
        };
        assert_eq!(m.to_string(), "flags=SA ack=1 options{mss=any}");
        assert_eq!(SegmentMatch::default().to_string(), "any segment");
        let mask = FlagsMatch::Mask {
            has: TcpFlags::ACK,
            not: TcpFlags::SYN | TcpFlags::FIN,
        };
        assert_eq!(mask.to_string(), "{has=A not=SF}");
        assert!(mask.matches(TcpFlags::ACK | TcpFlags::PSH));
        assert!(!mask.matches(TcpFlags::ACK | TcpFlags::FIN));
    }
}
