//! Bulk transfer between two TCP endpoints in memory, no I/O: the reference stack against
//! smoltcp on the same loop, with the same MTU, MSS and buffer sizes, measured in the same run.
//!
//! `cargo bench -p reference-stack --bench throughput [-- MIB]` (default 256 MiB per round,
//! 5 rounds, the stacks alternating; medians reported). Like for like:
//!
//! - both compute and verify every checksum in software;
//! - both negotiate timestamps (so both carry the same options and the same MSS), window
//!   scaling and SACK-permitted;
//! - each datagram on the link is one fresh buffer handed over without a copy (smoltcp's device
//!   token allocates one per packet; the reference loop swaps its transmit buffer out);
//! - the receiving application reads in place (`recv` closure / `recv_with`).
//!
//! The loop, for both stacks: poll A, move A's packets to B, poll B, move B's packets to A,
//! the application on A writes all it can, the application on B reads all there is; virtual time
//! advances only when both sides are idle (to the next timer, at most 1 ms). No loss, no delay.
//! Throughput is payload bytes delivered to B's application per second of wall time, on one
//! core (the loop is single-threaded). The packet counts printed show both stacks exchanged
//! the same work (segments and ACKs).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant as WallClock;

use reference_stack::tcp::{Config, SocketOptions, Stack};
use reference_stack::time::{Duration, Instant};

const MTU: usize = 1500;
const BUF: usize = 256 * 1024;
const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Packets A to B and B to A in the last round (reported: fewer ACKs is less work).
static PACKETS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Bound on loop iterations per MiB moved: a livelock ends the benchmark with an error.
const STEPS_PER_MIB: u64 = 100_000;

