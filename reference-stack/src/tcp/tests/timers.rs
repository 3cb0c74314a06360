//! Timers in virtual time: retransmission (RFC 6298), SYN and SYN-ACK retransmission, R1/R2,
//! persist (zero-window probes), keep-alive, user timeout, the SWS override, delayed ACKs.

use super::*;
use crate::tcp::{CloseReason, Error};

fn opts(f: impl FnOnce(&mut SocketOptions)) -> SocketOptions {
    let mut opts = SocketOptions::default();
    f(&mut opts);
    opts
}

#[test]
fn rto_backs_off_exponentially() {
    // RFC6298-5.5-backoff, RFC6298-5-never-early, RFC6298-5.4-retransmit-earliest.
    let mut t = t_established();
    t.send_data(b"hello");
    let data = seg("PA", t.iss + 1, REMOTE_SEQ + 1)
        .win(DUT_WIN)
        .data(b"hello");
    recv!(t, time 0, [data.clone()]);
    // RTO = max(1 s, SRTT + 4 RTTVAR) = 1 s (RFC6298-2.4-min-rto-1s).
    recv_nothing!(t, time 999);
    recv!(t, time 1000, [data.clone()]);
    recv_nothing!(t, time 2999);
    recv!(t, time 3000, [data.clone()]);
    recv_nothing!(t, time 6999);
    recv!(t, time 7000, [data.clone()]);
    // The ACK ends it; no retransmission after.
    send!(t, time 7010, seg("A", REMOTE_SEQ + 1, t.iss + 6));
    recv_nothing!(t, time 60_000);
    assert_eq!(t.state(), State::Established);
}

#[test]
fn rto_gives_up_after_r2_and_warns_at_r1() {
    // MUST-20: R1 (advice to the user) and R2 (close).
    let config = Config {
        r2: Duration::from_secs(20),
        ..plain_config(false)
    };
    let mut t = t_established_with(config);
    t.send_data(b"x");
    let mut retransmissions = 0;
    for ms in [0, 1000, 3000, 7000, 15_000] {
        retransmissions += t.output_at(ms).len();
    }
    assert_eq!(retransmissions, 5);
    let events = t.take_events();
    assert!(events.contains(&Event::RetransmitWarning(t.conn())));
    assert_eq!(t.state(), State::Established);
    // The next timeout, at 31 s, is past R2 = 20 s: no more retransmission, the connection
    // times out (no RST, as Linux).
    recv_nothing!(t, time 31_000);
    assert_eq!(t.state(), State::Closed);
    assert!(t.take_events().contains(&Event::Closed {
        conn: t.conn(),
        reason: CloseReason::TimedOut
    }));
    assert_eq!(t.recv_data(), Err(Error::TimedOut));
}

#[test]
fn syn_is_retransmitted_then_rto_is_3s() {
    // RFC 6298 5.7 (RFC6298-5.7-rto-3s-after-syn-timeout), MUST-22.
    let mut t = t_syn_sent();
    let syn = seg("S", t.iss, 0).win(DUT_WIN).mss(1460);
    recv_nothing!(t, time 999);
    recv!(t, time 1000, [syn.clone()]);
    recv!(t, time 3000, [syn.clone()]);
    send!(t, time 3100, seg("SA", REMOTE_SEQ, t.iss + 1).mss(1460));
    recv!(t, time 3100, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    // After a SYN timeout the RTO is 3 s, and cwnd one segment
    // (RFC5681-3.1-iw-one-after-syn-loss).
    t.send_data(&[9; 3000]);
    let sent = t.output_at(3100);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].seg.data.len(), 1460);
    recv_nothing!(t, time 6099);
    assert_eq!(t.output_at(6100).len(), 1);
}

#[test]
fn syn_gives_up_after_r2_syn() {
    // MUST-23: at least 3 minutes of SYN retransmission.
    let mut t = t_syn_sent();
    let mut count = 0;
    let mut ms = 0;
    while t.state() == State::SynSent && ms < 400_000 {
        ms += 500;
        count += t.output_at(ms).len();
    }
    assert!(ms > 180_000, "gave up at {ms} ms");
    assert!(count >= 7, "{count} retransmissions");
    assert!(t.take_events().contains(&Event::Closed {
        conn: t.conn(),
        reason: CloseReason::TimedOut
    }));
}

