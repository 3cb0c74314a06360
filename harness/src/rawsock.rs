//! Raw Ethernet I/O on one interface with AF_PACKET: the tester's hands and eyes.
//!
//! Two sockets per interface, both created inside the interface's namespace:
//! - a **sender** (protocol 0: it receives nothing) that puts whole Ethernet frames on the link;
//! - a **capture** socket (ETH_P_ALL) that sees every frame in both directions, the sender's
//!   included (the kernel never loops a frame back to the socket that sent it, which is why the
//!   two are separate), each with the kernel's receive timestamp (SO_TIMESTAMPNS).
//!
//! The capture is read by the trial's own thread, on demand, up to a deadline; frames are
//! returned in the order the kernel queued them, which is timestamp order.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::clock::Timestamp;
use crate::error::{HarnessError, Result};

/// Which way a captured frame went, seen from the interface the socket is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent from this interface (by the tester).
    Outgoing,
    /// Received on this interface (from the DUT).
    Incoming,
}

/// One frame from the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// The kernel's timestamp.
    pub ts: Timestamp,
    /// Which way it went.
    pub dir: Direction,
    /// The whole Ethernet frame.
    pub bytes: Vec<u8>,
}

const ETH_P_ALL: u16 = 0x0003;
/// Frames larger than this are truncated by the kernel (and reported); the veth MTU is 1500.
const SNAPLEN: usize = 65_536;

fn check(rc: libc::c_int, what: &str) -> Result<libc::c_int> {
    if rc < 0 {
        Err(HarnessError::sys(what, io::Error::last_os_error()))
    } else {
        Ok(rc)
    }
}

fn packet_socket(protocol: u16, ifindex: u32) -> Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let raw = check(
        unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                i32::from(protocol.to_be()),
            )
        },
        "socket(AF_PACKET)",
    )
    .map_err(|e| match e {
        HarnessError::Sys { source, .. } if source.raw_os_error() == Some(libc::EPERM) => {
            HarnessError::Privilege(
                "cannot open an AF_PACKET socket (needs CAP_NET_RAW in the test namespace)".into(),
            )
        }
        e => e,
    })?;
    // SAFETY: `raw` is a fresh descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_ll is plain data.
    let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: bind with a correctly sized sockaddr_ll.
    check(
        unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const sll).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        },
        "bind(AF_PACKET)",
    )?;
    Ok(fd)
}

fn setsockopt_int(fd: &OwnedFd, level: i32, name: i32, value: i32, what: &str) -> Result<()> {
    // SAFETY: setsockopt with a pointer to a live c_int and its size.
    check(
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                (&raw const value).cast(),
                size_of::<i32>() as u32,
            )
        },
        what,
    )
    .map(drop)
}

/// Sends whole Ethernet frames on one interface.
#[derive(Debug)]
pub struct Sender {
    fd: OwnedFd,
}

impl Sender {
    /// Opens the sender on `ifindex`. Call from a thread inside the interface's namespace.
    pub fn open(ifindex: u32) -> Result<Self> {
        Ok(Self {
            fd: packet_socket(0, ifindex)?,
        })
    }

    /// Puts one frame on the link.
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        // SAFETY: send(2) from a live slice.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(HarnessError::sys("send frame", io::Error::last_os_error()));
        }
        if n as usize != frame.len() {
            return Err(HarnessError::Capture(format!(
                "short send: {n} of {} bytes",
                frame.len()
            )));
        }
        Ok(())
    }
}

/// Sees every frame on one interface, both ways, with timestamps.
#[derive(Debug)]
pub struct Capture {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Capture {
    /// Opens the capture on `ifindex`. Call from a thread inside the interface's namespace.
    pub fn open(ifindex: u32) -> Result<Self> {
        let fd = packet_socket(ETH_P_ALL, ifindex)?;
        setsockopt_int(
            &fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            1,
            "SO_TIMESTAMPNS",
        )?;
        // A deep queue: a trial reads its capture only while it waits for something, and a bulk
        // transfer may queue thousands of frames meanwhile. Drops are detected, not ignored.
        let _ = setsockopt_int(
            &fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            16 << 20,
            "SO_RCVBUFFORCE",
        )
        .or_else(|_| {
            setsockopt_int(
                &fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                16 << 20,
                "SO_RCVBUF",
            )
        });
        // Reset the drop counter: it counts from now.
        let _ = Self::read_drops(&fd);
        Ok(Self {
            fd,
            buf: vec![0; SNAPLEN],
        })
    }

    /// The next frame, waiting until `deadline` at most. `None` means the deadline passed with
    /// the queue empty.
    pub fn recv_until(&mut self, deadline: Timestamp) -> Result<Option<CapturedFrame>> {
        loop {
            if let Some(f) = self.try_recv()? {
                return Ok(Some(f));
            }
            let now = Timestamp::now();
            if now >= deadline {
                return Ok(None);
            }
            let wait = deadline.saturating_since(now);
            self.poll(wait)?;
        }
    }

    /// The socket, for a caller that polls it together with other descriptors.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }

    /// The next queued frame, if any, without waiting.
    pub fn try_recv(&mut self) -> Result<Option<CapturedFrame>> {
        // SAFETY: all of these are plain data, zero-initialised and filled by recvmsg(2) below.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        let mut cmsg_buf = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: self.buf.as_mut_ptr().cast(),
            iov_len: self.buf.len(),
        };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = (&raw mut sll).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg_buf.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 16]>();
        // SAFETY: every pointer in `msg` points to live, correctly sized storage.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            return Err(HarnessError::sys("recvmsg on capture", err));
        }
        let n = n as usize;
        if n > self.buf.len() {
            return Err(HarnessError::Capture(format!(
                "a {n}-byte frame exceeds the capture buffer ({} bytes): offloads are on?",
                self.buf.len()
            )));
        }
        let mut ts = None;
        // SAFETY: walking the control messages recvmsg filled in, with the libc macros.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    ts = Some(Timestamp::from_parts(t.tv_sec as u64, t.tv_nsec as u32));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        let ts =
            ts.ok_or_else(|| HarnessError::Capture("a frame came without a timestamp".into()))?;
        let dir = if sll.sll_pkttype == libc::PACKET_OUTGOING {
            Direction::Outgoing
        } else {
            Direction::Incoming
        };
        Ok(Some(CapturedFrame {
            ts,
            dir,
            bytes: self.buf[..n].to_vec(),
        }))
    }

    fn poll(&self, wait: Duration) -> Result<()> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Round up so that a wait of a few microseconds does not spin.
        let ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: poll(2) on one live pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(HarnessError::sys("poll capture", err));
            }
        }
        Ok(())
    }

    /// Frames the kernel dropped from this socket's queue since the last call (or since open).
    /// Anything but zero means the capture is incomplete.
    pub fn drops(&self) -> Result<u32> {
        Self::read_drops(&self.fd)
    }

    fn read_drops(fd: &OwnedFd) -> Result<u32> {
        let mut stats = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = size_of::<libc::tpacket_stats>() as u32;
        // SAFETY: getsockopt into a live tpacket_stats with its size.
        check(
            unsafe {
                libc::getsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_STATISTICS,
                    (&raw mut stats).cast(),
                    &mut len,
                )
            },
            "PACKET_STATISTICS",
        )?;
        Ok(stats.tp_drops)
    }
}
