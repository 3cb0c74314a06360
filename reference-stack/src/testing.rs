//! Test doubles for the stack (feature `testing`, and the crate's own tests): segment builders,
//! a seeded random generator, and [`Pair`], two stacks joined by an in-memory wire with a
//! virtual clock, latency and seeded loss, duplication and reordering (quinn's test pair).
//!
//! ```
//! use reference_stack::testing::{Faults, Pair};
//!
//! let mut pair = Pair::new(false, 7, Faults::default());
//! let (client, server) = pair.connect();
//! let sent = vec![42u8; 100_000];
//! let received = pair.transfer(client, server, &sent, 100_000);
//! assert_eq!(received, sent);
//! ```

use core::cmp::Reverse;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::collections::BinaryHeap;

use crate::State;
use crate::tcp::{Config, ConnId, Event, Stack};
use crate::time::{Duration, Instant};
use crate::wire::{Ecn, IpProtocol, IpRepr, Ipv4Repr, Ipv6Repr, TcpPacket, TcpRepr};

/// xorshift64: a tiny deterministic generator; a failure reproduces from its seed.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a seed (0 is replaced by a fixed non-zero value).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `per_million / 1_000_000`.
    pub fn chance(&mut self, per_million: u32) -> bool {
        self.below(1_000_000) < u64::from(per_million)
    }
}

/// Write `repr` as one IP datagram from `src` to `dst` (TTL 64, the given ECN codepoint). The
/// ports come from `src` and `dst`.
pub fn build_packet(src: SocketAddr, dst: SocketAddr, repr: &TcpRepr<'_>, ecn: Ecn) -> Vec<u8> {
    let mut repr = *repr;
    repr.src_port = src.port();
    repr.dst_port = dst.port();
    let mut segment = vec![0; repr.buffer_len()];
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut segment[..]),
        &src.ip(),
        &dst.ip(),
    );
    wrap_ip(src.ip(), dst.ip(), ecn, &segment)
}

/// Put a TCP segment (any bytes, valid or not) in an IP datagram from `src` to `dst` (TTL 64,
/// DF on IPv4).
pub fn wrap_ip(src: IpAddr, dst: IpAddr, ecn: Ecn, segment: &[u8]) -> Vec<u8> {
    let ip = match (src, dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => IpRepr::Ipv6(Ipv6Repr {
            src_addr: s,
            dst_addr: d,
            next_header: IpProtocol::Tcp,
            payload_len: segment.len(),
            hop_limit: 64,
            ecn,
            dscp: 0,
            flow_label: 0,
        }),
        (s, d) => IpRepr::Ipv4(Ipv4Repr {
            src_addr: v4(s),
            dst_addr: v4(d),
            next_header: IpProtocol::Tcp,
            payload_len: segment.len(),
            hop_limit: 64,
            ecn,
            dscp: 0,
            ident: 0,
            dont_frag: true,
        }),
    };
    let mut buf = vec![0; ip.header_len()];
    ip.emit(&mut buf);
    buf.extend_from_slice(segment);
    buf
}

fn v4(addr: IpAddr) -> Ipv4Addr {
    match addr {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => a.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
    }
}

/// Parse a datagram the stack sent (strictly: the codec's `TcpRepr::parse`).
pub fn parse_packet(bytes: &[u8]) -> Option<(IpRepr, TcpRepr<'_>)> {
    let (ip, payload) = IpRepr::parse_packet(bytes).ok()?;
    let packet = TcpPacket::new_checked(payload).ok()?;
    let tcp = TcpRepr::parse(&packet, &ip.src_addr(), &ip.dst_addr()).ok()?;
    Some((ip, tcp))
}

/// Faults of the in-memory wire, in parts per million of datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Datagrams lost.
    pub loss: u32,
    /// Datagrams delivered twice.
    pub duplicate: u32,
    /// Datagrams delayed by an extra `reorder_delay`, so later ones overtake them.
    pub reorder: u32,
    /// The extra delay of a reordered datagram.
    pub reorder_delay: Duration,
}

/// One side of a [`Pair`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The client (`a`).
    A,
    /// The server (`b`).
    B,
}

/// Counters of a [`Pair`]'s wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireStats {
    /// Datagrams sent by A and by B.
    pub sent: [u64; 2],
    /// Datagrams lost.
    pub lost: u64,
    /// Datagrams delivered twice.
    pub duplicated: u64,
    /// Datagrams delayed past later ones.
    pub reordered: u64,
    /// Datagrams dropped for exceeding the MTU.
    pub oversize: u64,
    /// Calls to [`Pair::step`].
    pub steps: u64,
}

/// A datagram in flight: arrival time, a tie-breaking sequence number, destination, bytes.
type InFlight = Reverse<(Instant, u64, Side, Vec<u8>)>;

