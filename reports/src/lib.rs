//! tcp-conformance reports: a run's `results.json`, the case corpus and the captures, rendered
//! into a static, self-contained HTML site, plus JUnit XML for CI systems.
//!
//! ```text
//! results.json + cases/ + trials/**.pcap, *.events.jsonl
//!   --render--> out/index.html        summary per target and IP version, what needs attention,
//!                                     coverage, deviations, the requirement matrix, the cases
//!               out/cases/*.html      per case: requirements, steps, outcome per trial, the
//!                                     ladder diagram of every capture
//!               out/pcap/trials/**    copies of the captures and event logs, linked from the pages
//!   results dir/junit.xml
//! ```
//!
//! The site needs no network and no JavaScript: one stylesheet inlined in every page, inline
//! SVG, and a Content-Security-Policy that forbids loading anything. The output directory can be
//! moved or zipped as a whole.
//!
//! Each capture is parsed once; templates are compiled into the binary ([askama]), so a report
//! of a few thousand trials takes well under a second per hundred trials.
//!
//! A damaged run still gives a report: an unreadable capture puts its error where the ladder
//! would be, and a trial of a case that is not (or no longer) in the corpus gets a page built
//! from its record. Those problems are listed on the index and returned in [`RenderSummary`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use askama::Template;
use conformance::case::{self, LoadError};
use conformance::results::{Results, SCHEMA_VERSION, TrialRecord};

mod failure;
pub mod junit;
pub mod ladder;
pub mod matrix;
mod site;
#[doc(hidden)]
pub mod synthetic;

pub use junit::junit;
pub use site::case_page_name;

/// Why a report could not be made, or what is wrong with part of one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// `results.json` could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ResultsUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `results.json` is not a results file.
    #[error("{}:{line}:{column}: not a tcp-conformance results file: {message}", path.display())]
    ResultsMalformed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The results file is of another schema version (the report is made anyway).
    #[error(
        "{}: schema version {found}, this report understands {SCHEMA_VERSION}; some fields may be missing",
        path.display()
    )]
    Schema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// The case corpus (catalog, preludes, profiles) does not load.
    #[error("cannot load the case corpus: {0}")]
    Cases(#[from] LoadError),
    /// A trial's capture could not be read; its page shows this in place of the ladder.
    #[error("trial {trial}: cannot draw its ladder: {message}")]
    Capture {
        /// The trial's name.
        trial: String,
        /// What went wrong.
        message: String,
    },
    /// A trial's DUT event log could not be used; its ladder shows raw tester numbers.
    #[error("trial {trial}: {message}")]
    EventLog {
        /// The trial's name.
        trial: String,
        /// What went wrong.
        message: String,
    },
    /// A trial names a case the corpus does not have; its page is built from the record.
    #[error("trial {trial}: case `{case}` is not in {}; its page shows the recorded steps", cases_dir.display())]
    UnknownCase {
        /// The trial's name.
        trial: String,
        /// The case id.
        case: String,
        /// The corpus.
        cases_dir: PathBuf,
    },
    /// A file of the report could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A page failed to render.
    #[error("cannot render {page}: {source}")]
    Template {
        /// The page.
        page: String,
        /// Why.
        source: askama::Error,
    },
}

/// What [`render`] made.
#[derive(Debug)]
#[non_exhaustive]
pub struct RenderSummary {
    /// `out_dir/index.html`.
    pub index: PathBuf,
    /// `junit.xml` next to `results.json`.
    pub junit: PathBuf,
    /// Case pages written.
    pub case_pages: usize,
    /// Trials in the run.
    pub trials: usize,
    /// Problems that did not stop the report (each is shown on its page and on the index).
    pub problems: Vec<ReportError>,
}