#[test]
fn syn_ack_is_retransmitted() {
    let mut t = t_syn_received();
    let synack = seg("SA", t.iss, REMOTE_SEQ + 1).win(DUT_WIN).mss(1460);
    recv!(t, time 1000, [synack.clone()]);
    recv!(t, time 3000, [synack.clone()]);
    recv_nothing!(t, time 6999);
    recv!(t, time 7000, [synack]);
}

#[test]
fn zero_window_probes_back_off() {
    // MUST-36, SHLD-29 (first probe after one RTO), SHLD-30 (exponential), MUST-37 (probes
    // answered: the connection lives on).
    let mut t = t_established();
    send!(t, time 0, seg("A", REMOTE_SEQ + 1, t.iss + 1).win(0));
    t.send_data(b"abc");
    recv_nothing!(t, time 0);
    recv_nothing!(t, time 999);
    let probe = seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN).data(b"a");
    recv!(t, time 1000, [probe.clone()]);
    send!(t, time 1010, seg("A", REMOTE_SEQ + 1, t.iss + 1).win(0));
    recv_nothing!(t, time 2999);
    recv!(t, time 3000, [probe.clone()]);
    send!(t, time 3010, seg("A", REMOTE_SEQ + 1, t.iss + 1).win(0));
    recv_nothing!(t, time 6999);
    recv!(t, time 7000, [probe.clone()]);
    for _ in 0..20 {
        let next = t.stack.poll_timeout().unwrap();
        let sent = t.output_at(next.total_millis());
        assert!(sent.len() <= 1, "{sent:?} at {}", t.now);
        let now = t.now.total_millis();
        send!(t, time now, seg("A", REMOTE_SEQ + 1, t.iss + 1).win(0));
    }
    // Capped at rto_max (120 s), never given up.
    assert_eq!(t.state(), State::Established);
    // The window opens: the data goes.
    let now = t.now.total_millis() + 1;
    send!(t, time now, seg("A", REMOTE_SEQ + 1, t.iss + 1).win(1000));
    recv!(t, time now, [seg("PA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN).data(b"abc")]);
}

#[test]
fn zero_window_probe_accepted_byte() {
    let mut t = t_established();
    send!(t, time 0, seg("A", REMOTE_SEQ + 1, t.iss + 1).win(0));
    t.send_data(b"abc");
    recv_nothing!(t, time 0);
    recv!(t, time 1000, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN).data(b"a")]);
    // The peer took the byte and opened its window.
    send!(t, time 1010, seg("A", REMOTE_SEQ + 1, t.iss + 2).win(100));
    recv!(t, time 1010, [seg("PA", t.iss + 2, REMOTE_SEQ + 1).win(DUT_WIN).data(b"bc")]);
}

#[test]
fn sws_override_sends_a_short_segment() {
    // MUST-38 with the override timer (RFC1122-4.2.3.4-sws-override-timer): a usable window
    // below both an MSS and half the largest window is not used at once.
    let mut t = t_established();
    send!(t, time 0, seg("A", REMOTE_SEQ + 1, t.iss + 1).win(500));
    t.send_data(&[5; 2000]);
    recv_nothing!(t, time 0);
    recv_nothing!(t, time 199);
    let sent = t.output_at(200);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].seg.data.len(), 500);
}

