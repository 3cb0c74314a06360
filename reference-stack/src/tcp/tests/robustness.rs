//! Whatever arrives: no panic, bounded memory. Random bytes, mutated segments and random
//! segment sequences on live connections in every state (a small fuzzer with a fixed seed).

use super::*;
use crate::testing::XorShift;

fn full_config() -> Config {
    Config {
        window_scaling: true,
        timestamps: true,
        sack: true,
        ecn: true,
        ecn_passive: true,
        ..plain_config(false)
    }
}

/// A random but plausible segment for the test's connection: numbers near the DUT's and the
/// peer's, random flags, options and payload.
fn random_segment(rng: &mut XorShift, t: &Dut) -> S {
    let near = |rng: &mut XorShift, base: u32| match rng.below(4) {
        0 => rng.next_u64() as u32,
        1 => base.wrapping_add(rng.below(70_000) as u32),
        2 => base.wrapping_sub(rng.below(70_000) as u32),
        _ => base.wrapping_add(rng.below(3) as u32),
    };
    let mut s = seg("", near(rng, REMOTE_SEQ + 1), near(rng, t.iss + 1));
    s.flags = TcpFlags::from_bits_truncate(rng.next_u64() as u16);
    // Bias towards ACK and away from RST so connections live long enough to be interesting.
    if rng.below(2) == 0 {
        s.flags.insert(TcpFlags::ACK);
        s.flags.remove(TcpFlags::RST);
    }
    s.win = match rng.below(3) {
        0 => 0,
        1 => rng.next_u64() as u16,
        _ => PEER_WIN,
    };
    s.up = rng.next_u64() as u16;
    if rng.below(3) == 0 {
        s.mss = Some(rng.next_u64() as u16);
    }
    if rng.below(3) == 0 {
        s.ws = Some(rng.below(20) as u8);
    }
    s.sack_perm = rng.below(3) == 0;
    if rng.below(2) == 0 {
        s.ts = Some((rng.next_u64() as u32, rng.next_u64() as u32));
    }
    for _ in 0..rng.below(4) {
        let left = near(rng, t.iss + 1);
        s.sack
            .push((left, left.wrapping_add(rng.below(5000) as u32)));
    }
    let len = match rng.below(4) {
        0 => 0,
        1 => rng.below(10) as usize,
        2 => rng.below(1500) as usize,
        _ => rng.below(200) as usize,
    };
    s.data = (0..len).map(|_| rng.next_u64() as u8).collect();
    s
}

/// Flip bits in a valid datagram, sometimes fixing the checksums so the damage reaches the
/// TCP layer.
fn mutate(rng: &mut XorShift, packet: &mut Vec<u8>, ipv6: bool) {
    let ip_len = if ipv6 { 40 } else { 20 };
    for _ in 0..=rng.below(4) {
        let at = ip_len + rng.below((packet.len() - ip_len) as u64) as usize;
        packet[at] ^= 1 << rng.below(8);
    }
    if rng.below(3) == 0 {
        packet.truncate(ip_len + rng.below((packet.len() - ip_len) as u64) as usize);
    }
    if rng.below(2) == 0 {
        let (src, dst) = (peer_addr(ipv6), dut_addr(ipv6));
        let mut segment = packet.split_off(ip_len);
        if crate::wire::TcpPacket::new_checked(&segment[..]).is_ok() {
            crate::wire::TcpPacket::new_unchecked(&mut segment[..]).fill_checksum(&src, &dst);
        }
        *packet = crate::testing::wrap_ip(src, dst, Ecn::NotEct, &segment);
    }
}

type Fixture = fn(Config) -> Dut;

fn fixtures() -> Vec<(&'static str, Fixture)> {
    fn est(c: Config) -> Dut {
        t_established_with(c)
    }
    fn fw1(c: Config) -> Dut {
        let mut t = t_established_with(c);
        t.stack
            .shutdown(t.now, t.conn(), crate::tcp::How::Write)
            .unwrap();
        let _ = t.output_at(0);
        t
    }
    fn cw(c: Config) -> Dut {
        let mut t = t_established_with(c);
        let fin = seg("FA", REMOTE_SEQ + 1, t.iss + 1).ts(10, 0);
        send!(t, time 1, fin);
        let _ = t.output_at(1);
        t
    }
    vec![
        ("listen", t_listen_with as Fixture),
        ("syn-received", t_syn_received_with),
        ("syn-sent", t_syn_sent_with),
        ("established", est),
        ("fin-wait-1", fw1),
        ("close-wait", cw),
    ]
}

