//! The harness's error type: anything that went wrong in the test machinery rather than in the
//! device under test. A `HarnessError` is always reported as a harness error, never as a DUT
//! failure.

use std::io;

/// Something in the harness failed: a namespace, a link, a socket of the tester, a capture file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// The process lacks a privilege the harness needs; the message says how to get it.
    #[error("missing privilege: {0}")]
    Privilege(String),
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What the harness was doing.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A netlink request failed.
    #[error("netlink: {what}: {message}")]
    Netlink {
        /// What the harness was doing.
        what: String,
        /// The error reported by the kernel or the netlink library.
        message: String,
    },
    /// A capture file could not be read or is malformed.
    #[error("pcap {path}: {message}")]
    Pcap {
        /// The capture file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The capture lost frames, so no verdict can be trusted.
    #[error("capture incomplete: {0}")]
    Capture(String),
    /// A target (DUT driver) could not carry out a request for a reason of its own.
    #[error("target {target}: {message}")]
    Target {
        /// The target's name.
        target: String,
        /// What went wrong.
        message: String,
    },
    /// A helper thread panicked.
    #[error("harness thread panicked: {0}")]
    Panic(String),
}

impl HarnessError {
    /// Wraps the last OS error (or any `io::Error`) with what the harness was doing.
    pub fn sys(what: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Self::Sys {
            what: what.into(),
            source: source.into(),
        }
    }

    /// A netlink failure.
    pub fn netlink(what: impl Into<String>, message: impl ToString) -> Self {
        Self::Netlink {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

impl From<nix::Error> for HarnessError {
    fn from(e: nix::Error) -> Self {
        Self::sys("system call", io::Error::from(e))
    }
}

/// The harness's result type.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;
