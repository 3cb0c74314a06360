//! The `kernel` target: Linux's own TCP, through ordinary sockets in the DUT namespace.
//!
//! Sockets are created on a short-lived thread inside the DUT namespace (a socket belongs to the
//! namespace it was created in, whichever thread uses it later), so the runner's pooled threads
//! never enter a namespace. All sockets are non-blocking; calls that wait (accept, recv, a send
//! into a full buffer) poll with the call's own timeout. Connection states come from sock_diag,
//! so they stay visible after close() (FIN-WAIT-2, TIME-WAIT, LAST-ACK).

use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use reference_stack::State;

use super::{Call, CallResult, Errno, How, SocketOptions, Target};
use crate::error::{HarnessError, Result};
use crate::netns::Netns;
use crate::sockdiag::SockDiag;

/// Linux TCP in the DUT namespace.
#[derive(Debug)]
pub struct KernelTarget {
    ns: Netns,
    diag: SockDiag,
    listener: Option<OwnedFd>,
    conn: Option<OwnedFd>,
}

impl KernelTarget {
    /// A target whose sockets live in `ns`.
    pub fn new(ns: &Netns) -> Result<Self> {
        let ns = ns.try_clone()?;
        let diag = ns.run(SockDiag::open)??;
        Ok(Self {
            ns,
            diag,
            listener: None,
            conn: None,
        })
    }

    fn socket(&self, addr: &SocketAddr) -> Result<OwnedFd> {
        let family = if addr.is_ipv6() {
            libc::AF_INET6
        } else {
            libc::AF_INET
        };
        self.ns.run(move || {
            // SAFETY: socket(2) with constant arguments; checked below.
            let raw = unsafe {
                libc::socket(
                    family,
                    libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    libc::IPPROTO_TCP,
                )
            };
            if raw < 0 {
                Err(HarnessError::sys(
                    "socket(SOCK_STREAM) in the DUT namespace",
                    io::Error::last_os_error(),
                ))
            } else {
                // SAFETY: a fresh descriptor nobody else owns.
                Ok(unsafe { OwnedFd::from_raw_fd(raw) })
            }
        })?
    }

    fn conn(&self) -> Result<RawFd> {
        self.conn
            .as_ref()
            .map(AsRawFd::as_raw_fd)
            .ok_or_else(|| HarnessError::Target {
                target: "kernel".into(),
                message: "the case uses the connection before `accept` or `connect` made one"
                    .into(),
            })
    }

    fn listen(
        &mut self,
        local: SocketAddr,
        backlog: u32,
        options: &SocketOptions,
    ) -> Result<CallResult> {
        let fd = self.socket(&local)?;
        setopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        if let Err(e) = apply_options(fd.as_raw_fd(), options) {
            return Ok(CallResult::Error(e));
        }
        if let Err(e) = bind(fd.as_raw_fd(), &local) {
            return Ok(CallResult::Error(e));
        }
        // SAFETY: listen(2) on a live socket.
        if unsafe { libc::listen(fd.as_raw_fd(), backlog as i32) } < 0 {
            return Ok(CallResult::Error(last_errno()));
        }
        self.listener = Some(fd);
        Ok(CallResult::Listening { local })
    }

