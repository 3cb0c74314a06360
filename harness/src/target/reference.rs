//! The `reference` target: the suite's own TCP stack, driven over AF_PACKET on the DUT's veth.
//!
//! The DUT namespace's kernel has no address on `dut0` (and IPv6 is off there), so it ignores
//! the test traffic; the reference stack owns the DUT addresses. A driver thread lives inside the
//! DUT namespace for the whole trial. It owns the [`Stack`] and the packet sockets, and loops:
//!
//! 1. wait (poll) for a frame, a request from the runner, or the stack's next deadline;
//! 2. feed frames addressed to the DUT's MAC to `handle_packet`, expired timers to
//!    `handle_timeout`;
//! 3. carry out requests (socket calls, state queries); calls that wait (accept, recv, a send
//!    into a full buffer) are parked and finished when the stack's state allows or their
//!    deadline passes;
//! 4. drain `poll_transmit` onto the link, adding the Ethernet header from the static neighbour
//!    table (the tester's MAC), exactly as the kernel target's permanent neighbours do.
//!
//! The stack's clock is CLOCK_MONOTONIC in microseconds since the driver started.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use reference_stack::State;
use reference_stack::tcp::{self as stack, ConnId, ListenerId, Stack};
use reference_stack::time::{Duration as StackDuration, Instant};
use reference_stack::wire::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};

use super::{Call, CallResult, Errno, How, SocketOptions, Target};
use crate::error::{HarnessError, Result};
use crate::netns::Netns;
use crate::rawsock::{Capture, Direction, Sender};

/// What the driver is asked to do.
enum Request {
    Call(Call),
    State(SocketAddr, SocketAddr),
    Stop,
}

/// What the driver answers.
enum Response {
    Call(Result<CallResult>),
    State(Result<State>),
}

/// The reference stack as a target.
pub struct ReferenceTarget {
    requests: mpsc::Sender<Request>,
    responses: mpsc::Receiver<Response>,
    wake: OwnedFd,
    thread: Option<JoinHandle<Result<Result<()>>>>,
}

impl std::fmt::Debug for ReferenceTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceTarget").finish_non_exhaustive()
    }
}

/// Where the driver runs and whom it talks to.
#[derive(Debug, Clone)]
pub struct ReferenceConfig {
    /// Index of `dut0` in the DUT namespace.
    pub ifindex: u32,
    /// The DUT's MAC (frames to other MACs are not for the stack).
    pub mac: EthernetAddress,
    /// The stack's addresses.
    pub addresses: Vec<IpAddr>,
    /// Static neighbours: IP address to MAC (the tester's addresses).
    pub neighbours: Vec<(IpAddr, EthernetAddress)>,
    /// Stack settings (a profile's knobs).
    pub stack: stack::Config,
}

impl ReferenceTarget {
    /// Starts the driver thread inside `ns`.
    pub fn start(ns: &Netns, config: ReferenceConfig) -> Result<Self> {
        let (req_tx, req_rx) = mpsc::channel();
        let (resp_tx, resp_rx) = mpsc::channel();
        let (wake_read, wake_write) = pipe()?;
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = ns.spawn("reference-dut", move || {
            driver(config, req_rx, resp_tx, wake_read, ready_tx)
        })?;
        let mut target = Self {
            requests: req_tx,
            responses: resp_rx,
            wake: wake_write,
            thread: Some(thread),
        };
        // The driver's packet sockets must be open before the runner sends the first frame:
        // a frame that arrives earlier is lost to the stack (and would be blamed on it).
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(()) => Ok(target),
            Err(_) => Err(target
                .driver_error()
                .unwrap_or_else(|| HarnessError::Target {
                    target: "reference".into(),
                    message: "the driver thread did not start within 10 s".into(),
                })),
        }
    }

    fn ask(&mut self, req: Request) -> Result<Response> {
        let gone = || HarnessError::Target {
            target: "reference".into(),
            message: "the driver thread is gone".into(),
        };
        self.requests.send(req).map_err(|_| gone())?;
        // SAFETY: write(2) of one byte from a live buffer to our pipe.
        unsafe { libc::write(self.wake.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        match self.responses.recv() {
            Ok(r) => Ok(r),
            Err(_) => Err(self.driver_error().unwrap_or_else(gone)),
        }
    }

    /// The driver's own error, if it stopped with one.
    fn driver_error(&mut self) -> Option<HarnessError> {
        let t = self.thread.take()?;
        match t.join() {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(e)) | Err(e)) => Some(e),
            Err(p) => Some(HarnessError::Panic(crate::netns::panic_message(&p))),
        }
    }
}

