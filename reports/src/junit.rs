//! JUnit XML for CI systems, written next to `results.json`.
//!
//! One `<testsuite>` per target and IP version (`kernel ipv4`), one `<testcase>` per trial named
//! by its case (and row). Outcomes map the way the `conformance` test binary reports them:
//! fail is a `<failure>`, error an `<error>`, skipped and expected-deviation are `<skipped>`
//! with the reason, and a pass whose profile still lists a deviation is a `<failure>` (the list
//! must be updated). Case files that failed to load are `<error>`s of a `case loading` suite.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use conformance::results::{Outcome, Results, TrialRecord};

/// Text safe for XML content and attribute values: escaped, and without the control characters
/// XML 1.0 forbids.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Like [`escape`], keeping line breaks as they are (for element content).
fn escape_text(text: &str) -> String {
    escape(text).replace("&#10;", "\n")
}

enum Verdict {
    Passed,
    Failure { kind: &'static str, message: String },
    Error(String),
    Skipped(String),
}

fn verdict(t: &TrialRecord) -> Verdict {
    let reason = || t.reason.clone().unwrap_or_default();
    match t.outcome {
        Outcome::Pass => match &t.deviation {
            Some(d) if d.stale => Verdict::Failure {
                kind: "stale-deviation",
                message: format!(
                    "passes, but its profile lists it as a deviation ({}): remove the stale entry",
                    d.reason
                ),
            },
            _ => Verdict::Passed,
        },
        Outcome::Fail => Verdict::Failure {
            kind: "fail",
            message: t.reason.clone().unwrap_or_else(|| "failed".into()),
        },
        Outcome::Error => {
            Verdict::Error(t.reason.clone().unwrap_or_else(|| "harness error".into()))
        }
        Outcome::Skipped => Verdict::Skipped(reason()),
        Outcome::ExpectedDeviation => Verdict::Skipped(match &t.deviation {
            Some(d) => format!(
                "expected deviation ({}): {}",
                d.requirements.join(", "),
                d.reason
            ),
            None => "expected deviation".into(),
        }),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The test name of a trial: its name without target and IP version (`case::row`).
fn case_name(t: &TrialRecord) -> String {
    match &t.row {
        Some(row) => format!("{}::{row}", t.case),
        None => t.case.clone(),
    }
}

/// The whole JUnit XML document of a run.
pub fn junit(results: &Results) -> String {
    let mut suites: BTreeMap<(usize, &str, &str), Vec<&TrialRecord>> = BTreeMap::new();
    let order = |target: &str| {
        results
            .run
            .targets
            .iter()
            .position(|t| t.name == target)
            .unwrap_or(usize::MAX)
    };
    for t in &results.trials {
        suites
            .entry((order(&t.target), t.target.as_str(), t.ip.as_str()))
            .or_default()
            .push(t);
    }
    let count = |ts: &[&TrialRecord]| {
        let (mut failures, mut errors, mut skipped) = (0, 0, 0);
        for t in ts {
            match verdict(t) {
                Verdict::Passed => {}
                Verdict::Failure { .. } => failures += 1,
                Verdict::Error(_) => errors += 1,
                Verdict::Skipped(_) => skipped += 1,
            }
        }
        (failures, errors, skipped)
    };
    let load_errors = &results.run.load_errors;
    let (f, e, s) = count(&results.trials.iter().collect::<Vec<_>>());
    let total_time: f64 = results.trials.iter().map(|t| t.duration_ms).sum::<f64>() / 1e3;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{}\" skipped=\"{s}\" time=\"{total_time:.3}\" timestamp=\"{}\">",
        escape(&results.run.suite),
        results.trials.len() + load_errors.len(),
        e + load_errors.len(),
        escape(&results.run.started),
    );
    if !load_errors.is_empty() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"case loading\" tests=\"{n}\" failures=\"0\" errors=\"{n}\" skipped=\"0\" time=\"0\">",
            n = load_errors.len()
        );
        for (id, msg) in load_errors {
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"tcp-conformance.load\" time=\"0\">\n      <error type=\"load\" message=\"{}\">{}</error>\n    </testcase>",
                escape(id),
                escape(first_line(msg)),
                escape_text(msg)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    for ((_, target, ip), trials) in &suites {
        let (f, e, s) = count(trials);
        let time: f64 = trials.iter().map(|t| t.duration_ms).sum::<f64>() / 1e3;
        let _ = writeln!(
            out,
            "  <testsuite name=\"{} {}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{s}\" time=\"{time:.3}\" timestamp=\"{}\" hostname=\"{}\">",
            escape(target),
            escape(ip),
            trials.len(),
            escape(&results.run.started),
            escape(&results.run.host),
        );
        let _ = writeln!(
            out,
            "    <properties>\n      <property name=\"suite\" value=\"{}\"/>\n      <property name=\"kernel\" value=\"{}\"/>\n      <property name=\"target\" value=\"{}\"/>\n      <property name=\"ip\" value=\"{}\"/>\n    </properties>",
            escape(&results.run.suite),
            escape(&results.run.kernel),
            escape(target),
            escape(ip),
        );
        for t in trials {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"tcp-conformance.{}.{}\" time=\"{:.3}\" file=\"{}\">",
                escape(&case_name(t)),
                escape(target),
                escape(ip),
                t.duration_ms / 1e3,
                escape(&t.case_file),
            );
            match verdict(t) {
                Verdict::Passed => {}
                Verdict::Failure { kind, message } => {
                    let _ = write!(
                        out,
                        "\n      <failure type=\"{kind}\" message=\"{}\">{}</failure>",
                        escape(first_line(&message)),
                        escape_text(&message)
                    );
                }
                Verdict::Error(message) => {
                    let _ = write!(
                        out,
                        "\n      <error type=\"error\" message=\"{}\">{}</error>",
                        escape(first_line(&message)),
                        escape_text(&message)
                    );
                }
                Verdict::Skipped(message) => {
                    let _ = write!(out, "\n      <skipped message=\"{}\"/>", escape(&message));
                }
            }
            let mut system_out = format!("requirements: {}", t.requirements.join(", "));
            if let Some(p) = &t.pcap {
                let _ = write!(system_out, "\ncapture: {p}");
            }
            let _ = write!(
                out,
                "\n      <system-out>{}</system-out>\n    </testcase>\n",
                escape_text(&system_out)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::synthetic;
    use conformance::results::DeviationNote;

    fn results() -> Results {
        let path = std::env::temp_dir().join(format!("tcpc-junit-{}", std::process::id()));
        let results_path = synthetic::write_run(&path, 8, 4).unwrap();
        let mut r: Results =
            serde_json::from_str(&std::fs::read_to_string(&results_path).unwrap()).unwrap();
        std::fs::remove_dir_all(&path).unwrap();
        r.trials[0].outcome = Outcome::Error;
        r.trials[0].reason = Some("harness error: <veth> & \"friends\"\u{1}\nsecond line".into());
        r.trials[2].outcome = Outcome::Skipped;
        r.trials[2].reason = Some("no IPv6 here".into());
        r.trials[4].outcome = Outcome::ExpectedDeviation;
        r.trials[4].deviation = Some(DeviationNote {
            requirements: vec!["MUST-2".into()],
            reason: "it's known".into(),
            stale: false,
        });
        r.trials[5].deviation = Some(DeviationNote {
            requirements: vec![],
            reason: "old".into(),
            stale: true,
        });
        r.run.load_errors = vec![("broken/x".into(), "x.yaml:3:4: unknown field `foo`".into())];
        r
    }

    #[test]
    fn well_formed_escaped_and_failures_carry_the_message() {
        let r = results();
        let xml = junit(&r);
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let cases: Vec<_> = root
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), r.trials.len() + 1);
        assert_eq!(root.attribute("tests"), Some("9"));

        let failures: Vec<_> = root
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .collect();
        let fail_trials = r
            .trials
            .iter()
            .filter(|t| t.outcome == Outcome::Fail)
            .count();
        assert_eq!(
            failures.len(),
            fail_trials + 1,
            "fails plus the stale deviation"
        );
        let fail = failures
            .iter()
            .find(|f| f.attribute("type") == Some("fail"))
            .unwrap();
        assert_eq!(
            fail.attribute("message"),
            Some(
                "step 8 (expect, synthetic/case-0000.yaml:26): field ack: expected 1024, observed 1025"
            )
        );
        assert!(
            fail.text()
                .unwrap()
                .contains("observed: [A] seq=1 ack=1025")
        );
        assert!(
            failures
                .iter()
                .any(|f| f.attribute("type") == Some("stale-deviation"))
        );
        assert_eq!(
            root.attribute("failures"),
            Some(&*(fail_trials + 1).to_string())
        );

        let errors: Vec<_> = root
            .descendants()
            .filter(|n| n.has_tag_name("error"))
            .collect();
        assert_eq!(errors.len(), 2);
        let harness = errors
            .iter()
            .find(|e| e.attribute("type") == Some("error"))
            .unwrap();
        assert_eq!(
            harness.attribute("message"),
            Some("harness error: <veth> & \"friends\"\\u{1}")
        );
        assert!(harness.text().unwrap().ends_with("\nsecond line"));

        let skipped: Vec<&str> = root
            .descendants()
            .filter(|n| n.has_tag_name("skipped"))
            .filter_map(|n| n.attribute("message"))
            .collect();
        assert_eq!(
            skipped,
            ["expected deviation (MUST-2): it's known", "no IPv6 here"]
        );
        // Suites per target and IP version, counts adding up.
        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        let names: Vec<&str> = suites.iter().filter_map(|s| s.attribute("name")).collect();
        assert_eq!(
            names,
            [
                "case loading",
                "kernel ipv4",
                "kernel ipv6",
                "reference ipv4",
                "reference ipv6"
            ]
        );
        for s in &suites {
            let n = |a: &str| s.attribute(a).unwrap().parse::<usize>().unwrap();
            let cases = s.children().filter(|c| c.has_tag_name("testcase")).count();
            assert_eq!(n("tests"), cases);
        }
    }

    #[test]
    fn escape_covers_markup_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"c'\u{7}\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;\\u{7}&#10;"
        );
    }
}
