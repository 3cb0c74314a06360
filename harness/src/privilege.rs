//! Getting the privileges the harness needs, rootless when possible.
//!
//! The harness needs CAP_SYS_ADMIN (to create network namespaces), CAP_NET_ADMIN (links,
//! addresses, neighbours) and CAP_NET_RAW (the tester's packet sockets), but only over namespaces
//! it creates itself. Root has them. A normal user gets them by moving the process into a new
//! user namespace (and a new network namespace, so that even the "starting" namespace is private
//! to the run): in it, the process is root over everything it creates, and nothing else.
//!
//! [`ensure`] must run first thing in `main`, while the process is still single-threaded:
//! the kernel refuses `unshare(CLONE_NEWUSER)` to a multi-threaded process.

use std::fs;

use nix::sched::{CloneFlags, unshare};
use nix::unistd::{getegid, geteuid};

use crate::error::{HarnessError, Result};

/// How the harness got its privileges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// Running as root with the needed capabilities.
    Root,
    /// Not root: the process moved itself into a new user and network namespace.
    UserNamespace,
}

const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;

const HOW_TO_FIX: &str = "run as root (e.g. with sudo), or allow unprivileged user namespaces \
    (Debian/Ubuntu: `sysctl -w kernel.unprivileged_userns_clone=1`; Ubuntu 24.04+: \
    `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; everywhere: \
    `sysctl -w user.max_user_namespaces=10000`)";

/// Makes sure the process can build test topologies, entering a user namespace if it is not
/// root. Returns a clear error saying what is missing and how to fix it otherwise.
pub fn ensure() -> Result<Privilege> {
    if has_caps() {
        return Ok(Privilege::Root);
    }
    let threads = status_field("Threads").unwrap_or_else(|| "1".into());
    if threads.trim() != "1" {
        return Err(HarnessError::Privilege(format!(
            "not root, and the process already runs {threads} threads, so it can no longer \
             enter a user namespace (harness::privilege::ensure must run first in main); {HOW_TO_FIX}"
        )));
    }
    let uid = geteuid();
    let gid = getegid();
    let who = if uid.is_root() {
        "running as uid 0 but without CAP_SYS_ADMIN, CAP_NET_ADMIN and CAP_NET_RAW (a restricted \
         container?)"
            .to_owned()
    } else {
        format!("not root (uid {uid})")
    };
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET).map_err(|e| {
        HarnessError::Privilege(format!(
            "{who}, and creating a user namespace to get them failed ({e}); {HOW_TO_FIX}"
        ))
    })?;
    let write = |path: &str, text: String| {
        fs::write(path, text).map_err(|e| {
            HarnessError::Privilege(format!(
                "entered a user namespace but could not write {path}: {e}"
            ))
        })
    };
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    if !has_caps() {
        return Err(HarnessError::Privilege(format!(
            "entered a user namespace but still lack CAP_SYS_ADMIN/CAP_NET_ADMIN/CAP_NET_RAW; {HOW_TO_FIX}"
        )));
    }
    Ok(Privilege::UserNamespace)
}

/// True if the effective capability set has everything the harness needs.
fn has_caps() -> bool {
    let Some(hex) = status_field("CapEff") else {
        return false;
    };
    let Ok(caps) = u64::from_str_radix(hex.trim(), 16) else {
        return false;
    };
    [CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN]
        .iter()
        .all(|c| caps & (1 << c) != 0)
}

fn status_field(name: &str) -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::to_owned))
}