fn reference(total: usize) -> Result<f64, String> {
    let config = |addr: Ipv4Addr, secret: u8| Config {
        local_addrs: vec![IpAddr::V4(addr)],
        isn_secret: [secret; 16],
        mtu: MTU,
        rcvbuf: BUF,
        sndbuf: BUF,
        ..Config::default()
    };
    let mut a = Stack::new(config(A, 1));
    let mut b = Stack::new(config(B, 2));
    let mut now = Instant::ZERO;
    let opts = SocketOptions {
        rcvbuf: Some(BUF),
        sndbuf: Some(BUF),
        ..SocketOptions::default()
    };
    let l = b
        .listen(SocketAddr::from((B, 5000)), 1, &opts)
        .map_err(|e| format!("listen: {e:?}"))?;
    let ca = a
        .connect(
            now,
            SocketAddr::from((A, 0)),
            SocketAddr::from((B, 5000)),
            &opts,
        )
        .map_err(|e| format!("connect: {e:?}"))?;
    let payload = vec![0x5a_u8; 64 * 1024];
    let mut buf = Vec::with_capacity(MTU);
    let mut to_b: VecDeque<Vec<u8>> = VecDeque::new();
    let mut to_a: VecDeque<Vec<u8>> = VecDeque::new();
    let mut cb = None;
    let mut received = 0usize;
    let mut sent = 0usize;
    let max_steps = STEPS_PER_MIB * (total as u64 >> 20).max(1);
    let start = WallClock::now();
    let mut steps = 0u64;
    while received < total {
        steps += 1;
        if steps > max_steps {
            return Err(format!(
                "livelock: {received} of {total} bytes after {steps} steps"
            ));
        }
        let mut busy = false;
        // One fresh buffer per packet on the link, handed over without a copy, exactly as the
        // smoltcp side's device allocates one per packet in its transmit token.
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            buf.truncate(t.len);
            to_b.push_back(std::mem::replace(&mut buf, Vec::with_capacity(MTU)));
        }
        while let Some(p) = to_b.pop_front() {
            b.handle_packet(now, &p);
            PACKETS[0].fetch_add(1, Relaxed);
            busy = true;
        }
        while let Some(t) = b.poll_transmit(now, &mut buf) {
            buf.truncate(t.len);
            to_a.push_back(std::mem::replace(&mut buf, Vec::with_capacity(MTU)));
        }
        while let Some(p) = to_a.pop_front() {
            a.handle_packet(now, &p);
            PACKETS[1].fetch_add(1, Relaxed);
            busy = true;
        }
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        if cb.is_none()
            && let Ok((c, _)) = b.accept(l)
        {
            cb = Some(c);
        }
        if sent < total
            && let Ok(n) = a.send(now, ca, &payload[..payload.len().min(total - sent)])
        {
            sent += n;
            busy |= n > 0;
        }
        // Read in place, as the smoltcp side's `recv` closure does.
        if let Some(c) = cb {
            while let Ok(n) = b.recv_with(c, |data| data.len()) {
                if n == 0 {
                    break;
                }
                received += n;
                busy = true;
            }
        }
        if !busy {
            let next = [a.poll_timeout(), b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            now = match next {
                Some(t) if t > now => t.min(now + Duration::from_millis(1)),
                _ => now + Duration::from_millis(1),
            };
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    Ok(received as f64 / start.elapsed().as_secs_f64())
}

mod smol {
    use std::collections::VecDeque;

    use smoltcp::iface::{Config, Interface, SocketSet};
    use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
    use smoltcp::socket::tcp;
    use smoltcp::time::{Duration, Instant};
    use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

    /// One end of an in-memory link carrying IP packets.
    #[derive(Default)]
    pub(super) struct Pipe {
        pub(super) rx: VecDeque<Vec<u8>>,
        pub(super) tx: VecDeque<Vec<u8>>,
    }

    pub(super) struct Rx(Vec<u8>);
    pub(super) struct Tx<'a>(&'a mut Pipe);

    impl phy::RxToken for Rx {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            f(&self.0)
        }
    }

    impl phy::TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let mut p = vec![0; len];
            let r = f(&mut p);
            self.0.tx.push_back(p);
            r
        }
    }

    impl Device for Pipe {
        type RxToken<'a> = Rx;
        type TxToken<'a> = Tx<'a>;

        fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
            let p = self.rx.pop_front()?;
            Some((Rx(p), Tx(self)))
        }

        fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
            Some(Tx(self))
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut c = DeviceCapabilities::default();
            c.medium = Medium::Ip;
            c.max_transmission_unit = super::MTU;
            // Default checksum capabilities: computed and verified in software, like ours.
            c
        }
    }

    pub(super) fn run(total: usize) -> Result<f64, String> {
        let mut now = Instant::ZERO;
        let mut da = Pipe::default();
        let mut db = Pipe::default();
        let mut ia = Interface::new(Config::new(HardwareAddress::Ip), &mut da, now);
        let mut ib = Interface::new(Config::new(HardwareAddress::Ip), &mut db, now);
        let (a, b) = (super::A.octets(), super::B.octets());
        ia.update_ip_addrs(|ips| {
            ips.push(IpCidr::new(IpAddress::v4(a[0], a[1], a[2], a[3]), 24))
                .unwrap();
        });
        ib.update_ip_addrs(|ips| {
            ips.push(IpCidr::new(IpAddress::v4(b[0], b[1], b[2], b[3]), 24))
                .unwrap();
        });
        // Timestamps on, as the reference stack negotiates them: the same options, hence the
        // same MSS, on both sides (smoltcp always offers SACK and window scaling).
        fn tsval() -> u32 {
            static T: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
            T.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        }
        let sock = || {
            let mut s = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; super::BUF]),
                tcp::SocketBuffer::new(vec![0; super::BUF]),
            );
            s.set_tsval_generator(Some(tsval));
            s
        };
        let mut sa = SocketSet::new(vec![]);
        let mut sb = SocketSet::new(vec![]);
        let ha = sa.add(sock());
        let hb = sb.add(sock());
        sb.get_mut::<tcp::Socket<'_>>(hb)
            .listen(5000)
            .map_err(|e| format!("{e:?}"))?;
        sa.get_mut::<tcp::Socket<'_>>(ha)
            .connect(
                ia.context(),
                (IpAddress::v4(b[0], b[1], b[2], b[3]), 5000),
                40000,
            )
            .map_err(|e| format!("{e:?}"))?;
        let payload = vec![0x5a_u8; 64 * 1024];
        let mut received = 0usize;
        let mut sent = 0usize;
        let max_steps = super::STEPS_PER_MIB * (total as u64 >> 20).max(1);
        let start = std::time::Instant::now();
        let mut steps = 0u64;
        while received < total {
            steps += 1;
            if steps > max_steps {
                return Err(format!(
                    "livelock: {received} of {total} bytes after {steps} steps"
                ));
            }
            let mut busy = ia.poll(now, &mut da, &mut sa) != smoltcp::iface::PollResult::None;
            while let Some(p) = da.tx.pop_front() {
                db.rx.push_back(p);
                super::PACKETS[0].fetch_add(1, super::Relaxed);
            }
            busy |= ib.poll(now, &mut db, &mut sb) != smoltcp::iface::PollResult::None;
            while let Some(p) = db.tx.pop_front() {
                da.rx.push_back(p);
                super::PACKETS[1].fetch_add(1, super::Relaxed);
            }
            busy |= !da.rx.is_empty();
            let s = sa.get_mut::<tcp::Socket<'_>>(ha);
            if sent < total && s.can_send() {
                let n = s
                    .send_slice(&payload[..payload.len().min(total - sent)])
                    .map_err(|e| format!("{e:?}"))?;
                sent += n;
                busy |= n > 0;
            }
            let s = sb.get_mut::<tcp::Socket<'_>>(hb);
            while s.can_recv() {
                let n = s
                    .recv(|buf| (buf.len(), buf.len()))
                    .map_err(|e| format!("{e:?}"))?;
                if n == 0 {
                    break;
                }
                received += n;
                busy = true;
            }
            if !busy {
                let next = [ia.poll_delay(now, &sa), ib.poll_delay(now, &sb)]
                    .into_iter()
                    .flatten()
                    .min();
                now += match next {
                    Some(d) if d > Duration::ZERO => d.min(Duration::from_millis(1)),
                    _ => Duration::from_millis(1),
                };
            }
        }
        Ok(received as f64 / start.elapsed().as_secs_f64())
    }
}

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let total = mib << 20;
    let rounds = 5;
    let run = |f: &dyn Fn(usize) -> Result<f64, String>, name: &str, round: usize| -> f64 {
        for p in &PACKETS {
            p.store(0, Relaxed);
        }
        match f(total) {
            Ok(bps) => {
                println!(
                    "  round {round} {name}: {:.1} MB/s ({} data-direction and {} ACK-direction packets)",
                    bps / 1e6,
                    PACKETS[0].load(Relaxed),
                    PACKETS[1].load(Relaxed)
                );
                bps
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                std::process::exit(1);
            }
        }
    };
    println!(
        "in-memory bulk transfer, {mib} MiB per round, MTU {MTU}, buffers {} KiB, {rounds} rounds",
        BUF / 1024
    );
    // `BENCH_ONLY=reference` (or `smoltcp`) runs one side alone, for profiling.
    match std::env::var("BENCH_ONLY").as_deref() {
        Ok("reference") => {
            run(&reference, "reference", 1);
            return;
        }
        Ok("smoltcp") => {
            run(&smol::run, "smoltcp", 1);
            return;
        }
        _ => {}
    }
    // The two stacks alternate round by round, so that a machine whose speed drifts (shared
    // hosts do) slows both alike; the ratio reported is the median of the per-round ratios.
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        // Which goes first alternates too (a round's first run may meet a colder machine).
        let (a, b) = if round % 2 == 1 {
            let a = run(&reference, "reference", round);
            (a, run(&smol::run, "smoltcp  ", round))
        } else {
            let b = run(&smol::run, "smoltcp  ", round);
            (run(&reference, "reference", round), b)
        };
        ours.push(a);
        theirs.push(b);
        ratios.push(a / b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "reference stack: {:.1} MB/s payload (median)",
        median(&mut ours) / 1e6
    );
    println!(
        "smoltcp 0.14:    {:.1} MB/s payload (median)",
        median(&mut theirs) / 1e6
    );
    println!(
        "ratio reference/smoltcp: {:.2} (median of per-round ratios)",
        median(&mut ratios)
    );
}
