//! Options and their mechanisms: MSS (RFC 9293 3.7.1, RFC 6691), window scale, timestamps and
//! PAWS (RFC 7323), SACK (RFC 2018), ECN (RFC 3168), urgent data (RFC 6093), malformed
//! options (MUST-6, MUST-7), and congestion control (RFC 5681, RFC 6582).

use rstest::rstest;

use super::*;
use crate::tcp::{CloseReason, Error};

fn full_config() -> Config {
    Config {
        window_scaling: true,
        timestamps: true,
        sack: true,
        ..plain_config(false)
    }
}

/// Passive open with `syn` from the peer; returns the DUT at ESTABLISHED (accepted) and the
/// SYN-ACK it sent. `ack` builds the handshake's last segment from the DUT's ISS.
fn open_with(config: Config, syn: S, ack: impl FnOnce(u32) -> S) -> (Dut, S) {
    let mut t = t_listen_with(config);
    send!(t, time 0, syn);
    let sent = t.output_at(0);
    assert_eq!(sent.len(), 1);
    let synack = sent[0].seg.clone();
    t.iss = synack.seq;
    send!(t, time 0, ack(t.iss));
    let (conn, _) = t.stack.accept(t.listener.unwrap()).expect("accept");
    t.conn = Some(conn);
    let _ = t.take_events();
    (t, synack)
}

fn nodelay(t: &mut Dut) {
    t.stack
        .set_options(
            t.conn(),
            &SocketOptions {
                nodelay: Some(true),
                ..SocketOptions::default()
            },
        )
        .unwrap();
}

// ============================================================================================
// MSS
// ============================================================================================

#[rstest]
#[case::ipv4(false, 536)]
#[case::ipv6(true, 1220)]
fn mss_defaults_without_option(#[case] ipv6: bool, #[case] mss: usize) {
    // MUST-15.
    let (mut t, synack) = open_with(plain_config(ipv6), seg("S", REMOTE_SEQ, 0), |iss| {
        seg("A", REMOTE_SEQ + 1, iss + 1)
    });
    // MUST-14, MAY-3: our SYN-ACK carries an MSS anyway.
    assert!(synack.mss.is_some());
    t.send_data(&[1; 5000]);
    let sent = t.output_at(0);
    assert!(sent.iter().all(|s| s.seg.data.len() <= mss));
    assert_eq!(sent[0].seg.data.len(), mss);
}

#[test]
fn mss_clamp_and_options_reduce_payload() {
    // RFC6691-2-sender-reduces-for-options: with timestamps, a full segment carries MSS - 12.
    let (mut t, synack) = open_with(
        full_config(),
        seg("S", REMOTE_SEQ, 0).mss(1460).ts(100, 0),
        |iss| seg("A", REMOTE_SEQ + 1, iss + 1).ts(101, 1),
    );
    assert_eq!(synack.mss, Some(1460));
    t.send_data(&[1; 3000]);
    let sent = t.output_at(0);
    assert_eq!(sent[0].seg.data.len(), 1448);
    // MUST-16: the IP datagram stays within the MTU.
    assert!(sent.iter().all(|s| s.len <= 1500));

    // The maxseg clamp caps both the announced and the used MSS.
    let mut t = t_listen_with(plain_config(false));
    t.stack.close_listener(t.listener.unwrap()).unwrap();
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DUT_PORT);
    t.listener = Some(
        t.stack
            .listen(
                any,
                4,
                &SocketOptions {
                    maxseg: Some(1000),
                    ..SocketOptions::default()
                },
            )
            .unwrap(),
    );
    send!(t, time 0, seg("S", REMOTE_SEQ, 0).mss(1460));
    let sent = t.output_at(0);
    assert_eq!(sent[0].seg.mss, Some(1000));
    t.iss = sent[0].seg.seq;
    send!(t, time 0, seg("A", REMOTE_SEQ + 1, t.iss + 1));
    t.conn = Some(t.stack.accept(t.listener.unwrap()).unwrap().0);
    t.send_data(&[1; 3000]);
    assert_eq!(t.output_at(0)[0].seg.data.len(), 1000);
}

#[test]
fn mss_option_outside_syn_is_ignored() {
    // MUST-65: MSS counts only on a SYN.
    let (mut t, _) = open_with(
        plain_config(false),
        seg("S", REMOTE_SEQ, 0).mss(1460),
        |iss| seg("A", REMOTE_SEQ + 1, iss + 1).mss(100),
    );
    t.send_data(&[1; 3000]);
    assert_eq!(t.output_at(0)[0].seg.data.len(), 1460);
}

