//! The typed model of one runnable case ([`CaseInstance`]) and its steps.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reference_stack::State;
use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::call::{Call, SocketOptions};
use super::context;
use super::duration::{self, DisplayDuration};
use super::matcher::{DEFAULT_WITHIN, Expect, SegmentMatch};
use super::segment::Inject;
use super::yaml::Key;

/// One test of a case: the case itself, or one row of its table. Preludes are already
/// expanded into `steps`, placeholders already replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseInstance {
    /// The case id: its path below the corpus root without `.yaml` (`handshake/passive-open`).
    pub case_id: String,
    /// The table row, for a table case.
    pub row: Option<String>,
    /// One line, shown in reports.
    pub title: String,
    /// Free text (markdown).
    pub description: Option<String>,
    /// Catalog ids this case tests (non-empty, all in the catalog).
    pub requirements: Vec<String>,
    /// One trial per listed version (default both).
    pub ip: Vec<IpVersion>,
    /// The device under test.
    pub dut: Dut,
    /// The tester's side.
    pub tester: Tester,
    /// DUT segments allowed anywhere without being expected.
    pub tolerate: Vec<SegmentMatch>,
    /// The script: prelude steps first, then the case's own.
    pub steps: Vec<StepAt>,
    /// The case file.
    pub path: PathBuf,
}

impl CaseInstance {
    /// `case_id`, or `case_id::row` for a table row.
    pub fn name(&self) -> String {
        match &self.row {
            Some(row) => format!("{}::{row}", self.case_id),
            None => self.case_id.clone(),
        }
    }
}

/// An IP version a case runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpVersion {
    /// `ipv4`.
    Ipv4,
    /// `ipv6`.
    Ipv6,
}

impl IpVersion {
    /// Both versions, the default of `ip`.
    pub const ALL: [Self; 2] = [Self::Ipv4, Self::Ipv6];

    /// `ipv4` or `ipv6`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
        }
    }
}

impl fmt::Display for IpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the DUT does at the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The DUT listens on `dut.port`; the tester opens.
    Passive,
    /// The DUT connects from an ephemeral port to `tester.port`.
    Active,
    /// Nothing listens on `dut.port`.
    Closed,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Passive => "passive",
            Self::Active => "active",
            Self::Closed => "closed",
        })
    }
}

/// The default `dut.port`.
pub const DEFAULT_DUT_PORT: u16 = 5000;
/// The default `tester.window`.
pub const DEFAULT_TESTER_WINDOW: u16 = 64240;

/// The `dut` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dut {
    /// Passive, active or closed.
    pub role: Role,
    /// The DUT's port (default 5000).
    #[serde(default = "default_dut_port")]
    pub port: u16,
    /// Socket options applied before `listen`/`connect`.
    #[serde(default)]
    pub options: SocketOptions,
}

const fn default_dut_port() -> u16 {
    DEFAULT_DUT_PORT
}

/// The `tester` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tester {
    /// The tester's port (default: random per trial in 40000..=59999).
    pub port: Option<u16>,
    /// The window the tester advertises (default 64240).
    pub window: u16,
    /// The tester's ISN (default: random per trial).
    pub isn: Option<u32>,
}

impl Default for Tester {
    fn default() -> Self {
        Self {
            port: None,
            window: DEFAULT_TESTER_WINDOW,
            isn: None,
        }
    }
}

/// A step with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepAt {
    /// The step.
    pub step: Step,
    /// The 1-based line of the step's list item in its file (best effort: block style only).
    pub line: Option<usize>,
    /// The case id, or `prelude NAME` for a step of a prelude.
    pub origin: String,
}

/// One step of the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A segment from the tester.
    Inject(Inject),
    /// A segment the DUT must send.
    Expect(Expect),
    /// The DUT sends nothing (but tolerated segments) for `duration`.
    ExpectNone {
        /// How long to watch.
        duration: Duration,
    },
    /// A socket call on the DUT.
    Call(Call),
    /// The connection reaches a state.
    State {
        /// The state.
        is: State,
        /// How long it may take (default 1s).
        within: Duration,
    },
    /// Time passes.
    Wait(Duration),
}

