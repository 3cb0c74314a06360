//! The requirement matrix: every catalog requirement against every target, and coverage.
//!
//! A cell combines the outcomes of every trial of that target whose case cites the requirement:
//! **fail** beats **error** beats **expected-deviation** beats **pass** beats **skipped**; a
//! requirement no trial cites is **untested** (shown, never hidden). A requirement counts as
//! covered when a trial that was not skipped cites it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use conformance::case::{Catalog, Level, Testability};
use conformance::results::{Outcome, TrialRecord};

/// How much a combined outcome weighs: the highest of a cell's trials wins.
pub fn severity(o: Outcome) -> u8 {
    match o {
        Outcome::Fail => 5,
        Outcome::Error => 4,
        Outcome::ExpectedDeviation => 3,
        Outcome::Pass => 2,
        Outcome::Skipped => 1,
    }
}

/// The combined outcome of some trials; `None` (untested) when there are none.
pub fn combine<I: IntoIterator<Item = Outcome>>(outcomes: I) -> Option<Outcome> {
    outcomes.into_iter().max_by_key(|o| severity(*o))
}

/// `covered` of `total`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fraction {
    /// Covered (cited by a trial that ran).
    pub covered: usize,
    /// All.
    pub total: usize,
}

impl Fraction {
    /// Percentage, rounded down.
    pub fn percent(&self) -> usize {
        (self.covered * 100).checked_div(self.total).unwrap_or(0)
    }
}

/// Coverage figures of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Per level group (`MUST` includes MUST NOT, `SHOULD` SHOULD NOT), in that order with `MAY`.
    pub by_level: Vec<(&'static str, Fraction)>,
    /// MUST and MUST NOT requirements with `testable_on_wire: yes`.
    pub wire_must: Fraction,
    /// Every requirement.
    pub all: Fraction,
    /// Covered requirements whose combined outcome is pass on every target that ran them.
    pub passing: usize,
}

/// The level group a level is counted in.
pub fn level_group(level: Level) -> &'static str {
    match level {
        Level::Must | Level::MustNot => "MUST",
        Level::Should | Level::ShouldNot => "SHOULD",
        Level::May => "MAY",
    }
}

/// One cell: a requirement on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Combined outcome; `None`: untested on this target.
    pub outcome: Option<Outcome>,
    /// Trials per outcome, in [`Outcome::ALL`] order.
    pub counts: [usize; 5],
    /// The case whose trials decided the outcome (the first with the combined outcome).
    pub case: Option<String>,
    /// Some citing trial passes although its profile lists a deviation.
    pub stale_deviation: bool,
}

/// A case citing a requirement, with its combined outcome over all targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRef {
    /// Case id.
    pub id: String,
    /// Combined outcome.
    pub outcome: Outcome,
}

/// One requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Requirement id.
    pub id: String,
    /// RFC number (0 if not in the catalog).
    pub rfc: u32,
    /// `MUST`, `SHOULD NOT`, ...
    pub level: String,
    /// RFC section.
    pub section: String,
    /// Summary.
    pub summary: String,
    /// `yes`, `partly`, `no`.
    pub wire: String,
    /// One per target, in the matrix's target order.
    pub cells: Vec<Cell>,
    /// Every case citing it.
    pub cases: Vec<CaseRef>,
    /// No trial cites it.
    pub untested: bool,
    /// It is in the catalog (a trial may cite an id the catalog no longer has).
    pub in_catalog: bool,
}

/// Requirements of one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Topic.
    pub topic: String,
    /// Its requirements, by RFC, section and id.
    pub rows: Vec<Row>,
    /// How many are covered.
    pub covered: usize,
}

/// The whole matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    /// Column order.
    pub targets: Vec<String>,
    /// Topics, alphabetically; ids that are not in the catalog last.
    pub groups: Vec<Group>,
    /// Coverage figures.
    pub coverage: Coverage,
}

/// Orders `3.10.7.4` and `MUST-10` the way people count.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let na = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let nb = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (da, db) = (&a[..na], &b[..nb]);
                let strip = |d: &[u8]| -> usize { d.iter().take_while(|c| **c == b'0').count() };
                let (ta, tb) = (&da[strip(da)..], &db[strip(db)..]);
                let ord = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

const NOT_IN_CATALOG: &str = "not in the catalog";