// ============================================================================================
// Window scale (RFC 7323 section 2)
// ============================================================================================

#[test]
fn window_scale_negotiated_and_applied() {
    let (mut t, synack) = open_with(
        Config {
            timestamps: false,
            sack: false,
            ..full_config()
        },
        seg("S", REMOTE_SEQ, 0).mss(1460).ws(7),
        |iss| seg("A", REMOTE_SEQ + 1, iss + 1).win(10),
    );
    // RFC7323-2.2-ws-synack-only-if-offered, RFC7323-2.2-syn-window-unscaled.
    assert_eq!(synack.ws, Some(1));
    assert_eq!(synack.win, 65535);
    nodelay(&mut t);
    // RFC7323-2.3-apply-scaling: the peer's 10 << 7 = 1280 bytes of window, less than an
    // MSS and half the largest window: sent when the SWS override fires (MUST-38).
    t.send_data(&[1; 3000]);
    recv_nothing!(t, time 0);
    let sent = t.output_at(200);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].seg.data.len(), 1280);
    // Our own windows are scaled by 1: 64 KiB is announced as 32768.
    assert_eq!(sent[0].seg.win, 32768);
}

#[test]
fn window_scale_shift_is_capped_at_14() {
    // RFC7323-2.3-shift-capped-at-14.
    let (mut t, _) = open_with(
        Config {
            timestamps: false,
            sack: false,
            ..full_config()
        },
        seg("S", REMOTE_SEQ, 0).mss(1460).ws(15),
        |iss| seg("A", REMOTE_SEQ + 1, iss + 1).win(1),
    );
    nodelay(&mut t);
    t.send_data(&[1; 20_000]);
    let sent: usize = t.output_at(0).iter().map(|s| s.seg.data.len()).sum();
    // 1 << 14 = 16384 of window; the initial cwnd (4380) is the limit here.
    assert_eq!(sent, 4380);
}

#[test]
fn window_scale_needs_both_syns() {
    // RFC7323-2.2-ws-needs-both-syns, RFC7323-2.2-ws-ignored-on-non-syn.
    let (mut t, synack) = open_with(full_config(), seg("S", REMOTE_SEQ, 0).mss(1460), |iss| {
        seg("A", REMOTE_SEQ + 1, iss + 1).ws(7).win(2000)
    });
    assert_eq!(synack.ws, None);
    assert_eq!(synack.ts, None);
    assert!(!synack.sack_perm);
    nodelay(&mut t);
    t.send_data(&[1; 5000]);
    // The peer's 2000 bytes unscaled: one full segment; the rest of the window (540 bytes)
    // waits for the ACK (sender SWS avoidance).
    let sent: usize = t.output_at(0).iter().map(|s| s.seg.data.len()).sum();
    assert_eq!(sent, 1460);
    recv_nothing!(t, time 200);
}

// ============================================================================================
// Timestamps and PAWS (RFC 7323 sections 3 to 5)
// ============================================================================================

fn ts_established() -> Dut {
    let (t, synack) = open_with(
        Config {
            window_scaling: false,
            sack: false,
            ..full_config()
        },
        seg("S", REMOTE_SEQ, 0).mss(1460).ts(1000, 0),
        |iss| seg("A", REMOTE_SEQ + 1, iss + 1).ts(1001, 5),
    );
    // RFC7323-3.2-ts-synack-only-if-offered, RFC7323-3.2-tsecr-echo.
    assert_eq!(synack.ts.map(|(_, ecr)| ecr), Some(1000));
    t
}

#[test]
fn timestamps_on_every_segment_and_echoed() {
    // RFC7323-3.2-ts-on-every-segment, RFC7323-4.3-ts-recent-echo-rule.
    let mut t = ts_established();
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 1).data(b"x").ts(2000, 5));
    let sent = t.output_at(50);
    assert_eq!(sent.len(), 1);
    let (tsval, tsecr) = sent[0].seg.ts.unwrap();
    assert_eq!(tsecr, 2000);
    t.send_data(b"reply");
    let sent = t.output_at(60);
    assert_eq!(sent[0].seg.ts.map(|(_, ecr)| ecr), Some(2000));
    // Our clock ticks in milliseconds.
    assert_eq!(sent[0].seg.ts.unwrap().0.wrapping_sub(tsval), 10);
    // RFC7323-3.2-ts-on-rst.
    t.stack.abort(t.now, t.conn()).unwrap();
    let sent = t.output_at(70);
    assert_eq!(sent[0].seg.flags, "RA".parse().unwrap());
    assert!(sent[0].seg.ts.is_some());
}

