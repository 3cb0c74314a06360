//! The report of a real run, checked in headless Chromium.
//!
//! Once per test binary: a temporary corpus is made of the real catalog and preludes, a few real
//! cases, two test-only cases with a deliberately wrong expectation (one failing, one documented
//! as a deviation) and a test profile whose deviations include a stale one; the suite runs it for
//! real against the kernel (this needs root, as the suite does), and the report is rendered.
//! Each test then opens pages in Chromium through the DevTools protocol (`cdp`) and checks them.
//!
//! Everything is kept under `target/report-artifacts/` of the workspace, for CI to collect:
//! `work/` (the corpus and the run, with `results.json`, `junit.xml` and the captures),
//! `report/` (the rendered report), and `index.png` and `case.png` (screenshots of the index
//! and of the failing case's page).
//!
//! Chromium is Debian's `chromium` package (`/usr/bin/chromium`); without it these tests fail
//! and say how to install it.

mod cdp;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use conformance::case::Catalog;
use conformance::results::{Outcome, Results, TrialRecord};
use conformance::suite::{SuiteConfig, workspace_root};
use serde_json::Value;

use cdp::Browser;

/// The failing case, written out in full so it does not depend on other cases staying as they
/// are: the seed data exchange, expecting the DUT to acknowledge 1024 bytes where it
/// acknowledges 1025.
const WRONG_ACK: &str = r#"
title: "Test-only: a deliberately wrong expectation, ack @ACK@ where the DUT acknowledges 1025"
requirements: [@REQ@]
description: |
  Written by the reports crate's browser test: it must fail, and its page must show the ladder
  with step 8 marked and the expected and observed acknowledgement numbers.
dut:
  role: passive
tester:
  window: 5000
tolerate:
  - {flags: A, seq: 1, ack: 513, len: 0}
steps:
  - call: listen
  - inject: {flags: S, seq: 0, options: [{mss: 1460}]}
  - expect: {flags: SA, seq: 0, ack: 1}
  - inject: {flags: A, seq: 1, ack: 1}
  - call: accept
  - inject: {flags: A, seq: 1, ack: 1, data: 512}
  - inject: {flags: PA, seq: 513, ack: 1, data: 512}
  - expect: {flags: A, seq: 1, ack: @ACK@, len: 0}
  - call: {recv: 1024}
"#;

/// The test profile: Linux defaults, one deviation that happens, one that no longer does (the
/// kernel passes `handshake/passive-open`) and one that matches no case.
const PROFILE: &str = r#"
description: Linux TCP with its defaults (the reports browser test's profile).
target: kernel
deviations:
  - case: test/deviating
    requirements: [@REQ@]
    reason: "test-only: a wrong expectation documented as a deviation"
  - case: handshake/passive-open
    ip: [ipv6]
    reason: "test-only: listed although the kernel passes it, so it is stale"
  - case: nothing/matches-this
    reason: "test-only: a deviation whose case does not exist"
"#;

/// Real cases copied into the corpus (those that exist).
const REAL_CASES: [&str; 3] = [
    "handshake/passive-open.yaml",
    "rst/closed-port.yaml",
    "data/seed-transfer.yaml",
];

struct Fixture {
    report: PathBuf,
    results: Results,
    catalog: Catalog,
    artifacts: PathBuf,
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dst = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dst)?;
        } else {
            std::fs::copy(e.path(), dst)?;
        }
    }
    Ok(())
}

