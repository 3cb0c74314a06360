//! Loading the corpus: the catalog, preludes, profiles and every case file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};

use super::catalog::Catalog;
use super::context::{self, Context};
use super::error::LoadError;
use super::matcher::SegmentMatch;
use super::model::{
    CaseInstance, Dut, IpVersion, PreludeList, RequirementRef, Step, StepAt, Tester,
};
use super::prelude::Prelude;
use super::profile::{Profile, glob_match};
use super::table::{self, Row, Table, TableColumns};
use super::yaml::{self, DistinctList};

/// The folders below the root that hold no cases.
pub const RESERVED_DIRS: [&str; 3] = ["requirements", "preludes", "profiles"];

/// Everything under a corpus root (`cases/`).
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The root folder.
    pub root: PathBuf,
    /// The requirement catalog (`requirements/`).
    pub catalog: Catalog,
    /// Target profiles by name (`profiles/`).
    pub profiles: BTreeMap<String, Profile>,
    /// Preludes by name (`preludes/`).
    pub preludes: BTreeMap<String, Prelude>,
    /// Every case file, sorted by id; a file that failed to load carries its error.
    pub cases: Vec<CaseEntry>,
}

/// One case file and what loading it gave.
#[derive(Debug, Clone)]
pub struct CaseEntry {
    /// The path below the root without `.yaml`, `/`-separated.
    pub id: String,
    /// The file.
    pub path: PathBuf,
    /// One instance per table row (one for a case without table), or the first error.
    pub result: Result<Vec<CaseInstance>, LoadError>,
}

impl Corpus {
    /// The entry of a case id.
    pub fn case(&self, id: &str) -> Option<&CaseEntry> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// `(profile, glob)` for every deviation whose `case` matches no case id.
    pub fn stale_deviation_globs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, profile) in &self.profiles {
            for d in &profile.deviations {
                if !self.cases.iter().any(|c| glob_match(&d.case, &c.id)) {
                    out.push((name.clone(), d.case.clone()));
                }
            }
        }
        out
    }
}

/// Loads the corpus at `root`. Catalog, prelude and profile errors are fatal; a case's error
/// is kept in its [`CaseEntry`].
pub fn load_corpus(root: &Path) -> Result<Corpus, LoadError> {
    let catalog = Catalog::load(&root.join("requirements"))?;
    let mut preludes = BTreeMap::new();
    for path in yaml_files_in(&root.join("preludes"))? {
        let name = stem(&path);
        let prelude = Prelude::parse(&name, &path, &read(&path)?)?;
        preludes.insert(name, prelude);
    }
    let mut profiles = BTreeMap::new();
    for path in yaml_files_in(&root.join("profiles"))? {
        let name = stem(&path);
        let profile = Profile::parse(&name, &path, &read(&path)?, &catalog)?;
        profiles.insert(name, profile);
    }
    let mut files = Vec::new();
    collect_cases(root, root, &mut files)?;
    let ids = catalog.ids();
    let mut cases: Vec<CaseEntry> = files
        .into_iter()
        .map(|path| {
            let id = case_id(&path, root);
            let result =
                read(&path).and_then(|text| load_case_text(&text, &path, &id, &ids, &preludes));
            CaseEntry { id, path, result }
        })
        .collect();
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Corpus {
        root: root.to_owned(),
        catalog,
        profiles,
        preludes,
        cases,
    })
}

/// Loads one case file (its id is its path below `root`); used by `conformance verify`.
pub fn load_case(
    path: &Path,
    root: &Path,
    catalog: &Catalog,
    preludes: &BTreeMap<String, Prelude>,
) -> Result<Vec<CaseInstance>, LoadError> {
    let text = read(path)?;
    load_case_text(&text, path, &case_id(path, root), &catalog.ids(), preludes)
}

