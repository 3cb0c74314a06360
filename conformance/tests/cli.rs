//! The `conformance` command end to end: failure messages, bad input, offline verification.
//! Runs real trials against Linux (needs root, or unprivileged user namespaces).

mod common;

use std::path::Path;
use std::process::Output;

use common::{Scratch, conformance, corpus, real_case, text};

/// `conformance run --cases DIR --out OUT EXTRA...`.
fn run(dir: &Scratch, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--cases",
        dir.0.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    conformance(&args)
}

/// `conformance verify CASE PCAP --cases DIR`.
fn verify(dir: &Scratch, case: &Path, pcap: &Path) -> Output {
    conformance(&[
        "verify",
        case.to_str().unwrap(),
        pcap.to_str().unwrap(),
        "--cases",
        dir.0.to_str().unwrap(),
    ])
}

/// A case whose expectation is deliberately wrong must fail, and say which step, which field,
/// what was expected and what came.
#[test]
fn wrong_expectation_names_step_field_expected_and_observed() {
    let wrong = real_case("data/seed-transfer").replace(
        "{flags: A, seq: 1, ack: 1025, len: 0}",
        "{flags: A, seq: 1, ack: 1024, len: 0}",
    );
    assert!(wrong.contains("ack: 1024"), "the fixture edit must apply");
    let dir = corpus(&[("data/wrong-ack", &wrong)]);
    let out_dir = dir.join("out");
    let o = run(&dir, &out_dir, &["--ip", "ipv4"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(101), "{t}");
    // The step: the 8th of the instance (5 prelude steps + 3), at its line in the case file.
    let line = wrong.lines().position(|l| l.contains("ack: 1024")).unwrap() + 1;
    assert!(
        t.contains(&format!(
            "step 8 (expect, data/wrong-ack.yaml:{line}): field ack: expected 1024, observed 1025"
        )),
        "{t}"
    );
    assert!(t.contains("field ack: expected 1024, observed 1025"), "{t}");
    // Both targets (Linux and the reference stack) acknowledge 1025.
    assert!(t.contains("0 passed; 2 failed"), "{t}");

    // results.json says the same, and the offline verifier re-derives it from the files.
    let results = conformance::results::Results::read(&out_dir.join("results.json")).unwrap();
    let trial = &results.trials[0];
    assert_eq!(trial.outcome, conformance::results::Outcome::Fail);
    assert_eq!(trial.failed_step, Some(7));
    let pcap = out_dir.join(trial.pcap.as_ref().unwrap());
    let v = verify(&dir, &dir.join("data/wrong-ack.yaml"), &pcap);
    let vt = text(&v);
    assert_eq!(v.status.code(), Some(1), "{vt}");
    assert!(
        vt.contains("verdict: fail") && vt.contains("field ack: expected 1024, observed 1025"),
        "{vt}"
    );
}

/// The offline verifier agrees with a passing run, and rejects a capture that does not belong
/// to the case.
#[test]
fn verify_reproduces_a_pass_and_rejects_a_foreign_capture() {
    let dir = corpus(&[
        (
            "handshake/passive-open",
            &real_case("handshake/passive-open"),
        ),
        (
            "close/tester-closes-first",
            &real_case("close/tester-closes-first"),
        ),
    ]);
    let out_dir = dir.join("out");
    let o = run(&dir, &out_dir, &["--ip", "ipv6"]);
    assert!(o.status.success(), "{}", text(&o));
    let pcap = out_dir.join("trials/handshake/passive-open/kernel-ipv6.pcap");
    let v = verify(&dir, &dir.join("handshake/passive-open.yaml"), &pcap);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(text(&v).contains("verdict: pass"));

    // The other case's capture, judged against this case: the event log names another trial.
    let other = out_dir.join("trials/close/tester-closes-first/kernel-ipv6.pcap");
    let v = verify(&dir, &dir.join("handshake/passive-open.yaml"), &other);
    assert_eq!(v.status.code(), Some(2), "{}", text(&v));
    assert!(text(&v).contains("not an instance of"), "{}", text(&v));
}

/// A truncated capture is a clear error naming the offset, never a panic.
#[test]
fn verify_reports_a_truncated_pcap() {
    let dir = corpus(&[(
        "handshake/passive-open",
        &real_case("handshake/passive-open"),
    )]);
    let out_dir = dir.join("out");
    let o = run(&dir, &out_dir, &["--ip", "ipv4"]);
    assert!(o.status.success(), "{}", text(&o));
    let pcap = out_dir.join("trials/handshake/passive-open/kernel-ipv4.pcap");
    let bytes = std::fs::read(&pcap).unwrap();
    let cut = bytes.len() - 7;
    std::fs::write(&pcap, &bytes[..cut]).unwrap();
    let v = verify(&dir, &dir.join("handshake/passive-open.yaml"), &pcap);
    let t = text(&v);
    assert_eq!(v.status.code(), Some(2), "{t}");
    assert!(
        t.contains("truncated record at byte") && t.contains("kernel-ipv4.pcap"),
        "{t}"
    );
    assert!(!t.contains("panicked"), "{t}");

    // Garbage instead of a pcap.
    std::fs::write(&pcap, b"this is not a capture file").unwrap();
    let t = text(&verify(
        &dir,
        &dir.join("handshake/passive-open.yaml"),
        &pcap,
    ));
    assert!(t.contains("not a pcap file"), "{t}");

    // A missing event log.
    std::fs::remove_file(pcap.with_extension("events.jsonl")).unwrap();
    std::fs::write(&pcap, &bytes).unwrap();
    let t = text(&verify(
        &dir,
        &dir.join("handshake/passive-open.yaml"),
        &pcap,
    ));
    assert!(
        t.contains("events.jsonl") && t.contains("No such file"),
        "{t}"
    );
}

/// Bad case files: each a clear error with file, line, column and what was expected; the
/// other cases still load and run.
#[test]
fn bad_cases_are_clear_errors() {
    let good = real_case("handshake/passive-open");
    let dir = corpus(&[
        ("ok/good", &good),
        (
            "bad/syntax",
            "title: x\nrequirements: [MUST-3]\ndut: {role: passive\nsteps: []\n",
        ),
        (
            "bad/unknown-field",
            "title: x\nrequirements: [MUST-3]\ndut: {role: passive}\nsteps:\n  - inject: {flags: S, sequence: 0}\n",
        ),
        (
            "bad/unknown-step",
            "title: x\nrequirements: [MUST-3]\ndut: {role: passive}\nsteps:\n  - injekt: {flags: S}\n",
        ),
        (
            "bad/unknown-requirement",
            "title: x\nrequirements: [MUST-300]\ndut: {role: passive}\nsteps:\n  - call: listen\n",
        ),
    ]);
    let o = conformance(&["list", "--cases", dir.0.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    for (file, want) in [
        ("bad/syntax.yaml:", "did not find expected"),
        ("bad/unknown-field.yaml:5:", "unknown field `sequence`"),
        (
            "bad/unknown-step.yaml:5:5:",
            "unknown step kind `injekt`, expected one of `inject`",
        ),
        ("bad/unknown-requirement.yaml:2:", "MUST-300"),
    ] {
        let line = t
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("no error for {file} in:\n{t}"));
        assert!(line.contains(want), "{line}");
    }
    assert!(
        t.contains("expected one of") || t.contains("expected"),
        "{t}"
    );
    // The good case is still listed: one bad file loses nothing else.
    assert!(
        t.contains("ok/good::kernel::ipv4") && t.contains("ok/good::kernel::ipv6"),
        "{t}"
    );
    assert!(t.contains("4 case(s) failed to load"), "{t}");

    // Running: the bad files are failing tests named by case id, the good one passes.
    let out_dir = dir.join("out");
    let o = run(&dir, &out_dir, &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(101), "{t}");
    // The good case on two targets and two IP versions; the four bad files.
    assert!(t.contains("4 passed; 4 failed"), "{t}");
    let results = conformance::results::Results::read(&out_dir.join("results.json")).unwrap();
    assert_eq!(results.run.load_errors.len(), 4);
}

/// Unknown targets and shards are refused with the valid choices.
#[test]
fn bad_arguments_are_clear_errors() {
    let t = text(&conformance(&["list", "--target", "nosuch"]));
    assert!(
        t.contains("unknown target profile `nosuch`") && t.contains("kernel"),
        "{t}"
    );
    let t = text(&conformance(&["run", "--shard", "3/2"]));
    assert!(t.contains("bad shard `3/2`"), "{t}");
}