fn build() -> Result<Fixture, String> {
    harness::privilege::ensure().map_err(|e| {
        format!("the browser test runs the suite for real and needs its privileges: {e}")
    })?;
    let root = workspace_root();
    // Everything goes under the artefacts: the corpus, the run and its report.
    let artifacts = root.join("target/report-artifacts");
    let work = artifacts.join("work");
    let _ = std::fs::remove_dir_all(&work);
    let cases = work.join("cases");
    let io = |e: std::io::Error| e.to_string();
    for dir in ["requirements", "preludes"] {
        copy_dir(&root.join("cases").join(dir), &cases.join(dir)).map_err(io)?;
    }
    let catalog = Catalog::load(&cases.join("requirements")).map_err(|e| e.to_string())?;
    // The failing case cites a real requirement about acknowledging data.
    let req = ["RFC9293-3.10.7.4-data-ack", "MUST-2"]
        .into_iter()
        .find(|id| catalog.contains(id))
        .ok_or("the catalog has neither RFC9293-3.10.7.4-data-ack nor MUST-2")?;
    std::fs::create_dir_all(cases.join("profiles")).map_err(io)?;
    std::fs::write(
        cases.join("profiles/kernel.yaml"),
        PROFILE.replace("@REQ@", req),
    )
    .map_err(io)?;
    std::fs::create_dir_all(cases.join("test")).map_err(io)?;
    for (name, ack) in [("wrong-ack", "1024"), ("deviating", "1023")] {
        std::fs::write(
            cases.join(format!("test/{name}.yaml")),
            WRONG_ACK.replace("@REQ@", req).replace("@ACK@", ack),
        )
        .map_err(io)?;
    }
    let mut copied = 0;
    for case in REAL_CASES {
        let src = root.join("cases").join(case);
        if src.exists() {
            let dst = cases.join(case);
            std::fs::create_dir_all(dst.parent().unwrap()).map_err(io)?;
            std::fs::copy(src, dst).map_err(io)?;
            copied += 1;
        }
    }
    if copied == 0 {
        return Err(format!("none of {REAL_CASES:?} is in the corpus any more"));
    }

    let run = work.join("run");
    let cfg = SuiteConfig {
        cases_dir: cases.clone(),
        out_dir: run.clone(),
        targets: None,
        ips: None,
        shard: None,
    };
    // The suite's own test output goes to a file: its failures are this test's fixtures.
    let args = libtest_mimic::Arguments {
        test_threads: Some(1),
        logfile: Some(work.join("suite.log").display().to_string()),
        ..Default::default()
    };
    // Exits non-zero: the failing case fails, and the stale deviation counts as a failure.
    let _ = conformance::suite::run(&cfg, &args);
    let results_path = run.join("results.json");
    let results = reports::read_results(&results_path).map_err(|e| e.to_string())?;

    let report = artifacts.join("report");
    let summary =
        reports::render(&results_path, &cases, &report).map_err(|e| format!("render: {e}"))?;
    if !summary.problems.is_empty() {
        return Err(format!(
            "rendering a clean run reported problems: {:?}",
            summary.problems
        ));
    }
    Ok(Fixture {
        report,
        results,
        catalog,
        artifacts,
    })
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Result<Fixture, String>> = OnceLock::new();
    FIXTURE
        .get_or_init(build)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn browser() -> Browser {
    Browser::launch().unwrap_or_else(|e| panic!("{e}"))
}

/// Opens a page of the report and checks it loads cleanly: no console error, no exception, no
/// request that is not `file:` or `data:`.
fn open(b: &mut Browser, page: &Path) {
    let url = format!("file://{}", page.display());
    b.navigate(&url).unwrap();
    let errors = b.errors();
    assert!(
        errors.is_empty(),
        "{}: console errors: {errors:#?}",
        page.display()
    );
    let external = b.external_requests();
    assert!(
        external.is_empty(),
        "{}: external requests: {external:#?}",
        page.display()
    );
}

fn eval(b: &mut Browser, js: &str) -> Value {
    b.eval(js).unwrap()
}

fn trial<'a>(f: &'a Fixture, case: &str) -> &'a TrialRecord {
    f.results
        .trials
        .iter()
        .find(|t| t.case == case)
        .unwrap_or_else(|| panic!("no trial of {case} in the run"))
}