/// The id of a case file: its path below `root` without `.yaml`, `/`-separated (just the stem
/// if the file is not below `root`).
pub fn case_id(path: &Path, root: &Path) -> String {
    let rel = path
        .strip_prefix(root)
        .unwrap_or_else(|_| Path::new(path.file_name().unwrap_or_default()));
    let parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Reads a file to a string.
pub(crate) fn read(path: &Path) -> Result<String, LoadError> {
    fs::read_to_string(path).map_err(|e| LoadError::new(path, format!("cannot read: {e}")))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

fn is_yaml_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yaml")
        && !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// The `*.yaml` files directly in `dir`, sorted; none if `dir` does not exist.
pub(crate) fn yaml_files_in(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let entries =
        fs::read_dir(dir).map_err(|e| LoadError::new(dir, format!("cannot list: {e}")))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| LoadError::new(dir, format!("cannot list: {e}")))?
            .path();
        if path.is_file() && is_yaml_file(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Every case file below `dir`, skipping hidden entries and the reserved folders of the root.
fn collect_cases(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries =
        fs::read_dir(dir).map_err(|e| LoadError::new(dir, format!("cannot list: {e}")))?;
    for entry in entries {
        let path = entry
            .map_err(|e| LoadError::new(dir, format!("cannot list: {e}")))?
            .path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if dir == root && RESERVED_DIRS.contains(&name.as_ref()) {
                continue;
            }
            collect_cases(root, &path, out)?;
        } else if is_yaml_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// The first phase: the file's structure, with every field but `table` unparsed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CaseHeader<T> {
    title: IgnoredAny,
    requirements: IgnoredAny,
    description: Option<IgnoredAny>,
    ip: Option<IgnoredAny>,
    dut: IgnoredAny,
    tester: Option<IgnoredAny>,
    prelude: Option<IgnoredAny>,
    tolerate: Option<IgnoredAny>,
    table: Option<T>,
    steps: IgnoredAny,
}

/// The second phase: a case (or one row of it) in full.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    #[serde(deserialize_with = "yaml::single_line")]
    title: String,
    #[serde(deserialize_with = "requirement_list")]
    requirements: Vec<RequirementRef>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "ip_list")]
    ip: Option<Vec<IpVersion>>,
    dut: Dut,
    #[serde(default)]
    tester: Tester,
    #[serde(default)]
    prelude: Option<PreludeList>,
    #[serde(default)]
    tolerate: Vec<SegmentMatch>,
    #[serde(default)]
    #[allow(dead_code)]
    table: Option<IgnoredAny>,
    steps: Vec<Step>,
}

fn requirement_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<RequirementRef>, D::Error> {
    d.deserialize_seq(DistinctList::<RequirementRef>::new(
        "requirement ids",
        false,
    ))
}

fn ip_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<IpVersion>>, D::Error> {
    d.deserialize_seq(DistinctList::<IpVersion>::new("IP versions", false))
        .map(Some)
}

