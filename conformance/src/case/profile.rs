//! Target profiles: `profiles/NAME.yaml`, with sysctls and documented deviations.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::catalog::Catalog;
use super::context::{self, Context};
use super::error::LoadError;
use super::model::{IpVersion, RequirementRef};
use super::yaml::{self, DistinctList};

/// A target profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The file stem.
    pub name: String,
    /// What the profile is.
    pub description: String,
    /// The target it applies to (`kernel`, `reference`, ...).
    pub target: String,
    /// Sysctls set in the DUT's namespace.
    pub sysctls: BTreeMap<String, SysctlValue>,
    /// Documented deviations of the target.
    pub deviations: Vec<Deviation>,
    /// The profile file.
    pub path: PathBuf,
}

/// A sysctl value: what is written to `/proc/sys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysctlValue {
    /// An integer.
    Int(i64),
    /// Text (e.g. `"4096 131072 6291456"`).
    Text(String),
}

impl fmt::Display for SysctlValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for SysctlValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SysctlValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sysctl value: an integer or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SysctlValue, E> {
                i64::try_from(v)
                    .map(SysctlValue::Int)
                    .map_err(|_| E::custom("sysctl value too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A known way the target deviates: trials of matching cases that fail are expected failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    /// A case id, or a glob (`*` any characters, `/` included; `?` one character).
    pub case: String,
    /// Only these table rows.
    pub rows: Option<Vec<String>>,
    /// Only these IP versions.
    pub ip: Option<Vec<IpVersion>>,
    /// The requirements the target deviates from (all in the catalog).
    pub requirements: Vec<String>,
    /// Why, with a reference.
    pub reason: String,
}

impl Deviation {
    /// True if the deviation covers this trial.
    pub fn matches(&self, case_id: &str, row: Option<&str>, ip: IpVersion) -> bool {
        glob_match(&self.case, case_id)
            && self
                .rows
                .as_ref()
                .is_none_or(|rows| row.is_some_and(|r| rows.iter().any(|x| x == r)))
            && self.ip.as_ref().is_none_or(|v| v.contains(&ip))
    }
}

impl Profile {
    /// The sysctls as `(name, value text)`, in name order, as the harness applies them.
    pub fn sysctl_pairs(&self) -> Vec<(String, String)> {
        self.sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect()
    }

    /// The first deviation covering this trial.
    pub fn deviation_for(
        &self,
        case_id: &str,
        row: Option<&str>,
        ip: IpVersion,
    ) -> Option<&Deviation> {
        self.deviations.iter().find(|d| d.matches(case_id, row, ip))
    }

    /// Parses `text` (the file `path`, profile `name`), checking requirement ids against
    /// `catalog`.
    pub(crate) fn parse(
        name: &str,
        path: &Path,
        text: &str,
        catalog: &Catalog,
    ) -> Result<Self, LoadError> {
        let ctx = Context {
            requirements: Some(catalog.ids()),
            ..Context::default()
        };
        let (raw, _) = context::scoped(ctx, || yaml::from_str::<RawProfile>(text, path));
        let raw = raw?;
        Ok(Self {
            name: name.to_owned(),
            description: raw.description,
            target: raw.target,
            sysctls: raw.sysctls,
            deviations: raw
                .deviations
                .into_iter()
                .map(|d| Deviation {
                    case: d.case,
                    rows: d.rows,
                    ip: d.ip,
                    requirements: d.requirements.into_iter().map(|r| r.0).collect(),
                    reason: d.reason,
                })
                .collect(),
            path: path.to_owned(),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(deserialize_with = "yaml::non_empty_string")]
    description: String,
    #[serde(deserialize_with = "yaml::non_empty_string")]
    target: String,
    #[serde(default)]
    sysctls: BTreeMap<String, SysctlValue>,
    #[serde(default)]
    deviations: Vec<RawDeviation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeviation {
    #[serde(deserialize_with = "yaml::non_empty_string")]
    case: String,
    #[serde(default, deserialize_with = "rows")]
    rows: Option<Vec<String>>,
    #[serde(default, deserialize_with = "ips")]
    ip: Option<Vec<IpVersion>>,
    #[serde(default, deserialize_with = "requirements")]
    requirements: Vec<RequirementRef>,
    #[serde(deserialize_with = "yaml::non_empty_string")]
    reason: String,
}

fn rows<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    d.deserialize_seq(DistinctList::<String>::new("row names", false))
        .map(Some)
}

fn ips<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<IpVersion>>, D::Error> {
    d.deserialize_seq(DistinctList::<IpVersion>::new("IP versions", false))
        .map(Some)
}

fn requirements<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<RequirementRef>, D::Error> {
    d.deserialize_seq(DistinctList::<RequirementRef>::new("requirement ids", true))
}

/// Matches `text` against `pattern`: `*` is any run of characters (including `/`), `?` one
/// character, everything else itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("rst/some-case", "rst/some-case", true)]
    #[case("rst/some-case", "rst/some-cas", false)]
    #[case("rst/*", "rst/a", true)]
    #[case("rst/*", "rst/a/b", true)]
    #[case("rst/*", "rst", false)]
    #[case("*", "anything/at/all", true)]
    #[case("*/passive-*", "handshake/passive-open", true)]
    #[case("handshake/?-open", "handshake/a-open", true)]
    #[case("handshake/?-open", "handshake/ab-open", false)]
    #[case("a*b*c", "aXXbYYc", true)]
    #[case("a*b*c", "aXXbYY", false)]
    #[case("**", "", true)]
    fn globs(#[case] pattern: &str, #[case] text: &str, #[case] expected: bool) {
        assert_eq!(glob_match(pattern, text), expected);
    }

    #[test]
    fn deviation_scope() {
        let d = Deviation {
            case: "rst/*".into(),
            rows: Some(vec!["syn-fin".into()]),
            ip: Some(vec![IpVersion::Ipv6]),
            requirements: vec![],
            reason: "r".into(),
        };
        assert!(d.matches("rst/x", Some("syn-fin"), IpVersion::Ipv6));
        assert!(!d.matches("rst/x", Some("syn-fin"), IpVersion::Ipv4));
        assert!(!d.matches("rst/x", Some("syn"), IpVersion::Ipv6));
        assert!(!d.matches("rst/x", None, IpVersion::Ipv6));
        assert!(!d.matches("handshake/x", Some("syn-fin"), IpVersion::Ipv6));
    }
}
