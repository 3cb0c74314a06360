//! The public vocabulary of the stack: configuration, socket options, handles, events and
//! errors.

use core::fmt;
use core::net::IpAddr;
use core::ops::RangeInclusive;

use crate::time::Duration;

/// Stack-wide configuration. Every field is public; start from [`Config::default`].
///
/// Defaults follow RFC 9293 and its companions; where those leave a choice, Linux's default is
/// taken and the field says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The stack's own addresses: it answers only segments addressed to one of them.
    pub local_addrs: Vec<IpAddr>,
    /// The 128-bit secret of the ISN function (RFC 6528, MUST-9). The driver fills it with
    /// random bytes; tests fix it. It also keys the connection table's hash.
    pub isn_secret: [u8; 16],
    /// The link MTU (default 1500). The MSS we advertise is `mtu - 40` on IPv4 and `mtu - 60`
    /// on IPv6 (RFC 6691, RFC 9293 3.7.1).
    pub mtu: usize,
    /// Default receive buffer per connection, in bytes (64 KiB). The receive window is the free
    /// space in it.
    pub rcvbuf: usize,
    /// Default send buffer per connection, in bytes (64 KiB).
    pub sndbuf: usize,
    /// Offer and accept window scaling (RFC 7323 section 2).
    pub window_scaling: bool,
    /// Offer and accept timestamps (RFC 7323 section 3).
    pub timestamps: bool,
    /// Offer and accept SACK (RFC 2018).
    pub sack: bool,
    /// Request ECN on active opens and accept it on passive ones (RFC 3168). Off by default.
    pub ecn: bool,
    /// Accept ECN when a peer's SYN requests it, even with `ecn` off (Linux's default
    /// `tcp_ecn = 2`). On by default.
    pub ecn_passive: bool,
    /// RFC 1337 protection: a RST in TIME-WAIT is ignored instead of ending TIME-WAIT early.
    /// Off by default (Linux's `tcp_rfc1337 = 0`).
    pub rfc1337: bool,
    /// The RFC 5961 checks (RST and SYN in synchronized states answered with challenge ACKs,
    /// ACK acceptability). On by default; off gives the RFC 793 processing of RFC 9293.
    pub rfc5961: bool,
    /// The maximum segment lifetime; TIME-WAIT lasts 2 MSL (MUST-13). Default 30 s, so
    /// TIME-WAIT lasts 60 s as on Linux (RFC 9293's glossary suggests 2 minutes).
    pub msl: Duration,
    /// The RTO before any RTT sample (RFC 6298 2.1): 1 s.
    pub rto_initial: Duration,
    /// The lower bound of the RTO (RFC 6298 2.4: 1 s, a SHOULD; Linux uses 200 ms).
    pub rto_min: Duration,
    /// The upper bound of the RTO (RFC 6298 2.5: at least 60 s): 120 s, as Linux.
    pub rto_max: Duration,
    /// The delayed-ACK timeout: 40 ms (Linux's minimum ATO). Must be below 500 ms (MUST-40):
    /// larger values are clamped to 499 ms.
    pub delayed_ack: Duration,
    /// RFC 5961 section 7: at most this many challenge ACKs per second, stack-wide (1000, the
    /// Linux `tcp_challenge_ack_limit` of kernels 4.7 to 5.x). 0 disables challenge ACKs.
    pub challenge_ack_limit: u32,
    /// Per connection, at most one ACK per this interval in answer to out-of-window segments
    /// without data and challenge ACKs (Linux's `tcp_invalid_ratelimit`, 500 ms). Zero
    /// disables the per-connection limit.
    pub invalid_ratelimit: Duration,
    /// Keep-alive on new connections (MUST-25: off by default).
    pub keepalive: bool,
    /// Keep-alive idle time before the first probe (MUST-28: at least two hours; 2 h).
    pub keepidle: Duration,
    /// Keep-alive interval between probes (75 s, as Linux).
    pub keepintvl: Duration,
    /// Unanswered keep-alive probes before the connection is dropped (9, as Linux; MUST-29).
    pub keepcnt: u32,
    /// Ports for `connect` with port 0 (Linux's `ip_local_port_range`, 32768..=60999).
    pub ephemeral_ports: RangeInclusive<u16>,
    /// R1 of RFC 9293 3.8.3: after this many retransmissions of a segment, the application is
    /// told ([`Event::RetransmitWarning`](super::Event::RetransmitWarning)); 3 (SHLD-10).
    pub r1: u32,
    /// R2 of RFC 9293 3.8.3 for data: give up after retransmitting this long (MUST-20;
    /// SHLD-11 wants at least 100 s). 15 min, about Linux's `tcp_retries2 = 15`.
    pub r2: Duration,
    /// R2 for the SYN and SYN-ACK (MUST-22, MUST-23: at least 3 minutes): 3 min.
    pub r2_syn: Duration,
    /// How long an orphaned connection (closed by the user) waits in FIN-WAIT-2 for the peer's
    /// FIN (Linux's `tcp_fin_timeout`, 60 s).
    pub fin_timeout: Duration,
    /// The IP TTL / hop limit of every segment (64; MUST-49: configurable).
    pub hop_limit: u8,
    /// The most TCBs (connections in any state, TIME-WAIT included) the stack keeps.
    pub max_connections: usize,
    /// The most SYN-RECEIVED connections per listener (Linux's `tcp_max_syn_backlog`).
    pub max_syn_backlog: usize,
    /// The largest buffer a socket option may ask for (16 MiB); smaller requests than 256
    /// bytes are raised to 256.
    pub max_buffer: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            local_addrs: Vec::new(),
            isn_secret: [0; 16],
            mtu: 1500,
            rcvbuf: 64 * 1024,
            sndbuf: 64 * 1024,
            window_scaling: true,
            timestamps: true,
            sack: true,
            ecn: false,
            ecn_passive: true,
            rfc1337: false,
            rfc5961: true,
            msl: Duration::from_secs(30),
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_secs(1),
            rto_max: Duration::from_secs(120),
            delayed_ack: Duration::from_millis(40),
            challenge_ack_limit: 1000,
            invalid_ratelimit: Duration::from_millis(500),
            keepalive: false,
            keepidle: Duration::from_secs(2 * 60 * 60),
            keepintvl: Duration::from_secs(75),
            keepcnt: 9,
            ephemeral_ports: 32768..=60999,
            r1: 3,
            r2: Duration::from_secs(15 * 60),
            r2_syn: Duration::from_secs(3 * 60),
            fin_timeout: Duration::from_secs(60),
            hop_limit: 64,
            max_connections: 4096,
            max_syn_backlog: 256,
            max_buffer: 16 * 1024 * 1024,
        }
    }
}