/// Builds the matrix of `trials` against `catalog`, with one column per target in `targets`.
pub fn build(catalog: &Catalog, trials: &[TrialRecord], targets: &[String]) -> Matrix {
    // Requirement id -> the trials citing it.
    let mut citing: BTreeMap<&str, Vec<&TrialRecord>> = BTreeMap::new();
    for t in trials {
        let ids: BTreeSet<&str> = t.requirements.iter().map(String::as_str).collect();
        for id in ids {
            citing.entry(id).or_default().push(t);
        }
    }
    let row_for = |id: &str| -> Row {
        let req = catalog.get(id);
        let cited = citing.get(id).map(Vec::as_slice).unwrap_or_default();
        let cells = targets
            .iter()
            .map(|target| {
                let mine: Vec<&&TrialRecord> =
                    cited.iter().filter(|t| &t.target == target).collect();
                let outcome = combine(mine.iter().map(|t| t.outcome));
                let mut counts = [0; 5];
                for t in &mine {
                    counts[Outcome::ALL
                        .iter()
                        .position(|o| *o == t.outcome)
                        .unwrap_or(0)] += 1;
                }
                Cell {
                    outcome,
                    counts,
                    case: mine
                        .iter()
                        .find(|t| Some(t.outcome) == outcome)
                        .map(|t| t.case.clone()),
                    stale_deviation: mine
                        .iter()
                        .any(|t| t.deviation.as_ref().is_some_and(|d| d.stale)),
                }
            })
            .collect();
        let mut by_case: BTreeMap<&str, Vec<Outcome>> = BTreeMap::new();
        for t in cited {
            by_case.entry(t.case.as_str()).or_default().push(t.outcome);
        }
        Row {
            id: id.to_owned(),
            rfc: req.map_or(0, |r| r.rfc),
            level: req.map_or_else(String::new, |r| r.level.to_string()),
            section: req.map_or_else(String::new, |r| r.section.clone()),
            summary: req.map_or_else(String::new, |r| r.summary.clone()),
            wire: req.map_or_else(String::new, |r| r.testable_on_wire.to_string()),
            cells,
            cases: by_case
                .into_iter()
                .filter_map(|(id, o)| {
                    combine(o).map(|outcome| CaseRef {
                        id: id.to_owned(),
                        outcome,
                    })
                })
                .collect(),
            untested: cited.is_empty(),
            in_catalog: req.is_some(),
        }
    };
    let covered = |id: &str| {
        citing
            .get(id)
            .is_some_and(|ts| ts.iter().any(|t| t.outcome != Outcome::Skipped))
    };

    let mut topics: BTreeMap<&str, Vec<Row>> = BTreeMap::new();
    for (id, req) in &catalog.requirements {
        topics
            .entry(req.topic.as_str())
            .or_default()
            .push(row_for(id));
    }
    let mut groups: Vec<Group> = topics
        .into_iter()
        .map(|(topic, mut rows)| {
            rows.sort_by(|a, b| {
                (a.rfc != 9293)
                    .cmp(&(b.rfc != 9293))
                    .then(a.rfc.cmp(&b.rfc))
                    .then_with(|| natural_cmp(&a.section, &b.section))
                    .then_with(|| natural_cmp(&a.id, &b.id))
            });
            Group {
                topic: topic.to_owned(),
                covered: rows.iter().filter(|r| covered(&r.id)).count(),
                rows,
            }
        })
        .collect();
    let unknown: Vec<Row> = citing
        .keys()
        .filter(|id| !catalog.contains(id))
        .map(|id| row_for(id))
        .collect();
    if !unknown.is_empty() {
        groups.push(Group {
            topic: NOT_IN_CATALOG.into(),
            covered: unknown.len(),
            rows: unknown,
        });
    }

    let mut coverage = Coverage {
        by_level: ["MUST", "SHOULD", "MAY"]
            .iter()
            .map(|l| (*l, Fraction::default()))
            .collect(),
        ..Coverage::default()
    };
    for (id, req) in &catalog.requirements {
        let c = covered(id);
        let group = level_group(req.level);
        if let Some((_, f)) = coverage.by_level.iter_mut().find(|(l, _)| *l == group) {
            f.total += 1;
            f.covered += usize::from(c);
        }
        if group == "MUST" && req.testable_on_wire == Testability::Yes {
            coverage.wire_must.total += 1;
            coverage.wire_must.covered += usize::from(c);
        }
        coverage.all.total += 1;
        coverage.all.covered += usize::from(c);
        if c && combine(citing[id.as_str()].iter().map(|t| t.outcome)) == Some(Outcome::Pass) {
            coverage.passing += 1;
        }
    }
    Matrix {
        targets: targets.to_vec(),
        groups,
        coverage,
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::synthetic;

    use Outcome::{Error, ExpectedDeviation, Fail, Pass, Skipped};

    #[test]
    fn combination_order() {
        assert_eq!(combine([]), None);
        assert_eq!(combine([Skipped]), Some(Skipped));
        assert_eq!(combine([Skipped, Pass]), Some(Pass));
        assert_eq!(
            combine([Pass, ExpectedDeviation, Pass]),
            Some(ExpectedDeviation)
        );
        assert_eq!(combine([ExpectedDeviation, Error]), Some(Error));
        assert_eq!(combine([Error, Fail, Pass]), Some(Fail));
        assert_eq!(combine(Outcome::ALL), Some(Fail));
        // The order is total: each outcome beats exactly the ones after it.
        let order = [Fail, Error, ExpectedDeviation, Pass, Skipped];
        for (i, a) in order.iter().enumerate() {
            for b in &order[i..] {
                assert_eq!(combine([*a, *b]), Some(*a));
                assert_eq!(combine([*b, *a]), Some(*a));
            }
        }
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["MUST-10", "MUST-2", "MUST-1", "SHLD-3", "MUST-02x"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["MUST-1", "MUST-2", "MUST-02x", "MUST-10", "SHLD-3"]);
        assert_eq!(natural_cmp("3.10.7.4", "3.9"), Ordering::Greater);
        assert_eq!(natural_cmp("3.1", "3.1"), Ordering::Equal);
    }

    fn catalog() -> Catalog {
        let root = conformance::suite::workspace_root().join("cases/requirements");
        Catalog::load(&root).expect("the workspace catalog loads")
    }

    fn record(case: &str, target: &str, outcome: Outcome, reqs: &[&str]) -> TrialRecord {
        let mut r = synthetic::trial(0, false).record;
        r.case = case.into();
        r.target = target.into();
        r.outcome = outcome;
        r.requirements = reqs.iter().map(|s| (*s).to_owned()).collect();
        r
    }

    #[test]
    fn every_catalog_requirement_has_a_row_and_cells_combine_per_target() {
        let catalog = catalog();
        let trials = vec![
            record("a", "kernel", Pass, &["MUST-2"]),
            record("b", "kernel", Fail, &["MUST-2", "MUST-3"]),
            record("a", "reference", Pass, &["MUST-2"]),
            record("c", "reference", Skipped, &["MUST-3"]),
            record("d", "kernel", ExpectedDeviation, &["NOT-A-REQUIREMENT"]),
        ];
        let targets = vec!["kernel".to_owned(), "reference".to_owned()];
        let m = build(&catalog, &trials, &targets);
        let rows: Vec<&Row> = m.groups.iter().flat_map(|g| &g.rows).collect();
        assert_eq!(rows.len(), catalog.len() + 1);
        let row = |id: &str| *rows.iter().find(|r| r.id == id).unwrap();

        let must2 = row("MUST-2");
        assert_eq!(must2.cells[0].outcome, Some(Fail));
        assert_eq!(must2.cells[0].case.as_deref(), Some("b"));
        assert_eq!(must2.cells[0].counts, [1, 1, 0, 0, 0]);
        assert_eq!(must2.cells[1].outcome, Some(Pass));
        assert_eq!(
            must2.cases,
            [
                CaseRef {
                    id: "a".into(),
                    outcome: Pass
                },
                CaseRef {
                    id: "b".into(),
                    outcome: Fail
                }
            ]
        );
        let must3 = row("MUST-3");
        assert_eq!(must3.cells[1].outcome, Some(Skipped));
        let untested = row("MUST-1");
        assert!(untested.untested);
        assert!(untested.cells.iter().all(|c| c.outcome.is_none()));
        let unknown = row("NOT-A-REQUIREMENT");
        assert!(!unknown.in_catalog);
        assert_eq!(m.groups.last().unwrap().topic, NOT_IN_CATALOG);

        // MUST-2 and MUST-3 are covered (MUST-3 by b, although c skipped it).
        let must = m.coverage.by_level[0];
        assert_eq!(must.0, "MUST");
        assert_eq!(must.1.covered, 2);
        assert_eq!(m.coverage.all.covered, 2);
        assert_eq!(m.coverage.passing, 0);
        assert!(m.coverage.wire_must.covered <= 2 && m.coverage.wire_must.total > 0);
        let total: usize = m.coverage.by_level.iter().map(|(_, f)| f.total).sum();
        assert_eq!(total, catalog.len());
    }

    #[test]
    fn only_skipped_is_not_covered() {
        let catalog = catalog();
        let trials = vec![record("c", "kernel", Skipped, &["MUST-2"])];
        let m = build(&catalog, &trials, &["kernel".to_owned()]);
        assert_eq!(m.coverage.all.covered, 0);
        let row = m
            .groups
            .iter()
            .flat_map(|g| &g.rows)
            .find(|r| r.id == "MUST-2")
            .unwrap();
        assert!(!row.untested);
        assert_eq!(row.cells[0].outcome, Some(Skipped));
    }
}