/// Iterations per state and configuration; `REFSTACK_FUZZ_ITERATIONS` raises it for a longer
/// run (`cargo test --release -p reference-stack robustness`).
fn iterations() -> usize {
    std::env::var("REFSTACK_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

#[test]
fn random_segments_and_bytes_never_panic() {
    let iterations = iterations();
    for config in [
        plain_config(false),
        full_config(),
        Config {
            rfc5961: false,
            rfc1337: true,
            ..plain_config(true)
        },
    ] {
        for (i, (name, fixture)) in fixtures().into_iter().enumerate() {
            let mut t = fixture(config.clone());
            let seed = std::env::var("REFSTACK_FUZZ_SEED")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0x5eed_u64);
            let mut rng = XorShift::new(seed + i as u64);
            let mut ms = t.now.total_millis();
            for n in 0..iterations {
                let s = random_segment(&mut rng, &t);
                let mut packet = build_packet(
                    t.remote(),
                    t.local(),
                    &s.repr(),
                    Ecn::from(rng.next_u64() as u8),
                );
                match n % 5 {
                    0 => mutate(&mut rng, &mut packet, t.ipv6),
                    1 => {
                        let len = rng.below(120) as usize;
                        packet = (0..len).map(|_| rng.next_u64() as u8).collect();
                    }
                    _ => {}
                }
                ms += rng.below(300);
                t.send_raw(ms, &packet);
                if n % 7 == 0 {
                    let _ = t.stack.send(
                        t.now,
                        t.conn.unwrap_or(ConnId {
                            index: 0,
                            generation: 0,
                        }),
                        &[1; 700],
                    );
                    let mut buf = [0u8; 512];
                    let _ = t.stack.recv(
                        t.conn.unwrap_or(ConnId {
                            index: 0,
                            generation: 0,
                        }),
                        &mut buf,
                    );
                }
                let mut buf = Vec::new();
                let mut out = 0;
                while let Some(transmit) = t.stack.poll_transmit(t.now, &mut buf) {
                    // MUST-2: every segment we send checks.
                    assert!(
                        parse_packet(&buf[..transmit.len]).is_some(),
                        "{name}: bad output"
                    );
                    out += 1;
                    assert!(out < 1000, "{name}: output does not stop");
                }
                while t.stack.poll_event().is_some() {}
                assert!(
                    t.stack.connection_count() <= 1 + 256,
                    "{name}: connections grow"
                );
            }
            // Time runs out every timer without trouble.
            let mut guard = 0;
            while let Some(at) = t.stack.poll_timeout() {
                t.stack.handle_timeout(at);
                let mut buf = Vec::new();
                while t.stack.poll_transmit(at, &mut buf).is_some() {}
                guard += 1;
                assert!(guard < 10_000, "{name}: timers never end");
            }
        }
    }
}

#[test]
fn syn_flood_is_bounded() {
    let mut config = plain_config(false);
    config.max_syn_backlog = 64;
    let mut t = t_listen_with(config);
    let mut rng = XorShift::new(99);
    for i in 0..3000u32 {
        let src = SocketAddr::new(peer_addr(false), 1024 + (rng.below(60_000) as u16));
        let syn = seg("S", i.wrapping_mul(7919), 0);
        t.send_raw(0, &build_packet(src, t.local(), &syn.repr(), Ecn::NotEct));
    }
    assert!(t.stack.connection_count() <= 64);
    // Without output being polled, stateless RSTs queue up only to a bound.
    for i in 0..3000u32 {
        let ack = seg("A", i, i);
        let dst = SocketAddr::new(dut_addr(false), 9);
        t.send_raw(0, &build_packet(t.remote(), dst, &ack.repr(), Ecn::NotEct));
    }
    let mut buf = Vec::new();
    let mut n = 0;
    while t.stack.poll_transmit(t.now, &mut buf).is_some() {
        n += 1;
    }
    assert!(n <= 64 + 256, "{n} datagrams");
    // The SYN-RECEIVED connections time out (R2 for SYN-ACKs) and leave nothing behind.
    while let Some(at) = t.stack.poll_timeout() {
        t.stack.handle_timeout(at);
        while t.stack.poll_transmit(at, &mut buf).is_some() {}
    }
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn out_of_order_memory_is_bounded() {
    // A peer that sends only isolated bytes across the whole window: the assembler's range
    // limit holds, nothing grows past the receive buffer.
    let config = Config {
        sack: true,
        ..plain_config(false)
    };
    let mut t = t_established_with(config);
    for i in 0..2000u32 {
        let s = seg("A", REMOTE_SEQ + 2 + (i * 31) % 65_000, t.iss + 1).data(b"x");
        send!(t, time 1, s);
    }
    let _ = t.output_at(1);
    // In-order data still gets through.
    send!(t, time 2, seg("A", REMOTE_SEQ + 1, t.iss + 1).data(b"y"));
    assert_eq!(t.recv_data().map(|d| d[0]), Ok(b'y'));
}

/// Rewrite fields of a captured datagram (keeping the checksums valid) so it lands near the
/// live connection's sequence numbers with odd flags and options.
fn tamper(rng: &mut XorShift, packet: &[u8]) -> Option<Vec<u8>> {
    use crate::wire::{IpRepr, TcpPacket};
    let (ip, segment) = IpRepr::parse_packet(packet).ok()?;
    let mut segment = segment.to_vec();
    {
        let mut tcp = TcpPacket::new_checked(&mut segment[..]).ok()?;
        let delta = |rng: &mut XorShift| (rng.below(4000) as u32).wrapping_sub(2000);
        match rng.below(6) {
            0 => tcp.set_flags(TcpFlags::from_bits_truncate(rng.next_u64() as u16)),
            1 => tcp.set_seq_number(tcp.seq_number() + delta(rng)),
            2 => tcp.set_ack_number(tcp.ack_number() + delta(rng)),
            3 => tcp.set_window_len(rng.next_u64() as u16),
            4 => tcp.set_urgent_at(rng.next_u64() as u16),
            _ => {
                let options = tcp.options_mut();
                for byte in options.iter_mut() {
                    if rng.below(4) == 0 {
                        *byte = rng.next_u64() as u8;
                    }
                }
            }
        }
    }
    if rng.below(4) == 0 {
        let keep = 20 + rng.below(segment.len().saturating_sub(19) as u64) as usize;
        segment.truncate(keep.min(segment.len()));
        if TcpPacket::new_checked(&segment[..]).is_err() {
            return None;
        }
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    TcpPacket::new_unchecked(&mut segment[..]).fill_checksum(&src, &dst);
    Some(crate::testing::wrap_ip(src, dst, ip.ecn(), &segment))
}

#[test]
fn live_pair_under_attack_never_panics() {
    use crate::tcp::How;
    use crate::testing::{Faults, Pair, Side};
    let rounds = iterations() * 2;
    for seed in 1..=4u64 {
        let faults = Faults {
            loss: 10_000,
            duplicate: 10_000,
            reorder: 20_000,
            reorder_delay: Duration::from_millis(3),
        };
        let mut a_config = Pair::config(seed % 2 == 0, Side::A);
        let mut b_config = Pair::config(seed % 2 == 0, Side::B);
        a_config.rfc5961 = seed != 3;
        b_config.ecn = seed == 4;
        a_config.ecn = seed == 4;
        let mut pair = Pair::with_configs(a_config, b_config, seed, faults);
        pair.capture = Some(Vec::new());
        let (a, b) = pair.connect();
        let mut rng = XorShift::new(seed * 7919);
        let mut buf = vec![0u8; 3000];
        for _ in 0..rounds {
            let now = pair.time;
            let (side, conn) = if rng.below(2) == 0 {
                (Side::A, a)
            } else {
                (Side::B, b)
            };
            let stack = pair.stack(side);
            match rng.below(40) {
                0..=9 => {
                    let len = rng.below(3000) as usize;
                    let _ = stack.send(now, conn, &buf[..len]);
                }
                10..=19 => {
                    let _ = stack.recv(conn, &mut buf);
                }
                20 => {
                    let _ = stack.send_urgent(now, conn, b"!");
                }
                21 => {
                    let how = [How::Read, How::Write, How::Both][rng.below(3) as usize];
                    let _ = stack.shutdown(now, conn, how);
                }
                22 => {
                    let opts = SocketOptions {
                        rcvbuf: Some(256 + rng.below(100_000) as usize),
                        sndbuf: Some(256 + rng.below(100_000) as usize),
                        nodelay: Some(rng.below(2) == 0),
                        keepalive: Some(true),
                        keepidle: Some(Duration::from_secs(1 + rng.below(5))),
                        ..SocketOptions::default()
                    };
                    let _ = stack.set_options(conn, &opts);
                }
                23 if rng.below(20) == 0 => {
                    let _ = stack.close(now, conn);
                }
                24 if rng.below(40) == 0 => {
                    let _ = stack.abort(now, conn);
                }
                _ => {}
            }
            // The adversary replays a tampered copy of something seen on the wire.
            if let Some(capture) = pair.capture.as_mut() {
                if capture.len() > 2000 {
                    capture.drain(..1000);
                }
                if !capture.is_empty() && rng.below(3) == 0 {
                    let (_, from, bytes) =
                        capture[rng.below(capture.len() as u64) as usize].clone();
                    if let Some(forged) = tamper(&mut rng, &bytes) {
                        let to = if from == Side::A { Side::B } else { Side::A };
                        pair.stack(to).handle_packet(now, &forged);
                    }
                }
            }
            if !pair.step() {
                break;
            }
            assert!(pair.a.connection_count() <= 4 && pair.b.connection_count() <= 4);
        }
        // Everything winds down.
        let now = pair.time;
        let _ = pair.a.abort(now, a);
        let _ = pair.b.abort(now, b);
        pair.drive_bounded(100_000);
    }
}