impl Drop for ReferenceTarget {
    fn drop(&mut self) {
        let _ = self.requests.send(Request::Stop);
        // SAFETY: as in `ask`.
        unsafe { libc::write(self.wake.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        let _ = self.driver_error();
    }
}

impl Target for ReferenceTarget {
    fn name(&self) -> &str {
        "reference"
    }

    fn call(&mut self, call: &Call) -> Result<CallResult> {
        match self.ask(Request::Call(call.clone()))? {
            Response::Call(r) => r,
            Response::State(_) => unreachable!("the driver answers in order"),
        }
    }

    fn state(&mut self, local: SocketAddr, remote: SocketAddr) -> Result<State> {
        match self.ask(Request::State(local, remote))? {
            Response::State(r) => r,
            Response::Call(_) => unreachable!("the driver answers in order"),
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 into a live array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(HarnessError::sys("pipe2", io::Error::last_os_error()));
    }
    // SAFETY: fresh descriptors from pipe2, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn monotonic_micros() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always available");
    ts.tv_sec() as u64 * 1_000_000 + ts.tv_nsec() as u64 / 1000
}

fn errno(e: &stack::Error) -> Errno {
    Errno::from_name(e.errno_name()).unwrap_or(Errno(libc::EIO))
}

fn stack_options(o: &SocketOptions) -> stack::SocketOptions {
    let d = |d: Duration| StackDuration::from_micros(d.as_micros().min(u64::MAX as u128) as u64);
    stack::SocketOptions {
        nodelay: o.nodelay,
        rcvbuf: o.rcvbuf.map(|v| v as usize),
        sndbuf: o.sndbuf.map(|v| v as usize),
        maxseg: o.maxseg,
        keepalive: o.keepalive,
        keepidle: o.keepidle.map(d),
        keepintvl: o.keepintvl.map(d),
        keepcnt: o.keepcnt,
        user_timeout: o.user_timeout.map(d),
    }
}

/// A call that waits for the stack.
enum Parked {
    Accept {
        deadline: u64,
    },
    Recv {
        len: usize,
        data: Vec<u8>,
        deadline: u64,
    },
    Send {
        data: Vec<u8>,
        sent: usize,
        deadline: u64,
    },
}

struct Driver {
    stack: Stack,
    config: ReferenceConfig,
    sender: Sender,
    listener: Option<ListenerId>,
    conn: Option<ConnId>,
    /// TCP_QUICKACK of the listen/connect options, a per-connection call in the stack.
    quickack: Option<bool>,
    parked: Option<Parked>,
    epoch: u64,
    tx_buf: Vec<u8>,
    frame: Vec<u8>,
}

/// How long a send may wait for room in the send buffer before reporting a partial send
/// (the kernel target does the same).
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

impl Driver {
    fn now(&self) -> Instant {
        Instant::from_micros(monotonic_micros() - self.epoch)
    }

    fn micros(&self, d: Duration) -> u64 {
        monotonic_micros() + d.as_micros().min(u64::MAX as u128 / 2) as u64
    }

    fn conn(&self) -> Result<ConnId> {
        self.conn.ok_or_else(|| HarnessError::Target {
            target: "reference".into(),
            message: "the case uses the connection before `accept` or `connect` made one".into(),
        })
    }

    /// Starts a call; `None` means it is parked.
    fn start(&mut self, call: Call) -> Result<Option<CallResult>> {
        let now = self.now();
        Ok(Some(match call {
            Call::Listen {
                local,
                backlog,
                options,
            } => {
                self.quickack = options.quickack;
                match self
                    .stack
                    .listen(local, backlog as usize, &stack_options(&options))
                {
                    Ok(l) => {
                        self.listener = Some(l);
                        CallResult::Listening { local }
                    }
                    Err(e) => CallResult::Error(errno(&e)),
                }
            }
            Call::Accept { timeout } => {
                if self.listener.is_none() {
                    return Err(HarnessError::Target {
                        target: "reference".into(),
                        message:
                            "`accept` without a listening socket (the case needs `call: listen`)"
                                .into(),
                    });
                }
                self.parked = Some(Parked::Accept {
                    deadline: self.micros(timeout),
                });
                return Ok(None);
            }
            Call::Connect {
                local,
                remote,
                options,
            } => {
                match self
                    .stack
                    .connect(now, local, remote, &stack_options(&options))
                {
                    Ok(c) => {
                        self.conn = Some(c);
                        if let Some(on) = options.quickack {
                            let _ = self.stack.set_quickack(c, on);
                        }
                        match self.stack.local_addr(c) {
                            Ok(local) => CallResult::Connecting { local },
                            Err(e) => CallResult::Error(errno(&e)),
                        }
                    }
                    Err(e) => CallResult::Error(errno(&e)),
                }
            }
            Call::Send { data } => {
                self.conn()?;
                self.parked = Some(Parked::Send {
                    data,
                    sent: 0,
                    deadline: self.micros(SEND_TIMEOUT),
                });
                return Ok(None);
            }
            Call::Recv { len, timeout } => {
                self.conn()?;
                self.parked = Some(Parked::Recv {
                    len,
                    data: Vec::new(),
                    deadline: self.micros(timeout),
                });
                return Ok(None);
            }
            Call::Shutdown(how) => {
                let how = match how {
                    How::Rd => stack::How::Read,
                    How::Wr => stack::How::Write,
                    How::RdWr => stack::How::Both,
                };
                match self.stack.shutdown(now, self.conn()?, how) {
                    Ok(()) => CallResult::Ok,
                    Err(e) => CallResult::Error(errno(&e)),
                }
            }
            Call::Close => {
                let c = self.conn()?;
                self.conn = None;
                match self.stack.close(now, c) {
                    Ok(()) => CallResult::Ok,
                    Err(e) => CallResult::Error(errno(&e)),
                }
            }
            Call::Abort => {
                let c = self.conn()?;
                self.conn = None;
                match self.stack.abort(now, c) {
                    Ok(()) => CallResult::Ok,
                    Err(e) => CallResult::Error(errno(&e)),
                }
            }
            Call::SetOptions(o) => {
                let c = self.conn()?;
                let quickack = o
                    .quickack
                    .map_or(Ok(()), |on| self.stack.set_quickack(c, on));
                match quickack.and_then(|()| self.stack.set_options(c, &stack_options(&o))) {
                    Ok(()) => CallResult::Ok,
                    Err(e) => CallResult::Error(errno(&e)),
                }
            }
        }))
    }

    /// Moves a parked call forward; `Some` when it is done.
    fn progress(&mut self) -> Option<CallResult> {
        let now_us = monotonic_micros();
        let now = self.now();
        let parked = self.parked.take()?;
        let (result, parked) = match parked {
            Parked::Accept { deadline } => {
                let l = self.listener.expect("checked when parked");
                match self.stack.accept(l) {
                    Ok((c, remote)) => {
                        self.conn = Some(c);
                        if let Some(on) = self.quickack {
                            let _ = self.stack.set_quickack(c, on);
                        }
                        let r = match self.stack.local_addr(c) {
                            Ok(local) => CallResult::Accepted { local, remote },
                            Err(e) => CallResult::Error(errno(&e)),
                        };
                        (Some(r), None)
                    }
                    Err(stack::Error::WouldBlock) if now_us < deadline => {
                        (None, Some(Parked::Accept { deadline }))
                    }
                    Err(stack::Error::WouldBlock) => (Some(CallResult::TimedOut), None),
                    Err(e) => (Some(CallResult::Error(errno(&e))), None),
                }
            }
            Parked::Recv {
                len,
                mut data,
                deadline,
            } => {
                let Some(c) = self.conn else {
                    return Some(CallResult::Error(Errno(libc::EBADF)));
                };
                let mut buf = [0u8; 16 * 1024];
                loop {
                    if len > 0 && data.len() >= len {
                        break (
                            Some(CallResult::Received {
                                data,
                                eof: false,
                                error: None,
                            }),
                            None,
                        );
                    }
                    let want = if len == 0 {
                        buf.len()
                    } else {
                        (len - data.len()).min(buf.len())
                    };
                    match self.stack.recv(c, &mut buf[..want]) {
                        Ok(0) => {
                            break (
                                Some(CallResult::Received {
                                    data,
                                    eof: true,
                                    error: None,
                                }),
                                None,
                            );
                        }
                        Ok(n) => data.extend_from_slice(&buf[..n]),
                        Err(stack::Error::WouldBlock) if now_us < deadline => {
                            break (
                                None,
                                Some(Parked::Recv {
                                    len,
                                    data,
                                    deadline,
                                }),
                            );
                        }
                        Err(stack::Error::WouldBlock) if data.is_empty() => {
                            break (Some(CallResult::TimedOut), None);
                        }
                        Err(stack::Error::WouldBlock) => {
                            break (
                                Some(CallResult::Received {
                                    data,
                                    eof: false,
                                    error: None,
                                }),
                                None,
                            );
                        }
                        Err(e) => {
                            break (
                                Some(CallResult::Received {
                                    data,
                                    eof: false,
                                    error: Some(errno(&e)),
                                }),
                                None,
                            );
                        }
                    }
                }
            }
            Parked::Send {
                data,
                mut sent,
                deadline,
            } => {
                let Some(c) = self.conn else {
                    return Some(CallResult::Error(Errno(libc::EBADF)));
                };
                loop {
                    if sent == data.len() {
                        break (Some(CallResult::Sent(sent)), None);
                    }
                    match self.stack.send(now, c, &data[sent..]) {
                        Ok(0) | Err(stack::Error::WouldBlock) if now_us < deadline => {
                            break (
                                None,
                                Some(Parked::Send {
                                    data,
                                    sent,
                                    deadline,
                                }),
                            );
                        }
                        Ok(0) | Err(stack::Error::WouldBlock) => {
                            break (Some(CallResult::Sent(sent)), None);
                        }
                        Ok(n) => sent += n,
                        Err(e) if sent == 0 => break (Some(CallResult::Error(errno(&e))), None),
                        Err(_) => break (Some(CallResult::Sent(sent)), None),
                    }
                }
            }
        };
        self.parked = parked;
        result
    }

    fn parked_deadline(&self) -> Option<u64> {
        match &self.parked {
            Some(
                Parked::Accept { deadline }
                | Parked::Recv { deadline, .. }
                | Parked::Send { deadline, .. },
            ) => Some(*deadline),
            None => None,
        }
    }

    /// Puts everything the stack wants to send on the link.
    fn transmit(&mut self) -> Result<()> {
        loop {
            let now = self.now();
            let Some(t) = self.stack.poll_transmit(now, &mut self.tx_buf) else {
                return Ok(());
            };
            let Some(dst_mac) = self
                .config
                .neighbours
                .iter()
                .find(|(ip, _)| *ip == t.dst)
                .map(|(_, mac)| *mac)
            else {
                // No neighbour: a real host would fail address resolution; drop it.
                continue;
            };
            let ethertype = if t.dst.is_ipv6() {
                EtherType::Ipv6
            } else {
                EtherType::Ipv4
            };
            self.frame.clear();
            self.frame.resize(14 + t.len, 0);
            EthernetRepr {
                src_addr: self.config.mac,
                dst_addr: dst_mac,
                ethertype,
            }
            .emit(&mut EthernetFrame::new_unchecked(&mut self.frame[..]));
            self.frame[14..].copy_from_slice(&self.tx_buf[..t.len]);
            self.sender.send(&self.frame)?;
        }
    }
}

fn driver(
    config: ReferenceConfig,
    requests: mpsc::Receiver<Request>,
    responses: mpsc::Sender<Response>,
    wake: OwnedFd,
    ready: mpsc::Sender<()>,
) -> Result<()> {
    let mut capture = Capture::open(config.ifindex)?;
    let sender = Sender::open(config.ifindex)?;
    // From here on every frame on the link reaches the stack.
    let _ = ready.send(());
    let mut d = Driver {
        stack: Stack::new(config.stack.clone()),
        config,
        sender,
        listener: None,
        conn: None,
        quickack: None,
        parked: None,
        epoch: monotonic_micros(),
        tx_buf: Vec::with_capacity(65_536),
        frame: Vec::with_capacity(65_536 + 14),
    };
    let mut queue: VecDeque<Request> = VecDeque::new();
    loop {
        // 1. Frames.
        while let Some(f) = capture.try_recv()? {
            if f.dir == Direction::Outgoing {
                continue;
            }
            let Ok(eth) = EthernetFrame::new_checked(&f.bytes[..]) else {
                continue;
            };
            if eth.dst_addr() != d.config.mac
                || !matches!(eth.ethertype(), EtherType::Ipv4 | EtherType::Ipv6)
            {
                continue;
            }
            let now = d.now();
            d.stack.handle_packet(now, eth.payload());
        }
        // 2. Timers.
        let now = d.now();
        if d.stack.poll_timeout().is_some_and(|t| t <= now) {
            d.stack.handle_timeout(now);
        }
        d.transmit()?;
        // Parked calls look at the stack's state directly; events need no handling here.
        while d.stack.poll_event().is_some() {}
        // 3. Requests.
        let mut drained = [0u8; 64];
        // SAFETY: read(2) into a live buffer from our non-blocking pipe.
        while unsafe { libc::read(wake.as_raw_fd(), drained.as_mut_ptr().cast(), drained.len()) }
            > 0
        {}
        while let Ok(r) = requests.try_recv() {
            queue.push_back(r);
        }
        if d.parked.is_some()
            && let Some(r) = d.progress()
        {
            let _ = responses.send(Response::Call(Ok(r)));
        }
        while d.parked.is_none() {
            let Some(req) = queue.pop_front() else { break };
            match req {
                Request::Stop => return Ok(()),
                Request::State(local, remote) => {
                    let _ = responses.send(Response::State(Ok(d.stack.state_of(local, remote))));
                }
                Request::Call(call) => match d.start(call) {
                    Ok(Some(r)) => {
                        let _ = responses.send(Response::Call(Ok(r)));
                    }
                    Ok(None) => {
                        if let Some(r) = d.progress() {
                            let _ = responses.send(Response::Call(Ok(r)));
                        }
                    }
                    Err(e) => {
                        let _ = responses.send(Response::Call(Err(e)));
                    }
                },
            }
        }
        d.transmit()?;
        while d.stack.poll_event().is_some() {}
        // 4. Wait for the next thing to happen.
        let now_us = monotonic_micros();
        let stack_deadline = d.stack.poll_timeout().map(|t| d.epoch + t.total_micros());
        let deadline = [stack_deadline, d.parked_deadline()]
            .into_iter()
            .flatten()
            .min();
        let timeout_ms = match deadline {
            Some(t) if t <= now_us => 0,
            Some(t) => ((t - now_us).div_ceil(1000)).min(1000) as i32,
            None => 1000,
        };
        let mut fds = [
            libc::pollfd {
                fd: capture.raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll on two live pollfds.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
    }
}