/// Per-connection options, as a socket's `setsockopt` would set them. `None` keeps the current
/// value (the stack's [`Config`] default for a new connection).
///
/// Options given to `listen` are inherited by the connections the listener accepts. Three more
/// per-connection settings have their own calls: [`Stack::set_quickack`](super::Stack::set_quickack),
/// [`Stack::set_dscp`](super::Stack::set_dscp) and
/// [`Stack::set_hop_limit`](super::Stack::set_hop_limit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// Disable the Nagle algorithm (MUST-17; `TCP_NODELAY`).
    pub nodelay: Option<bool>,
    /// Receive buffer size in bytes (`SO_RCVBUF`, taken literally, not doubled as Linux
    /// does). Takes effect on the window scale only before the SYN is sent.
    pub rcvbuf: Option<usize>,
    /// Send buffer size in bytes (`SO_SNDBUF`, taken literally).
    pub sndbuf: Option<usize>,
    /// MSS clamp (`TCP_MAXSEG`): caps the MSS we advertise and the one we send with. Values
    /// below 88 are raised to 88, as Linux does.
    pub maxseg: Option<u16>,
    /// Keep-alive on or off (`SO_KEEPALIVE`, MUST-24).
    pub keepalive: Option<bool>,
    /// Idle time before the first keep-alive probe (`TCP_KEEPIDLE`, MUST-27).
    pub keepidle: Option<Duration>,
    /// Time between keep-alive probes (`TCP_KEEPINTVL`).
    pub keepintvl: Option<Duration>,
    /// Unanswered probes before giving up (`TCP_KEEPCNT`).
    pub keepcnt: Option<u32>,
    /// User timeout (`TCP_USER_TIMEOUT`, RFC 9293 3.8.3 and MUST-21): data left
    /// unacknowledged this long aborts the connection. `Duration::ZERO` turns it off.
    pub user_timeout: Option<Duration>,
}

/// A connection handle. Stale handles (of connections the user closed) are refused with
/// [`Error::BadHandle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}.{}", self.index, self.generation)
    }
}

/// A listener handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for ListenerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "listener#{}.{}", self.index, self.generation)
    }
}

/// Which direction [`Stack::shutdown`](super::Stack::shutdown) closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum How {
    /// No more receiving (`SHUT_RD`): unread and later data is discarded.
    Read,
    /// No more sending (`SHUT_WR`): a FIN follows the queued data.
    Write,
    /// Both (`SHUT_RDWR`).
    Both,
}

/// Why a connection reached CLOSED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// Both directions closed in order (the FIN handshake completed).
    Normal,
    /// The peer reset the connection (or we reset it because of what the peer sent).
    Reset,
    /// The peer refused the connection: a RST answered our SYN.
    Refused,
    /// Retransmissions (R2), keep-alive probes or the user timeout ran out.
    TimedOut,
    /// The stack aborted the connection (its listener was closed before it was accepted).
    Aborted,
}