#[test]
fn paws_rejects_old_timestamps() {
    // RFC7323-5.3-paws-reject-stale.
    let mut t = ts_established();
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 1).data(b"a").ts(2000, 5));
    let _ = t.output_at(100);
    send!(t, time 200, seg("PA", REMOTE_SEQ + 2, t.iss + 1).data(b"b").ts(1999, 5));
    let sent = t.output_at(200);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].seg.ack, REMOTE_SEQ + 2);
    assert_eq!(t.recv_data(), Ok(b"a".to_vec()));
    // RFC7323-5.2-rst-not-subject-to-paws: a RST with an old timestamp still resets.
    send!(t, time 300, seg("R", REMOTE_SEQ + 2, 0).ts(1, 0));
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn missing_timestamp_is_dropped() {
    // RFC7323-3.2-missing-ts-handling.
    let mut t = ts_established();
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 1).data(b"a"));
    recv_nothing!(t, time 100);
    assert_eq!(t.recv_data(), Err(Error::WouldBlock));
    assert_eq!(t.state(), State::Established);
}

#[test]
fn timestamps_not_negotiated_are_ignored() {
    // RFC7323-3.2-ts-not-negotiated-ignored.
    let (mut t, synack) = open_with(full_config(), seg("S", REMOTE_SEQ, 0).mss(1460), |iss| {
        seg("A", REMOTE_SEQ + 1, iss + 1).ts(5, 5)
    });
    assert_eq!(synack.ts, None);
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 1).data(b"a").ts(6, 6));
    let sent = t.output_at(100);
    assert_eq!(sent[0].seg.ts, None);
    assert_eq!(t.recv_data(), Ok(b"a".to_vec()));
}

#[test]
fn active_open_offers_everything() {
    let mut t = Dut::new(full_config());
    let conn = t
        .stack
        .connect(t.now, t.local(), t.remote(), &SocketOptions::default())
        .unwrap();
    t.conn = Some(conn);
    let sent = t.output_at(0);
    let syn = &sent[0].seg;
    assert_eq!(syn.mss, Some(1460));
    assert_eq!(syn.ws, Some(1));
    assert!(syn.sack_perm);
    assert_eq!(syn.ts.map(|(_, ecr)| ecr), Some(0));
    t.iss = syn.seq;
    let tsval = syn.ts.unwrap().0;
    send!(t, time 10, seg("SA", REMOTE_SEQ, t.iss + 1).mss(1460).ws(2).sack_perm().ts(77, tsval));
    let sent = t.output_at(10);
    assert_eq!(sent[0].seg.ts.map(|(_, ecr)| ecr), Some(77));
    assert_eq!(t.state(), State::Established);
}

// ============================================================================================
// SACK (RFC 2018)
// ============================================================================================

fn sack_established() -> Dut {
    let (t, synack) = open_with(
        Config {
            window_scaling: false,
            timestamps: false,
            ..full_config()
        },
        seg("S", REMOTE_SEQ, 0).mss(1460).sack_perm(),
        |iss| seg("A", REMOTE_SEQ + 1, iss + 1),
    );
    assert!(synack.sack_perm);
    t
}

#[test]
fn sack_blocks_report_out_of_order_data() {
    // RFC2018-3-sack-block-format, RFC2018-4-first-block-is-trigger,
    // RFC2018-4-fill-and-repeat-blocks, RFC2018-4-sack-on-all-dupacks.
    let mut t = sack_established();
    let base = REMOTE_SEQ + 1;
    send!(t, time 10, seg("A", base + 100, t.iss + 1).data(&[1; 100]));
    let sent = recv!(t, time 10, [seg("A", t.iss + 1, base).win(DUT_WIN).sack(&[(base + 100, base + 200)])]);
    assert!(!sent[0].seg.sack_perm);
    send!(t, time 11, seg("A", base + 300, t.iss + 1).data(&[1; 100]));
    recv!(t, time 11, [seg("A", t.iss + 1, base)
        .win(DUT_WIN)
        .sack(&[(base + 300, base + 400), (base + 100, base + 200)])]);
    // Extending the first block: it comes first again, grown.
    send!(t, time 12, seg("A", base + 200, t.iss + 1).data(&[1; 50]));
    recv!(t, time 12, [seg("A", t.iss + 1, base)
        .win(DUT_WIN)
        .sack(&[(base + 100, base + 250), (base + 300, base + 400)])]);
    // The hole at the front is filled: no SACK left below, one block above.
    send!(t, time 13, seg("A", base, t.iss + 1).data(&[1; 100]));
    recv!(t, time 13, [seg("A", t.iss + 1, base + 250)
        .win(DUT_WIN - 250)
        .sack(&[(base + 300, base + 400)])]);
}

