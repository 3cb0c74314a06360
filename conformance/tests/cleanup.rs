//! Nothing a run creates survives it, however it ends, and nothing is ever created in the
//! namespace the run started in: after a passing run, after a failing run, and after a run
//! killed with SIGKILL in the middle of a trial.
//!
//! "Namespaces that exist" is observed the only way the kernel shows them: as references from
//! processes (`/proc/*/ns/net`, per-thread namespaces, and descriptors open on `nsfs`), plus
//! mounted ones (`ip netns`, `/run/netns`). Links are compared in the starting namespace.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{conformance, corpus, real_case, text};

/// Inode of a `net:[...]` link target.
fn netns_inode(target: &std::path::Path) -> Option<u64> {
    let s = target.to_str()?;
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// Every network namespace some process refers to, with the pids referring to it.
fn namespaces_of(pid_filter: Option<u32>) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let name = p.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid_filter.is_some_and(|f| f != pid) {
            continue;
        }
        let base = p.path();
        if let Ok(tasks) = std::fs::read_dir(base.join("task")) {
            for t in tasks.flatten() {
                if let Some(i) = std::fs::read_link(t.path().join("ns/net"))
                    .ok()
                    .and_then(|l| netns_inode(&l))
                {
                    out.insert(i);
                }
            }
        }
        if let Ok(fds) = std::fs::read_dir(base.join("fd")) {
            for fd in fds.flatten() {
                if let Some(i) = std::fs::read_link(fd.path())
                    .ok()
                    .and_then(|l| netns_inode(&l))
                {
                    out.insert(i);
                }
            }
        }
    }
    out
}

fn links() -> String {
    let o = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    // Drop per-link counters that change on their own; keep names, kinds and indexes.
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split(" state ").next().unwrap_or(l).to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn mounted_netns() -> String {
    let ip = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let run = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    format!("{}|{run}", String::from_utf8_lossy(&ip.stdout).trim())
}

struct Before {
    namespaces: BTreeSet<u64>,
    links: String,
    mounted: String,
}

impl Before {
    fn take() -> Self {
        Self {
            namespaces: namespaces_of(None),
            links: links(),
            mounted: mounted_netns(),
        }
    }

    #[track_caller]
    fn assert_nothing_left(&self, what: &str) {
        let now = namespaces_of(None);
        let new: Vec<_> = now.difference(&self.namespaces).collect();
        assert!(
            new.is_empty(),
            "{what}: network namespaces still referenced: {new:?}"
        );
        assert_eq!(
            links(),
            self.links,
            "{what}: links in the starting namespace changed"
        );
        assert_eq!(
            mounted_netns(),
            self.mounted,
            "{what}: mounted namespaces changed"
        );
        for name in ["tst0", "dut0"] {
            let o = Command::new("ip")
                .args(["link", "show", name])
                .output()
                .unwrap();
            assert!(
                !o.status.success(),
                "{what}: {name} exists in the starting namespace"
            );
        }
    }
}

#[test]
fn nothing_survives_a_run_a_failing_run_or_sigkill() {
    let before = Before::take();

    // A passing run.
    let dir = corpus(&[(
        "handshake/passive-open",
        &real_case("handshake/passive-open"),
    )]);
    let o = conformance(&[
        "run",
        "--cases",
        dir.0.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    before.assert_nothing_left("after a passing run");

    // A failing run.
    let wrong = real_case("handshake/passive-open").replace("ack: 1\n", "ack: 2\n");
    assert_ne!(wrong, real_case("handshake/passive-open"));
    let dir = corpus(&[("handshake/wrong", &wrong)]);
    let o = conformance(&[
        "run",
        "--cases",
        dir.0.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(101), "{}", text(&o));
    before.assert_nothing_left("after a failing run");

    // A run killed mid-trial: the trial establishes a connection, then waits 60 s.
    let slow = "title: established, then a long wait\nrequirements: [MUST-13]\ndut: {role: passive}\n\
                prelude: established-passive\nip: [ipv4]\nsteps:\n  - wait: 60s\n";
    let dir = corpus(&[("slow/wait", slow)]);
    let out = dir.join("out");
    let mut child = Command::new(common::bin())
        .args([
            "run",
            "--cases",
            dir.0.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let events = out.join("trials/slow/wait/kernel-ipv4.events.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    // Mid-trial: the DUT has accepted the connection (the log says so) and the run holds its
    // tester and DUT namespaces.
    let held = loop {
        let ns = namespaces_of(Some(child.id()));
        let accepted = std::fs::read_to_string(&events)
            .map(|s| s.contains("\"accepted\""))
            .unwrap_or(false);
        let fresh: BTreeSet<u64> = ns.difference(&before.namespaces).copied().collect();
        if accepted && fresh.len() >= 2 {
            break fresh;
        }
        assert!(Instant::now() < deadline, "the run never got mid-trial");
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(10));
    };
    // Even mid-trial, the starting namespace is untouched.
    assert_eq!(
        links(),
        before.links,
        "mid-trial: links in the starting namespace changed"
    );
    assert_eq!(
        mounted_netns(),
        before.mounted,
        "mid-trial: a namespace was mounted"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let still: Vec<_> = namespaces_of(None).intersection(&held).copied().collect();
    assert!(
        still.is_empty(),
        "namespaces of the killed run still exist: {still:?}"
    );
    before.assert_nothing_left("after SIGKILL");
}
