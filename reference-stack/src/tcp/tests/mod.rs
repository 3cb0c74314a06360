//! Tests of the stack in virtual time, written from the peer's point of view (smoltcp style):
//! `send!` injects a segment into the stack under test (the DUT), `recv!` asserts exactly the
//! segments it sends at a given virtual time, `recv_nothing!` asserts silence. State
//! constructors (`t_established()`, ...) build on each other.
//!
//! - `states`: every state of RFC 9293 3.10 and its transitions, in the RFC's order;
//! - `timers`: retransmission, persist, keep-alive, delayed ACK, TIME-WAIT, user timeout;
//! - `options`: MSS, window scale, timestamps/PAWS, SACK, ECN, urgent data, malformed options;
//! - `pair`: two stacks over a lossy in-memory wire, moving megabytes;
//! - `robustness`: arbitrary bytes and segment sequences, bounded memory.

// Expected segments are often built once and compared several times: `[seg.clone()]` reads
// better in `recv!` than `slice::from_ref`.
#![allow(clippy::cloned_ref_to_slice_refs)]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Config, ConnId, Event, ListenerId, SocketOptions, Stack};
use crate::State;
use crate::testing::{build_packet, parse_packet};
use crate::time::{Duration, Instant};
use crate::wire::{Ecn, TcpFlags, TcpRepr, TcpSeqNumber, TcpTimestamp};

mod options;
mod pair;
mod robustness;
mod states;
mod timers;

/// The DUT's port when it listens.
pub(super) const DUT_PORT: u16 = 5000;
/// The peer's port.
pub(super) const PEER_PORT: u16 = 40000;
/// The peer's ISN.
pub(super) const REMOTE_SEQ: u32 = 1_000_000;
/// The peer's window.
pub(super) const PEER_WIN: u16 = 64240;
/// The DUT's window while its buffer is empty (64 KiB buffer, no scaling).
pub(super) const DUT_WIN: u16 = 65535;

pub(super) fn dut_addr(ipv6: bool) -> IpAddr {
    if ipv6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2))
    } else {
        IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2))
    }
}

pub(super) fn peer_addr(ipv6: bool) -> IpAddr {
    if ipv6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1))
    } else {
        IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1))
    }
}

/// The configuration of the state tests: no window scaling, timestamps, SACK or ECN (each
/// has its own tests), a fixed ISN secret.
pub(super) fn plain_config(ipv6: bool) -> Config {
    Config {
        local_addrs: vec![dut_addr(ipv6)],
        isn_secret: [7; 16],
        window_scaling: false,
        timestamps: false,
        sack: false,
        ecn: false,
        ecn_passive: false,
        ..Config::default()
    }
}

/// A segment, as the peer sends or sees it. Sequence numbers are absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct S {
    pub(super) flags: TcpFlags,
    pub(super) seq: u32,
    pub(super) ack: u32,
    pub(super) win: u16,
    pub(super) up: u16,
    pub(super) mss: Option<u16>,
    pub(super) ws: Option<u8>,
    pub(super) sack_perm: bool,
    pub(super) ts: Option<(u32, u32)>,
    pub(super) sack: Vec<(u32, u32)>,
    pub(super) data: Vec<u8>,
}

/// `seg("SA", seq, ack)`: a segment with these flags (letters `S F R P A U E C N`) and numbers,
/// window [`PEER_WIN`], no options, no data.
pub(super) fn seg(flags: &str, seq: u32, ack: u32) -> S {
    S {
        flags: flags.parse().expect("flag letters"),
        seq,
        ack,
        win: PEER_WIN,
        up: 0,
        mss: None,
        ws: None,
        sack_perm: false,
        ts: None,
        sack: Vec::new(),
        data: Vec::new(),
    }
}

impl S {
    pub(super) fn data(mut self, data: &[u8]) -> Self {
        self.data = data.to_vec();
        self
    }
    pub(super) fn win(mut self, win: u16) -> Self {
        self.win = win;
        self
    }
    pub(super) fn mss(mut self, mss: u16) -> Self {
        self.mss = Some(mss);
        self
    }
    pub(super) fn ws(mut self, shift: u8) -> Self {
        self.ws = Some(shift);
        self
    }
    pub(super) fn sack_perm(mut self) -> Self {
        self.sack_perm = true;
        self
    }
    pub(super) fn ts(mut self, tsval: u32, tsecr: u32) -> Self {
        self.ts = Some((tsval, tsecr));
        self
    }
    pub(super) fn sack(mut self, blocks: &[(u32, u32)]) -> Self {
        self.sack = blocks.to_vec();
        self
    }
    pub(super) fn up(mut self, up: u16) -> Self {
        self.up = up;
        self
    }

