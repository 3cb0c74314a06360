//! Preludes: `preludes/NAME.yaml`, step sequences a case runs before its own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::error::LoadError;
use super::load::attach_lines;
use super::model::{Step, StepAt};
use super::table::{self, Placeholder};
use super::yaml;

/// A prelude. One without placeholders is parsed once, at load; one with placeholders is
/// checked for its structure at load and parsed per table row by [`Prelude::instantiate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prelude {
    /// The file stem: the name cases use.
    pub name: String,
    /// What the steps do.
    pub description: Option<String>,
    /// The steps, origin `prelude NAME`; empty if the prelude has placeholders (see
    /// [`Prelude::instantiate`]).
    pub steps: Vec<StepAt>,
    /// The table columns the prelude's `${...}` placeholders name.
    pub placeholders: BTreeSet<String>,
    /// The prelude file.
    pub path: PathBuf,
    text: String,
    spots: Vec<Placeholder>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrelude<S> {
    #[serde(default)]
    description: Option<String>,
    steps: S,
}

impl Prelude {
    /// Parses the prelude `name` from `text`, the contents of `path`.
    pub(crate) fn parse(name: &str, path: &Path, text: &str) -> Result<Self, LoadError> {
        let spots = table::scan_placeholders(text)
            .map_err(|(line, column, message)| LoadError::at(path, line, column, message))?;
        let origin = format!("prelude {name}");
        let (description, steps) = if spots.is_empty() {
            let raw: RawPrelude<Vec<Step>> = yaml::from_str(text, path)?;
            (raw.description, attach_lines(raw.steps, text, &origin))
        } else {
            let raw: RawPrelude<IgnoredAny> = yaml::from_str(&table::mask(text, &spots), path)?;
            (raw.description, Vec::new())
        };
        Ok(Self {
            name: name.to_owned(),
            description,
            steps,
            placeholders: spots.iter().map(|p| p.name.clone()).collect(),
            path: path.to_owned(),
            text: text.to_owned(),
            spots,
        })
    }

    /// The steps with `values` (column to text) substituted for the placeholders. Errors
    /// point into the prelude file.
    pub fn instantiate(&self, values: &BTreeMap<String, String>) -> Result<Vec<StepAt>, LoadError> {
        if self.spots.is_empty() {
            return Ok(self.steps.clone());
        }
        if let Some(p) = self.spots.iter().find(|p| !values.contains_key(&p.name)) {
            return Err(LoadError::at(
                &self.path,
                p.line,
                p.column,
                format!("no value for the placeholder `${{{}}}`", p.name),
            ));
        }
        let s = table::substitute(&self.text, &self.spots, values);
        let raw: RawPrelude<Vec<Step>> =
            yaml::from_str(&s.text, &self.path).map_err(|e| s.map_error(e))?;
        Ok(attach_lines(
            raw.steps,
            &self.text,
            &format!("prelude {}", self.name),
        ))
    }
}
