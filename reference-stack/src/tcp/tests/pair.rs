//! Two stacks over the in-memory wire: megabytes through loss, duplication and reordering,
//! with the data intact and a bounded number of steps; simultaneous open and close;
//! half-close in both directions.

use rstest::rstest;

use super::*;
use crate::tcp::{CloseReason, How};
use crate::testing::{Faults, Pair, Side};

fn pattern(len: usize, salt: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(salt) >> 13) as u8)
        .collect()
}

fn faults() -> Faults {
    Faults {
        loss: 20_000,
        duplicate: 10_000,
        reorder: 30_000,
        reorder_delay: Duration::from_millis(4),
    }
}

fn configs(ipv6: bool, options: bool) -> (Config, Config) {
    let mut a = Pair::config(ipv6, Side::A);
    let mut b = Pair::config(ipv6, Side::B);
    for config in [&mut a, &mut b] {
        config.window_scaling = options;
        config.timestamps = options;
        config.sack = options;
        config.ecn = options;
        // Keep the virtual time of the tests short.
        config.rto_min = Duration::from_millis(200);
    }
    (a, b)
}

/// Close both ends after a transfer and drive until every connection is gone (through
/// TIME-WAIT).
fn close_all(pair: &mut Pair, a: ConnId, b: ConnId) {
    let now = pair.time;
    pair.b.close(now, b).unwrap();
    pair.a.close(now, a).unwrap();
    pair.drive_bounded(20_000);
    assert_eq!(pair.a.connection_count(), 0, "A still has a connection");
    assert_eq!(pair.b.connection_count(), 0, "B still has a connection");
}

#[rstest]
#[case::ipv4_plain(false, false, 11)]
#[case::ipv4_options(false, true, 12)]
#[case::ipv6_plain(true, false, 13)]
#[case::ipv6_options(true, true, 14)]
fn megabytes_through_a_lossy_wire(#[case] ipv6: bool, #[case] options: bool, #[case] seed: u64) {
    let (ca, cb) = configs(ipv6, options);
    let mut pair = Pair::with_configs(ca, cb, seed, faults());
    let (a, b) = pair.connect();
    let data = pattern(2 * 1024 * 1024, seed as u32);
    let received = pair.transfer(a, b, &data, 200_000);
    assert_eq!(received.len(), data.len(), "seed {seed}");
    assert!(received == data, "seed {seed}: data corrupted");
    assert!(pair.stats.lost > 0 && pair.stats.duplicated > 0 && pair.stats.reordered > 0);
    println!("{:?} virtual time {}", pair.stats, pair.time);
    close_all(&mut pair, a, b);
}

#[test]
fn clean_wire_moves_data_fast() {
    let mut pair = Pair::new(false, 1, Faults::default());
    let (a, b) = pair.connect();
    let data = pattern(4 * 1024 * 1024, 9);
    let received = pair.transfer(a, b, &data, 100_000);
    assert!(received == data);
    // 4 MiB at 64 KiB per 10 ms round trip needs about 640 ms; slow start adds a little.
    assert!(pair.time < Instant::from_secs(2), "took {}", pair.time);
    close_all(&mut pair, a, b);
}

#[test]
fn both_directions_with_half_close() {
    // MAY-1: each side shuts down writing in turn; data keeps flowing the other way.
    let mut pair = Pair::new(true, 5, faults());
    let (a, b) = pair.connect();
    let up = pattern(300_000, 1);
    let got = pair.transfer(a, b, &up, 100_000);
    assert!(got == up);
    // A has shut down writing (FIN-WAIT-2 once its FIN is acknowledged); B still sends.
    pair.drive_until(1000, |pair| pair.a.conn_state(a) == State::FinWait2);
    assert_eq!(pair.b.conn_state(b), State::CloseWait);
    let down = pattern(300_000, 2);
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    pair.drive_until(100_000, |pair| {
        let now = pair.time;
        if sent < down.len() {
            sent += pair.b.send(now, b, &down[sent..]).unwrap_or(0);
            if sent == down.len() {
                pair.b.shutdown(now, b, How::Write).unwrap();
            }
        }
        loop {
            match pair.a.recv(a, &mut buf) {
                Ok(0) => return true,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => return false,
            }
        }
    });
    assert!(got == down);
    pair.drive_bounded(10_000);
    // A closed second... no: A closed first, so A waited in TIME-WAIT and B went through
    // LAST-ACK; both are now gone, with normal closes reported.
    assert!(pair.events[1].contains(&Event::Closed {
        conn: b,
        reason: CloseReason::Normal
    }));
}

