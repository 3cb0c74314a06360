//! Anonymous network namespaces, held by file descriptor.
//!
//! A namespace is created by a short-lived thread that calls `unshare(CLONE_NEWNET)` and opens
//! `/proc/thread-self/ns/net`; the descriptor keeps the namespace alive, and nothing is ever
//! mounted under `/run/netns`. When the last descriptor closes (the [`Netns`] is dropped, or the
//! process dies, even by SIGKILL) the kernel tears the namespace down with every link in it.
//!
//! `setns` is per thread. Work inside a namespace therefore runs on a fresh, dedicated thread
//! ([`Netns::run`]) that ends with the work: no pooled thread (libtest-mimic reuses its threads)
//! is ever left inside a test namespace, and nothing needs to switch back (which a rootless run
//! could not do anyway: it has no privilege over the namespace it started in). Sockets created
//! there stay bound to the namespace after the thread ends.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::sched::{CloneFlags, setns, unshare};

use crate::error::{HarnessError, Result};

/// An anonymous network namespace, alive as long as this value (or a socket inside it) is.
#[derive(Debug)]
pub struct Netns {
    fd: OwnedFd,
    label: String,
}

impl Netns {
    /// Creates a new, empty network namespace (only a `lo`, down). `label` names it in errors.
    pub fn new(label: &str) -> Result<Self> {
        let fd = std::thread::scope(|s| {
            s.spawn(|| -> Result<OwnedFd> {
                unshare(CloneFlags::CLONE_NEWNET).map_err(|e| match e {
                    nix::Error::EPERM => HarnessError::Privilege(
                        "cannot create a network namespace (unshare(CLONE_NEWNET) failed with \
                         EPERM): run as root, or let the suite re-execute itself in a user \
                         namespace (see harness::privilege)"
                            .into(),
                    ),
                    e => HarnessError::sys("unshare(CLONE_NEWNET)", e),
                })?;
                let f = File::open("/proc/thread-self/ns/net")
                    .map_err(|e| HarnessError::sys("open /proc/thread-self/ns/net", e))?;
                Ok(OwnedFd::from(f))
            })
            .join()
            .map_err(|p| HarnessError::Panic(panic_message(&p)))?
        })?;
        Ok(Self {
            fd,
            label: label.to_owned(),
        })
    }

    /// Runs `f` on a new thread that has entered this namespace, and waits for it.
    ///
    /// A panic in `f` is returned as [`HarnessError::Panic`].
    pub fn run<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name(format!("netns-{}", self.label))
                .spawn_scoped(s, || -> Result<R> {
                    setns(self.fd.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
                        HarnessError::sys(format!("setns into namespace {}", self.label), e)
                    })?;
                    Ok(f())
                })
                .map_err(|e| HarnessError::sys("spawn namespace thread", e))?
                .join()
                .map_err(|p| HarnessError::Panic(panic_message(&p)))?
        })
    }

    /// Spawns a long-lived thread inside this namespace (for a driver that serves a target for
    /// the whole trial). The thread never leaves the namespace and ends when `f` returns.
    pub fn spawn<F, R>(&self, name: &str, f: F) -> Result<std::thread::JoinHandle<Result<R>>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| HarnessError::sys("dup netns fd", e))?;
        let label = self.label.clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || -> Result<R> {
                setns(fd.as_fd(), CloneFlags::CLONE_NEWNET)
                    .map_err(|e| HarnessError::sys(format!("setns into namespace {label}"), e))?;
                drop(fd);
                Ok(f())
            })
            .map_err(|e| HarnessError::sys("spawn namespace thread", e))
    }

    /// Another handle to the same namespace.
    pub fn try_clone(&self) -> Result<Self> {
        Ok(Self {
            fd: self
                .fd
                .try_clone()
                .map_err(|e| HarnessError::sys("dup netns fd", e))?,
            label: self.label.clone(),
        })
    }

    /// The label given at creation.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Writes a sysctl under `/proc/sys` as seen from inside this namespace
    /// (`net.ipv4.tcp_rfc1337` → `/proc/sys/net/ipv4/tcp_rfc1337`).
    pub fn set_sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = sysctl_path(key)?;
        let value = value.to_owned();
        self.run(move || {
            std::fs::write(&path, format!("{value}\n"))
                .map_err(|e| HarnessError::sys(format!("write {value} to {path}"), e))
        })?
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn sysctl_path(key: &str) -> Result<String> {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !key.contains("..")
        && key.starts_with("net.");
    if !ok {
        return Err(HarnessError::Target {
            target: "sysctl".into(),
            message: format!("`{key}` is not a per-namespace net.* sysctl name"),
        });
    }
    Ok(format!("/proc/sys/{}", key.replace('.', "/")))
}

pub(crate) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