#[test]
fn index_loads_cleanly_with_a_matrix_row_per_requirement() {
    let f = fixture();
    let mut b = browser();
    let index = f.report.join("index.html");
    open(&mut b, &index);

    let ids: Vec<String> = serde_json::from_value(eval(
        &mut b,
        "[...document.querySelectorAll('table.matrix tr[data-req]')].map(r => r.dataset.req)",
    ))
    .unwrap();
    let catalog: BTreeSet<&str> = f.catalog.requirements.keys().map(String::as_str).collect();
    assert_eq!(ids.len(), catalog.len(), "one row per catalog requirement");
    assert_eq!(
        ids.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        catalog
    );
    // Untested requirements are shown as such.
    let untested = eval(
        &mut b,
        "document.querySelectorAll('table.matrix tr.untested td.cell[data-outcome=\"untested\"]').length",
    );
    assert!(untested.as_u64().unwrap() > 0);

    // The summary counts what the run counted, per target and IP version.
    for ip in ["ipv4", "ipv6"] {
        let fails = f
            .results
            .trials
            .iter()
            .filter(|t| t.ip == ip && t.outcome == Outcome::Fail)
            .count();
        let shown = eval(
            &mut b,
            &format!(
                "document.querySelector('[data-target=\"kernel\"] tr[data-ip=\"{ip}\"] td[data-outcome=\"fail\"]').textContent"
            ),
        );
        assert_eq!(shown, Value::String(fails.to_string()));
    }
    // Coverage figures are stated.
    let wire = eval(
        &mut b,
        "document.querySelector('[data-coverage=\"wire-must\"]').textContent",
    );
    assert!(
        wire.as_str()
            .unwrap()
            .contains("wire-testable MUSTs covered"),
        "{wire}"
    );

    // Every link inside the report leads to a file of the report.
    let links: Vec<String> = serde_json::from_value(eval(
        &mut b,
        "[...document.querySelectorAll('a[href]')].map(a => a.href).filter(h => h.startsWith('file:'))",
    ))
    .unwrap();
    assert!(links.len() > 10);
    for l in links {
        let path = l.trim_start_matches("file://");
        let path = path.split('#').next().unwrap().replace("%20", " ");
        assert!(Path::new(&path).exists(), "broken link {l}");
    }
    b.screenshot(&f.artifacts.join("index.png"), 2400.0)
        .unwrap();
}

#[test]
fn a_failing_case_is_failed_in_the_matrix() {
    let f = fixture();
    let failing = trial(f, "test/wrong-ack");
    assert_eq!(failing.outcome, Outcome::Fail, "{:?}", failing.reason);
    let req = &failing.requirements[0];
    let mut b = browser();
    open(&mut b, &f.report.join("index.html"));
    let cell = eval(
        &mut b,
        &format!("document.querySelector('tr[data-req=\"{req}\"] td.cell').dataset.outcome"),
    );
    assert_eq!(cell, "fail");
    let link_class = eval(
        &mut b,
        &format!(
            "document.querySelector('tr[data-req=\"{req}\"] td.cases a[href=\"cases/test__wrong-ack.html\"]').className"
        ),
    );
    assert_eq!(link_class, "o-fail");
    let attention = eval(&mut b, "document.querySelector('#attention').textContent");
    assert!(
        attention
            .as_str()
            .unwrap()
            .contains("test/wrong-ack::kernel::ipv4")
    );
}

