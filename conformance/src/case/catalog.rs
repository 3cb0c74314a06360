//! The requirement catalog: every `*.yaml` in `requirements/`, ids unique across files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};

use super::context::{self, Context};
use super::error::LoadError;
use super::model::RequirementRef;
use super::{load, yaml};

/// All requirements, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Id to requirement.
    pub requirements: BTreeMap<String, Requirement>,
}

/// One requirement of an RFC, paraphrased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// `MUST-10`, `SHLD-5`, `RFC5961-3.2-rst-out-of-window-drop`.
    pub id: String,
    /// The RFC number (the entry's `rfc`, else the file's `source.rfc`).
    pub rfc: u32,
    /// The RFC 2119 level.
    pub level: Level,
    /// The RFC section (`3.10.7.4`).
    pub section: String,
    /// A short topic for grouping (`handshake`, `rst`).
    pub topic: String,
    /// What is required.
    pub summary: String,
    /// Whether a wire test can show it.
    pub testable_on_wire: Testability,
    /// How a test could show it.
    pub test_idea: Option<String>,
    /// Interpretation notes.
    pub note: Option<String>,
    /// RFC 9293 ids covering the same behaviour (companion RFCs).
    pub related_rfc9293: Vec<String>,
    /// The catalog file.
    pub path: PathBuf,
}

/// An RFC 2119 requirement level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub enum Level {
    /// MUST.
    #[serde(rename = "MUST")]
    Must,
    /// MUST NOT.
    #[serde(rename = "MUST NOT")]
    MustNot,
    /// SHOULD (and RECOMMENDED).
    #[serde(rename = "SHOULD")]
    Should,
    /// SHOULD NOT.
    #[serde(rename = "SHOULD NOT")]
    ShouldNot,
    /// MAY.
    #[serde(rename = "MAY")]
    May,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Must => "MUST",
            Self::MustNot => "MUST NOT",
            Self::Should => "SHOULD",
            Self::ShouldNot => "SHOULD NOT",
            Self::May => "MAY",
        })
    }
}

/// Whether a requirement can be shown on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Testability {
    /// Observable in packets.
    Yes,
    /// Needs API observation, long timing or statistics, or is only partly visible.
    Partly,
    /// Internal or API-only.
    No,
}

impl fmt::Display for Testability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Yes => "yes",
            Self::Partly => "partly",
            Self::No => "no",
        })
    }
}

/// A catalog file. The header (`source`, `sources`, `legend`) is free-form documentation;
/// only `source.rfc` is read, as the default `rfc` of the file's entries.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    #[allow(dead_code)]
    sources: Option<IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    legend: Option<IgnoredAny>,
    requirements: Vec<RawRequirement>,
}

/// The `source` header: any fields (title, date, notes...), of which `rfc` is read.
#[derive(Deserialize)]
struct Source {
    #[serde(default)]
    rfc: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    id: DefinedId,
    #[serde(default)]
    rfc: Option<u32>,
    level: Level,
    section: String,
    topic: String,
    summary: String,
    testable_on_wire: Testability,
    #[serde(default)]
    test_idea: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    related_rfc9293: Vec<RequirementRef>,
}

/// A requirement id being defined: well-formed and not defined before (in any catalog file).
struct DefinedId(String);

impl<'de> Deserialize<'de> for DefinedId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DefinedId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a requirement id like `MUST-10`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DefinedId, E> {
                if v.is_empty()
                    || !v
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                {
                    return Err(E::custom(format!(
                        "bad requirement id `{v}`, expected letters, digits, `.`, `_` and `-`"
                    )));
                }
                let previous = context::with(|c| {
                    let file = c.file.clone();
                    c.defined
                        .as_mut()
                        .and_then(|d| d.insert(v.to_owned(), file.clone()).map(|p| (p, file)))
                })
                .flatten();
                match previous {
                    Some((first, this)) if first == this => Err(E::custom(format!(
                        "duplicate requirement id `{v}`, already defined earlier in this file"
                    ))),
                    Some((first, _)) => Err(E::custom(format!(
                        "duplicate requirement id `{v}`, already defined in {}",
                        first.display()
                    ))),
                    None => Ok(DefinedId(v.to_owned())),
                }
            }
        }
        d.deserialize_str(V)
    }
}

impl Catalog {
    /// Loads every `*.yaml` in `dir` (sorted by name).
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        let files = load::yaml_files_in(dir)?;
        if files.is_empty() {
            return Err(LoadError::new(
                dir,
                "no requirement catalog: expected `*.yaml` files in this folder",
            ));
        }
        let mut texts = Vec::new();
        for path in files {
            let text = load::read(&path)?;
            texts.push((path, text));
        }
        Self::from_texts(&texts)
    }

    /// Builds the catalog from `(path, contents)` of its files.
    pub(crate) fn from_texts(files: &[(PathBuf, String)]) -> Result<Self, LoadError> {
        let mut defined = BTreeMap::new();
        let mut parsed = Vec::new();
        for (path, text) in files {
            let ctx = Context {
                defined: Some(defined),
                file: path.clone(),
                ..Context::default()
            };
            let (result, ctx) = context::scoped(ctx, || yaml::from_str::<CatalogFile>(text, path));
            defined = ctx.defined.unwrap_or_default();
            parsed.push((path, text, result?));
        }
        let known: BTreeSet<String> = defined.into_keys().collect();
        let mut requirements = BTreeMap::new();
        for (path, text, file) in parsed {
            let unknown_related = file
                .requirements
                .iter()
                .flat_map(|r| &r.related_rfc9293)
                .any(|r| !known.contains(&r.0));
            if unknown_related {
                // Parse again with the ids known, so the error points at the unknown id.
                let ctx = Context {
                    requirements: Some(known.clone()),
                    ..Context::default()
                };
                let (result, _) =
                    context::scoped(ctx, || yaml::from_str::<CatalogFile>(text, path));
                result?;
            }
            let file_rfc = file.source.as_ref().and_then(|s| s.rfc);
            for r in file.requirements {
                let id = r.id.0;
                let Some(rfc) = r.rfc.or(file_rfc) else {
                    return Err(LoadError::at_opt(
                        path,
                        load::locate(text, &format!("id: {id}")).map(|(l, c)| (l, c + 4)),
                        format!(
                            "requirement `{id}` has no `rfc`, and the file has no `source: {{rfc: N}}`"
                        ),
                    ));
                };
                let requirement = Requirement {
                    id: id.clone(),
                    rfc,
                    level: r.level,
                    section: r.section,
                    topic: r.topic,
                    summary: r.summary,
                    testable_on_wire: r.testable_on_wire,
                    test_idea: r.test_idea,
                    note: r.note,
                    related_rfc9293: r.related_rfc9293.into_iter().map(|r| r.0).collect(),
                    path: path.clone(),
                };
                requirements.insert(id, requirement);
            }
        }
        Ok(Self { requirements })
    }

    /// The requirement with this id.
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.requirements.get(id)
    }

    /// True if the id is in the catalog.
    pub fn contains(&self, id: &str) -> bool {
        self.requirements.contains_key(id)
    }

    /// The number of requirements.
    pub fn len(&self) -> usize {
        self.requirements.len()
    }

    /// True if there is no requirement.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The id closest to `id`, if one is likely meant.
    pub fn suggest(&self, id: &str) -> Option<&str> {
        context::suggest(id, self.requirements.keys().map(String::as_str))
    }

    /// The set of ids, for checking references.
    pub(crate) fn ids(&self) -> BTreeSet<String> {
        self.requirements.keys().cloned().collect()
    }
}