/// Reads `results.json`; errors name the file, and the line and column of a parse error.
pub fn read_results(path: &Path) -> Result<Results, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::ResultsUnreadable {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ReportError::ResultsMalformed {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// Marks a directory as a report this crate wrote, so that rendering again may clear its old
/// case pages and captures (and never anything else).
const MARKER: &str = ".tcp-conformance-report";

fn write(path: &Path, contents: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, contents).map_err(|source| ReportError::Write {
        path: path.to_owned(),
        source,
    })
}

fn mkdir(path: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(path).map_err(|source| ReportError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Renders the report of the run at `results_path` (its captures are found relative to its
/// directory) against the corpus at `cases_dir` into `out_dir`, and writes `junit.xml` next to
/// `results.json`.
pub fn render(
    results_path: &Path,
    cases_dir: &Path,
    out_dir: &Path,
) -> Result<RenderSummary, ReportError> {
    let results = read_results(results_path)?;
    let corpus = case::load_corpus(cases_dir)?;
    let results_dir = results_path.parent().unwrap_or_else(|| Path::new("."));
    let mut problems = Vec::new();
    if results.run.schema != SCHEMA_VERSION {
        problems.push(ReportError::Schema {
            path: results_path.to_owned(),
            found: results.run.schema,
        });
    }

    // A directory this crate wrote before: clear its old pages and captures.
    if out_dir.join(MARKER).exists() {
        for sub in ["cases", "pcap"] {
            let p = out_dir.join(sub);
            if p.is_dir() {
                std::fs::remove_dir_all(&p).map_err(|source| ReportError::Write {
                    path: p.clone(),
                    source,
                })?;
            }
        }
    }
    mkdir(&out_dir.join("cases"))?;
    write(
        &out_dir.join(MARKER),
        b"Written by tcp-conformance `report`; rendering again replaces cases/ and pcap/ here.\n",
    )?;

    // Every capture once.
    let mut files = BTreeMap::new();
    for t in &results.trials {
        let f = site::load_trial(t, results_dir, out_dir);
        if let Err(message) = &f.ladder
            && t.pcap.is_some()
        {
            problems.push(ReportError::Capture {
                trial: t.name.clone(),
                message: message.clone(),
            });
        }
        if let Some(message) = &f.events_problem {
            problems.push(ReportError::EventLog {
                trial: t.name.clone(),
                message: message.clone(),
            });
        }
        files.insert(t.name.clone(), f);
    }

    let mut by_case: BTreeMap<&str, Vec<&TrialRecord>> = BTreeMap::new();
    for t in &results.trials {
        by_case.entry(t.case.as_str()).or_default().push(t);
    }
    for (case_id, trials) in &by_case {
        if corpus.case(case_id).is_none() {
            for t in trials {
                problems.push(ReportError::UnknownCase {
                    trial: t.name.clone(),
                    case: (*case_id).to_owned(),
                    cases_dir: cases_dir.to_owned(),
                });
            }
        }
    }
    let mut case_pages = 0;
    let mut buf = String::new();
    for (case_id, trials) in &by_case {
        let page = site::case_page(case_id, trials, &corpus, &mut files, &results.run.suite);
        buf.clear();
        page.render_into(&mut buf)
            .map_err(|source| ReportError::Template {
                page: format!("the page of case {case_id}"),
                source,
            })?;
        write(
            &out_dir.join("cases").join(case_page_name(case_id)),
            buf.as_bytes(),
        )?;
        case_pages += 1;
    }

    let targets = site::targets_of(&results);
    let matrix = matrix::build(&corpus.catalog, &results.trials, &targets);
    let index = site::index_page(
        &results,
        &corpus,
        &matrix,
        problems.iter().map(ToString::to_string).collect(),
    );
    buf.clear();
    index
        .render_into(&mut buf)
        .map_err(|source| ReportError::Template {
            page: "the index".into(),
            source,
        })?;
    let index_path = out_dir.join("index.html");
    write(&index_path, buf.as_bytes())?;

    let junit_path = results_dir.join("junit.xml");
    write(&junit_path, junit(&results).as_bytes())?;

    Ok(RenderSummary {
        index: index_path,
        junit: junit_path,
        case_pages,
        trials: results.trials.len(),
        problems,
    })
}

#[cfg(test)]
mod test {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("tcpc-report-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    fn cases_dir() -> PathBuf {
        conformance::suite::workspace_root().join("cases")
    }

    #[test]
    fn renders_a_synthetic_run_with_a_broken_capture() {
        let dir = tmp("synthetic");
        let results = synthetic::write_run(&dir.join("run"), 8, 4).unwrap();
        // One capture cut short: its page must still render, with the error in its place.
        let broken = dir.join("run/trials/synthetic/case-0000/kernel-ipv6.pcap");
        let bytes = std::fs::read(&broken).unwrap();
        std::fs::write(&broken, &bytes[..bytes.len() - 5]).unwrap();
        let out = dir.join("report");
        let summary = render(&results, &cases_dir(), &out).unwrap();
        assert_eq!(summary.trials, 8);
        assert_eq!(summary.case_pages, 2);
        assert!(summary.junit.ends_with("run/junit.xml") && summary.junit.exists());
        assert!(summary.problems.iter().any(|p| matches!(
            p, ReportError::Capture { trial, .. } if trial == "synthetic/case-0000::kernel::ipv6"
        )));
        assert!(
            summary
                .problems
                .iter()
                .any(|p| matches!(p, ReportError::UnknownCase { .. }))
        );
        let index = std::fs::read_to_string(&summary.index).unwrap();
        assert!(index.contains("synthetic/case-0000::reference::ipv6"));
        let page = std::fs::read_to_string(out.join("cases/synthetic__case-0000.html")).unwrap();
        assert!(
            page.contains("truncated record"),
            "the capture error is shown"
        );
        assert!(
            page.contains("data-failed-step=\"8\""),
            "the failing step is marked"
        );
        assert!(page.contains("<svg class=\"ladder\""));
        assert!(page.contains("../pcap/trials/synthetic/case-0000/kernel-ipv4.pcap"));
        assert!(
            out.join("pcap/trials/synthetic/case-0000/kernel-ipv4.pcap")
                .exists()
        );
        // Rendering again into the same directory replaces the old pages.
        std::fs::write(out.join("cases/old.html"), "old").unwrap();
        render(&results, &cases_dir(), &out).unwrap();
        assert!(!out.join("cases/old.html").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn malformed_results_name_line_and_column() {
        let dir = tmp("malformed");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("results.json");
        std::fs::write(&path, "{\n  \"run\": {\n    \"suite\": 7\n").unwrap();
        let err = render(&path, &cases_dir(), &dir.join("out")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{}:3:", path.display())), "{msg}");
        assert!(msg.contains("not a tcp-conformance results file"), "{msg}");
        let missing = render(&dir.join("nope.json"), &cases_dir(), &dir.join("out")).unwrap_err();
        assert!(matches!(missing, ReportError::ResultsUnreadable { .. }));
        assert!(missing.to_string().contains("nope.json"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn user_text_is_escaped() {
        let dir = tmp("escape");
        let results = synthetic::write_run(&dir.join("run"), 4, 0).unwrap();
        let mut r = read_results(&results).unwrap();
        r.trials[0].title = "<script>alert(1)</script>".into();
        r.trials[0].outcome = conformance::results::Outcome::Fail;
        r.trials[0].reason = Some("step 1 (x, y): field a: expected <b>, observed \"&\"".into());
        r.write(&results).unwrap();
        let out = dir.join("report");
        render(&results, &cases_dir(), &out).unwrap();
        for page in [
            out.join("index.html"),
            out.join("cases/synthetic__case-0000.html"),
        ] {
            let html = std::fs::read_to_string(&page).unwrap();
            assert!(!html.contains("<script"), "{}", page.display());
            assert!(!html.contains("<b>"), "{}", page.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