#[test]
fn no_sack_without_permission() {
    // RFC2018-4-no-sack-without-permission.
    let mut t = t_established_with(full_config());
    send!(t, time 10, seg("A", REMOTE_SEQ + 101, t.iss + 1).data(&[1; 100]));
    let sent = t.output_at(10);
    assert!(sent[0].seg.sack.is_empty());
}

/// Send `n` full segments from the DUT (cwnd permitting) and return their sequence numbers.
fn flight(t: &mut Dut, ms: u64, bytes: usize) -> Vec<(u32, usize)> {
    t.send_data(&vec![3u8; bytes]);
    t.output_at(ms)
        .iter()
        .map(|s| (s.seg.seq, s.seg.data.len()))
        .collect()
}

/// Let the DUT send `bytes`, acknowledging every segment at once, until all are acknowledged:
/// cwnd grows in slow start. Returns SND.UNA.
fn transfer_acking(t: &mut Dut, ms: u64, bytes: usize) -> u32 {
    t.send_data(&vec![3u8; bytes]);
    let mut una = 0;
    loop {
        let sent = t.output_at(ms);
        if sent.is_empty() {
            return una;
        }
        for s in sent {
            una = s.seg.seq + s.seg.data.len() as u32;
            send!(t, time ms, seg("A", REMOTE_SEQ + 1, una));
        }
    }
}

#[test]
fn sack_guides_retransmission() {
    let mut t = sack_established();
    nodelay(&mut t);
    // Let cwnd grow.
    transfer_acking(&mut t, 0, 40_000);
    let segments = flight(&mut t, 10, 6 * 1460);
    assert!(segments.len() >= 6, "{} segments", segments.len());
    let s = |i: usize| segments[i].0;
    let end = |i: usize| segments[i].0 + segments[i].1 as u32;
    // Segments 0 and 2 are lost; 1, 3, 4, 5 arrive: SACKed duplicate ACKs.
    send!(t, time 20, seg("A", REMOTE_SEQ + 1, s(0)).sack(&[(s(1), end(1))]));
    send!(t, time 20, seg("A", REMOTE_SEQ + 1, s(0)).sack(&[(s(3), end(3)), (s(1), end(1))]));
    send!(t, time 20, seg("A", REMOTE_SEQ + 1, s(0)).sack(&[(s(3), end(4)), (s(1), end(1))]));
    let sent = t.output_at(20);
    // Fast retransmit of the first hole (RFC5681-3.2-fast-retransmit) and, as the pipe
    // allows, the second; never the SACKed segments (RFC 6675).
    let resent: Vec<u32> = sent.iter().map(|x| x.seg.seq).collect();
    assert!(resent.contains(&s(0)), "{resent:?}");
    assert!(!resent.contains(&s(1)) && !resent.contains(&s(3)) && !resent.contains(&s(4)));
    send!(t, time 30, seg("A", REMOTE_SEQ + 1, s(0)).sack(&[(s(3), end(5)), (s(1), end(1))]));
    let sent = t.output_at(30);
    let mut all = resent;
    all.extend(sent.iter().map(|x| x.seg.seq));
    assert!(all.contains(&s(2)), "{all:?}");
    assert!(!all.contains(&s(5)));
}

// ============================================================================================
// Congestion control (RFC 5681, RFC 6582)
// ============================================================================================

#[test]
fn initial_window_is_three_segments() {
    // RFC5681-3.1-initial-window.
    let mut t = t_established();
    let segments = flight(&mut t, 0, 20_000);
    assert_eq!(segments.len(), 3);
    // Slow start: each ACK of a full segment adds one SMSS (RFC5681-3.1-slow-start-growth).
    send!(t, time 10, seg("A", REMOTE_SEQ + 1, segments[0].0 + 1460));
    assert_eq!(t.output_at(10).len(), 2);
}

