//! Shared helpers of the conformance crate's integration tests: a scratch corpus built from the
//! real catalog, profiles and preludes plus test-only cases, and the `conformance` binary.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The `conformance` binary built for these tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_conformance")
}

/// The real case corpus.
pub fn real_cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases")
}

/// A directory removed on drop.
#[derive(Debug)]
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh, empty directory.
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tcpc-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// A path inside.
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("TCPC_KEEP_SCRATCH").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A corpus with the real catalog, profiles and preludes, and the given `(id, yaml)` cases.
pub fn corpus(cases: &[(&str, &str)]) -> Scratch {
    let s = Scratch::new("corpus");
    for d in ["requirements", "profiles", "preludes"] {
        copy_dir(&real_cases().join(d), &s.join(d));
    }
    for (id, yaml) in cases {
        let p = s.join(&format!("{id}.yaml"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, yaml).unwrap();
    }
    s
}

/// The text of a real case.
pub fn real_case(id: &str) -> String {
    std::fs::read_to_string(real_cases().join(format!("{id}.yaml"))).unwrap()
}

/// Runs `conformance ARGS`.
pub fn conformance(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

/// stdout + stderr as one string, for messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