    fn accept(&mut self, timeout: Duration) -> Result<CallResult> {
        let Some(listener) = self.listener.as_ref().map(AsRawFd::as_raw_fd) else {
            return Err(HarnessError::Target {
                target: "kernel".into(),
                message: "`accept` without a listening socket (the case needs `call: listen`)"
                    .into(),
            });
        };
        let deadline = Instant::now() + timeout;
        loop {
            // SAFETY: sockaddr_storage is plain data, filled by accept4.
            let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut len = size_of::<libc::sockaddr_storage>() as u32;
            // SAFETY: accept4 into a live sockaddr_storage with its size.
            let raw = unsafe {
                libc::accept4(
                    listener,
                    (&raw mut ss).cast(),
                    &mut len,
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if raw >= 0 {
                // SAFETY: a fresh descriptor from accept4.
                let fd = unsafe { OwnedFd::from_raw_fd(raw) };
                let remote = sockaddr_to(&ss).ok_or_else(|| HarnessError::Target {
                    target: "kernel".into(),
                    message: "accept returned an unknown address family".into(),
                })?;
                let local = local_addr(fd.as_raw_fd())?;
                self.conn = Some(fd);
                return Ok(CallResult::Accepted { local, remote });
            }
            let e = last_errno();
            if e.0 != libc::EAGAIN {
                return Ok(CallResult::Error(e));
            }
            if !wait(listener, libc::POLLIN, deadline)? {
                return Ok(CallResult::TimedOut);
            }
        }
    }

    fn connect(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        options: &SocketOptions,
    ) -> Result<CallResult> {
        let fd = self.socket(&remote)?;
        if let Err(e) = apply_options(fd.as_raw_fd(), options) {
            return Ok(CallResult::Error(e));
        }
        if local.port() != 0 {
            setopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        }
        if let Err(e) = bind(fd.as_raw_fd(), &local) {
            return Ok(CallResult::Error(e));
        }
        let (ss, len) = sockaddr_from(&remote);
        // SAFETY: connect with a live sockaddr of the given length.
        let rc = unsafe { libc::connect(fd.as_raw_fd(), (&raw const ss).cast(), len) };
        if rc < 0 {
            let e = last_errno();
            if e.0 != libc::EINPROGRESS {
                return Ok(CallResult::Error(e));
            }
        }
        let local = local_addr(fd.as_raw_fd())?;
        self.conn = Some(fd);
        Ok(CallResult::Connecting { local })
    }

    fn send(&mut self, data: &[u8]) -> Result<CallResult> {
        let fd = self.conn()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut sent = 0;
        while sent < data.len() {
            // SAFETY: send from a live slice; MSG_NOSIGNAL: EPIPE instead of SIGPIPE.
            let n = unsafe {
                libc::send(
                    fd,
                    data[sent..].as_ptr().cast(),
                    data.len() - sent,
                    libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                sent += n as usize;
                continue;
            }
            let e = last_errno();
            if e.0 != libc::EAGAIN {
                if sent == 0 {
                    return Ok(CallResult::Error(e));
                }
                return Ok(CallResult::Sent(sent));
            }
            if !wait(fd, libc::POLLOUT, deadline)? {
                // The send buffer stayed full: report what went, the case judges it.
                return Ok(CallResult::Sent(sent));
            }
        }
        Ok(CallResult::Sent(sent))
    }

    fn recv(&mut self, len: usize, timeout: Duration) -> Result<CallResult> {
        let fd = self.conn()?;
        let deadline = Instant::now() + timeout;
        let mut data = Vec::with_capacity(len);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if len > 0 && data.len() >= len {
                return Ok(CallResult::Received {
                    data,
                    eof: false,
                    error: None,
                });
            }
            let want = if len == 0 {
                buf.len()
            } else {
                (len - data.len()).min(buf.len())
            };
            // SAFETY: recv into a live buffer of at least `want` bytes.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), want, 0) };
            if n > 0 {
                data.extend_from_slice(&buf[..n as usize]);
                continue;
            }
            if n == 0 {
                return Ok(CallResult::Received {
                    data,
                    eof: true,
                    error: None,
                });
            }
            let e = last_errno();
            if e.0 != libc::EAGAIN {
                return Ok(CallResult::Received {
                    data,
                    eof: false,
                    error: Some(e),
                });
            }
            if !wait(fd, libc::POLLIN, deadline)? {
                if data.is_empty() {
                    return Ok(CallResult::TimedOut);
                }
                return Ok(CallResult::Received {
                    data,
                    eof: false,
                    error: None,
                });
            }
        }
    }
}

impl Target for KernelTarget {
    fn name(&self) -> &str {
        "kernel"
    }

    fn call(&mut self, call: &Call) -> Result<CallResult> {
        match call {
            Call::Listen {
                local,
                backlog,
                options,
            } => self.listen(*local, *backlog, options),
            Call::Accept { timeout } => self.accept(*timeout),
            Call::Connect {
                local,
                remote,
                options,
            } => self.connect(*local, *remote, options),
            Call::Send { data } => self.send(data),
            Call::Recv { len, timeout } => self.recv(*len, *timeout),
            Call::Shutdown(how) => {
                let how = match how {
                    How::Rd => libc::SHUT_RD,
                    How::Wr => libc::SHUT_WR,
                    How::RdWr => libc::SHUT_RDWR,
                };
                // SAFETY: shutdown(2) on a live socket.
                let rc = unsafe { libc::shutdown(self.conn()?, how) };
                Ok(if rc < 0 {
                    CallResult::Error(last_errno())
                } else {
                    CallResult::Ok
                })
            }
            Call::Close => {
                self.conn()?;
                // Dropping the descriptor is close(2); the kernel keeps the connection (an
                // orphan) until the close handshake ends, which sock_diag still shows.
                self.conn = None;
                Ok(CallResult::Ok)
            }
            Call::Abort => {
                let fd = self.conn()?;
                let linger = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                // SAFETY: setsockopt with a live linger and its size.
                let rc = unsafe {
                    libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        (&raw const linger).cast(),
                        size_of::<libc::linger>() as u32,
                    )
                };
                if rc < 0 {
                    return Ok(CallResult::Error(last_errno()));
                }
                self.conn = None;
                Ok(CallResult::Ok)
            }
            Call::SetOptions(options) => Ok(match apply_options(self.conn()?, options) {
                Ok(()) => CallResult::Ok,
                Err(e) => CallResult::Error(e),
            }),
        }
    }

    fn state(&mut self, local: SocketAddr, remote: SocketAddr) -> Result<State> {
        self.diag.state(local, remote)
    }
}

fn last_errno() -> Errno {
    Errno(
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

fn setopt(fd: RawFd, level: i32, name: i32, value: i32) -> Result<()> {
    // SAFETY: setsockopt with a live c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            size_of::<i32>() as u32,
        )
    };
    if rc < 0 {
        Err(HarnessError::sys(
            format!("setsockopt({level}, {name})"),
            io::Error::last_os_error(),
        ))
    } else {
        Ok(())
    }
}

/// Applies the options in a fixed order; the first the kernel refuses is returned as an errno
/// (a DUT answer, which the case judges).
fn apply_options(fd: RawFd, o: &SocketOptions) -> std::result::Result<(), Errno> {
    let secs = |d: Duration| d.as_secs().max(1).min(i32::MAX as u64) as i32;
    let ms = |d: Duration| d.as_millis().min(i32::MAX as u128) as i32;
    let set = |level: i32, name: i32, value: i32| -> std::result::Result<(), Errno> {
        // SAFETY: setsockopt with a live c_int and its size.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&raw const value).cast(),
                size_of::<i32>() as u32,
            )
        };
        if rc < 0 { Err(last_errno()) } else { Ok(()) }
    };
    if let Some(v) = o.rcvbuf {
        set(
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            v.min(i32::MAX as u32) as i32,
        )?;
    }
    if let Some(v) = o.sndbuf {
        set(
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            v.min(i32::MAX as u32) as i32,
        )?;
    }
    if let Some(v) = o.nodelay {
        set(libc::IPPROTO_TCP, libc::TCP_NODELAY, i32::from(v))?;
    }
    if let Some(v) = o.maxseg {
        set(libc::IPPROTO_TCP, libc::TCP_MAXSEG, i32::from(v))?;
    }
    if let Some(v) = o.keepalive {
        set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, i32::from(v))?;
    }
    if let Some(v) = o.keepidle {
        set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs(v))?;
    }
    if let Some(v) = o.keepintvl {
        set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, secs(v))?;
    }
    if let Some(v) = o.keepcnt {
        set(
            libc::IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            v.min(i32::MAX as u32) as i32,
        )?;
    }
    if let Some(v) = o.user_timeout {
        set(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, ms(v))?;
    }
    if let Some(v) = o.quickack {
        set(libc::IPPROTO_TCP, libc::TCP_QUICKACK, i32::from(v))?;
    }
    Ok(())
}