    fn repr(&self) -> TcpRepr<'_> {
        let mut sack_ranges = [None; 4];
        for (slot, block) in sack_ranges.iter_mut().zip(&self.sack) {
            *slot = Some(*block);
        }
        TcpRepr {
            src_port: PEER_PORT,
            dst_port: DUT_PORT,
            flags: self.flags,
            seq_number: TcpSeqNumber(self.seq),
            ack_number: TcpSeqNumber(self.ack),
            window_len: self.win,
            window_scale: self.ws,
            max_seg_size: self.mss,
            sack_permitted: self.sack_perm,
            sack_ranges,
            timestamp: self.ts.map(|(tsval, tsecr)| TcpTimestamp { tsval, tsecr }),
            urgent_pointer: self.up,
            payload: &self.data,
        }
    }

    fn from_repr(repr: &TcpRepr<'_>) -> Self {
        Self {
            flags: repr.flags,
            seq: repr.seq_number.0,
            ack: repr.ack_number.0,
            win: repr.window_len,
            up: repr.urgent_pointer,
            mss: repr.max_seg_size,
            ws: repr.window_scale,
            sack_perm: repr.sack_permitted,
            ts: repr.timestamp.map(|ts| (ts.tsval, ts.tsecr)),
            sack: repr.sack_ranges.iter().flatten().copied().collect(),
            data: repr.payload.to_vec(),
        }
    }
}

/// One segment the DUT sent, with its IP-level facts.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub(super) seg: S,
    pub(super) ecn: Ecn,
    pub(super) hop_limit: u8,
    pub(super) len: usize,
}

/// The stack under test, seen from one peer (the 4-tuple of the test).
pub(super) struct Dut {
    pub(super) stack: Stack,
    pub(super) now: Instant,
    pub(super) ipv6: bool,
    pub(super) listener: Option<ListenerId>,
    pub(super) conn: Option<ConnId>,
    /// The DUT's ISS, learned from its SYN or SYN-ACK.
    pub(super) iss: u32,
    /// The DUT's port (ephemeral for active opens).
    pub(super) port: u16,
    /// The ECN codepoint of the peer's datagrams.
    pub(super) peer_ecn: Ecn,
    /// Events polled so far and not yet checked.
    pub(super) events: Vec<Event>,
}

impl Dut {
    pub(super) fn new(config: Config) -> Self {
        let ipv6 = config.local_addrs.first().is_some_and(IpAddr::is_ipv6);
        Self {
            stack: Stack::new(config),
            now: Instant::ZERO,
            ipv6,
            listener: None,
            conn: None,
            iss: 0,
            port: DUT_PORT,
            peer_ecn: Ecn::NotEct,
            events: Vec::new(),
        }
    }

    pub(super) fn local(&self) -> SocketAddr {
        SocketAddr::new(dut_addr(self.ipv6), self.port)
    }

    pub(super) fn remote(&self) -> SocketAddr {
        SocketAddr::new(peer_addr(self.ipv6), PEER_PORT)
    }

    /// The state of the test's 4-tuple.
    pub(super) fn state(&self) -> State {
        self.stack.state_of(self.local(), self.remote())
    }

    pub(super) fn conn(&self) -> ConnId {
        self.conn.expect("the test has a connection")
    }

    #[track_caller]
    fn advance(&mut self, ms: u64) {
        let now = Instant::from_millis(ms);
        assert!(
            now >= self.now,
            "time goes backwards: {now} after {}",
            self.now
        );
        self.now = now;
        if self.stack.poll_timeout().is_some_and(|at| at <= now) {
            self.stack.handle_timeout(now);
        }
    }

    /// The peer sends `seg` at `ms` milliseconds.
    #[track_caller]
    pub(super) fn send_at(&mut self, ms: u64, seg: &S) {
        self.advance(ms);
        let mut repr = seg.repr();
        repr.dst_port = self.port;
        let packet = build_packet(self.remote(), self.local(), &repr, self.peer_ecn);
        self.stack.handle_packet(self.now, &packet);
    }

    /// Raw bytes from the peer at `ms`.
    pub(super) fn send_raw(&mut self, ms: u64, packet: &[u8]) {
        self.advance(ms);
        self.stack.handle_packet(self.now, packet);
    }

