//! Fuzz entry points, shared by the `cargo fuzz` targets (`fuzz/`) and by the regression test
//! that replays the committed corpora (`fuzz-corpus/`) in `cargo test`.
//!
//! - [`wire`]: arbitrary bytes through every view, parse and `Display` of the codec; a `Repr`
//!   that parses must emit and parse back to the same segment.
//! - [`segments`]: a live connection (passive or active open, options chosen by the input) fed
//!   an arbitrary sequence of segments built from the input (flags, numbers near or far from
//!   the window, options as raw bytes, payloads, bad checksums), raw datagrams, user calls
//!   and time jumps. After every step: each datagram the stack sends must parse strictly
//!   (checksums right, MUST-2), the output of one step is bounded, and so are the number of
//!   connections and the bytes queued; at the end every timer must run out in bounded steps.
//!
//! Both panic on a violated property: the fuzzer reports it as a crash.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::tcp::{Config, ConnId, How, SocketOptions, Stack};
use crate::testing::{parse_packet, wrap_ip};
use crate::time::{Duration, Instant};
use crate::wire::{
    Ecn, EthernetFrame, IpRepr, Ipv4Packet, Ipv6Packet, TcpFlags, TcpPacket, TcpRepr, TcpSeqNumber,
    tcp,
};

/// The codec on arbitrary bytes.
pub fn wire(data: &[u8]) {
    if let Ok(eth) = EthernetFrame::new_checked(data) {
        let _ = format!("{eth}");
        if let Ok((ip, l4)) = IpRepr::parse_packet(eth.payload()) {
            let _ = format!("{ip}");
            tcp_bytes(l4, &ip.src_addr(), &ip.dst_addr());
        }
    }
    if let Ok((ip, l4)) = IpRepr::parse_packet(data) {
        tcp_bytes(l4, &ip.src_addr(), &ip.dst_addr());
    }
    let _ = Ipv4Packet::new_checked(data).map(|p| format!("{p}"));
    let _ = Ipv6Packet::new_checked(data).map(|p| format!("{p}"));
    let v4 = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
    tcp_bytes(data, &v4, &v4);
}

fn tcp_bytes(bytes: &[u8], src: &IpAddr, dst: &IpAddr) {
    let Ok(p) = TcpPacket::new_checked(bytes) else {
        return;
    };
    let _ = format!("{p}");
    for o in tcp::options(p.options()) {
        let _ = o.map(|o| o.buffer_len());
    }
    let Ok(repr) = TcpRepr::parse(&p, src, dst) else {
        return;
    };
    let _ = format!("{repr}");
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), src, dst);
    let back = TcpPacket::new_checked(&buf[..]).expect("an emitted segment is well-formed");
    let again = TcpRepr::parse(&back, src, dst).expect("an emitted segment parses");
    assert_eq!(again.seq_number, repr.seq_number);
    assert_eq!(again.ack_number, repr.ack_number);
    assert_eq!(again.flags, repr.flags);
    assert_eq!(again.window_len, repr.window_len);
    assert_eq!(again.payload, repr.payload);
}

/// Reads the fuzzer's bytes; zeros once they run out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The most steps one input may drive (bounds a run's time whatever the input).
const MAX_STEPS: usize = 2048;
/// The most datagrams one step may produce: more means the stack is flooding.
const MAX_OUTPUT_PER_STEP: usize = 2000;

struct Harness {
    stack: Stack,
    now: Instant,
    dut: SocketAddr,
    peer: SocketAddr,
    conn: Option<ConnId>,
    listener: Option<crate::tcp::ListenerId>,
    /// The peer's next sequence number (its own bookkeeping).
    peer_nxt: u32,
    /// The DUT's highest sequence number seen plus one.
    dut_nxt: Option<u32>,
    rcvbuf: usize,
    out: Vec<u8>,
}