#[test]
fn fast_retransmit_and_newreno_partial_ack() {
    // RFC5681-3.2-fast-retransmit, RFC 6582 (partial ACK), RFC5681-3.2-limited-transmit.
    let mut t = t_established();
    nodelay(&mut t);
    transfer_acking(&mut t, 0, 40_000);
    let segments = flight(&mut t, 10, 8 * 1460);
    assert!(segments.len() >= 6, "{} segments", segments.len());
    let s0 = segments[0].0;
    // Two duplicate ACKs: limited transmit may send new data, never a retransmission.
    send!(t, time 20, seg("A", REMOTE_SEQ + 1, s0));
    send!(t, time 20, seg("A", REMOTE_SEQ + 1, s0));
    let sent = t.output_at(20);
    assert!(sent.iter().all(|x| x.seg.seq != s0));
    // The third: fast retransmit of SND.UNA.
    send!(t, time 21, seg("A", REMOTE_SEQ + 1, s0));
    let sent = t.output_at(21);
    assert_eq!(sent.first().map(|x| x.seg.seq), Some(s0));
    // A partial ACK (up to segment 2): segment 2 goes at once.
    let s2 = segments[2].0;
    send!(t, time 30, seg("A", REMOTE_SEQ + 1, s2));
    let sent = t.output_at(30);
    assert_eq!(sent.first().map(|x| x.seg.seq), Some(s2));
}

#[test]
fn rto_collapses_cwnd_to_one_segment() {
    // RFC5681-3.1-loss-window-after-rto.
    let mut t = t_established();
    let segments = flight(&mut t, 0, 20_000);
    assert_eq!(segments.len(), 3);
    let sent = t.output_at(1000);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].seg.seq, segments[0].0);
    // Slow start again from one segment: its ACK releases two.
    send!(t, time 1010, seg("A", REMOTE_SEQ + 1, segments[1].0));
    assert_eq!(t.output_at(1010).len(), 2);
}

// ============================================================================================
// ECN (RFC 3168)
// ============================================================================================

fn ecn_established() -> (Dut, S) {
    open_with(
        Config {
            ecn_passive: true,
            ..plain_config(false)
        },
        seg("SEC", REMOTE_SEQ, 0).mss(1460),
        |iss| seg("A", REMOTE_SEQ + 1, iss + 1),
    )
}

#[test]
fn ecn_setup_passive() {
    // RFC3168-6.1.1-ecn-setup-synack-only-on-request.
    let (_, synack) = ecn_established();
    assert_eq!(synack.flags, "SAE".parse().unwrap());
    // RFC3168-6.1.1-non-setup-forms: ECE alone is not a request.
    let (_, synack) = open_with(
        Config {
            ecn_passive: true,
            ..plain_config(false)
        },
        seg("SE", REMOTE_SEQ, 0),
        |iss| seg("A", REMOTE_SEQ + 1, iss + 1),
    );
    assert_eq!(synack.flags, "SA".parse().unwrap());
}

#[test]
fn ecn_marks_only_new_data() {
    // RFC3168-6.1.2-use-ect0, RFC3168-6.1.4-pure-ack-not-ect,
    // RFC3168-6.1.5-retransmission-not-ect, RFC3168-6.1.1-no-ect-on-syn.
    let (mut t, _) = ecn_established();
    t.send_data(b"data");
    let sent = t.output_at(0);
    assert_eq!(sent[0].ecn, Ecn::Ect0);
    let sent = t.output_at(1000);
    assert_eq!(sent[0].ecn, Ecn::NotEct);
    send!(t, time 1010, seg("A", REMOTE_SEQ + 1, t.iss + 5).data(b"x"));
    let sent = t.output_at(1100);
    assert_eq!(sent[0].ecn, Ecn::NotEct);
    assert!(sent[0].seg.data.is_empty());
}