/// Something the application should know, from [`Stack::poll_event`](super::Stack::poll_event).
///
/// Events are edge-triggered and coalesced: one `Readable` stands for any amount of new data
/// until the next `recv`, one `Writable` for any amount of freed space until the next `send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Event {
    /// A connection completed its handshake on this listener and waits in `accept`.
    Incoming {
        /// The listener.
        listener: ListenerId,
    },
    /// An active open completed (ESTABLISHED).
    Connected(ConnId),
    /// Data, the end of the stream or an error can be read.
    Readable(ConnId),
    /// Send buffer space became free.
    Writable(ConnId),
    /// The peer sent urgent data beyond what was read (MUST-32).
    Urgent(ConnId),
    /// A segment was retransmitted R1 times (RFC 9293 3.8.3, MUST-20, SHLD-9): the path may
    /// be broken.
    RetransmitWarning(ConnId),
    /// The connection reached CLOSED (not sent for connections the user already closed).
    Closed {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
}

/// One datagram written by [`Stack::poll_transmit`](super::Stack::poll_transmit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// The destination IP address (the driver resolves the link-layer address).
    pub dst: IpAddr,
    /// The datagram's length: the first `len` bytes of the buffer.
    pub len: usize,
}

/// Why a socket call failed; each maps to the errno a BSD socket would give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The peer reset the connection (`ECONNRESET`).
    ConnectionReset,
    /// The peer refused the connection (`ECONNREFUSED`).
    ConnectionRefused,
    /// The connection timed out (`ETIMEDOUT`).
    TimedOut,
    /// The connection is not (yet or any more) connected (`ENOTCONN`).
    NotConnected,
    /// Sending after shutdown for writing or after the peer reset (`EPIPE`).
    BrokenPipe,
    /// The call would block (`EAGAIN`).
    WouldBlock,
    /// The address or 4-tuple is in use (`EADDRINUSE`).
    AddrInUse,
    /// The local address is not one of the stack's, or no ephemeral port is free
    /// (`EADDRNOTAVAIL`).
    AddrNotAvailable,
    /// The call is not valid in the connection's state (`EINVAL`).
    InvalidState,
    /// An argument is invalid (`EINVAL`).
    InvalidArgument,
    /// `connect` on a connected socket (`EISCONN`).
    AlreadyConnected,
    /// The handle is stale or was never valid (`EBADF`).
    BadHandle,
    /// The stack aborted the connection (`ECONNABORTED`).
    ConnectionAborted,
    /// The connection table is full (`ENOBUFS`).
    NoResources,
}

impl Error {
    /// The Linux errno name of this error: `ECONNRESET`, `EAGAIN`, ...
    pub const fn errno_name(&self) -> &'static str {
        match self {
            Self::ConnectionReset => "ECONNRESET",
            Self::ConnectionRefused => "ECONNREFUSED",
            Self::TimedOut => "ETIMEDOUT",
            Self::NotConnected => "ENOTCONN",
            Self::BrokenPipe => "EPIPE",
            Self::WouldBlock => "EAGAIN",
            Self::AddrInUse => "EADDRINUSE",
            Self::AddrNotAvailable => "EADDRNOTAVAIL",
            Self::InvalidState | Self::InvalidArgument => "EINVAL",
            Self::AlreadyConnected => "EISCONN",
            Self::BadHandle => "EBADF",
            Self::ConnectionAborted => "ECONNABORTED",
            Self::NoResources => "ENOBUFS",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::ConnectionReset => "connection reset",
            Self::ConnectionRefused => "connection refused",
            Self::TimedOut => "connection timed out",
            Self::NotConnected => "not connected",
            Self::BrokenPipe => "broken pipe",
            Self::WouldBlock => "operation would block",
            Self::AddrInUse => "address in use",
            Self::AddrNotAvailable => "address not available",
            Self::InvalidState => "invalid in this state",
            Self::InvalidArgument => "invalid argument",
            Self::AlreadyConnected => "already connected",
            Self::BadHandle => "bad handle",
            Self::ConnectionAborted => "connection aborted",
            Self::NoResources => "no resources",
        };
        write!(f, "{text} ({})", self.errno_name())
    }
}

impl std::error::Error for Error {}

impl From<CloseReason> for Error {
    /// The error a call sees on a connection closed for `reason`.
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::Normal => Self::NotConnected,
            CloseReason::Reset => Self::ConnectionReset,
            CloseReason::Refused => Self::ConnectionRefused,
            CloseReason::TimedOut => Self::TimedOut,
            CloseReason::Aborted => Self::ConnectionAborted,
        }
    }
}