impl Step {
    /// The step kind as written: `inject`, `expect`, `expect_none`, `call`, `state`, `wait`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Inject(_) => "inject",
            Self::Expect(_) => "expect",
            Self::ExpectNone { .. } => "expect_none",
            Self::Call(_) => "call",
            Self::State { .. } => "state",
            Self::Wait(_) => "wait",
        }
    }
}

impl fmt::Display for Step {
    /// `inject flags=S seq=0`, `call send 512`, `state ESTABLISHED`, `wait 200ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inject(i) => write!(f, "inject {i}"),
            Self::Expect(e) => write!(f, "expect {e}"),
            Self::ExpectNone { duration } => {
                write!(f, "expect_none {}", DisplayDuration(*duration))
            }
            Self::Call(c) => write!(f, "call {c}"),
            Self::State { is, within } if *within == DEFAULT_WITHIN => write!(f, "state {is}"),
            Self::State { is, within } => {
                write!(f, "state {is} within={}", DisplayDuration(*within))
            }
            Self::Wait(d) => write!(f, "wait {}", DisplayDuration(*d)),
        }
    }
}

const STEP_KINDS: [&str; 6] = ["inject", "expect", "expect_none", "call", "state", "wait"];

/// `expect_none: D` or `{for: D}`.
struct ExpectNoneArg(Duration);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectNone {
    #[serde(rename = "for", deserialize_with = "duration::deserialize")]
    duration: Duration,
}

impl<'de> Deserialize<'de> for ExpectNoneArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExpectNoneArg;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration (`500ms`) or `{for: 500ms}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExpectNoneArg, E> {
                duration::parse_duration(v)
                    .map(ExpectNoneArg)
                    .map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ExpectNoneArg, A::Error> {
                RawExpectNone::deserialize(MapAccessDeserializer::new(map))
                    .map(|r| ExpectNoneArg(r.duration))
            }
        }
        d.deserialize_any(V)
    }
}

/// A state name in RFC spelling.
struct StateName(State);

impl<'de> Deserialize<'de> for StateName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StateName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 9293 state name like `ESTABLISHED`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StateName, E> {
                v.parse().map(StateName).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    is: StateName,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    within: Option<Duration>,
}

/// `state: NAME` or `{is: NAME, within: D}`.
struct StateArg(State, Duration);

impl<'de> Deserialize<'de> for StateArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StateArg;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a state name (`ESTABLISHED`) or `{is: NAME, within: D}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StateArg, E> {
                let s: State = v.parse().map_err(E::custom)?;
                Ok(StateArg(s, DEFAULT_WITHIN))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StateArg, A::Error> {
                let raw = RawState::deserialize(MapAccessDeserializer::new(map))?;
                Ok(StateArg(raw.is.0, raw.within.unwrap_or(DEFAULT_WITHIN)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A wrapper so `wait: D` reads through the duration visitor.
struct WaitArg(Duration);

impl<'de> Deserialize<'de> for WaitArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        duration::deserialize(d).map(WaitArg)
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Step;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a step: a map with one key, the step kind ({})",
                    super::yaml::one_of(&STEP_KINDS)
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
                let key = Key {
                    allowed: &STEP_KINDS,
                    what: "step kind",
                };
                let Some(kind) = map.next_key_seed(key)? else {
                    return Err(de::Error::custom(format!(
                        "empty step, expected a map with one key, the step kind ({})",
                        super::yaml::one_of(&STEP_KINDS)
                    )));
                };
                let step = match kind {
                    "inject" => Step::Inject(map.next_value()?),
                    "expect" => Step::Expect(map.next_value()?),
                    "expect_none" => Step::ExpectNone {
                        duration: map.next_value::<ExpectNoneArg>()?.0,
                    },
                    "call" => Step::Call(map.next_value()?),
                    "state" => {
                        let StateArg(is, within) = map.next_value()?;
                        Step::State { is, within }
                    }
                    _ => Step::Wait(map.next_value::<WaitArg>()?.0),
                };
                if let Some(other) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "a step has one key, the step kind, but this one has `{kind}` and `{other}`; write each step as its own list item"
                    )));
                }
                Ok(step)
            }
        }
        d.deserialize_map(V)
    }
}