#[test]
fn ecn_echo_until_cwr() {
    // RFC3168-6.1.3-echo-ce-until-cwr, RFC3168-6.1.5-ignore-ce-out-of-window.
    let (mut t, _) = ecn_established();
    t.peer_ecn = Ecn::Ce;
    // Out of window: ignored.
    send!(t, time 10, seg("A", REMOTE_SEQ + 100_000, t.iss + 1).data(b"x"));
    let sent = t.output_at(10);
    assert_eq!(sent[0].seg.flags, TcpFlags::ACK);
    send!(t, time 20, seg("A", REMOTE_SEQ + 1, t.iss + 1).data(b"a"));
    t.peer_ecn = Ecn::Ect0;
    let sent = t.output_at(20);
    assert_eq!(sent[0].seg.flags, "AE".parse().unwrap());
    send!(t, time 30, seg("A", REMOTE_SEQ + 2, t.iss + 1).data(b"b"));
    assert_eq!(t.output_at(100)[0].seg.flags, "AE".parse().unwrap());
    send!(t, time 200, seg("AC", REMOTE_SEQ + 3, t.iss + 1).data(b"c"));
    assert_eq!(t.output_at(300)[0].seg.flags, TcpFlags::ACK);
}

#[test]
fn ecn_echo_reduces_and_sets_cwr() {
    // RFC3168-6.1.2-ece-response, RFC3168-6.1.2-cwr-on-first-new-data.
    let (mut t, _) = ecn_established();
    nodelay(&mut t);
    let segments = flight(&mut t, 0, 3000);
    let end = segments.last().map(|(s, l)| s + *l as u32).unwrap();
    send!(t, time 10, seg("AE", REMOTE_SEQ + 1, end));
    t.send_data(b"more");
    let sent = t.output_at(10);
    assert_eq!(sent[0].seg.flags, "PAC".parse().unwrap());
    assert_eq!(sent[0].ecn, Ecn::Ect0);
}

#[test]
fn ecn_active_open_and_fallback() {
    // RFC3168-6.1.1-ecn-setup-syn, RFC3168-6.1.1.1-fallback-without-ecn,
    // RFC3168-6.1.6-window-probe-not-ect.
    let mut t = Dut::new(Config {
        ecn: true,
        ..plain_config(false)
    });
    let conn = t
        .stack
        .connect(t.now, t.local(), t.remote(), &SocketOptions::default())
        .unwrap();
    t.conn = Some(conn);
    let sent = t.output_at(0);
    assert_eq!(sent[0].seg.flags, "SEC".parse().unwrap());
    assert_eq!(sent[0].ecn, Ecn::NotEct);
    t.iss = sent[0].seg.seq;
    let sent = t.output_at(1000);
    assert_eq!(sent[0].seg.flags, TcpFlags::SYN);
    // A SYN-ACK with ECE after the fallback: no ECN.
    send!(t, time 1010, seg("SAE", REMOTE_SEQ, t.iss + 1).mss(1460).win(0));
    let _ = t.output_at(1010);
    t.send_data(b"x");
    let _ = t.output_at(1010);
    let probe = t.output_at(4010);
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].ecn, Ecn::NotEct);
}

// ============================================================================================
// Urgent data (RFC 9293 3.8.5, RFC 6093)
// ============================================================================================

#[test]
fn urgent_send_sets_pointer_after_the_data() {
    // MUST-30, MUST-31, MUST-62.
    let mut t = t_established();
    t.stack.send_urgent(t.now, t.conn(), b"!!!").unwrap();
    recv!(t, time 0, [seg("PAU", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN).data(b"!!!").up(3)]);
    send!(t, time 10, seg("A", REMOTE_SEQ + 1, t.iss + 4));
    t.send_data(b"normal");
    recv!(t, time 10, [seg("PA", t.iss + 4, REMOTE_SEQ + 1).win(DUT_WIN).data(b"normal")]);
}

#[test]
fn urgent_receive_signals_and_counts() {
    // MUST-32 (signal), MUST-33 (how much).
    let mut t = t_established();
    send!(t, time 10, seg("PAU", REMOTE_SEQ + 1, t.iss + 1).data(b"abcdef").up(4));
    let events = t.take_events();
    assert!(events.contains(&Event::Urgent(t.conn())));
    assert_eq!(t.stack.urgent_pending(t.conn()), Ok(4));
    // Signalled once per run of urgent data: a segment extending it is not signalled again.
    send!(t, time 11, seg("PAU", REMOTE_SEQ + 7, t.iss + 1).data(b"g").up(1));
    assert!(!t.take_events().contains(&Event::Urgent(t.conn())));
    let mut buf = [0u8; 4];
    assert_eq!(t.stack.recv(t.conn(), &mut buf), Ok(4));
    assert_eq!(t.stack.urgent_pending(t.conn()), Ok(3));
    // Urgent data stays in line (RFC 6093).
    assert_eq!(t.recv_data(), Ok(b"efg".to_vec()));
    assert_eq!(t.stack.urgent_pending(t.conn()), Ok(0));
}