fn bind(fd: RawFd, addr: &SocketAddr) -> std::result::Result<(), Errno> {
    let (ss, len) = sockaddr_from(addr);
    // SAFETY: bind with a live sockaddr of the given length.
    if unsafe { libc::bind(fd, (&raw const ss).cast(), len) } < 0 {
        Err(last_errno())
    } else {
        Ok(())
    }
}

/// Waits until `fd` is ready for `events` or `deadline` passes; false on timeout.
fn wait(fd: RawFd, events: i16, deadline: Instant) -> Result<bool> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        let ms = (deadline - now)
            .as_micros()
            .div_ceil(1000)
            .min(i32::MAX as u128) as i32;
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: poll on one live pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc > 0 {
            return Ok(true);
        }
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(HarnessError::sys("poll", e));
            }
        }
    }
}

fn local_addr(fd: RawFd) -> Result<SocketAddr> {
    // SAFETY: sockaddr_storage is plain data, filled by getsockname.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as u32;
    // SAFETY: getsockname into a live sockaddr_storage with its size.
    if unsafe { libc::getsockname(fd, (&raw mut ss).cast(), &mut len) } < 0 {
        return Err(HarnessError::sys("getsockname", io::Error::last_os_error()));
    }
    sockaddr_to(&ss).ok_or_else(|| HarnessError::Target {
        target: "kernel".into(),
        message: "getsockname returned an unknown address family".into(),
    })
}

fn sockaddr_from(addr: &SocketAddr) -> (libc::sockaddr_storage, u32) {
    // SAFETY: sockaddr_storage is plain data; we fill the variant matching the family.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large enough and suitably aligned for sockaddr_in.
            let sin = unsafe { &mut *(&raw mut ss).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as u16;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            (ss, size_of::<libc::sockaddr_in>() as u32)
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_storage is large enough and suitably aligned for sockaddr_in6.
            let sin6 = unsafe { &mut *(&raw mut ss).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as u16;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            (ss, size_of::<libc::sockaddr_in6>() as u32)
        }
    }
}

fn sockaddr_to(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let sin =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::from((
                sin.sin_addr.s_addr.to_ne_bytes(),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let sin6 =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::from((
                sin6.sin6_addr.s6_addr,
                u16::from_be(sin6.sin6_port),
            )))
        }
        _ => None,
    }
}