#[test]
fn simultaneous_open_between_two_stacks() {
    // MUST-10: both connect to each other's fixed port at the same instant.
    let mut pair = Pair::new(false, 3, Faults::default());
    let addr_a = SocketAddr::new(Pair::addr_a(false), 7000);
    let addr_b = SocketAddr::new(Pair::addr_b(false), 7001);
    let opts = SocketOptions::default();
    let a = pair.a.connect(pair.time, addr_a, addr_b, &opts).unwrap();
    let b = pair.b.connect(pair.time, addr_b, addr_a, &opts).unwrap();
    pair.drive_until(100, |pair| {
        pair.a.conn_state(a) == State::Established && pair.b.conn_state(b) == State::Established
    });
    assert!(pair.events[0].contains(&Event::Connected(a)));
    assert!(pair.events[1].contains(&Event::Connected(b)));
    let data = pattern(50_000, 4);
    let got = pair.transfer(a, b, &data, 10_000);
    assert!(got == data);
}

#[test]
fn simultaneous_close_between_two_stacks() {
    // Both close at the same instant: FIN-WAIT-1, CLOSING, TIME-WAIT on both sides.
    let mut pair = Pair::new(false, 4, Faults::default());
    let (a, b) = pair.connect();
    let now = pair.time;
    pair.a.shutdown(now, a, How::Write).unwrap();
    pair.b.shutdown(now, b, How::Write).unwrap();
    let local_a = pair.a.local_addr(a).unwrap();
    let local_b = pair.b.local_addr(b).unwrap();
    let mut saw_closing = false;
    pair.drive_until(100, |pair| {
        saw_closing |= pair.a.state_of(local_a, local_b) == State::Closing;
        pair.a.conn_state(a) == State::TimeWait && pair.b.conn_state(b) == State::TimeWait
    });
    assert!(saw_closing);
    pair.drive_bounded(100);
    assert_eq!(pair.a.conn_state(a), State::Closed);
}

#[test]
fn abort_mid_transfer_resets_the_peer() {
    let mut pair = Pair::new(false, 6, Faults::default());
    let (a, b) = pair.connect();
    let now = pair.time;
    pair.a.send(now, a, &pattern(100_000, 0)).unwrap();
    pair.step();
    pair.step();
    let now = pair.time;
    pair.a.abort(now, a).unwrap();
    pair.drive_bounded(1000);
    assert!(pair.events[1].contains(&Event::Closed {
        conn: b,
        reason: CloseReason::Reset
    }));
    assert_eq!(pair.a.connection_count(), 0);
}

#[test]
fn many_connections_in_parallel() {
    let mut pair = Pair::new(false, 8, faults());
    let listen = SocketAddr::new(Pair::addr_b(false), 80);
    let listener = pair
        .b
        .listen(listen, 64, &SocketOptions::default())
        .unwrap();
    let mut clients = Vec::new();
    for _ in 0..20 {
        let local = SocketAddr::new(Pair::addr_a(false), 0);
        clients.push(
            pair.a
                .connect(pair.time, local, listen, &SocketOptions::default())
                .unwrap(),
        );
    }
    let mut servers = Vec::new();
    pair.drive_until(10_000, |pair| {
        while let Ok((conn, _)) = pair.b.accept(listener) {
            servers.push(conn);
        }
        servers.len() == clients.len()
    });
    // Each client sends its index, then closes.
    for (i, &c) in clients.iter().enumerate() {
        let now = pair.time;
        pair.a.send(now, c, &pattern(10_000, i as u32)).unwrap();
        pair.a.close(now, c).unwrap();
    }
    let mut totals = vec![0usize; servers.len()];
    let mut buf = vec![0u8; 4096];
    pair.drive_until(100_000, |pair| {
        let mut done = 0;
        for (i, &s) in servers.iter().enumerate() {
            loop {
                match pair.b.recv(s, &mut buf) {
                    Ok(0) => {
                        done += 1;
                        break;
                    }
                    Ok(n) => totals[i] += n,
                    Err(_) => break,
                }
            }
        }
        done == servers.len()
    });
    assert!(totals.iter().all(|&n| n == 10_000), "{totals:?}");
}

/// More seeds of the lossy transfer: `REFSTACK_PAIR_SEEDS=200 cargo test --release -p
/// reference-stack many_seeds -- --ignored`.
#[test]
#[ignore = "long; run with --ignored in release"]
fn many_seeds() {
    let seeds: u64 = std::env::var("REFSTACK_PAIR_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    for seed in 100..100 + seeds {
        let ipv6 = seed % 2 == 0;
        let options = seed % 3 != 0;
        let (ca, cb) = configs(ipv6, options);
        let mut heavy = faults();
        heavy.loss = 10_000 + (seed % 5) as u32 * 10_000;
        let mut pair = Pair::with_configs(ca, cb, seed, heavy);
        let (a, b) = pair.connect();
        let data = pattern(1024 * 1024, seed as u32);
        let received = pair.transfer(a, b, &data, 500_000);
        assert!(received == data, "seed {seed}");
        close_all(&mut pair, a, b);
        println!("seed {seed}: {} virtual, {:?}", pair.time, pair.stats);
    }
}