#[test]
fn a_failing_case_page_shows_its_ladder_with_the_failing_step_and_expected_vs_observed() {
    let f = fixture();
    let failing = trial(f, "test/wrong-ack");
    let step = failing.failed_step.expect("the failing step") + 1;
    let mut b = browser();
    open(&mut b, &f.report.join("cases/test__wrong-ack.html"));

    // One ladder per trial (IPv4 and IPv6), each marking the failing step on its failing frame.
    let ladders = eval(&mut b, "document.querySelectorAll('svg.ladder').length");
    let trials = f
        .results
        .trials
        .iter()
        .filter(|t| t.case == "test/wrong-ack")
        .count();
    assert_eq!(ladders.as_u64(), Some(trials as u64));
    let marked = eval(
        &mut b,
        &format!(
            "[...document.querySelectorAll('svg.ladder g.failed[data-failed-step=\"{step}\"]')].map(g => g.querySelector('text.mark').textContent)"
        ),
    );
    assert_eq!(
        marked.as_array().map(Vec::len),
        Some(trials),
        "a failing frame per ladder: {marked}"
    );
    assert!(
        marked[0]
            .as_str()
            .unwrap()
            .contains(&format!("step {step} failed"))
    );
    let label = eval(
        &mut b,
        "document.querySelector('svg.ladder g.failed text.label').textContent",
    );
    assert!(label.as_str().unwrap().contains("ack=1025"), "{label}");
    // The ladder is visible: the failing trial's section is open.
    let height = eval(
        &mut b,
        "document.querySelector('svg.ladder').getBoundingClientRect().height",
    );
    assert!(height.as_f64().unwrap() > 100.0);

    // Expected against observed, field by field.
    let rows: Vec<Vec<String>> = serde_json::from_value(eval(
        &mut b,
        "[...document.querySelectorAll('table.mismatch.fields tbody tr')].map(r => [...r.cells].map(c => c.textContent))",
    ))
    .unwrap();
    assert!(
        rows.contains(&vec!["ack".into(), "1024".into(), "1025".into()]),
        "{rows:?}"
    );
    // The step is marked failed in the steps table.
    let step_row = eval(
        &mut b,
        &format!("document.querySelector('table.steps tr[data-step=\"{step}\"]').className"),
    );
    assert_eq!(step_row, "failed-step");
    // The capture can be downloaded.
    let pcap = eval(
        &mut b,
        "document.querySelector('a[download][href$=\".pcap\"]').href",
    );
    let pcap = pcap
        .as_str()
        .unwrap()
        .trim_start_matches("file://")
        .to_owned();
    assert!(harness::pcap::read(Path::new(&pcap)).is_ok(), "{pcap}");
    b.screenshot(&f.artifacts.join("case.png"), 3200.0).unwrap();
}

#[test]
fn deviations_show_their_reasons_and_stale_ones_are_flagged() {
    let f = fixture();
    assert_eq!(
        trial(f, "test/deviating").outcome,
        Outcome::ExpectedDeviation
    );
    let mut b = browser();
    open(&mut b, &f.report.join("index.html"));
    let rows: Vec<Vec<String>> = serde_json::from_value(eval(
        &mut b,
        "[...document.querySelectorAll('table.deviations tbody tr')].map(r => [...r.cells].map(c => c.textContent.trim()))",
    ))
    .unwrap();
    let row = |case: &str| {
        rows.iter()
            .find(|r| r[1].starts_with(case))
            .unwrap_or_else(|| panic!("no deviation row for {case}: {rows:?}"))
    };
    let happens = row("test/deviating");
    assert!(happens[3].contains("a wrong expectation documented as a deviation"));
    assert!(happens[4].starts_with("happens"), "{happens:?}");
    let stale = row("handshake/passive-open");
    assert!(
        stale[4].starts_with("stale: no longer happens"),
        "{stale:?}"
    );
    let nowhere = row("nothing/matches-this");
    assert!(
        nowhere[4].starts_with("stale: matches no case"),
        "{nowhere:?}"
    );
    let attention = eval(&mut b, "document.querySelector('#attention').textContent");
    assert!(
        attention.as_str().unwrap().contains("stale deviation"),
        "{attention}"
    );
    // The deviating case's page gives the documented reason next to the failure.
    open(&mut b, &f.report.join("cases/test__deviating.html"));
    let reason = eval(&mut b, "document.querySelector('p.deviation').textContent");
    assert!(
        reason.as_str().unwrap().contains("Documented deviation"),
        "{reason}"
    );
}

#[test]
fn every_case_page_loads_cleanly() {
    let f = fixture();
    let mut b = browser();
    let mut pages: Vec<PathBuf> = std::fs::read_dir(f.report.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    let cases: BTreeSet<&str> = f.results.trials.iter().map(|t| t.case.as_str()).collect();
    assert_eq!(pages.len(), cases.len(), "a page per case");
    for page in pages {
        open(&mut b, &page);
        let ladders = eval(&mut b, "document.querySelectorAll('svg.ladder').length");
        assert!(ladders.as_u64().unwrap() > 0, "{}", page.display());
    }
}