/// Loads the case `id` from `text`, the contents of `path`.
pub(crate) fn load_case_text(
    text: &str,
    path: &Path,
    id: &str,
    requirements: &BTreeSet<String>,
    preludes: &BTreeMap<String, Prelude>,
) -> Result<Vec<CaseInstance>, LoadError> {
    let placeholders = table::scan_placeholders(text)
        .map_err(|(line, column, message)| LoadError::at(path, line, column, message))?;
    let masked = table::mask(text, &placeholders);
    let (header, _) = context::scoped(Context::default(), || {
        yaml::from_str::<CaseHeader<TableColumns>>(&masked, path)
    });
    let header = header?;
    let prelude_placeholders: BTreeMap<String, BTreeSet<String>> = preludes
        .iter()
        .map(|(name, p)| (name.clone(), p.placeholders.clone()))
        .collect();
    let full_context = |columns: Option<Vec<String>>| Context {
        requirements: Some(requirements.clone()),
        preludes: Some(prelude_placeholders.clone()),
        columns,
        ..Context::default()
    };

    let Some(table_columns) = header.table else {
        if let Some(p) = placeholders.first() {
            return Err(LoadError::at(
                path,
                p.line,
                p.column,
                format!(
                    "placeholder `${{{}}}` in a case without `table`; placeholders name table columns",
                    p.name
                ),
            ));
        }
        let (raw, _) =
            context::scoped(full_context(None), || yaml::from_str::<RawCase>(text, path));
        return Ok(vec![instantiate(raw?, text, path, id, None, preludes)?]);
    };

    let columns = table_columns.columns.0;
    let ctx = Context {
        columns: Some(columns.clone()),
        ..Context::default()
    };
    let (header, _) = context::scoped(ctx, || yaml::from_str::<CaseHeader<Table>>(&masked, path));
    let Some(table) = header?.table else {
        return Err(LoadError::new(
            path,
            "the table disappeared between two reads",
        ));
    };
    for p in &placeholders {
        if !columns.contains(&p.name) {
            let hint = match context::suggest(&p.name, columns.iter().map(String::as_str)) {
                Some(s) => format!(", did you mean `${{{s}}}`?"),
                None => format!(
                    ", expected one of the columns {}",
                    columns
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(LoadError::at(
                path,
                p.line,
                p.column,
                format!("unknown placeholder `${{{}}}`{hint}", p.name),
            ));
        }
    }
    let mut out = Vec::with_capacity(table.rows.0.len());
    for row in &table.rows.0 {
        let s = table::substitute(text, &placeholders, &row.values);
        let (raw, _) = context::scoped(full_context(Some(columns.clone())), || {
            yaml::from_str::<RawCase>(&s.text, path)
        });
        let raw = raw.map_err(|e| s.map_error(e).in_row(&row.name))?;
        let instance = instantiate(raw, text, path, id, Some(row), preludes)
            .map_err(|e| e.in_row(&row.name))?;
        out.push(instance);
    }
    Ok(out)
}

/// Builds one instance: expands preludes and attaches step lines.
fn instantiate(
    raw: RawCase,
    text: &str,
    path: &Path,
    id: &str,
    row: Option<&Row>,
    preludes: &BTreeMap<String, Prelude>,
) -> Result<CaseInstance, LoadError> {
    let no_values = BTreeMap::new();
    let values = row.map_or(&no_values, |r| &r.values);
    let mut steps = Vec::new();
    for name in raw.prelude.map(|p| p.0).unwrap_or_default() {
        let Some(prelude) = preludes.get(&name) else {
            return Err(LoadError::at_opt(
                path,
                locate_top_key(text, "prelude"),
                format!("unknown prelude `{name}`"),
            ));
        };
        steps.extend(prelude.instantiate(values)?);
    }
    let own = attach_lines(raw.steps, text, id);
    if own.is_empty() && steps.is_empty() {
        return Err(LoadError::at_opt(
            path,
            locate_top_key(text, "steps"),
            "`steps` is empty and no prelude gives steps, expected at least one step",
        ));
    }
    steps.extend(own);
    Ok(CaseInstance {
        case_id: id.to_owned(),
        row: row.map(|r| r.name.clone()),
        title: raw.title,
        description: raw.description,
        requirements: raw.requirements.into_iter().map(|r| r.0).collect(),
        ip: raw.ip.unwrap_or_else(|| IpVersion::ALL.to_vec()),
        dut: raw.dut,
        tester: raw.tester,
        tolerate: raw.tolerate,
        steps,
        path: path.to_owned(),
    })
}

/// Pairs steps with the lines of the list items under the top-level `steps:` of `text`; no
/// lines if the list is not in block style (or the count does not match).
pub(crate) fn attach_lines(steps: Vec<Step>, text: &str, origin: &str) -> Vec<StepAt> {
    let lines = step_lines(text);
    let lines_ok = lines.len() == steps.len();
    steps
        .into_iter()
        .enumerate()
        .map(|(i, step)| StepAt {
            step,
            line: if lines_ok { Some(lines[i]) } else { None },
            origin: origin.to_owned(),
        })
        .collect()
}

/// The 1-based lines of the block-sequence items directly under the top-level `steps:` key.
pub(crate) fn step_lines(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines
        .iter()
        .position(|l| top_key_rest(l, "steps").is_some())
    else {
        return Vec::new();
    };
    let rest = top_key_rest(lines[start], "steps")
        .unwrap_or_default()
        .trim();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return Vec::new();
    }
    let mut indent = None;
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let ind = line.len() - trimmed.len();
        let is_item = trimmed == "-" || trimmed.starts_with("- ");
        match indent {
            None if is_item => {
                indent = Some(ind);
                out.push(i + 1);
            }
            None => break,
            Some(k) if ind < k || (ind == k && !is_item) => break,
            Some(k) if ind == k => out.push(i + 1),
            Some(_) => {}
        }
    }
    out
}

/// For a line `key: rest` at column 1, `rest`.
fn top_key_rest<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.strip_prefix(key)?.strip_prefix(':')
}

/// The position of the top-level key `key` (column 1), if present.
pub(crate) fn locate_top_key(text: &str, key: &str) -> Option<(usize, usize)> {
    text.lines()
        .position(|l| top_key_rest(l, key).is_some())
        .map(|i| (i + 1, 1))
}

/// The position (1-based line and character column) of the first occurrence of `needle`.
pub(crate) fn locate(text: &str, needle: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, l)| {
        l.find(needle)
            .map(|at| (i + 1, l[..at].chars().count() + 1))
    })
}