impl Harness {
    fn drain(&mut self) {
        let mut sent = 0;
        while let Some(t) = self.stack.poll_transmit(self.now, &mut self.out) {
            sent += 1;
            assert!(sent <= MAX_OUTPUT_PER_STEP, "the stack floods the link");
            // MUST-2: everything the stack sends is a well-formed, correctly checksummed segment.
            let Some((_, repr)) = parse_packet(&self.out[..t.len]) else {
                panic!(
                    "the stack sent a malformed datagram: {:02x?}",
                    &self.out[..t.len]
                );
            };
            let end = repr
                .seq_number
                .0
                .wrapping_add(repr.payload.len() as u32)
                .wrapping_add(u32::from(repr.flags.contains(TcpFlags::SYN)))
                .wrapping_add(u32::from(repr.flags.contains(TcpFlags::FIN)));
            if self
                .dut_nxt
                .is_none_or(|n| TcpSeqNumber(end) > TcpSeqNumber(n))
            {
                self.dut_nxt = Some(end);
            }
        }
        while self.stack.poll_event().is_some() {}
        if self.conn.is_none()
            && let Some(l) = self.listener
            && let Ok((c, _)) = self.stack.accept(l)
        {
            self.conn = Some(c);
        }
        assert!(
            self.stack.connection_count() <= self.stack.config().max_connections,
            "connections beyond the configured maximum"
        );
        if let Some(c) = self.conn
            && let Ok(q) = self.stack.recv_queue(c)
        {
            assert!(
                q <= self.rcvbuf,
                "{q} bytes queued for a {}-byte buffer",
                self.rcvbuf
            );
        }
    }

    fn segment(&mut self, input: &mut Input<'_>, op: u8) {
        let mut flags = TcpFlags::from_bits_truncate(input.u16());
        // Most segments look like the connection's own: ACK on, RST rare.
        if op < 3 {
            flags.insert(TcpFlags::ACK);
            flags.remove(TcpFlags::RST | TcpFlags::SYN);
        }
        let seq_delta = i32::from(input.u16() as i16);
        let ack_delta = i32::from(input.byte() as i8);
        let seq = if input.byte().is_multiple_of(8) {
            input.u32()
        } else {
            self.peer_nxt.wrapping_add_signed(seq_delta)
        };
        let ack = match self.dut_nxt {
            Some(n) if !input.byte().is_multiple_of(8) => n.wrapping_add_signed(ack_delta),
            _ => input.u32(),
        };
        let window = input.u16();
        let urgent = if flags.contains(TcpFlags::URG) {
            input.u16()
        } else {
            0
        };
        let opt_len = usize::from(input.byte() % 41);
        let options = input.take(opt_len).to_vec();
        let payload_len = usize::from(input.byte()) * 8;
        let corrupt = input.byte().is_multiple_of(32);
        let ecn = Ecn::from(input.byte());

        let header_len = 20 + options.len().div_ceil(4) * 4;
        let mut seg = vec![0u8; header_len + payload_len];
        seg[20..20 + options.len()].copy_from_slice(&options);
        for (i, b) in seg[header_len..].iter_mut().enumerate() {
            *b = b'a' + (i % 26) as u8;
        }
        {
            let mut p = TcpPacket::new_unchecked(&mut seg[..]);
            p.set_src_port(self.peer.port());
            p.set_dst_port(self.dut.port());
            p.set_seq_number(TcpSeqNumber(seq));
            p.set_ack_number(TcpSeqNumber(ack));
            p.set_header_len(header_len as u8);
            p.set_flags(flags);
            p.set_window_len(window);
            p.set_urgent_at(urgent);
            p.fill_checksum(&self.peer.ip(), &self.dut.ip());
            if corrupt {
                let c = p.checksum();
                p.set_checksum(c ^ 0x0100);
            }
        }
        let datagram = wrap_ip(self.peer.ip(), self.dut.ip(), ecn, &seg);
        self.stack.handle_packet(self.now, &datagram);
        let end = seq
            .wrapping_add(payload_len as u32)
            .wrapping_add(u32::from(flags.contains(TcpFlags::SYN)))
            .wrapping_add(u32::from(flags.contains(TcpFlags::FIN)));
        if !corrupt && TcpSeqNumber(end) > TcpSeqNumber(self.peer_nxt) {
            self.peer_nxt = end;
        }
    }

    fn user(&mut self, input: &mut Input<'_>) {
        let Some(c) = self.conn else {
            return;
        };
        let now = self.now;
        match input.byte() % 9 {
            0 | 1 => {
                let n = usize::from(input.u16()) % 20_000;
                let _ = self.stack.send(now, c, &vec![0x41; n]);
            }
            2 | 3 => {
                let mut buf = [0u8; 4096];
                let _ = self.stack.recv(c, &mut buf);
            }
            4 => {
                let how = match input.byte() % 3 {
                    0 => How::Read,
                    1 => How::Write,
                    _ => How::Both,
                };
                let _ = self.stack.shutdown(now, c, how);
            }
            5 => {
                let _ = self.stack.close(now, c);
                self.conn = None;
            }
            6 => {
                let _ = self.stack.abort(now, c);
                self.conn = None;
            }
            7 => {
                let opts = SocketOptions {
                    nodelay: Some(input.byte() & 1 != 0),
                    rcvbuf: Some(usize::from(input.u16()) * 4),
                    maxseg: Some(input.u16()),
                    keepalive: Some(input.byte() & 1 != 0),
                    keepidle: Some(Duration::from_millis(u64::from(input.u16()))),
                    keepintvl: Some(Duration::from_millis(u64::from(input.u16()))),
                    keepcnt: Some(u32::from(input.byte())),
                    user_timeout: Some(Duration::from_millis(u64::from(input.u16()) * 10)),
                    ..SocketOptions::default()
                };
                if let Some(r) = opts.rcvbuf {
                    self.rcvbuf = self.rcvbuf.max(r);
                }
                let _ = self.stack.set_options(c, &opts);
            }
            _ => {
                let _ = self.stack.send_urgent(now, c, &[0x55]);
            }
        }
    }
}