/// Two stacks joined by an in-memory wire, in virtual time.
#[derive(Debug)]
pub struct Pair {
    /// The client stack (address `.1`).
    pub a: Stack,
    /// The server stack (address `.2`).
    pub b: Stack,
    /// The virtual clock.
    pub time: Instant,
    /// One-way delay of the wire.
    pub latency: Duration,
    /// Datagrams longer than this are dropped.
    pub mtu: usize,
    /// Seeded faults.
    pub faults: Faults,
    /// Counters.
    pub stats: WireStats,
    /// Events polled from each stack, in order, for the test to inspect.
    pub events: [Vec<Event>; 2],
    /// When set, every datagram put on the wire is recorded `(time, sender, bytes)`.
    pub capture: Option<Vec<(Instant, Side, Vec<u8>)>>,
    rng: XorShift,
    in_flight: BinaryHeap<InFlight>,
    counter: u64,
    pool: Vec<Vec<u8>>,
    buf: Vec<u8>,
}

impl Pair {
    /// The client's address.
    pub fn addr_a(ipv6: bool) -> IpAddr {
        if ipv6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1))
        } else {
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1))
        }
    }

    /// The server's address.
    pub fn addr_b(ipv6: bool) -> IpAddr {
        if ipv6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2))
        } else {
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2))
        }
    }

    /// The default configuration of one side: its address, a fixed ISN secret.
    pub fn config(ipv6: bool, side: Side) -> Config {
        let (addr, secret) = match side {
            Side::A => (Self::addr_a(ipv6), [1; 16]),
            Side::B => (Self::addr_b(ipv6), [2; 16]),
        };
        Config {
            local_addrs: vec![addr],
            isn_secret: secret,
            ..Config::default()
        }
    }

    /// A pair with default configurations, 5 ms one-way latency and MTU 1500.
    pub fn new(ipv6: bool, seed: u64, faults: Faults) -> Self {
        Self::with_configs(
            Self::config(ipv6, Side::A),
            Self::config(ipv6, Side::B),
            seed,
            faults,
        )
    }

    /// A pair with the given configurations.
    pub fn with_configs(a: Config, b: Config, seed: u64, faults: Faults) -> Self {
        Self {
            a: Stack::new(a),
            b: Stack::new(b),
            time: Instant::ZERO,
            latency: Duration::from_millis(5),
            mtu: 1500,
            faults,
            stats: WireStats::default(),
            events: [Vec::new(), Vec::new()],
            capture: None,
            rng: XorShift::new(seed),
            in_flight: BinaryHeap::new(),
            counter: 0,
            pool: Vec::new(),
            buf: Vec::with_capacity(2048),
        }
    }

    /// The stack on `side`.
    pub fn stack(&mut self, side: Side) -> &mut Stack {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Put what `side` sends on the wire, applying the faults.
    fn flush(&mut self, side: Side) {
        let to = match side {
            Side::A => Side::B,
            Side::B => Side::A,
        };
        loop {
            let stack = match side {
                Side::A => &mut self.a,
                Side::B => &mut self.b,
            };
            let Some(transmit) = stack.poll_transmit(self.time, &mut self.buf) else {
                break;
            };
            self.stats.sent[side as usize] += 1;
            let bytes = &self.buf[..transmit.len];
            if let Some(capture) = &mut self.capture {
                capture.push((self.time, side, bytes.to_vec()));
            }
            if bytes.len() > self.mtu {
                self.stats.oversize += 1;
                continue;
            }
            if self.rng.chance(self.faults.loss) {
                self.stats.lost += 1;
                continue;
            }
            let copies = if self.rng.chance(self.faults.duplicate) {
                self.stats.duplicated += 1;
                2
            } else {
                1
            };
            for _ in 0..copies {
                let mut arrival = self.time + self.latency;
                if self.rng.chance(self.faults.reorder) {
                    self.stats.reordered += 1;
                    arrival += self.faults.reorder_delay;
                }
                let mut packet = self.pool.pop().unwrap_or_default();
                packet.clear();
                packet.extend_from_slice(&self.buf[..transmit.len]);
                self.counter += 1;
                self.in_flight
                    .push(Reverse((arrival, self.counter, to, packet)));
            }
        }
        let stack = match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        };
        while let Some(event) = stack.poll_event() {
            self.events[side as usize].push(event);
        }
    }

    /// One step: deliver what arrived by now (each datagram followed by the receiver's
    /// output, as a driver that polls after every frame), run due timers, put both sides'
    /// output on the wire, then move the clock to the next arrival or deadline. Returns false
    /// when nothing is left to happen (the clock does not move then).
    pub fn step(&mut self) -> bool {
        self.stats.steps += 1;
        while let Some(Reverse((at, _, _, _))) = self.in_flight.peek() {
            if *at > self.time {
                break;
            }
            let Some(Reverse((_, _, to, packet))) = self.in_flight.pop() else {
                break;
            };
            let time = self.time;
            self.stack(to).handle_packet(time, &packet);
            self.pool.push(packet);
            self.flush(to);
        }
        for side in [Side::A, Side::B] {
            let time = self.time;
            let stack = self.stack(side);
            if stack.poll_timeout().is_some_and(|at| at <= time) {
                stack.handle_timeout(time);
            }
        }
        self.flush(Side::A);
        self.flush(Side::B);
        let next = [
            self.in_flight.peek().map(|Reverse((at, ..))| *at),
            self.a.poll_timeout(),
            self.b.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            Some(at) => {
                self.time = self.time.max(at);
                true
            }
            None => false,
        }
    }

    /// Step until nothing is left to happen, at most `max_steps` times.
    ///
    /// # Panics
    /// If the pair is still busy after `max_steps` steps: a livelock.
    pub fn drive_bounded(&mut self, max_steps: u64) -> u64 {
        for steps in 1..=max_steps {
            if !self.step() {
                return steps;
            }
        }
        panic!(
            "livelock: still busy after {max_steps} steps at {}",
            self.time
        );
    }

    /// Step until `done(self)` holds, at most `max_steps` times.
    ///
    /// # Panics
    /// If `done` does not hold within `max_steps` steps, or the pair goes idle first.
    pub fn drive_until(&mut self, max_steps: u64, mut done: impl FnMut(&mut Self) -> bool) -> u64 {
        for steps in 0..max_steps {
            if done(self) {
                return steps;
            }
            if !self.step() && !done(self) {
                panic!("idle at {} before the condition held", self.time);
            }
        }
        panic!(
            "condition not reached after {max_steps} steps at {}",
            self.time
        );
    }

    /// B listens on port 80; A connects from an ephemeral port; both reach ESTABLISHED and B
    /// accepts. Returns (A's connection, B's connection).
    pub fn connect(&mut self) -> (ConnId, ConnId) {
        let ipv6 = self
            .a
            .config()
            .local_addrs
            .first()
            .is_some_and(IpAddr::is_ipv6);
        let listen = SocketAddr::new(Self::addr_b(ipv6), 80);
        let listener = self
            .b
            .listen(listen, 16, &Default::default())
            .expect("listen");
        let time = self.time;
        let client = self
            .a
            .connect(
                time,
                SocketAddr::new(Self::addr_a(ipv6), 0),
                listen,
                &Default::default(),
            )
            .expect("connect");
        let mut server = None;
        self.drive_until(1000, |pair| {
            if server.is_none() {
                server = pair.b.accept(listener).ok().map(|(id, _)| id);
            }
            server.is_some() && pair.a.conn_state(client) == State::Established
        });
        (client, server.unwrap_or(client))
    }

    /// Send `data` from `from` (on A) to `to` (on B) through the wire, reading on B as it
    /// arrives, then close A's side and read to the end of the stream. Returns what B read.
    ///
    /// # Panics
    /// If the transfer takes more than `max_steps` steps (a livelock or a stall), or a call
    /// fails.
    pub fn transfer(&mut self, from: ConnId, to: ConnId, data: &[u8], max_steps: u64) -> Vec<u8> {
        let mut received = Vec::with_capacity(data.len());
        let mut sent = 0;
        let mut closed = false;
        let mut chunk = vec![0u8; 16 * 1024];
        for _ in 0..max_steps {
            let now = self.time;
            while sent < data.len() {
                match self.a.send(now, from, &data[sent..]) {
                    Ok(n) => sent += n,
                    Err(crate::tcp::Error::WouldBlock) => break,
                    Err(e) => panic!("send failed: {e} at {now}"),
                }
            }
            if sent == data.len() && !closed {
                self.a
                    .shutdown(now, from, crate::tcp::How::Write)
                    .expect("shutdown");
                closed = true;
            }
            loop {
                match self.b.recv(to, &mut chunk) {
                    Ok(0) => return received,
                    Ok(n) => received.extend_from_slice(&chunk[..n]),
                    Err(crate::tcp::Error::WouldBlock) => break,
                    Err(e) => panic!("recv failed: {e} at {now}"),
                }
            }
            if !self.step() {
                panic!(
                    "the pair went idle at {} with {} of {} bytes received",
                    self.time,
                    received.len(),
                    data.len()
                );
            }
        }
        panic!(
            "transfer not done after {max_steps} steps at {}: {} of {} bytes received",
            self.time,
            received.len(),
            data.len()
        );
    }
}
