//! Rootless runs, and the error when the process can get no privileges at all.

mod common;

use std::process::Command;

use common::{Scratch, bin, corpus, real_case, text};

/// As an unprivileged user the run moves itself into a user namespace and works the same.
#[test]
fn runs_rootless_in_a_user_namespace() {
    let dir = corpus(&[(
        "handshake/passive-open",
        &real_case("handshake/passive-open"),
    )]);
    let out = Scratch::new("rootless-out");
    // A copy of the binary the unprivileged user can surely execute (the build tree may sit
    // under a home directory it cannot enter).
    let exe = Scratch::new("rootless-bin");
    let copy = exe.join("conformance");
    std::fs::copy(bin(), &copy).unwrap();
    for d in [&dir.0, &out.0, &exe.0] {
        Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(d)
            .status()
            .unwrap();
    }
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&copy)
        .args(["run", "--cases"])
        .arg(&dir.0)
        .arg("--out")
        .arg(out.join("run"))
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("4 passed; 0 failed"), "{t}");
}

/// Without capabilities and without the right to create a user namespace, the run stops at once
/// with a message that says what is missing and how to fix it.
#[test]
fn no_privilege_is_a_clear_error() {
    let dir = corpus(&[(
        "handshake/passive-open",
        &real_case("handshake/passive-open"),
    )]);
    let out = Scratch::new("noprivs-out");
    // A user namespace in which no further user namespace may be created, and a process with
    // no capabilities in it.
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv --bounding-set=-all \
         --inh-caps=-all --no-new-privs {} run --cases {} --out {}",
        bin(),
        dir.0.display(),
        out.join("run").display()
    );
    let o = Command::new("unshare")
        .args(["--user", "--map-root-user", "--", "sh", "-c", &script])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("missing privilege") && t.contains("CAP_NET_ADMIN"),
        "{t}"
    );
    assert!(
        t.contains("run as root") && t.contains("max_user_namespaces"),
        "{t}"
    );
    assert!(!t.contains("panicked"), "{t}");
    assert!(!out.join("run/results.json").exists());
}