// ============================================================================================
// Malformed and unknown options (MUST-6, MUST-7, MUST-64, MUST-68)
// ============================================================================================

/// A segment with a raw option area (padded with zeros to a multiple of four).
fn raw_options(t: &Dut, flags: &str, seq: u32, ack: u32, options: &[u8], data: &[u8]) -> Vec<u8> {
    use crate::wire::TcpPacket;
    let header_len = 20 + options.len().div_ceil(4) * 4;
    let mut tcp = vec![0u8; header_len + data.len()];
    {
        let mut packet = TcpPacket::new_unchecked(&mut tcp[..]);
        packet.set_src_port(PEER_PORT);
        packet.set_dst_port(t.port);
        packet.set_seq_number(TcpSeqNumber(seq));
        packet.set_ack_number(TcpSeqNumber(ack));
        packet.set_header_len(header_len as u8);
        packet.set_flags(flags.parse().unwrap());
        packet.set_window_len(PEER_WIN);
    }
    tcp[20..20 + options.len()].copy_from_slice(options);
    tcp[header_len..].copy_from_slice(data);
    TcpPacket::new_unchecked(&mut tcp[..]).fill_checksum(&t.remote().ip(), &t.local().ip());
    crate::testing::wrap_ip(t.remote().ip(), t.local().ip(), Ecn::NotEct, &tcp)
}

#[test]
fn malformed_options_do_not_break_processing() {
    let mut t = t_listen();
    // MSS, then an option of length 0 (illegal): the SYN is still processed (MUST-7).
    let syn = raw_options(&t, "S", REMOTE_SEQ, 0, &[2, 4, 0x05, 0xb4, 30, 0], &[]);
    t.send_raw(0, &syn);
    let sent = t.output_at(0);
    assert_eq!(sent.len(), 1);
    t.iss = sent[0].seg.seq;
    // Unknown kinds skipped by length, unaligned (MUST-6, MUST-64, MUST-68), then data.
    let ack = raw_options(
        &t,
        "PA",
        REMOTE_SEQ + 1,
        t.iss + 1,
        &[1, 77, 5, 1, 2, 3, 1, 1, 8, 3],
        b"hi",
    );
    t.send_raw(1, &ack);
    let (conn, _) = t.stack.accept(t.listener.unwrap()).unwrap();
    t.conn = Some(conn);
    assert_eq!(t.recv_data(), Ok(b"hi".to_vec()));
    // An option running past the header: ignored, data kept.
    let bad = raw_options(&t, "PA", REMOTE_SEQ + 3, t.iss + 1, &[8, 40, 1, 1], b"yo");
    t.send_raw(2, &bad);
    assert_eq!(t.recv_data(), Ok(b"yo".to_vec()));
    assert_eq!(t.state(), State::Established);
    let _ = CloseReason::Normal;
}

#[test]
fn time_wait_with_timestamps_accepts_a_syn_without_them() {
    let mut t = ts_established();
    t.stack
        .shutdown(t.now, t.conn(), crate::tcp::How::Write)
        .unwrap();
    let _ = t.output_at(0);
    send!(t, time 10, seg("FA", REMOTE_SEQ + 1, t.iss + 2).ts(1100, 5));
    let _ = t.output_at(10);
    assert_eq!(t.state(), State::TimeWait);
    send!(t, time 20, seg("S", REMOTE_SEQ + 100_000, 0).mss(1460));
    let sent = t.output_at(20);
    assert_eq!(sent[0].seg.flags, "SA".parse().unwrap());
    // SHLD-4 / RFC 6191: with timestamps, a newer TSval decides even for a lower sequence.
    let mut t = ts_established();
    t.stack
        .shutdown(t.now, t.conn(), crate::tcp::How::Write)
        .unwrap();
    let _ = t.output_at(0);
    send!(t, time 10, seg("FA", REMOTE_SEQ + 1, t.iss + 2).ts(1100, 5));
    let _ = t.output_at(10);
    send!(t, time 20, seg("S", REMOTE_SEQ - 100_000, 0).mss(1460).ts(5000, 0));
    let sent = t.output_at(20);
    assert_eq!(sent[0].seg.flags, "SA".parse().unwrap());
}