/// A requirement id, checked against the catalog of the current [`context`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequirementRef(pub(crate) String);

impl fmt::Display for RequirementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks `id` against the catalog of the current context; the error says what was expected.
pub(crate) fn check_requirement(id: &str) -> Result<(), String> {
    context::with(|c| match &c.requirements {
        Some(ids) if !ids.contains(id) => {
            let hint = match context::suggest(id, ids.iter().map(String::as_str)) {
                Some(s) => format!(", did you mean `{s}`?"),
                None => ", expected an id of the catalog in `requirements/` (`MUST-10`, `SHLD-5`, `RFC5961-3.2-rst-out-of-window-drop`)".to_owned(),
            };
            Err(format!("unknown requirement id `{id}`{hint}"))
        }
        _ => Ok(()),
    })
    .unwrap_or(Ok(()))
}

impl<'de> Deserialize<'de> for RequirementRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RequirementRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a requirement id like `MUST-10`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RequirementRef, E> {
                check_requirement(v).map_err(E::custom)?;
                Ok(RequirementRef(v.to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A prelude name, checked against the preludes (and the table columns) of the current context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PreludeName(pub(crate) String);

impl fmt::Display for PreludeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_prelude(name: &str) -> Result<(), String> {
    context::with(|c| {
        let Some(preludes) = &c.preludes else {
            return Ok(());
        };
        let Some(placeholders) = preludes.get(name) else {
            let hint = match context::suggest(name, preludes.keys().map(String::as_str)) {
                Some(s) => format!(", did you mean `{s}`?"),
                None if preludes.is_empty() => ", and there is no prelude in `preludes/`".to_owned(),
                None => format!(
                    ", expected one of {}",
                    preludes
                        .keys()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(format!("unknown prelude `{name}`{hint}"));
        };
        let columns = c.columns.as_deref().unwrap_or_default();
        match placeholders.iter().find(|p| !columns.contains(p)) {
            Some(p) if c.columns.is_none() => Err(format!(
                "prelude `{name}` uses the placeholder `${{{p}}}`, so only a case with a `table` giving column `{p}` can use it"
            )),
            Some(p) => Err(format!(
                "prelude `{name}` uses the placeholder `${{{p}}}`, but the table has no column `{p}`"
            )),
            None => Ok(()),
        }
    })
    .unwrap_or(Ok(()))
}

impl<'de> Deserialize<'de> for PreludeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(PreludeVisitor)
    }
}

struct PreludeVisitor;

impl<'de> Visitor<'de> for PreludeVisitor {
    type Value = PreludeName;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a prelude name (a file stem in `preludes/`)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<PreludeName, E> {
        check_prelude(v).map_err(E::custom)?;
        Ok(PreludeName(v.to_owned()))
    }
}

/// `prelude: NAME` or `prelude: [NAME, ...]`.
pub(crate) struct PreludeList(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for PreludeList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PreludeList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a prelude name or a list of names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PreludeList, E> {
                PreludeVisitor.visit_str(v).map(|n| PreludeList(vec![n.0]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<PreludeList, A::Error> {
                let mut names = Vec::new();
                while let Some(PreludeName(n)) = seq.next_element()? {
                    names.push(n);
                }
                Ok(PreludeList(names))
            }
        }
        d.deserialize_any(V)
    }
}