    /// Everything the DUT sends at `ms` milliseconds (running its due timers first).
    #[track_caller]
    pub(super) fn output_at(&mut self, ms: u64) -> Vec<Sent> {
        self.advance(ms);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(transmit) = self.stack.poll_transmit(self.now, &mut buf) {
            assert_eq!(transmit.len, buf.len());
            let (ip, tcp) = parse_packet(&buf).expect("the DUT sends valid segments (MUST-2)");
            assert_eq!(transmit.dst, ip.dst_addr());
            assert_eq!(ip.dst_addr(), peer_addr(self.ipv6));
            assert_eq!(ip.src_addr(), dut_addr(self.ipv6));
            assert_eq!(tcp.dst_port, PEER_PORT);
            assert_eq!(tcp.src_port, self.port);
            out.push(Sent {
                seg: S::from_repr(&tcp),
                ecn: ip.ecn(),
                hop_limit: ip.hop_limit(),
                len: transmit.len,
            });
        }
        while let Some(event) = self.stack.poll_event() {
            self.events.push(event);
        }
        out
    }

    /// Assert that the DUT sends exactly `expected` at `ms`.
    #[track_caller]
    pub(super) fn recv_at(&mut self, ms: u64, expected: &[S]) -> Vec<Sent> {
        let sent = self.output_at(ms);
        let got: Vec<&S> = sent.iter().map(|s| &s.seg).collect();
        let want: Vec<&S> = expected.iter().collect();
        assert_eq!(got, want, "segments sent at {ms} ms");
        sent
    }

    /// Take the events seen so far.
    pub(super) fn take_events(&mut self) -> Vec<Event> {
        let _ = self.output_at(self.now.total_millis());
        core::mem::take(&mut self.events)
    }

