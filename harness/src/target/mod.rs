//! Targets: the devices under test, behind one trait.
//!
//! A target carries out socket-level [`Call`]s on the DUT and answers [`State`] queries by
//! 4-tuple. The runner neither knows nor cares whether Linux, the reference stack or an external
//! agent is behind it.
//!
//! Errors are split with care: an errno the DUT returns is part of a [`CallResult`] (the case
//! judges it); a [`HarnessError`](crate::HarnessError) means the target could not even be asked.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use reference_stack::State;
use serde::{Deserialize, Serialize};

use crate::error::Result;

pub mod kernel;
pub mod reference;

pub use kernel::KernelTarget;
pub use reference::{ReferenceConfig, ReferenceTarget};

/// Socket options a case may set (before `listen`/`connect`, or on the connection later).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketOptions {
    /// TCP_NODELAY: disable Nagle's algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodelay: Option<bool>,
    /// SO_RCVBUF in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcvbuf: Option<u32>,
    /// SO_SNDBUF in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sndbuf: Option<u32>,
    /// TCP_MAXSEG: clamp the MSS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxseg: Option<u16>,
    /// SO_KEEPALIVE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<bool>,
    /// TCP_KEEPIDLE (Linux takes whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepidle: Option<Duration>,
    /// TCP_KEEPINTVL (Linux takes whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepintvl: Option<Duration>,
    /// TCP_KEEPCNT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepcnt: Option<u32>,
    /// TCP_USER_TIMEOUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_timeout: Option<Duration>,
    /// TCP_QUICKACK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quickack: Option<bool>,
}

/// How to half-close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// SHUT_RD.
    Rd,
    /// SHUT_WR: sends a FIN.
    Wr,
    /// SHUT_RDWR.
    RdWr,
}

/// A socket call on the DUT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// Create a listening socket on `local` with `options`.
    Listen {
        /// Address and port to bind.
        local: SocketAddr,
        /// listen(2) backlog.
        backlog: u32,
        /// Options set before listen(2).
        options: SocketOptions,
    },
    /// Take a connection from the listener, waiting up to `timeout`.
    Accept {
        /// How long to wait for one.
        timeout: Duration,
    },
    /// Start a non-blocking connect from `local` (port 0: ephemeral) to `remote`.
    Connect {
        /// Local address (and port, or 0).
        local: SocketAddr,
        /// The tester's address and port.
        remote: SocketAddr,
        /// Options set before connect(2).
        options: SocketOptions,
    },
    /// Write all of `data` on the connection.
    Send {
        /// The bytes.
        data: Vec<u8>,
    },
    /// Read until `len` bytes, end of stream, an error, or `timeout`.
    Recv {
        /// How many bytes to wait for (0: just wait for end of stream or an error).
        len: usize,
        /// How long to wait.
        timeout: Duration,
    },
    /// shutdown(2) the connection.
    Shutdown(How),
    /// close(2) the connection.
    Close,
    /// Close with SO_LINGER {on, 0}: the stack sends a RST.
    Abort,
    /// Set options on the connection.
    SetOptions(SocketOptions),
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Listen { local, backlog, .. } => write!(f, "listen {local} backlog {backlog}"),
            Self::Accept { timeout } => write!(f, "accept (within {timeout:?})"),
            Self::Connect { remote, .. } => write!(f, "connect {remote}"),
            Self::Send { data } => write!(f, "send {} bytes", data.len()),
            Self::Recv { len, timeout } => write!(f, "recv {len} bytes (within {timeout:?})"),
            Self::Shutdown(how) => write!(f, "shutdown {how:?}"),
            Self::Close => f.write_str("close"),
            Self::Abort => f.write_str("abort"),
            Self::SetOptions(o) => write!(f, "setsockopt {o:?}"),
        }
    }
}

/// An errno, by number, with its symbolic name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Errno(pub i32);

impl Errno {
    /// The symbolic name (`ECONNRESET`).
    pub fn name(self) -> String {
        format!("{:?}", nix::errno::Errno::from_raw(self.0))
    }

    /// Looks up a symbolic name.
    pub fn from_name(name: &str) -> Option<Self> {
        (1..=200).map(Self).find(|e| e.name() == name)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// What a call returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallResult {
    /// Success with nothing to report.
    Ok,
    /// `listen` succeeded on this address.
    Listening {
        /// The bound address.
        local: SocketAddr,
    },
    /// `accept` returned a connection.
    Accepted {
        /// Local end.
        local: SocketAddr,
        /// The peer.
        remote: SocketAddr,
    },
    /// `connect` started (or completed) from this local address.
    Connecting {
        /// The local address and (ephemeral) port.
        local: SocketAddr,
    },
    /// `send` accepted this many bytes.
    Sent(usize),
    /// `recv` read these bytes; `eof` if the stream ended; `error` if reading stopped on one.
    Received {
        /// The bytes read.
        data: Vec<u8>,
        /// End of stream was seen.
        eof: bool,
        /// Reading stopped on this error.
        error: Option<Errno>,
    },
    /// The call waited its whole timeout (accept, recv without enough data).
    TimedOut,
    /// The call failed with an errno.
    Error(Errno),
}

impl fmt::Display for CallResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => f.write_str("ok"),
            Self::Listening { local } => write!(f, "listening on {local}"),
            Self::Accepted { remote, .. } => write!(f, "accepted from {remote}"),
            Self::Connecting { local } => write!(f, "connecting from {local}"),
            Self::Sent(n) => write!(f, "sent {n} bytes"),
            Self::Received { data, eof, error } => {
                write!(f, "received {} bytes", data.len())?;
                if *eof {
                    f.write_str(", end of stream")?;
                }
                if let Some(e) = error {
                    write!(f, ", then {e}")?;
                }
                Ok(())
            }
            Self::TimedOut => f.write_str("timed out"),
            Self::Error(e) => write!(f, "error {e}"),
        }
    }
}

/// A device under test.
pub trait Target: Send {
    /// The target's name (`kernel`, `reference`, or the agent's).
    fn name(&self) -> &str;

    /// Carries out a call. DUT-side failures are `Ok(CallResult::Error(..))`.
    fn call(&mut self, call: &Call) -> Result<CallResult>;

    /// The RFC 9293 state of the connection between `local` (on the DUT) and `remote`;
    /// `State::Closed` if there is none.
    fn state(&mut self, local: SocketAddr, remote: SocketAddr) -> Result<State>;
}
