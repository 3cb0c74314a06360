//! The pages: view models built from the run, the corpus and the captures, and the askama
//! templates (`reports/templates/`) they fill. Everything case- or run-provided reaches the HTML
//! through askama's escaping; nothing here writes markup by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use askama::Template;
use conformance::case::{CaseEntry, CaseInstance, Corpus};
use conformance::engine::TrialParams;
use conformance::events::{self, Event};
use conformance::results::{Outcome, Results, TrialRecord};
use harness::Timestamp;
use harness::pcap;

use crate::failure::{self, FailureView};
use crate::ladder::{self, Ladder};
use crate::matrix::{self, Matrix};

/// CSS class of an outcome (`o-expected-deviation`); `o-untested` for none.
pub(crate) fn outcome_class(o: Option<Outcome>) -> String {
    match o {
        Some(o) => format!("o-{}", o.name()),
        None => "o-untested".into(),
    }
}

fn outcome_label(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Pass) => "pass",
        Some(Outcome::Fail) => "fail",
        Some(Outcome::ExpectedDeviation) => "deviation",
        Some(Outcome::Skipped) => "skipped",
        Some(Outcome::Error) => "error",
        None => "untested",
    }
}

/// The file name of a case's page: its id with `/` replaced.
pub fn case_page_name(case_id: &str) -> String {
    let mut s: String = case_id
        .chars()
        .map(|c| match c {
            '/' => '~',
            c if c.is_ascii_alphanumeric() || "-_.".contains(c) => c,
            _ => '_',
        })
        .collect();
    s = s.replace('~', "__");
    s.push_str(".html");
    s
}

/// An id usable as an HTML anchor.
fn anchor(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("--")
}

/// A relative path for an `href`, with the few characters that would break it encoded.
fn href_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            '%' => out.push_str("%25"),
            '"' => out.push_str("%22"),
            '\\' => out.push('/'),
            c => out.push(c),
        }
    }
    out
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_owned()
}

fn rfc_href(rfc: u32, section: &str) -> String {
    if section.is_empty() {
        format!("https://www.rfc-editor.org/rfc/rfc{rfc}")
    } else {
        format!("https://www.rfc-editor.org/rfc/rfc{rfc}#section-{section}")
    }
}

