//! The state of kernel TCP connections by 4-tuple, through NETLINK_SOCK_DIAG (what `ss` uses).
//!
//! Unlike TCP_INFO on a file descriptor, sock_diag also sees connections the application has
//! already closed: orphans in FIN-WAIT-1/2, CLOSING and LAST-ACK, and TIME-WAIT sockets, and
//! request sockets in SYN-RECEIVED.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use reference_stack::State;

use crate::error::{HarnessError, Result};

const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_HDRLEN: usize = 16;
const SOCKID_LEN: usize = 48;
const REQ_LEN: usize = 8 + SOCKID_LEN;
const MSG_MIN_LEN: usize = 4 + SOCKID_LEN + 20;

/// One connection as sock_diag reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiagEntry {
    /// Local address and port.
    pub local: SocketAddr,
    /// Remote address and port.
    pub remote: SocketAddr,
    /// Linux's `TCP_*` state number.
    pub linux_state: u8,
}

impl DiagEntry {
    /// The RFC 9293 state, or `None` for a Linux state with no RFC equivalent.
    pub fn state(&self) -> Option<State> {
        linux_state(self.linux_state)
    }
}

/// Maps Linux's `TCP_*` states (include/net/tcp_states.h) to RFC 9293's.
pub fn linux_state(s: u8) -> Option<State> {
    Some(match s {
        1 => State::Established,
        2 => State::SynSent,
        // TCP_SYN_RECV, and TCP_NEW_SYN_RECV (a request socket before the final ACK).
        3 | 12 => State::SynReceived,
        4 => State::FinWait1,
        5 => State::FinWait2,
        6 => State::TimeWait,
        7 => State::Closed,
        8 => State::CloseWait,
        9 => State::LastAck,
        10 => State::Listen,
        11 => State::Closing,
        _ => return None,
    })
}

/// A NETLINK_SOCK_DIAG socket bound to one network namespace (the one it was opened in).
#[derive(Debug)]
pub struct SockDiag {
    fd: OwnedFd,
}

impl SockDiag {
    /// Opens the socket. Call from a thread inside the namespace to observe.
    pub fn open() -> Result<Self> {
        // SAFETY: socket(2) with constant arguments; checked below.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        };
        if raw < 0 {
            return Err(HarnessError::sys(
                "socket(NETLINK_SOCK_DIAG)",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // Replies could otherwise block forever if the kernel never answered.
        let tv = libc::timeval {
            tv_sec: 2,
            tv_usec: 0,
        };
        // SAFETY: setsockopt with a live timeval and its size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const tv).cast(),
                size_of::<libc::timeval>() as u32,
            );
        }
        Ok(Self { fd })
    }

    /// Every TCP socket of one address family, in any state.
    pub fn dump(&self, v6: bool) -> Result<Vec<DiagEntry>> {
        let family = if v6 { libc::AF_INET6 } else { libc::AF_INET } as u8;
        let mut req = Vec::with_capacity(NLMSG_HDRLEN + REQ_LEN);
        req.extend_from_slice(&((NLMSG_HDRLEN + REQ_LEN) as u32).to_ne_bytes());
        req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        req.extend_from_slice(&1u32.to_ne_bytes()); // seq
        req.extend_from_slice(&0u32.to_ne_bytes()); // pid
        req.push(family);
        req.push(libc::IPPROTO_TCP as u8);
        req.push(0); // idiag_ext
        req.push(0); // pad
        req.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state, NEW_SYN_RECV included
        req.extend_from_slice(&[0; SOCKID_LEN]);

        // SAFETY: sockaddr_nl is plain data.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: sendto from a live buffer to a correctly sized sockaddr_nl.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                req.as_ptr().cast(),
                req.len(),
                0,
                (&raw const sa).cast(),
                size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if n < 0 {
            return Err(HarnessError::sys(
                "sock_diag request",
                io::Error::last_os_error(),
            ));
        }

        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: recv into a live buffer.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(HarnessError::sys(
                    "sock_diag reply",
                    io::Error::last_os_error(),
                ));
            }
            let mut msgs = &buf[..n as usize];
            while msgs.len() >= NLMSG_HDRLEN {
                let len = u32::from_ne_bytes(msgs[0..4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(msgs[4..6].try_into().unwrap());
                if len < NLMSG_HDRLEN || len > msgs.len() {
                    return Err(HarnessError::netlink(
                        "sock_diag reply",
                        "malformed message",
                    ));
                }
                let body = &msgs[NLMSG_HDRLEN..len];
                match kind {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let code = body
                            .get(0..4)
                            .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
                            .unwrap_or(0);
                        return Err(HarnessError::sys(
                            "sock_diag dump",
                            io::Error::from_raw_os_error(-code),
                        ));
                    }
                    SOCK_DIAG_BY_FAMILY => {
                        if let Some(e) = parse_msg(body) {
                            out.push(e);
                        }
                    }
                    _ => {}
                }
                let aligned = len.div_ceil(4) * 4;
                msgs = &msgs[aligned.min(msgs.len())..];
            }
        }
    }

    /// The state of the connection with this local and remote endpoint: `Closed` if there is
    /// none. A listener matches only if `remote` is unspecified.
    pub fn state(&self, local: SocketAddr, remote: SocketAddr) -> Result<State> {
        let entries = self.dump(local.is_ipv6())?;
        Ok(entries
            .iter()
            .find(|e| e.local == local && e.remote == remote)
            .and_then(DiagEntry::state)
            .unwrap_or(State::Closed))
    }
}

fn parse_msg(body: &[u8]) -> Option<DiagEntry> {
    if body.len() < MSG_MIN_LEN {
        return None;
    }
    let family = i32::from(body[0]);
    let linux_state = body[1];
    let id = &body[4..4 + SOCKID_LEN];
    let sport = u16::from_be_bytes([id[0], id[1]]);
    let dport = u16::from_be_bytes([id[2], id[3]]);
    let addr = |raw: &[u8]| -> IpAddr {
        if family == libc::AF_INET6 {
            let mut a = [0u8; 16];
            a.copy_from_slice(&raw[..16]);
            IpAddr::from(a)
        } else {
            IpAddr::from([raw[0], raw[1], raw[2], raw[3]])
        }
    };
    Some(DiagEntry {
        local: SocketAddr::new(addr(&id[4..20]), sport),
        remote: SocketAddr::new(addr(&id[20..36]), dport),
        linux_state,
    })
}