    pub(super) fn recv_data(&mut self) -> Result<Vec<u8>, super::Error> {
        let mut buf = vec![0; 256 * 1024];
        let n = self.stack.recv(self.conn(), &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    pub(super) fn send_data(&mut self, data: &[u8]) -> usize {
        self.stack.send(self.now, self.conn(), data).expect("send")
    }
}

/// `send!(t, time 10, seg)`: the peer sends `seg` at 10 ms (or at the current time).
macro_rules! send {
    ($t:expr, time $ms:expr, $seg:expr) => {
        $t.send_at($ms, &$seg)
    };
    ($t:expr, $seg:expr) => {{
        let now = $t.now.total_millis();
        $t.send_at(now, &$seg)
    }};
}

/// `recv!(t, time 10, [seg, ...])`: the DUT sends exactly these at 10 ms.
macro_rules! recv {
    ($t:expr, time $ms:expr, [$($seg:expr),* $(,)?]) => {
        $t.recv_at($ms, &[$($seg),*])
    };
    ($t:expr, [$($seg:expr),* $(,)?]) => {{
        let now = $t.now.total_millis();
        $t.recv_at(now, &[$($seg),*])
    }};
}

/// `recv_nothing!(t, time 10)`: the DUT sends nothing at 10 ms.
macro_rules! recv_nothing {
    ($t:expr, time $ms:expr) => {
        $t.recv_at($ms, &[])
    };
    ($t:expr) => {{
        let now = $t.now.total_millis();
        $t.recv_at(now, &[])
    }};
}

pub(super) use {recv, recv_nothing, send};

// ============================================================================================
// State constructors, each built on the previous one
// ============================================================================================

/// LISTEN on port 5000 (any address).
pub(super) fn t_listen_with(config: Config) -> Dut {
    let mut t = Dut::new(config);
    let any = if t.ipv6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    t.listener = Some(
        t.stack
            .listen(
                SocketAddr::new(any, DUT_PORT),
                16,
                &SocketOptions::default(),
            )
            .expect("listen"),
    );
    t
}

pub(super) fn t_listen() -> Dut {
    t_listen_with(plain_config(false))
}

/// SYN-RECEIVED: the peer's SYN (MSS 1460) was answered by the SYN-ACK at 0 ms.
pub(super) fn t_syn_received_with(config: Config) -> Dut {
    let mut t = t_listen_with(config);
    send!(t, time 0, seg("S", REMOTE_SEQ, 0).mss(1460));
    let sent = t.output_at(0);
    assert_eq!(sent.len(), 1, "one SYN-ACK");
    let synack = &sent[0].seg;
    assert_eq!(synack.flags, "SA".parse().unwrap());
    assert_eq!(synack.ack, REMOTE_SEQ + 1);
    t.iss = synack.seq;
    assert_eq!(t.state(), State::SynReceived);
    t
}

pub(super) fn t_syn_received() -> Dut {
    t_syn_received_with(plain_config(false))
}

/// ESTABLISHED (passive open, accepted) at 0 ms; both sides at relative sequence number 1.
pub(super) fn t_established_with(config: Config) -> Dut {
    let mut t = t_syn_received_with(config);
    send!(t, time 0, seg("A", REMOTE_SEQ + 1, t.iss + 1));
    recv_nothing!(t, time 0);
    let (conn, remote) = t.stack.accept(t.listener.unwrap()).expect("accept");
    assert_eq!(remote, t.remote());
    t.conn = Some(conn);
    assert_eq!(t.state(), State::Established);
    t.events.clear();
    t
}

pub(super) fn t_established() -> Dut {
    t_established_with(plain_config(false))
}

/// SYN-SENT: the DUT connected from port 5000 and sent its SYN at 0 ms.
pub(super) fn t_syn_sent_with(config: Config) -> Dut {
    let mut t = Dut::new(config);
    let conn = t
        .stack
        .connect(t.now, t.local(), t.remote(), &SocketOptions::default())
        .expect("connect");
    t.conn = Some(conn);
    let sent = t.output_at(0);
    assert_eq!(sent.len(), 1, "one SYN");
    assert!(sent[0].seg.flags.contains(TcpFlags::SYN));
    t.iss = sent[0].seg.seq;
    assert_eq!(t.state(), State::SynSent);
    t
}

pub(super) fn t_syn_sent() -> Dut {
    t_syn_sent_with(plain_config(false))
}

/// FIN-WAIT-1: ESTABLISHED, then the user closed (shutdown for writing, so the connection
/// is still the user's) and the FIN went out at 0 ms.
pub(super) fn t_fin_wait_1() -> Dut {
    let mut t = t_established();
    t.stack
        .shutdown(t.now, t.conn(), super::How::Write)
        .unwrap();
    recv!(t, time 0, [seg("FA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.state(), State::FinWait1);
    t
}

/// FIN-WAIT-2: the FIN was acknowledged at 10 ms.
pub(super) fn t_fin_wait_2() -> Dut {
    let mut t = t_fin_wait_1();
    send!(t, time 10, seg("A", REMOTE_SEQ + 1, t.iss + 2));
    recv_nothing!(t, time 10);
    assert_eq!(t.state(), State::FinWait2);
    t
}

/// TIME-WAIT: the peer's FIN arrived at 20 ms and was acknowledged.
pub(super) fn t_time_wait() -> Dut {
    let mut t = t_fin_wait_2();
    send!(t, time 20, seg("FA", REMOTE_SEQ + 1, t.iss + 2));
    recv!(t, time 20, [seg("A", t.iss + 2, REMOTE_SEQ + 2).win(DUT_WIN)]);
    assert_eq!(t.state(), State::TimeWait);
    t
}

/// CLOSING: in FIN-WAIT-1 the peer's FIN (not acknowledging ours) arrived at 10 ms.
pub(super) fn t_closing() -> Dut {
    let mut t = t_fin_wait_1();
    send!(t, time 10, seg("FA", REMOTE_SEQ + 1, t.iss + 1));
    recv!(t, time 10, [seg("A", t.iss + 2, REMOTE_SEQ + 2).win(DUT_WIN)]);
    assert_eq!(t.state(), State::Closing);
    t
}

/// CLOSE-WAIT: ESTABLISHED, then the peer's FIN at 10 ms.
pub(super) fn t_close_wait() -> Dut {
    let mut t = t_established();
    send!(t, time 10, seg("FA", REMOTE_SEQ + 1, t.iss + 1));
    recv!(t, time 10, [seg("A", t.iss + 1, REMOTE_SEQ + 2).win(DUT_WIN)]);
    assert_eq!(t.state(), State::CloseWait);
    t
}

/// LAST-ACK: CLOSE-WAIT, then the user shut down writing and the FIN went at 20 ms.
pub(super) fn t_last_ack() -> Dut {
    let mut t = t_close_wait();
    t.stack
        .shutdown(t.now, t.conn(), super::How::Write)
        .unwrap();
    recv!(t, time 20, [seg("FA", t.iss + 1, REMOTE_SEQ + 2).win(DUT_WIN)]);
    assert_eq!(t.state(), State::LastAck);
    t
}