#[test]
fn keepalive_probes_and_gives_up() {
    // MUST-24 (per connection), MUST-26 (idle only), MUST-27 (configurable), MUST-29 (not
    // after one lost probe), SHLD-12 (no data).
    let mut t = t_established();
    t.stack
        .set_options(
            t.conn(),
            &opts(|o| {
                o.keepalive = Some(true);
                o.keepidle = Some(Duration::from_secs(10));
                o.keepintvl = Some(Duration::from_secs(2));
                o.keepcnt = Some(3);
            }),
        )
        .unwrap();
    let probe = seg("A", t.iss, REMOTE_SEQ + 1).win(DUT_WIN);
    recv_nothing!(t, time 9999);
    recv!(t, time 10_000, [probe.clone()]);
    // Answered: the idle time starts again.
    send!(t, time 10_010, seg("A", REMOTE_SEQ + 1, t.iss + 1));
    recv_nothing!(t, time 20_009);
    recv!(t, time 20_010, [probe.clone()]);
    recv!(t, time 22_010, [probe.clone()]);
    recv!(t, time 24_010, [probe.clone()]);
    // Three unanswered probes: reset (as Linux) and ETIMEDOUT.
    recv!(t, time 26_010, [seg("RA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.recv_data(), Err(Error::TimedOut));
}

#[test]
fn keepalive_is_off_by_default() {
    // MUST-25.
    let mut t = t_established();
    assert_eq!(t.stack.poll_timeout(), None);
    recv_nothing!(t, time 10_000_000);
    assert_eq!(t.state(), State::Established);
}

#[test]
fn keepalive_default_idle_is_two_hours() {
    // MUST-28.
    let config = Config {
        keepalive: true,
        ..plain_config(false)
    };
    let mut t = t_established_with(config);
    recv_nothing!(t, time 7_199_999);
    assert_eq!(t.output_at(7_200_000).len(), 1);
}

#[test]
fn user_timeout_aborts() {
    // RFC 9293 3.10.8 USER TIMEOUT, MUST-21.
    let mut t = t_established();
    t.stack
        .set_options(
            t.conn(),
            &opts(|o| o.user_timeout = Some(Duration::from_secs(5))),
        )
        .unwrap();
    t.send_data(b"data");
    let _ = t.output_at(0);
    let _ = t.output_at(1000);
    let _ = t.output_at(3000);
    assert_eq!(t.state(), State::Established);
    recv_nothing!(t, time 5000);
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.recv_data(), Err(Error::TimedOut));
}

#[test]
fn delayed_ack_and_quickack() {
    let mut t = t_established();
    send!(t, time 10, seg("A", REMOTE_SEQ + 1, t.iss + 1).data(b"a"));
    recv_nothing!(t, time 49);
    assert_eq!(t.output_at(50).len(), 1);
    t.stack.set_quickack(t.conn(), true).unwrap();
    send!(t, time 60, seg("A", REMOTE_SEQ + 2, t.iss + 1).data(b"b"));
    assert_eq!(t.output_at(60).len(), 1);
}

#[test]
fn delayed_ack_is_clamped_below_500ms() {
    // MUST-40.
    let config = Config {
        delayed_ack: Duration::from_secs(2),
        ..plain_config(false)
    };
    let mut t = t_established_with(config);
    send!(t, time 0, seg("A", REMOTE_SEQ + 1, t.iss + 1).data(b"a"));
    recv_nothing!(t, time 498);
    assert_eq!(t.output_at(499).len(), 1);
}

#[test]
fn idle_restart_of_cwnd() {
    // RFC5681-4.1-restart-after-idle: after an idle RTO, no more than IW goes at once.
    let mut t = t_established();
    t.stack
        .set_options(t.conn(), &opts(|o| o.nodelay = Some(true)))
        .unwrap();
    // Grow cwnd: 20 segments acknowledged one by one.
    let mut una = t.iss + 1;
    for i in 0..20u64 {
        t.send_data(&[1; 1460]);
        let sent = t.output_at(i * 10);
        assert!(!sent.is_empty());
        una += sent.iter().map(|s| s.seg.data.len() as u32).sum::<u32>();
        send!(t, time i * 10 + 5, seg("A", REMOTE_SEQ + 1, una));
    }
    let _ = t.output_at(300);
    // Idle 10 s, then a big write: the initial window (3 segments of 1460).
    t.send_data(&[2; 20_000]);
    assert_eq!(t.output_at(10_000).len(), 3);
}
