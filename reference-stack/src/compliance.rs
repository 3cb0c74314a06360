//! The stack's compliance statement: for every requirement id of the catalog
//! (`cases/requirements/*.yaml`), whether the stack implements it (and where, by file and
//! function) or not (and why). The statement is the data file `compliance.yaml` at the root of
//! the crate, embedded as [`COMPLIANCE_YAML`]; [`entries`] reads it without a YAML library
//! (the file keeps to a fixed, line-oriented subset of YAML, described at its top).
//!
//! ```
//! use reference_stack::compliance::{self, Status};
//!
//! let entry = compliance::entry("MUST-13").unwrap();
//! assert_eq!(entry.status, Status::Implemented);
//! assert!(compliance::entries().any(|e| e.status == Status::NotImplemented));
//! ```

/// The statement, as YAML.
pub const COMPLIANCE_YAML: &str = include_str!("../compliance.yaml");

/// Whether a requirement is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Implemented; [`Entry::location`] says where.
    Implemented,
    /// Deliberately not implemented; [`Entry::reason`] says why.
    NotImplemented,
}

/// One requirement of the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The catalog id (`MUST-13`, `RFC5961-3.2-rst-in-window-challenge-ack`).
    pub id: &'a str,
    /// Implemented or not.
    pub status: Status,
    /// Where (file and functions), for an implemented requirement.
    pub location: Option<&'a str>,
    /// Why not, for a requirement not implemented.
    pub reason: Option<&'a str>,
    /// A choice worth knowing (where Linux is followed, a default that differs).
    pub note: Option<&'a str>,
}

/// Every entry of the statement, in file order. Lines that do not belong to an entry are
/// skipped; an entry with an unknown status is skipped too (the crate's tests make sure there
/// is none).
pub fn entries() -> impl Iterator<Item = Entry<'static>> {
    parse(COMPLIANCE_YAML)
}

/// The entry for `id`.
pub fn entry(id: &str) -> Option<Entry<'static>> {
    entries().find(|e| e.id == id)
}

/// Read entries from text in the statement's format.
fn parse(text: &str) -> impl Iterator<Item = Entry<'_>> {
    let mut lines = text.lines().peekable();
    core::iter::from_fn(move || {
        loop {
            let line = lines.next()?;
            let Some(id) = line.strip_prefix("  - id: ") else {
                continue;
            };
            let mut status = None;
            let mut entry = Entry {
                id: id.trim(),
                status: Status::Implemented,
                location: None,
                reason: None,
                note: None,
            };
            while let Some(next) = lines.peek() {
                let Some(field) = next.strip_prefix("    ") else {
                    break;
                };
                lines.next();
                let Some((key, value)) = field.split_once(": ") else {
                    continue;
                };
                let value = unquote(value.trim());
                match key {
                    "status" => {
                        status = match value {
                            "implemented" => Some(Status::Implemented),
                            "not-implemented" => Some(Status::NotImplemented),
                            _ => None,
                        };
                    }
                    "where" => entry.location = Some(value),
                    "reason" => entry.reason = Some(value),
                    "note" => entry.note = Some(value),
                    _ => {}
                }
            }
            if let Some(status) = status {
                entry.status = status;
                return Some(entry);
            }
        }
    })
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

#[cfg(test)]
mod test {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// The ids of the catalog, by a plain scan for `- id: ` lines.
    fn catalog_ids() -> BTreeSet<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/requirements");
        let mut ids = BTreeSet::new();
        let mut files = 0;
        for file in std::fs::read_dir(&dir).expect("the requirement catalog") {
            let path = file.expect("a catalog entry").path();
            if path.extension().is_none_or(|ext| ext != "yaml") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).expect("a catalog file");
            for line in text.lines() {
                if let Some(id) = line.trim_start().strip_prefix("- id: ") {
                    assert!(
                        ids.insert(id.trim().to_owned()),
                        "{id} twice in the catalog"
                    );
                }
            }
        }
        assert!(files >= 3, "catalog files in {}", dir.display());
        ids
    }

    #[test]
    fn statement_covers_exactly_the_catalog() {
        let catalog = catalog_ids();
        let mut seen = BTreeSet::new();
        for entry in entries() {
            assert!(seen.insert(entry.id), "{} twice in the statement", entry.id);
            assert!(
                catalog.contains(entry.id),
                "{} is not in the catalog",
                entry.id
            );
            match entry.status {
                Status::Implemented => assert!(
                    entry.location.is_some_and(|w| !w.is_empty()),
                    "{}: implemented without `where`",
                    entry.id
                ),
                Status::NotImplemented => assert!(
                    entry.reason.is_some_and(|r| !r.is_empty()),
                    "{}: not implemented without a reason",
                    entry.id
                ),
            }
        }
        let missing: Vec<_> = catalog
            .iter()
            .filter(|id| !seen.contains(id.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "missing from the statement: {missing:?}"
        );
        // Every entry line was understood.
        let declared = COMPLIANCE_YAML
            .lines()
            .filter(|l| l.starts_with("  - id: "))
            .count();
        assert_eq!(declared, seen.len());
    }

    #[test]
    fn locations_name_existing_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for entry in entries() {
            let Some(location) = entry.location else {
                continue;
            };
            for word in location.split([' ', ';', ',']) {
                if word.starts_with("src/") && word.ends_with(".rs") {
                    assert!(root.join(word).exists(), "{}: no file {word}", entry.id);
                }
            }
        }
    }

    #[test]
    fn parser_reads_the_format() {
        let text = "requirements:\n  - id: A\n    status: implemented\n    where: \"x.rs f\"\n    note: \"n\"\n  - id: B\n    status: not-implemented\n    reason: \"why\"\n  - id: C\n    status: bogus\n";
        let all: Vec<_> = parse(text).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].location, Some("x.rs f"));
        assert_eq!(all[0].note, Some("n"));
        assert_eq!(all[1].status, Status::NotImplemented);
        assert_eq!(all[1].reason, Some("why"));
    }
}