/// Targets in run order, then any that only trials name (merged shards).
pub(crate) fn targets_of(results: &Results) -> Vec<String> {
    let mut out: Vec<String> = results.run.targets.iter().map(|t| t.name.clone()).collect();
    for t in &results.trials {
        if !out.contains(&t.target) {
            out.push(t.target.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Per-trial data read from the files.

/// What the files of one trial gave.
pub(crate) struct TrialFiles {
    /// The ladder, or why there is none.
    pub ladder: Result<Ladder, String>,
    /// Why the event log could not be used, if it could not.
    pub events_problem: Option<String>,
    /// Link to the copied pcap, relative to the output root.
    pub pcap_href: Option<String>,
    /// Link to the copied event log, relative to the output root.
    pub events_href: Option<String>,
}

/// Reads a trial's capture and event log once, lays its ladder out, and copies both files to
/// `out_dir/pcap/`.
pub(crate) fn load_trial(t: &TrialRecord, results_dir: &Path, out_dir: &Path) -> TrialFiles {
    let mut files = TrialFiles {
        ladder: Err(String::new()),
        events_problem: None,
        pcap_href: None,
        events_href: None,
    };
    let mut params: Option<TrialParams> = None;
    let mut end: Option<Timestamp> = None;
    if let Some(rel) = &t.events {
        let path = results_dir.join(rel);
        match events::read(&path) {
            Ok(evs) => {
                for e in &evs {
                    match e {
                        Event::Params(p) => params = Some(p.clone()),
                        Event::End { ts } => end = Some(*ts),
                        _ => {}
                    }
                }
                if params.is_none() {
                    files.events_problem = Some(format!(
                        "{}: no trial parameters in the event log",
                        path.display()
                    ));
                }
                files.events_href = copy_into(&path, rel, out_dir);
            }
            Err(e) => files.events_problem = Some(e),
        }
    }
    files.ladder = match &t.pcap {
        None => Err(match &t.reason {
            Some(_) if t.outcome == Outcome::Error => {
                "no capture: the harness failed before the trial captured anything".into()
            }
            _ => "no capture recorded for this trial".into(),
        }),
        Some(rel) => {
            let path = results_dir.join(rel);
            match pcap::read(&path) {
                Ok(frames) => {
                    files.pcap_href = copy_into(&path, rel, out_dir);
                    let input = ladder::from_trial(t, &frames, params.as_ref(), end);
                    Ok(ladder::layout(&input))
                }
                Err(e) => {
                    if path.exists() {
                        files.pcap_href = copy_into(&path, rel, out_dir);
                    }
                    Err(e.to_string())
                }
            }
        }
    };
    files
}

/// Copies `src` to `out_dir/pcap/rel`; the link, relative to the output root, if it worked.
fn copy_into(src: &Path, rel: &str, out_dir: &Path) -> Option<String> {
    let rel = rel.trim_start_matches('/');
    if rel.split(['/', '\\']).any(|c| c == "..") {
        return None;
    }
    let dst = out_dir.join("pcap").join(rel);
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir).ok()?;
    }
    std::fs::copy(src, &dst).ok()?;
    Some(href_path(&format!("pcap/{rel}")))
}

// ---------------------------------------------------------------------------------------------
// Index page.

/// One outcome count with its class.
pub(crate) struct Count {
    pub name: &'static str,
    pub class: String,
    pub n: usize,
    /// Width in a 100% bar.
    pub pct: f64,
}

fn counts_of<'a>(trials: impl IntoIterator<Item = &'a TrialRecord>) -> (Vec<Count>, usize) {
    let mut n = [0usize; 5];
    for t in trials {
        if let Some(i) = Outcome::ALL.iter().position(|o| *o == t.outcome) {
            n[i] += 1;
        }
    }
    let total: usize = n.iter().sum();
    let counts = Outcome::ALL
        .iter()
        .zip(n)
        .map(|(o, n)| Count {
            name: outcome_label(Some(*o)),
            class: outcome_class(Some(*o)),
            n,
            pct: if total == 0 {
                0.0
            } else {
                (n as f64 * 1000.0 / total as f64).round() / 10.0
            },
        })
        .collect();
    (counts, total)
}

pub(crate) struct SummaryRow {
    pub ip: String,
    pub counts: Vec<Count>,
    pub total: usize,
}

pub(crate) struct TargetView {
    pub name: String,
    pub driver: String,
    pub description: String,
    pub sysctls: String,
    pub verdict: String,
    pub class: String,
    pub rows: Vec<SummaryRow>,
}

pub(crate) struct Attention {
    pub href: String,
    pub name: String,
    pub class: String,
    pub outcome: String,
    pub headline: String,
}

pub(crate) struct CovItem {
    pub label: String,
    pub covered: usize,
    pub total: usize,
    pub pct: usize,
}

pub(crate) struct CellView {
    pub class: String,
    pub text: String,
    pub href: String,
    pub title: String,
    pub stale: bool,
    /// The target's own compliance statement declares the requirement not implemented: why.
    pub not_implemented: String,
}

pub(crate) struct CaseLink {
    pub id: String,
    pub href: String,
    pub class: String,
}

pub(crate) struct RowView {
    pub id: String,
    pub rfc: String,
    pub rfc_href: String,
    pub level: String,
    pub section: String,
    pub summary: String,
    pub wire: String,
    pub untested: bool,
    pub cells: Vec<CellView>,
    pub cases: Vec<CaseLink>,
}

pub(crate) struct GroupView {
    pub topic: String,
    pub anchor: String,
    pub covered: usize,
    pub total: usize,
    pub failing: usize,
    pub rows: Vec<RowView>,
}

pub(crate) struct DeviationRow {
    pub target: String,
    pub case: String,
    pub scope: String,
    pub requirements: String,
    pub reason: String,
    pub status: String,
    pub class: String,
    pub trials: Vec<CaseLink>,
}

pub(crate) struct CaseIndexRow {
    pub id: String,
    pub href: String,
    pub title: String,
    pub cells: Vec<CellView>,
}

#[derive(Template)]
#[template(path = "index.html")]
pub(crate) struct IndexPage {
    pub suite: String,
    pub started: String,
    pub finished: String,
    pub kernel: String,
    pub host: String,
    pub shard: String,
    pub cases_dir: String,
    pub schema: u32,
    pub trials: usize,
    pub headline: String,
    pub headline_class: String,
    pub targets: Vec<TargetView>,
    pub attention: Vec<Attention>,
    pub load_errors: Vec<(String, String)>,
    pub problems: Vec<String>,
    pub coverage: Vec<CovItem>,
    pub wire_must: CovItem,
    pub passing: usize,
    pub deviations: Vec<DeviationRow>,
    pub matrix_targets: Vec<String>,
    pub groups: Vec<GroupView>,
    pub requirement_count: usize,
    pub cases: Vec<CaseIndexRow>,
}

fn cell_view(outcome: Option<Outcome>, href: String, title: String, stale: bool) -> CellView {
    CellView {
        class: outcome_class(outcome),
        text: outcome_label(outcome).to_owned(),
        href,
        title,
        stale,
        not_implemented: String::new(),
    }
}

/// Why the reference stack's compliance statement (`reference-stack/compliance.yaml`) says it
/// does not implement `id`, if it says so.
pub(crate) fn reference_not_implemented(id: &str) -> Option<String> {
    use reference_stack::compliance::{Status, entry};
    let e = entry(id)?;
    (e.status == Status::NotImplemented).then(|| {
        format!(
            "declared not implemented: {}",
            e.reason.unwrap_or("no reason given")
        )
    })
}

/// `1 thing`, `2 things`.
fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Builds the index page.
pub(crate) fn index_page(
    results: &Results,
    corpus: &Corpus,
    matrix: &Matrix,
    problems: Vec<String>,
) -> IndexPage {
    let run = &results.run;
    let targets = targets_of(results);
    let case_href = |id: &str| href_path(&format!("cases/{}", case_page_name(id)));
    let trial_href = |t: &TrialRecord| {
        format!(
            "{}#{}",
            case_href(&t.case),
            anchor(&[t.row.as_deref().unwrap_or(""), &t.target, &t.ip])
        )
    };

    let mut target_views = Vec::new();
    for name in &targets {
        let info = run.targets.iter().find(|t| &t.name == name);
        let mine: Vec<&TrialRecord> = results
            .trials
            .iter()
            .filter(|t| &t.target == name)
            .collect();
        let mut ips: Vec<&str> = mine.iter().map(|t| t.ip.as_str()).collect();
        ips.sort_unstable();
        ips.dedup();
        let rows = ips
            .iter()
            .map(|ip| {
                let (counts, total) = counts_of(mine.iter().copied().filter(|t| t.ip == *ip));
                SummaryRow {
                    ip: (*ip).to_owned(),
                    counts,
                    total,
                }
            })
            .collect();
        let (all, total) = counts_of(mine.iter().copied());
        let n = |o: Outcome| all[Outcome::ALL.iter().position(|x| *x == o).unwrap_or(0)].n;
        let bad = n(Outcome::Fail) + n(Outcome::Error);
        let (verdict, class) = if total == 0 {
            ("no trials".to_owned(), "o-untested")
        } else if n(Outcome::Fail) > 0 {
            (
                format!("{} of {total} trials fail", n(Outcome::Fail)),
                "o-fail",
            )
        } else if bad > 0 {
            (
                format!(
                    "{} of {total} trials hit a harness error",
                    n(Outcome::Error)
                ),
                "o-error",
            )
        } else {
            (
                format!(
                    "all {} trials that ran pass{}",
                    total - n(Outcome::Skipped),
                    match n(Outcome::ExpectedDeviation) {
                        0 => String::new(),
                        d => format!(" or deviate as documented ({d})"),
                    }
                ),
                "o-pass",
            )
        };
        target_views.push(TargetView {
            name: name.clone(),
            driver: info.map(|i| i.driver.clone()).unwrap_or_default(),
            description: info.map(|i| i.description.clone()).unwrap_or_default(),
            sysctls: info
                .map(|i| {
                    i.sysctls
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("  ")
                })
                .unwrap_or_default(),
            verdict,
            class: class.into(),
            rows,
        });
    }

    let mut attention: Vec<Attention> = Vec::new();
    for o in [Outcome::Fail, Outcome::Error] {
        for t in results.trials.iter().filter(|t| t.outcome == o) {
            attention.push(Attention {
                href: trial_href(t),
                name: t.name.clone(),
                class: outcome_class(Some(o)),
                outcome: outcome_label(Some(o)).into(),
                headline: t.reason.as_deref().map(first_line).unwrap_or_default(),
            });
        }
    }
    for t in results
        .trials
        .iter()
        .filter(|t| t.deviation.as_ref().is_some_and(|d| d.stale))
    {
        attention.push(Attention {
            href: trial_href(t),
            name: t.name.clone(),
            class: "o-stale".into(),
            outcome: "stale deviation".into(),
            headline: "passes, but its profile lists it as a deviation: remove the entry".into(),
        });
    }

    // Deviations: every documented one of the profiles that ran, with what happened.
    let mut deviations = Vec::new();
    for name in &targets {
        let Some(profile) = corpus.profiles.get(name) else {
            continue;
        };
        for d in &profile.deviations {
            let hits: Vec<&TrialRecord> = results
                .trials
                .iter()
                .filter(|t| {
                    &t.target == name
                        && conformance::case::glob_match(&d.case, &t.case)
                        && d.rows
                            .as_ref()
                            .is_none_or(|rows| t.row.as_ref().is_some_and(|r| rows.contains(r)))
                        && d.ip
                            .as_ref()
                            .is_none_or(|ips| ips.iter().any(|ip| ip.name() == t.ip))
                })
                .collect();
            let matches_a_case = corpus
                .cases
                .iter()
                .any(|c| conformance::case::glob_match(&d.case, &c.id));
            let happening = hits
                .iter()
                .filter(|t| t.outcome == Outcome::ExpectedDeviation)
                .count();
            let stale = hits
                .iter()
                .filter(|t| t.deviation.as_ref().is_some_and(|d| d.stale))
                .count();
            let (status, class) = if !matches_a_case {
                ("stale: matches no case".to_owned(), "o-stale")
            } else if stale > 0 {
                (
                    format!(
                        "stale: no longer happens in {stale} of {} trials",
                        hits.len()
                    ),
                    "o-stale",
                )
            } else if happening > 0 {
                (
                    format!("happens ({happening} of {} trials)", hits.len()),
                    "o-expected-deviation",
                )
            } else if hits.is_empty() {
                ("not run".to_owned(), "o-untested")
            } else {
                (
                    "covers trials that fail otherwise or were not judged".to_owned(),
                    "o-untested",
                )
            };
            let mut scope = Vec::new();
            if let Some(rows) = &d.rows {
                scope.push(format!("rows {}", rows.join(", ")));
            }
            if let Some(ips) = &d.ip {
                scope.push(ips.iter().map(|i| i.name()).collect::<Vec<_>>().join(", "));
            }
            deviations.push(DeviationRow {
                target: name.clone(),
                case: d.case.clone(),
                scope: scope.join("; "),
                requirements: d.requirements.join(", "),
                reason: d.reason.clone(),
                status,
                class: class.into(),
                trials: hits
                    .iter()
                    .map(|t| CaseLink {
                        id: format!("{} {}", t.ip, t.row.as_deref().unwrap_or(""))
                            .trim()
                            .to_owned(),
                        href: trial_href(t),
                        class: if t.deviation.as_ref().is_some_and(|d| d.stale) {
                            "o-stale".into()
                        } else {
                            outcome_class(Some(t.outcome))
                        },
                    })
                    .collect(),
            });
        }
    }

    // Columns whose target is the reference stack: its compliance statement is shown there.
    let reference_cols: Vec<bool> = matrix
        .targets
        .iter()
        .map(|t| {
            results
                .run
                .targets
                .iter()
                .any(|info| &info.name == t && info.driver == "reference")
        })
        .collect();
    let groups: Vec<GroupView> = matrix
        .groups
        .iter()
        .map(|g| GroupView {
            topic: g.topic.clone(),
            anchor: anchor(&["topic", &g.topic]),
            covered: g.covered,
            total: g.rows.len(),
            failing: g
                .rows
                .iter()
                .filter(|r| r.cells.iter().any(|c| c.outcome == Some(Outcome::Fail)))
                .count(),
            rows: g
                .rows
                .iter()
                .map(|r| RowView {
                    id: r.id.clone(),
                    rfc: if r.rfc == 0 {
                        String::new()
                    } else {
                        format!("RFC {}", r.rfc)
                    },
                    rfc_href: rfc_href(r.rfc, &r.section),
                    level: r.level.clone(),
                    section: r.section.clone(),
                    summary: r.summary.clone(),
                    wire: r.wire.clone(),
                    untested: r.untested,
                    cells: r
                        .cells
                        .iter()
                        .zip(&reference_cols)
                        .map(|(c, is_reference)| {
                            let mut title: Vec<String> = Outcome::ALL
                                .iter()
                                .zip(c.counts)
                                .filter(|(_, n)| *n > 0)
                                .map(|(o, n)| format!("{n} {o}"))
                                .collect();
                            if c.stale_deviation {
                                title.push("a documented deviation no longer happens".into());
                            }
                            let mut cell = cell_view(
                                c.outcome,
                                c.case.as_deref().map(case_href).unwrap_or_default(),
                                title.join(", "),
                                c.stale_deviation,
                            );
                            if *is_reference {
                                cell.not_implemented =
                                    reference_not_implemented(&r.id).unwrap_or_default();
                            }
                            cell
                        })
                        .collect(),
                    cases: r
                        .cases
                        .iter()
                        .map(|c| CaseLink {
                            id: c.id.clone(),
                            href: case_href(&c.id),
                            class: outcome_class(Some(c.outcome)),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();

    let mut by_case: BTreeMap<&str, Vec<&TrialRecord>> = BTreeMap::new();
    for t in &results.trials {
        by_case.entry(t.case.as_str()).or_default().push(t);
    }
    let cases = by_case
        .iter()
        .map(|(id, trials)| CaseIndexRow {
            id: (*id).to_owned(),
            href: case_href(id),
            title: trials
                .iter()
                .find(|t| t.row.is_none())
                .or_else(|| trials.first())
                .map(|t| t.title.clone())
                .unwrap_or_default(),
            cells: targets
                .iter()
                .map(|target| {
                    let mine: Vec<&&TrialRecord> =
                        trials.iter().filter(|t| &t.target == target).collect();
                    let outcome = matrix::combine(mine.iter().map(|t| t.outcome));
                    let (counts, _) = counts_of(mine.iter().map(|t| **t));
                    let title = counts
                        .iter()
                        .filter(|c| c.n > 0)
                        .map(|c| format!("{} {}", c.n, c.name))
                        .collect::<Vec<_>>()
                        .join(", ");
                    cell_view(
                        outcome,
                        case_href(id),
                        title,
                        mine.iter()
                            .any(|t| t.deviation.as_ref().is_some_and(|d| d.stale)),
                    )
                })
                .collect(),
        })
        .collect();

    let (all_counts, total) = counts_of(&results.trials);
    let stale = results
        .trials
        .iter()
        .filter(|t| t.deviation.as_ref().is_some_and(|d| d.stale))
        .count();
    let n = |o: Outcome| all_counts[Outcome::ALL.iter().position(|x| *x == o).unwrap_or(0)].n;
    let (headline, headline_class) = if total == 0 {
        ("No trials ran.".to_owned(), "o-untested")
    } else if n(Outcome::Fail) > 0
        || n(Outcome::Error) > 0
        || stale > 0
        || !run.load_errors.is_empty()
    {
        let mut parts = Vec::new();
        if n(Outcome::Fail) > 0 {
            parts.push(format!("{} of {total} trials fail", n(Outcome::Fail)));
        }
        if n(Outcome::Error) > 0 {
            parts.push(format!(
                "{} of {total} trials hit a harness error",
                n(Outcome::Error)
            ));
        }
        if stale > 0 {
            parts.push(plural(stale, "stale deviation", "stale deviations"));
        }
        if !run.load_errors.is_empty() {
            parts.push(plural(
                run.load_errors.len(),
                "case file does not load",
                "case files do not load",
            ));
        }
        (
            format!("{}: see Needs attention.", parts.join("; ")),
            if n(Outcome::Fail) > 0 {
                "o-fail"
            } else if n(Outcome::Error) > 0 || !run.load_errors.is_empty() {
                "o-error"
            } else {
                "o-stale"
            },
        )
    } else {
        (
            format!(
                "All {total} trials pass{}.",
                match (n(Outcome::ExpectedDeviation), n(Outcome::Skipped)) {
                    (0, 0) => String::new(),
                    (d, 0) => format!(" or deviate as documented ({d})"),
                    (0, s) => format!(" or were skipped ({s})"),
                    (d, s) => format!(" or deviate as documented ({d}) or were skipped ({s})"),
                }
            ),
            "o-pass",
        )
    };
    let cov = |label: &str, f: matrix::Fraction| CovItem {
        label: label.to_owned(),
        covered: f.covered,
        total: f.total,
        pct: f.percent(),
    };
    IndexPage {
        suite: run.suite.clone(),
        started: run.started.clone(),
        finished: run.finished.clone(),
        kernel: run.kernel.clone(),
        host: run.host.clone(),
        shard: run.shard.clone().unwrap_or_default(),
        cases_dir: run.cases_dir.clone(),
        schema: run.schema,
        trials: total,
        headline,
        headline_class: headline_class.into(),
        targets: target_views,
        attention,
        load_errors: run.load_errors.clone(),
        problems,
        coverage: matrix
            .coverage
            .by_level
            .iter()
            .map(|(l, f)| cov(l, *f))
            .chain(std::iter::once(cov("all", matrix.coverage.all)))
            .collect(),
        wire_must: cov("wire-testable MUST", matrix.coverage.wire_must),
        passing: matrix.coverage.passing,
        deviations,
        matrix_targets: matrix.targets.clone(),
        requirement_count: groups.iter().map(|g| g.rows.len()).sum(),
        groups,
        cases,
    }
}

// ---------------------------------------------------------------------------------------------
// Case pages.

pub(crate) struct ReqView {
    pub id: String,
    pub level: String,
    pub rfc: String,
    pub rfc_href: String,
    pub section: String,
    pub summary: String,
    pub known: bool,
}

pub(crate) struct StepCell {
    pub sym: &'static str,
    pub class: String,
    pub title: String,
}

pub(crate) struct StepRow {
    pub n: usize,
    pub text: String,
    pub origin: String,
    pub class: String,
    pub cells: Vec<StepCell>,
}

pub(crate) struct TrialView {
    pub anchor: String,
    pub name: String,
    pub label: String,
    pub outcome: String,
    pub class: String,
    pub open: bool,
    pub duration: String,
    pub failure: Option<FailureView>,
    pub failed_step: usize,
    pub deviation_reason: String,
    pub deviation_requirements: String,
    pub deviation_stale: bool,
    pub violations: Vec<String>,
    pub ladder: Option<Ladder>,
    pub ladder_error: String,
    pub events_problem: String,
    pub pcap_href: String,
    pub events_href: String,
}

pub(crate) struct InstanceView {
    pub row: String,
    pub anchor: String,
    pub title: String,
    pub columns: Vec<String>,
    pub steps: Vec<StepRow>,
    pub steps_from_record: bool,
    pub trials: Vec<TrialView>,
}

pub(crate) struct GridCell {
    pub href: String,
    pub outcome: String,
    pub class: String,
}

pub(crate) struct OutcomeRow {
    pub row: String,
    pub href: String,
    pub cells: Vec<GridCell>,
    pub why: String,
}

#[derive(Template)]
#[template(path = "case.html")]
pub(crate) struct CasePage {
    pub id: String,
    pub title: String,
    pub file: String,
    pub description: Vec<Paragraph>,
    pub notice: String,
    pub requirements: Vec<ReqView>,
    pub outcome_columns: Vec<String>,
    pub outcomes: Vec<OutcomeRow>,
    pub instances: Vec<InstanceView>,
    pub suite: String,
}

fn step_cells(trials: &[&TrialRecord], i: usize) -> Vec<StepCell> {
    trials
        .iter()
        .map(|t| {
            let label = format!("{} {}", t.target, t.ip);
            if t.failed_step == Some(i) {
                let (sym, what) = match t.outcome {
                    Outcome::Error => ("!", "harness or case error here"),
                    Outcome::ExpectedDeviation => ("✗", "failed here (documented deviation)"),
                    _ => ("✗", "failed here"),
                };
                StepCell {
                    sym,
                    class: outcome_class(Some(t.outcome)),
                    title: format!("{label}: {what}"),
                }
            } else if t.steps.iter().any(|s| s.step == i) {
                StepCell {
                    sym: "✓",
                    class: "o-pass".into(),
                    title: format!("{label}: done"),
                }
            } else {
                StepCell {
                    sym: "·",
                    class: "o-untested".into(),
                    title: format!("{label}: not reached"),
                }
            }
        })
        .collect()
}

/// The steps of an instance from the case file, or else from the records' summaries.
fn step_rows(inst: Option<&CaseInstance>, trials: &[&TrialRecord]) -> (Vec<StepRow>, bool) {
    let failed: BTreeSet<usize> = trials
        .iter()
        .filter(|t| matches!(t.outcome, Outcome::Fail | Outcome::Error))
        .filter_map(|t| t.failed_step)
        .collect();
    let row_class = |i: usize| {
        if failed.contains(&i) {
            "failed-step".to_owned()
        } else {
            String::new()
        }
    };
    if let Some(inst) = inst {
        let rows = inst
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepRow {
                n: i + 1,
                text: s.step.to_string(),
                origin: match (s.origin == inst.case_id, s.line) {
                    (true, Some(l)) => format!("line {l}"),
                    (true, None) => String::new(),
                    (false, Some(l)) => format!("{} line {l}", s.origin),
                    (false, None) => s.origin.clone(),
                },
                class: row_class(i),
                cells: step_cells(trials, i),
            })
            .collect();
        return (rows, false);
    }
    let mut known: BTreeMap<usize, (String, String)> = BTreeMap::new();
    for t in trials {
        for s in &t.steps {
            known.entry(s.step).or_insert_with(|| {
                (
                    s.summary.clone(),
                    match s.line {
                        Some(l) => format!("{} line {l}", s.origin),
                        None => s.origin.clone(),
                    },
                )
            });
        }
    }
    let last = known
        .keys()
        .copied()
        .chain(trials.iter().filter_map(|t| t.failed_step))
        .max();
    let rows = (0..last.map_or(0, |l| l + 1))
        .map(|i| {
            let (text, origin) = known
                .get(&i)
                .cloned()
                .unwrap_or_else(|| ("(not recorded)".into(), String::new()));
            StepRow {
                n: i + 1,
                text,
                origin,
                class: row_class(i),
                cells: step_cells(trials, i),
            }
        })
        .collect();
    (rows, true)
}

/// A paragraph of a case description.
pub(crate) struct Paragraph {
    pub text: String,
    /// Keep its line breaks (a list).
    pub lines: bool,
}

/// A description (markdown-ish free text) as paragraphs: blank lines separate them, lines
/// within one are joined, except in lists.
fn paragraphs(text: &str) -> Vec<Paragraph> {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines = p
                .lines()
                .all(|l| l.trim_start().starts_with(['-', '*']) || l.starts_with("  "));
            Paragraph {
                text: if lines {
                    p.to_owned()
                } else {
                    p.lines().map(str::trim).collect::<Vec<_>>().join(" ")
                },
                lines,
            }
        })
        .collect()
}

/// Builds one case's page. `files` has the loaded files of every trial, by trial name.
pub(crate) fn case_page(
    case_id: &str,
    trials: &[&TrialRecord],
    corpus: &Corpus,
    files: &mut BTreeMap<String, TrialFiles>,
    suite: &str,
) -> CasePage {
    let entry = corpus.case(case_id);
    let instances: &[CaseInstance] = match entry.map(|e| &e.result) {
        Some(Ok(v)) => v,
        _ => &[],
    };
    let notice = match entry {
        None => format!(
            "The case `{case_id}` is not in the case directory {}: the steps below are the ones \
             the trials recorded.",
            corpus.root.display()
        ),
        Some(CaseEntry { result: Err(e), .. }) => format!(
            "The case file no longer loads ({e}); the steps below are the ones the trials recorded."
        ),
        Some(_) => String::new(),
    };
    let first = instances.first();
    let rows_run: BTreeSet<Option<&str>> = trials.iter().map(|t| t.row.as_deref()).collect();
    // A table case's title differs per row: the page is named after the case.
    let title = if instances.len() > 1 || rows_run.len() > 1 {
        format!(
            "{case_id}: a table of {} rows",
            instances.len().max(rows_run.len())
        )
    } else {
        first
            .map(|i| i.title.clone())
            .or_else(|| trials.first().map(|t| t.title.clone()))
            .unwrap_or_default()
    };
    let mut req_ids: Vec<String> = Vec::new();
    for r in first
        .map(|i| i.requirements.iter())
        .into_iter()
        .flatten()
        .chain(trials.iter().flat_map(|t| t.requirements.iter()))
    {
        if !req_ids.contains(r) {
            req_ids.push(r.clone());
        }
    }
    let requirements = req_ids
        .iter()
        .map(|id| match corpus.catalog.get(id) {
            Some(r) => ReqView {
                id: id.clone(),
                level: r.level.to_string(),
                rfc: format!("RFC {}", r.rfc),
                rfc_href: rfc_href(r.rfc, &r.section),
                section: r.section.clone(),
                summary: r.summary.clone(),
                known: true,
            },
            None => ReqView {
                id: id.clone(),
                level: String::new(),
                rfc: String::new(),
                rfc_href: String::new(),
                section: String::new(),
                summary: "not in the requirement catalog".into(),
                known: false,
            },
        })
        .collect();

    // Instances in corpus order, then rows only the records know.
    let mut rows: Vec<Option<String>> = instances.iter().map(|i| i.row.clone()).collect();
    for t in trials {
        if !rows.contains(&t.row) {
            rows.push(t.row.clone());
        }
    }
    // The outcome grid: one line per row, one column per target and IP version.
    let mut columns: Vec<(&str, &str)> = Vec::new();
    for t in trials {
        if !columns.contains(&(t.target.as_str(), t.ip.as_str())) {
            columns.push((&t.target, &t.ip));
        }
    }
    let mut outcomes = Vec::new();
    let mut instance_views = Vec::new();
    for row in rows {
        let mine: Vec<&TrialRecord> = trials.iter().copied().filter(|t| t.row == row).collect();
        if mine.is_empty() {
            continue;
        }
        let inst = instances.iter().find(|i| i.row == row);
        let (steps, steps_from_record) = step_rows(inst, &mine);
        let row_name = row.clone().unwrap_or_default();
        let cell =
            |target: &str, ip: &str| match mine.iter().find(|t| t.target == target && t.ip == ip) {
                Some(t) => GridCell {
                    href: format!("#{}", anchor(&[&row_name, &t.target, &t.ip])),
                    outcome: outcome_label(Some(t.outcome)).into(),
                    class: outcome_class(Some(t.outcome)),
                },
                None => GridCell {
                    href: String::new(),
                    outcome: "not run".into(),
                    class: "o-untested".into(),
                },
            };
        outcomes.push(OutcomeRow {
            row: row_name.clone(),
            href: format!("#{}", anchor(&["row", &row_name])),
            cells: columns.iter().map(|(t, ip)| cell(t, ip)).collect(),
            why: mine
                .iter()
                .filter(|t| t.outcome != Outcome::Pass)
                .find_map(|t| {
                    let r = t.reason.as_deref()?;
                    Some(format!(
                        "{} {}: {}",
                        t.target,
                        t.ip,
                        failure::parse(r).headline
                    ))
                })
                .unwrap_or_default(),
        });
        let mut trial_views = Vec::new();
        for t in &mine {
            let a = anchor(&[&row_name, &t.target, &t.ip]);
            let f = files.remove(&t.name);
            let failure = failure::of_record(t);
            let (ladder, ladder_error, events_problem, pcap_href, events_href) = match f {
                Some(f) => {
                    let (l, e) = match f.ladder {
                        Ok(l) => (Some(l), String::new()),
                        Err(e) => (None, e),
                    };
                    (
                        l,
                        e,
                        f.events_problem.unwrap_or_default(),
                        f.pcap_href.map(|h| format!("../{h}")).unwrap_or_default(),
                        f.events_href.map(|h| format!("../{h}")).unwrap_or_default(),
                    )
                }
                None => (
                    None,
                    "the trial's files were not loaded".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                ),
            };
            trial_views.push(TrialView {
                anchor: a,
                name: t.name.clone(),
                label: format!("{} · {}", t.target, t.ip),
                outcome: outcome_label(Some(t.outcome)).into(),
                class: outcome_class(Some(t.outcome)),
                open: t.outcome != Outcome::Pass && t.outcome != Outcome::Skipped
                    || t.deviation.as_ref().is_some_and(|d| d.stale),
                duration: format!("{:.1} ms", t.duration_ms),
                failure,
                failed_step: t.failed_step.map_or(0, |s| s + 1),
                deviation_reason: t
                    .deviation
                    .as_ref()
                    .map(|d| d.reason.clone())
                    .unwrap_or_default(),
                deviation_requirements: t
                    .deviation
                    .as_ref()
                    .map(|d| d.requirements.join(", "))
                    .unwrap_or_default(),
                deviation_stale: t.deviation.as_ref().is_some_and(|d| d.stale),
                violations: t
                    .violations
                    .iter()
                    .map(|v| {
                        format!(
                            "frame {}: {}{}: {}",
                            v.frame,
                            v.rule,
                            v.requirement
                                .as_ref()
                                .map(|r| format!(" ({r})"))
                                .unwrap_or_default(),
                            v.message
                        )
                    })
                    .collect(),
                ladder,
                ladder_error,
                events_problem,
                pcap_href,
                events_href,
            });
        }
        instance_views.push(InstanceView {
            anchor: anchor(&["row", &row_name]),
            title: mine.first().map(|t| t.title.clone()).unwrap_or_default(),
            columns: mine
                .iter()
                .map(|t| format!("{} {}", t.target, t.ip))
                .collect(),
            row: row_name,
            steps,
            steps_from_record,
            trials: trial_views,
        });
    }
    CasePage {
        id: case_id.to_owned(),
        title,
        file: trials
            .first()
            .map(|t| t.case_file.clone())
            .unwrap_or_default(),
        description: first
            .and_then(|i| i.description.as_deref())
            .map(paragraphs)
            .unwrap_or_default(),
        notice,
        requirements,
        outcome_columns: columns
            .iter()
            .map(|(target, ip)| format!("{target} {ip}"))
            .collect(),
        outcomes,
        instances: instance_views,
        suite: suite.to_owned(),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_reference_stacks_statement_marks_what_it_does_not_implement() {
        // IP source routing: the stack has no IP options API (compliance.yaml says why).
        let why =
            reference_not_implemented("MUST-51").expect("MUST-51 is declared not implemented");
        assert!(why.starts_with("declared not implemented: "), "{why}");
        assert!(why.len() > "declared not implemented: ".len() + 10, "{why}");
        assert_eq!(reference_not_implemented("MUST-2"), None);
        assert_eq!(reference_not_implemented("NO-SUCH-ID"), None);
    }

    #[test]
    fn case_page_names_and_anchors_are_flat_and_safe() {
        assert_eq!(
            case_page_name("handshake/passive-open"),
            "handshake__passive-open.html"
        );
        assert_eq!(case_page_name("a b/c#d"), "a_b__c_d.html");
        assert_eq!(anchor(&["", "kernel", "ipv4"]), "kernel--ipv4");
        assert_eq!(
            anchor(&["syn-fin", "kernel", "ipv6"]),
            "syn-fin--kernel--ipv6"
        );
        assert_eq!(href_path("pcap/a b#c.pcap"), "pcap/a%20b%23c.pcap");
    }

    #[test]
    fn descriptions_become_paragraphs() {
        let p = paragraphs("One line\nand the next.\n\n- a\n- b\n");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].text, "One line and the next.");
        assert!(!p[0].lines);
        assert_eq!(p[1].text, "- a\n- b");
        assert!(p[1].lines);
    }
}