/// A live connection fed an arbitrary sequence of segments, datagrams, calls and time.
pub fn segments(data: &[u8]) {
    let mut input = Input(data);
    let setup = input.byte();
    let v6 = setup & 1 != 0;
    let (dut_ip, peer_ip) = if v6 {
        (
            IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)),
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
        )
    };
    let rcvbuf = 1024 << (input.byte() % 8);
    let config = Config {
        local_addrs: vec![dut_ip],
        isn_secret: [0x42; 16],
        window_scaling: setup & 2 != 0,
        timestamps: setup & 4 != 0,
        sack: setup & 8 != 0,
        ecn: setup & 16 != 0,
        rfc5961: setup & 32 == 0,
        rfc1337: setup & 64 != 0,
        rcvbuf,
        sndbuf: rcvbuf,
        max_connections: 64,
        max_syn_backlog: 16,
        ..Config::default()
    };
    let mut h = Harness {
        stack: Stack::new(config),
        now: Instant::ZERO,
        dut: SocketAddr::new(dut_ip, 5000),
        peer: SocketAddr::new(peer_ip, 40000),
        conn: None,
        listener: None,
        peer_nxt: 1000,
        dut_nxt: None,
        rcvbuf,
        out: Vec::with_capacity(2048),
    };
    if setup & 128 != 0 {
        // Active open: the DUT's SYN goes out; the input plays the peer from there.
        match h.stack.connect(
            h.now,
            SocketAddr::new(dut_ip, 0),
            h.peer,
            &SocketOptions::default(),
        ) {
            Ok(c) => {
                h.conn = Some(c);
                if let Ok(local) = h.stack.local_addr(c) {
                    h.dut = local;
                }
            }
            Err(_) => return,
        }
    } else {
        match h.stack.listen(h.dut, 4, &SocketOptions::default()) {
            Ok(l) => h.listener = Some(l),
            Err(_) => return,
        }
    }
    h.drain();
    let mut steps = 0;
    while !input.is_empty() && steps < MAX_STEPS {
        steps += 1;
        let op = input.byte() % 8;
        match op {
            0..=4 => h.segment(&mut input, op),
            5 => h.user(&mut input),
            6 => {
                let len = usize::from(input.byte());
                let raw = input.take(len).to_vec();
                h.stack.handle_packet(h.now, &raw);
            }
            _ => {
                h.now += Duration::from_millis(u64::from(input.u16()));
                if h.stack.poll_timeout().is_some_and(|t| t <= h.now) {
                    h.stack.handle_timeout(h.now);
                }
            }
        }
        h.drain();
    }
    // Every timer runs out: TIME-WAIT ends, retransmissions give up, in bounded steps.
    for _ in 0..100_000 {
        let Some(at) = h.stack.poll_timeout() else {
            return;
        };

        h.now = h.now.max(at);
        h.stack.handle_timeout(h.now);
        h.drain();
    }
    panic!("timers never run out");
}

#[cfg(test)]
mod test {
    use std::path::Path;

    /// Replays the committed corpora: every input the fuzzers ever kept, plus crash
    /// reproducers once fixed.
    fn replay(dir: &str, target: fn(&[u8])) -> usize {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz-corpus")
            .join(dir);
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = e.unwrap().path();
            target(&std::fs::read(&path).unwrap());
            n += 1;
        }
        n
    }

    #[test]
    fn wire_corpus() {
        assert!(replay("wire", super::wire) > 10);
    }

    #[test]
    fn segments_corpus() {
        assert!(replay("segments", super::segments) > 10);
    }

    #[test]
    fn empty_and_tiny_inputs() {
        for len in 0..64 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            super::wire(&data);
            super::segments(&data);
        }
    }
}
