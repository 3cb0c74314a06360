//! Every state of RFC 9293 section 3.10 and its transitions, in the RFC's order, from the
//! peer's point of view.

use rstest::rstest;

use super::*;
use crate::tcp::{CloseReason, Error, How};

// ============================================================================================
// CLOSED (RFC 9293 3.10.7.1): no TCB
// ============================================================================================

#[rstest]
#[case::ipv4(false)]
#[case::ipv6(true)]
fn closed_syn_gets_rst_ack(#[case] ipv6: bool) {
    let mut t = Dut::new(plain_config(ipv6));
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    send!(t, time 0, seg("S", REMOTE_SEQ, 0));
    let sent = recv!(t, [seg("RA", 0, REMOTE_SEQ + 1).win(0)]);
    assert_eq!(sent[0].hop_limit, 64);
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn closed_syn_with_data_and_fin_count_in_seg_len() {
    let mut t = Dut::new(plain_config(false));
    send!(t, time 0, seg("S", REMOTE_SEQ, 0).data(&[1; 20]));
    recv!(t, [seg("RA", 0, REMOTE_SEQ + 21).win(0)]);
    send!(t, time 0, seg("F", REMOTE_SEQ, 0));
    recv!(t, [seg("RA", 0, REMOTE_SEQ + 1).win(0)]);
    send!(t, time 0, seg("SF", REMOTE_SEQ, 0).data(b"xy"));
    recv!(t, [seg("RA", 0, REMOTE_SEQ + 4).win(0)]);
}

#[test]
fn closed_ack_gets_rst_at_seg_ack() {
    let mut t = Dut::new(plain_config(false));
    // <SEQ=SEG.ACK><CTL=RST>
    send!(t, time 0, seg("A", REMOTE_SEQ, 123_456));
    recv!(t, [seg("R", 123_456, 0).win(0)]);
    send!(t, time 0, seg("PA", REMOTE_SEQ, 98_765).data(&[0; 100]));
    recv!(t, [seg("R", 98_765, 0).win(0)]);
}

#[test]
fn closed_rst_is_discarded() {
    let mut t = Dut::new(plain_config(false));
    send!(t, time 0, seg("R", REMOTE_SEQ, 0));
    send!(t, time 0, seg("RA", REMOTE_SEQ, 5));
    recv_nothing!(t);
    assert_eq!(
        t.stack.stats().drops(super::super::DropReason::RstIgnored),
        2
    );
}

#[test]
fn closed_bad_checksum_is_silent() {
    // MUST-3: a segment whose checksum fails is discarded without effect.
    let mut t = Dut::new(plain_config(false));
    let mut packet = build_packet(
        t.remote(),
        t.local(),
        &seg("S", REMOTE_SEQ, 0).repr(),
        Ecn::NotEct,
    );
    let last = packet.len() - 1;
    packet[last - 3] ^= 0x40;
    t.send_raw(0, &packet);
    recv_nothing!(t);
    assert_eq!(
        t.stack.stats().drops(super::super::DropReason::BadChecksum),
        1
    );
}

#[test]
fn segments_not_for_us_are_silent() {
    let mut t = Dut::new(plain_config(false));
    let syn = seg("S", REMOTE_SEQ, 0);
    let repr = syn.repr();
    let other = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 99)), DUT_PORT);
    t.send_raw(0, &build_packet(t.remote(), other, &repr, Ecn::NotEct));
    // MUST-57: to a broadcast or multicast address; MUST-63: from one.
    let bcast = SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), DUT_PORT);
    t.send_raw(0, &build_packet(t.remote(), bcast, &repr, Ecn::NotEct));
    let mcast = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 1)), PEER_PORT);
    t.send_raw(0, &build_packet(mcast, t.local(), &repr, Ecn::NotEct));
    recv_nothing!(t);
}

// ============================================================================================
// LISTEN (3.10.7.2)
// ============================================================================================

#[rstest]
#[case::ipv4(false, 1460)]
#[case::ipv6(true, 1440)]
fn listen_syn_gets_syn_ack_with_mss(#[case] ipv6: bool, #[case] mss: u16) {
    let mut t = t_listen_with(plain_config(ipv6));
    assert_eq!(t.state(), State::Closed);
    send!(t, time 0, seg("S", REMOTE_SEQ, 0).mss(1460));
    // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, with an MSS option (MUST-14) and nothing the SYN
    // did not offer.
    let sent = t.output_at(0);
    assert_eq!(sent.len(), 1);
    let iss = sent[0].seg.seq;
    assert_eq!(
        sent[0].seg,
        seg("SA", iss, REMOTE_SEQ + 1).win(DUT_WIN).mss(mss)
    );
    assert_eq!(t.state(), State::SynReceived);
}

#[test]
fn listen_rst_is_ignored() {
    let mut t = t_listen();
    send!(t, time 0, seg("R", REMOTE_SEQ, 0));
    recv_nothing!(t);
    assert_eq!(t.state(), State::Closed);
    // Still listening.
    send!(t, time 1, seg("S", REMOTE_SEQ, 0));
    assert_eq!(t.output_at(1).len(), 1);
}

#[test]
fn listen_ack_gets_rst() {
    let mut t = t_listen();
    send!(t, time 0, seg("A", REMOTE_SEQ, 777));
    recv!(t, [seg("R", 777, 0).win(0)]);
    send!(t, time 0, seg("SA", REMOTE_SEQ, 778));
    recv!(t, [seg("R", 778, 0).win(0)]);
}

#[test]
fn listen_other_segments_are_dropped() {
    let mut t = t_listen();
    send!(t, time 0, seg("F", REMOTE_SEQ, 0));
    send!(t, time 0, seg("P", REMOTE_SEQ, 0).data(b"hi"));
    send!(t, time 0, seg("", REMOTE_SEQ, 0));
    // SYN+FIN: dropped, as Linux does.
    send!(t, time 0, seg("SF", REMOTE_SEQ, 0));
    recv_nothing!(t);
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn listen_syn_data_is_not_acknowledged() {
    let mut t = t_listen();
    send!(t, time 0, seg("S", REMOTE_SEQ, 0).data(b"early"));
    let sent = t.output_at(0);
    assert_eq!(sent[0].seg.ack, REMOTE_SEQ + 1);
    assert!(sent[0].seg.data.is_empty());
}

#[test]
fn listen_backlog_and_address_in_use() {
    let mut config = plain_config(false);
    config.max_syn_backlog = 2;
    let mut t = Dut::new(config);
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DUT_PORT);
    let listener = t.stack.listen(any, 0, &SocketOptions::default()).unwrap();
    // MUST-41: a second listener on the same port fails and leaves the first alone.
    assert_eq!(
        t.stack.listen(t.local(), 4, &SocketOptions::default()),
        Err(Error::AddrInUse)
    );
    assert_eq!(t.stack.listener_addr(listener), Ok(any));
    let mut packets = Vec::new();
    for port in 0..4u16 {
        let src = SocketAddr::new(peer_addr(false), 41000 + port);
        let syn = seg("S", REMOTE_SEQ, 0);
        packets.push(build_packet(src, t.local(), &syn.repr(), Ecn::NotEct));
    }
    for packet in &packets {
        t.send_raw(0, packet);
    }
    // Two SYN-RECEIVED at most (max_syn_backlog): two SYN-ACKs.
    let mut buf = Vec::new();
    let mut synacks = 0;
    while t.stack.poll_transmit(t.now, &mut buf).is_some() {
        synacks += 1;
    }
    assert_eq!(synacks, 2);
    assert_eq!(t.stack.connection_count(), 2);
    assert_eq!(t.stack.accept(listener), Err(Error::WouldBlock));
}

#[test]
fn listen_accept_queue_overflow_drops_the_last_ack() {
    // Backlog 0: one connection may wait (as Linux); the second's ACK is dropped and it stays
    // in SYN-RECEIVED until the first is accepted.
    let mut t = Dut::new(plain_config(false));
    let listener = t
        .stack
        .listen(t.local(), 0, &SocketOptions::default())
        .unwrap();
    let peers = [41000, 41001].map(|port| SocketAddr::new(peer_addr(false), port));
    let mut isns = Vec::new();
    for src in peers {
        let syn = seg("S", REMOTE_SEQ, 0);
        t.send_raw(0, &build_packet(src, t.local(), &syn.repr(), Ecn::NotEct));
        let mut buf = Vec::new();
        let _ = t.stack.poll_transmit(t.now, &mut buf).unwrap();
        isns.push(parse_packet(&buf).unwrap().1.seq_number.0);
    }
    for (src, iss) in peers.into_iter().zip(isns) {
        let ack = seg("A", REMOTE_SEQ + 1, iss + 1);
        t.send_raw(0, &build_packet(src, t.local(), &ack.repr(), Ecn::NotEct));
    }
    assert_eq!(t.stack.state_of(t.local(), peers[0]), State::Established);
    assert_eq!(t.stack.state_of(t.local(), peers[1]), State::SynReceived);
    assert!(t.stack.accept(listener).is_ok());
    assert_eq!(t.stack.accept(listener), Err(Error::WouldBlock));
    assert_eq!(
        t.stack
            .stats()
            .drops(super::super::DropReason::AcceptQueueFull),
        1
    );
}

// ============================================================================================
// SYN-SENT (3.10.7.3)
// ============================================================================================

#[test]
fn syn_sent_syn_carries_mss() {
    let t = t_syn_sent();
    let _ = t;
    let mut t = Dut::new(plain_config(false));
    let conn = t
        .stack
        .connect(t.now, t.local(), t.remote(), &SocketOptions::default())
        .unwrap();
    t.conn = Some(conn);
    let sent = t.output_at(0);
    let iss = sent[0].seg.seq;
    assert_eq!(sent[0].seg, seg("S", iss, 0).win(DUT_WIN).mss(1460));
    assert_eq!(sent[0].ecn, Ecn::NotEct);
}

#[test]
fn syn_sent_syn_ack_establishes() {
    let mut t = t_syn_sent();
    send!(t, time 30, seg("SA", REMOTE_SEQ, t.iss + 1).mss(1460));
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    recv!(t, time 30, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.state(), State::Established);
    assert!(t.take_events().contains(&Event::Connected(t.conn())));
    assert_eq!(t.recv_data(), Err(Error::WouldBlock));
}

#[test]
fn syn_sent_bad_ack_gets_rst() {
    let mut t = t_syn_sent();
    // SEG.ACK =< ISS or SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST>, drop.
    send!(t, time 10, seg("SA", REMOTE_SEQ, t.iss));
    recv!(t, [seg("R", t.iss, 0).win(0)]);
    send!(t, time 10, seg("A", REMOTE_SEQ, t.iss + 2));
    recv!(t, [seg("R", t.iss + 2, 0).win(0)]);
    // A RST with a bad ACK is dropped without a reply.
    send!(t, time 10, seg("RA", REMOTE_SEQ, t.iss + 5));
    recv_nothing!(t);
    assert_eq!(t.state(), State::SynSent);
}

#[test]
fn syn_sent_rst_ack_refuses() {
    let mut t = t_syn_sent();
    // RFC5961-3.2-syn-sent-rst-needs-ack: without an ACK of our SYN a RST is ignored.
    send!(t, time 10, seg("R", REMOTE_SEQ, 0));
    recv_nothing!(t);
    assert_eq!(t.state(), State::SynSent);
    send!(t, time 10, seg("RA", 0, t.iss + 1));
    recv_nothing!(t);
    assert_eq!(t.state(), State::Closed);
    let events = t.take_events();
    assert!(events.contains(&Event::Closed {
        conn: t.conn(),
        reason: CloseReason::Refused
    }));
    assert_eq!(t.recv_data(), Err(Error::ConnectionRefused));
    // The error is reported once (like SO_ERROR), then end of stream.
    assert_eq!(t.recv_data(), Ok(vec![]));
    assert_eq!(t.stack.conn_state(t.conn()), State::Closed);
    t.stack.close(t.now, t.conn()).unwrap();
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn syn_sent_other_segments_are_dropped() {
    let mut t = t_syn_sent();
    // An acceptable ACK without SYN: "neither of the SYN or RST bits is set": drop.
    send!(t, time 10, seg("A", REMOTE_SEQ, t.iss + 1));
    send!(t, time 10, seg("F", REMOTE_SEQ, 0));
    recv_nothing!(t);
    assert_eq!(t.state(), State::SynSent);
}

#[test]
fn syn_sent_simultaneous_open() {
    // MUST-10: both sides send SYN.
    let mut t = t_syn_sent();
    send!(t, time 10, seg("S", REMOTE_SEQ, 0).mss(1460));
    // SYN-RECEIVED: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
    recv!(t, time 10, [seg("SA", t.iss, REMOTE_SEQ + 1).win(DUT_WIN).mss(1460)]);
    assert_eq!(t.state(), State::SynReceived);
    // The peer's SYN-ACK (its SYN again, with the ACK of ours) completes the open.
    send!(t, time 20, seg("SA", REMOTE_SEQ, t.iss + 1).mss(1460));
    recv_nothing!(t, time 20);
    assert_eq!(t.state(), State::Established);
    assert!(t.take_events().contains(&Event::Connected(t.conn())));
}

#[test]
fn syn_sent_simultaneous_open_completed_by_ack() {
    let mut t = t_syn_sent();
    send!(t, time 10, seg("S", REMOTE_SEQ, 0));
    recv!(t, time 10, [seg("SA", t.iss, REMOTE_SEQ + 1).win(DUT_WIN).mss(1460)]);
    send!(t, time 20, seg("A", REMOTE_SEQ + 1, t.iss + 1));
    recv_nothing!(t, time 20);
    assert_eq!(t.state(), State::Established);
}

#[test]
fn syn_sent_syn_ack_with_data_and_fin() {
    let mut t = t_syn_sent();
    send!(t, time 10, seg("SFA", REMOTE_SEQ, t.iss + 1).data(b"hello"));
    recv!(t, time 10, [seg("A", t.iss + 1, REMOTE_SEQ + 7).win(DUT_WIN - 5)]);
    assert_eq!(t.state(), State::CloseWait);
    assert_eq!(t.recv_data(), Ok(b"hello".to_vec()));
    assert_eq!(t.recv_data(), Ok(vec![]));
}

#[test]
fn syn_sent_close_deletes_silently() {
    let mut t = t_syn_sent();
    t.stack.close(t.now, t.conn()).unwrap();
    recv_nothing!(t, time 5);
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.stack.connection_count(), 0);
    // The handle is gone.
    assert_eq!(t.stack.recv(t.conn(), &mut [0; 4]), Err(Error::BadHandle));
}

#[test]
fn syn_sent_abort_deletes_silently() {
    let mut t = t_syn_sent();
    t.stack.abort(t.now, t.conn()).unwrap();
    recv_nothing!(t, time 5);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn syn_sent_data_queued_until_established() {
    let mut t = t_syn_sent();
    assert_eq!(t.send_data(b"early"), 5);
    recv_nothing!(t, time 5);
    send!(t, time 10, seg("SA", REMOTE_SEQ, t.iss + 1));
    recv!(t, time 10, [seg("PA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN).data(b"early")]);
}

// ============================================================================================
// SYN-RECEIVED (3.10.7.4, SYN-RECEIVED rows)
// ============================================================================================

#[test]
fn syn_received_ack_establishes_and_queues_for_accept() {
    let mut t = t_syn_received();
    assert_eq!(t.stack.accept(t.listener.unwrap()), Err(Error::WouldBlock));
    send!(t, time 5, seg("A", REMOTE_SEQ + 1, t.iss + 1));
    recv_nothing!(t, time 5);
    assert_eq!(t.state(), State::Established);
    assert_eq!(
        t.take_events(),
        vec![Event::Incoming {
            listener: t.listener.unwrap()
        }]
    );
    let (conn, _) = t.stack.accept(t.listener.unwrap()).unwrap();
    assert_eq!(t.stack.conn_state(conn), State::Established);
    assert_eq!(t.stack.local_addr(conn), Ok(t.local()));
}

#[test]
fn syn_received_ack_with_data_and_fin() {
    let mut t = t_syn_received();
    send!(t, time 5, seg("FPA", REMOTE_SEQ + 1, t.iss + 1).data(b"abc"));
    recv!(t, time 5, [seg("A", t.iss + 1, REMOTE_SEQ + 5).win(DUT_WIN - 3)]);
    assert_eq!(t.state(), State::CloseWait);
    let (conn, _) = t.stack.accept(t.listener.unwrap()).unwrap();
    t.conn = Some(conn);
    assert!(t.take_events().contains(&Event::Readable(conn)));
    assert_eq!(t.recv_data(), Ok(b"abc".to_vec()));
    assert_eq!(t.recv_data(), Ok(vec![]));
}

#[test]
fn syn_received_unacceptable_ack_gets_rst() {
    let mut t = t_syn_received();
    // "If the segment acknowledgment is not acceptable, form a reset segment
    // <SEQ=SEG.ACK><CTL=RST>".
    send!(t, time 5, seg("A", REMOTE_SEQ + 1, t.iss));
    recv!(t, [seg("R", t.iss, 0).win(0)]);
    send!(t, time 5, seg("A", REMOTE_SEQ + 1, t.iss + 9));
    recv!(t, [seg("R", t.iss + 9, 0).win(0)]);
    assert_eq!(t.state(), State::SynReceived);
}

#[test]
fn syn_received_rst_returns_to_listen() {
    // MUST-11: a passive open goes back to LISTEN (the user is not told).
    let mut t = t_syn_received();
    send!(t, time 5, seg("R", REMOTE_SEQ + 1, 0));
    recv_nothing!(t, time 5);
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.stack.connection_count(), 0);
    assert!(t.take_events().is_empty());
    // The listener still answers.
    send!(t, time 6, seg("S", REMOTE_SEQ + 1000, 0));
    assert_eq!(t.output_at(6)[0].seg.flags, "SA".parse().unwrap());
}

#[test]
fn syn_received_rst_in_window_gets_challenge_ack() {
    // RFC5961-3.2-syn-received-rst-checks.
    let mut t = t_syn_received();
    send!(t, time 5, seg("R", REMOTE_SEQ + 100, 0));
    recv!(t, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.state(), State::SynReceived);
}

#[test]
fn syn_received_active_rst_refuses() {
    let mut t = t_syn_sent();
    send!(t, time 10, seg("S", REMOTE_SEQ, 0));
    recv!(t, time 10, [seg("SA", t.iss, REMOTE_SEQ + 1).win(DUT_WIN).mss(1460)]);
    send!(t, time 20, seg("R", REMOTE_SEQ + 1, 0));
    assert_eq!(t.state(), State::Closed);
    assert!(t.take_events().contains(&Event::Closed {
        conn: t.conn(),
        reason: CloseReason::Refused
    }));
}

#[test]
fn syn_received_duplicate_syn_resends_syn_ack() {
    let mut t = t_syn_received();
    send!(t, time 300, seg("S", REMOTE_SEQ, 0).mss(1460));
    recv!(t, time 300, [seg("SA", t.iss, REMOTE_SEQ + 1).win(DUT_WIN).mss(1460)]);
}

#[test]
fn syn_received_new_syn_resets() {
    // A SYN in the window with another sequence number: back to LISTEN, and (as Linux) a
    // RST for it.
    let mut t = t_syn_received();
    send!(t, time 5, seg("S", REMOTE_SEQ + 10, 0));
    recv!(t, time 5, [seg("RA", 0, REMOTE_SEQ + 11).win(0)]);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn syn_received_segment_without_ack_is_dropped() {
    let mut t = t_syn_received();
    send!(t, time 5, seg("P", REMOTE_SEQ + 1, 0).data(b"x"));
    recv_nothing!(t, time 5);
    assert_eq!(t.state(), State::SynReceived);
}

#[test]
fn syn_received_close_sends_fin_once_established() {
    let mut t = t_syn_received();
    send!(t, time 5, seg("A", REMOTE_SEQ + 1, t.iss + 1));
    let (conn, _) = t.stack.accept(t.listener.unwrap()).unwrap();
    t.conn = Some(conn);
    t.stack.shutdown(t.now, conn, How::Write).unwrap();
    recv!(t, time 5, [seg("FA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.state(), State::FinWait1);
}

// ============================================================================================
// ESTABLISHED
// ============================================================================================

#[test]
fn established_data_is_acked_within_the_delayed_ack_time() {
    let mut t = t_established();
    send!(t, time 100, seg("PA", REMOTE_SEQ + 1, t.iss + 1).data(b"abcdef"));
    // SHLD-18: delayed; MUST-40: well under 500 ms (40 ms here).
    recv_nothing!(t, time 100);
    recv_nothing!(t, time 139);
    recv!(t, time 140, [seg("A", t.iss + 1, REMOTE_SEQ + 7).win(DUT_WIN - 6)]);
    assert!(t.take_events().contains(&Event::Readable(t.conn())));
    assert_eq!(t.recv_data(), Ok(b"abcdef".to_vec()));
    assert_eq!(t.recv_data(), Err(Error::WouldBlock));
}

#[test]
fn established_every_second_full_segment_is_acked_at_once() {
    // SHLD-19.
    let mut t = t_established();
    let full = vec![7u8; 1460];
    send!(t, time 10, seg("A", REMOTE_SEQ + 1, t.iss + 1).data(&full));
    recv_nothing!(t, time 10);
    send!(t, time 11, seg("A", REMOTE_SEQ + 1461, t.iss + 1).data(&full));
    recv!(t, time 11, [seg("A", t.iss + 1, REMOTE_SEQ + 2921).win(DUT_WIN - 2920)]);
}

#[test]
fn established_out_of_order_is_held_and_acked_at_once() {
    let mut t = t_established();
    // SHLD-31 (held), RFC5681-3.2-immediate-dupack.
    send!(t, time 10, seg("A", REMOTE_SEQ + 4, t.iss + 1).data(b"def"));
    recv!(t, time 10, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.recv_data(), Err(Error::WouldBlock));
    // RFC5681-3.2-immediate-ack-on-gap-fill.
    send!(t, time 20, seg("A", REMOTE_SEQ + 1, t.iss + 1).data(b"abc"));
    recv!(t, time 20, [seg("A", t.iss + 1, REMOTE_SEQ + 7).win(DUT_WIN - 6)]);
    assert_eq!(t.recv_data(), Ok(b"abcdef".to_vec()));
}

#[test]
fn established_out_of_window_data_gets_ack() {
    let mut t = t_established();
    // Beyond the window.
    send!(t, time 10, seg("A", REMOTE_SEQ + 1 + 70_000, t.iss + 1).data(b"zz"));
    recv!(t, time 10, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    // Entirely old.
    send!(t, time 11, seg("A", REMOTE_SEQ - 10, t.iss + 1).data(b"old"));
    recv!(t, time 11, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.recv_data(), Err(Error::WouldBlock));
}

#[test]
fn established_overlapping_data_is_trimmed() {
    let mut t = t_established();
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 1).data(b"abc"));
    // "If a segment's contents straddle the boundary between old and new, only the new parts
    // are processed."
    send!(t, time 10, seg("PA", REMOTE_SEQ + 2, t.iss + 1).data(b"bcdef"));
    assert_eq!(t.recv_data(), Ok(b"abcdef".to_vec()));
}

#[test]
fn established_send_and_ack() {
    let mut t = t_established();
    assert_eq!(t.send_data(b"hello"), 5);
    // MUST-61: PSH on the segment that empties the buffer.
    recv!(t, time 0, [seg("PA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN).data(b"hello")]);
    send!(t, time 20, seg("A", REMOTE_SEQ + 1, t.iss + 6));
    recv_nothing!(t, time 20);
    // Nothing is retransmitted later.
    recv_nothing!(t, time 5000);
}

#[test]
fn established_nagle_holds_small_segments() {
    // SHLD-7: with data in flight, a second small write waits for the ACK.
    let mut t = t_established();
    t.send_data(b"one");
    recv!(t, time 0, [seg("PA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN).data(b"one")]);
    t.send_data(b"two");
    recv_nothing!(t, time 1);
    send!(t, time 10, seg("A", REMOTE_SEQ + 1, t.iss + 4));
    recv!(t, time 10, [seg("PA", t.iss + 4, REMOTE_SEQ + 1).win(DUT_WIN).data(b"two")]);
}

#[test]
fn established_nodelay_sends_at_once() {
    // MUST-17.
    let mut t = t_established();
    t.stack
        .set_options(
            t.conn(),
            &SocketOptions {
                nodelay: Some(true),
                ..SocketOptions::default()
            },
        )
        .unwrap();
    t.send_data(b"one");
    recv!(t, time 0, [seg("PA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN).data(b"one")]);
    t.send_data(b"two");
    recv!(t, time 1, [seg("PA", t.iss + 4, REMOTE_SEQ + 1).win(DUT_WIN).data(b"two")]);
}

#[test]
fn established_ack_of_unsent_data_gets_ack() {
    // RFC5961-5.2-ack-acceptability-window: SEG.ACK > SND.NXT: ACK and drop (with its data).
    let mut t = t_established();
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 100).data(b"x"));
    recv!(t, time 10, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.recv_data(), Err(Error::WouldBlock));
    // Too old: below SND.UNA - MAX.SND.WND.
    send!(t, time 11, seg("PA", REMOTE_SEQ + 1, t.iss.wrapping_sub(100_000)).data(b"y"));
    recv!(t, time 11, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.recv_data(), Err(Error::WouldBlock));
}

#[test]
fn established_old_ack_is_ignored_but_data_accepted() {
    let mut t = t_established();
    // SEG.ACK < SND.UNA (within MAX.SND.WND): "it can be ignored"; the text still counts.
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss).data(b"x"));
    assert_eq!(t.recv_data(), Ok(b"x".to_vec()));
}

#[test]
fn established_segment_without_ack_is_dropped() {
    let mut t = t_established();
    send!(t, time 10, seg("P", REMOTE_SEQ + 1, 0).data(b"x"));
    recv_nothing!(t, time 100);
    assert_eq!(t.recv_data(), Err(Error::WouldBlock));
}

#[test]
fn established_rst_exact_resets() {
    // RFC5961-3.2-rst-exact-match-resets; MUST-12: the user sees a reset, not EOF.
    let mut t = t_established();
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 1).data(b"last"));
    send!(t, time 10, seg("R", REMOTE_SEQ + 5, 0));
    recv_nothing!(t, time 10);
    assert_eq!(t.state(), State::Closed);
    assert!(t.take_events().contains(&Event::Closed {
        conn: t.conn(),
        reason: CloseReason::Reset
    }));
    // Data received before the reset can still be read, then the error, once.
    assert_eq!(t.recv_data(), Ok(b"last".to_vec()));
    assert_eq!(t.recv_data(), Err(Error::ConnectionReset));
    assert_eq!(t.stack.send(t.now, t.conn(), b"x"), Err(Error::BrokenPipe));
}

#[test]
fn established_rst_with_data_resets() {
    // SHLD-2.
    let mut t = t_established();
    send!(t, time 10, seg("RA", REMOTE_SEQ + 1, t.iss + 1).data(b"why"));
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn established_rst_in_window_gets_challenge_ack_rate_limited() {
    // RFC5961-3.2-rst-in-window-challenge-ack, RFC5961-7-challenge-ack-throttling.
    let mut t = t_established();
    send!(t, time 10, seg("R", REMOTE_SEQ + 2, 0));
    recv!(t, time 10, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    // Within 500 ms: no second challenge ACK for this connection.
    send!(t, time 100, seg("R", REMOTE_SEQ + 3, 0));
    recv_nothing!(t, time 100);
    send!(t, time 600, seg("R", REMOTE_SEQ + 3, 0));
    recv!(t, time 600, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.state(), State::Established);
    // RFC5961-4.2-rst-after-challenge-terminates: the peer answers the challenge ACK with a
    // RST at the acknowledged number.
    send!(t, time 601, seg("R", REMOTE_SEQ + 1, 0));
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn established_rst_out_of_window_is_dropped() {
    // RFC5961-3.2-rst-out-of-window-drop.
    let mut t = t_established();
    send!(t, time 10, seg("R", REMOTE_SEQ, 0));
    send!(t, time 10, seg("R", REMOTE_SEQ + 1 + 65_535, 0));
    recv_nothing!(t, time 10);
    assert_eq!(t.state(), State::Established);
}

#[test]
fn established_syn_gets_challenge_ack() {
    // RFC5961-4.2-syn-in-sync-state-challenge-ack, in and out of the window.
    let mut t = t_established();
    send!(t, time 10, seg("S", REMOTE_SEQ + 5, 0));
    recv!(t, time 10, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    send!(t, time 700, seg("S", REMOTE_SEQ - 500, 0));
    recv!(t, time 700, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    send!(t, time 1400, seg("SA", REMOTE_SEQ + 1, t.iss + 1));
    recv!(t, time 1400, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.state(), State::Established);
}

#[test]
fn established_rfc793_mode_syn_and_rst() {
    // With RFC 5961 off: a SYN in the window resets; any RST in the window resets.
    let config = Config {
        rfc5961: false,
        ..plain_config(false)
    };
    let mut t = t_established_with(config.clone());
    send!(t, time 10, seg("S", REMOTE_SEQ + 5, 0));
    recv!(t, time 10, [seg("RA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.state(), State::Closed);
    let mut t = t_established_with(config);
    send!(t, time 10, seg("R", REMOTE_SEQ + 100, 0));
    recv_nothing!(t, time 10);
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn established_fin_moves_to_close_wait() {
    // RFC9293-3.10.7.4-fin, MUST-12 (end of stream, not an error).
    let mut t = t_established();
    send!(t, time 10, seg("FPA", REMOTE_SEQ + 1, t.iss + 1).data(b"bye"));
    // The FIN is acknowledged at once.
    recv!(t, time 10, [seg("A", t.iss + 1, REMOTE_SEQ + 5).win(DUT_WIN - 3)]);
    assert_eq!(t.state(), State::CloseWait);
    assert_eq!(t.recv_data(), Ok(b"bye".to_vec()));
    assert_eq!(t.recv_data(), Ok(vec![]));
    // Half-close: we can still send (MAY-1).
    t.send_data(b"still here");
    // (The right edge did not move for the 3 bytes read: receiver SWS avoidance, MUST-39.)
    recv!(t, time 11, [seg("PA", t.iss + 1, REMOTE_SEQ + 5).win(DUT_WIN - 3).data(b"still here")]);
}

#[test]
fn established_fin_out_of_order_is_held() {
    let mut t = t_established();
    send!(t, time 10, seg("FA", REMOTE_SEQ + 4, t.iss + 1).data(b"def"));
    recv!(t, time 10, [seg("A", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.state(), State::Established);
    send!(t, time 20, seg("A", REMOTE_SEQ + 1, t.iss + 1).data(b"abc"));
    recv!(t, time 20, [seg("A", t.iss + 1, REMOTE_SEQ + 8).win(DUT_WIN - 6)]);
    assert_eq!(t.state(), State::CloseWait);
    assert_eq!(t.recv_data(), Ok(b"abcdef".to_vec()));
    assert_eq!(t.recv_data(), Ok(vec![]));
}

#[test]
fn established_abort_sends_rst() {
    let mut t = t_established();
    t.stack.abort(t.now, t.conn()).unwrap();
    recv!(t, time 1, [seg("RA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.stack.connection_count(), 0);
    assert!(t.take_events().is_empty());
}

#[test]
fn established_close_with_unread_data_resets() {
    // SHLD-3 (and RFC 2525), as Linux: closing with unread data sends a RST.
    let mut t = t_established();
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 1).data(b"unread"));
    t.stack.close(t.now, t.conn()).unwrap();
    recv!(t, time 10, [seg("RA", t.iss + 1, REMOTE_SEQ + 7).win(DUT_WIN - 6)]);
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn established_zero_window_and_reopening() {
    // The DUT's buffer fills: the window closes; a probe is answered with the zero window;
    // reading reopens it with a window update (MUST-39: a large step).
    let config = Config {
        rcvbuf: 4096,
        ..plain_config(false)
    };
    let mut t = t_established_with(config);
    let block = vec![1u8; 1024];
    for i in 0..4u32 {
        send!(t, time 10, seg("A", REMOTE_SEQ + 1 + i * 1024, t.iss + 1).data(&block));
    }
    let sent = t.output_at(10);
    assert!(sent.iter().all(|s| s.seg.flags == TcpFlags::ACK));
    recv_nothing!(t, time 100);
    // A zero-window probe (one byte at RCV.NXT) is answered, window 0 (RFC1122-4.2.2.17).
    send!(t, time 200, seg("A", REMOTE_SEQ + 4097, t.iss + 1).data(b"p"));
    recv!(t, time 200, [seg("A", t.iss + 1, REMOTE_SEQ + 4097).win(0)]);
    // MUST-66: RST and URG are processed even with the window closed: an in-window... RST
    // would be challenged at RCV.NXT? It matches exactly, so it is honoured (checked below
    // in a separate connection).
    let mut buf = [0u8; 1000];
    assert_eq!(t.stack.recv(t.conn(), &mut buf), Ok(1000));
    // 1000 bytes free: less than min(RCV.BUFF/2, MSS) = 1460... so no update yet.
    recv_nothing!(t, time 201);
    assert_eq!(t.stack.recv(t.conn(), &mut buf), Ok(1000));
    recv!(t, time 202, [seg("A", t.iss + 1, REMOTE_SEQ + 4097).win(2000)]);
}

#[test]
fn established_zero_window_still_honours_rst() {
    // MUST-66.
    let config = Config {
        rcvbuf: 1024,
        ..plain_config(false)
    };
    let mut t = t_established_with(config);
    send!(t, time 10, seg("A", REMOTE_SEQ + 1, t.iss + 1).data(&[0; 1024]));
    let _ = t.output_at(10);
    send!(t, time 20, seg("R", REMOTE_SEQ + 1025, 0));
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn established_send_buffer_full_would_block() {
    let config = Config {
        sndbuf: 1000,
        ..plain_config(false)
    };
    let mut t = t_established_with(config);
    assert_eq!(t.send_data(&[0; 1500]), 1000);
    assert_eq!(t.stack.send(t.now, t.conn(), b"x"), Err(Error::WouldBlock));
    let _ = t.output_at(0);
    send!(t, time 10, seg("A", REMOTE_SEQ + 1, t.iss + 1001));
    assert!(t.take_events().contains(&Event::Writable(t.conn())));
    assert_eq!(t.send_data(b"more"), 4);
}

// ============================================================================================
// FIN-WAIT-1
// ============================================================================================

#[test]
fn fin_wait_1_ack_of_fin_goes_to_fin_wait_2() {
    // RFC9293-3.10.7.4-fin-acked.
    let t = t_fin_wait_2();
    assert_eq!(t.stack.conn_state(t.conn()), State::FinWait2);
}

#[test]
fn fin_wait_1_ack_not_covering_fin_stays() {
    let mut t = t_fin_wait_1();
    send!(t, time 10, seg("A", REMOTE_SEQ + 1, t.iss + 1));
    assert_eq!(t.state(), State::FinWait1);
}

#[test]
fn fin_wait_1_fin_with_ack_of_ours_goes_to_time_wait() {
    let mut t = t_fin_wait_1();
    send!(t, time 10, seg("FA", REMOTE_SEQ + 1, t.iss + 2));
    recv!(t, time 10, [seg("A", t.iss + 2, REMOTE_SEQ + 2).win(DUT_WIN)]);
    assert_eq!(t.state(), State::TimeWait);
}

#[test]
fn fin_wait_1_simultaneous_close_goes_through_closing() {
    let t = t_closing();
    assert_eq!(t.state(), State::Closing);
}

#[test]
fn fin_wait_1_still_receives_data_after_shutdown() {
    // Half-close: after shutdown(WR) data still flows in (MAY-1).
    let mut t = t_fin_wait_1();
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 2).data(b"more"));
    assert_eq!(t.recv_data(), Ok(b"more".to_vec()));
    assert_eq!(t.state(), State::FinWait2);
    assert_eq!(t.stack.send(t.now, t.conn(), b"x"), Err(Error::BrokenPipe));
}

#[test]
fn fin_wait_1_fin_is_retransmitted() {
    let mut t = t_fin_wait_1();
    recv_nothing!(t, time 999);
    recv!(t, time 1000, [seg("FA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    recv!(t, time 3000, [seg("FA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
}

#[test]
fn fin_wait_1_orphan_data_resets() {
    // The user closed (not just shut down writing): data that arrives has no reader (SHLD-3).
    let mut t = t_established();
    t.stack.close(t.now, t.conn()).unwrap();
    recv!(t, time 0, [seg("FA", t.iss + 1, REMOTE_SEQ + 1).win(DUT_WIN)]);
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 1).data(b"late"));
    recv!(t, time 10, [seg("RA", t.iss + 2, REMOTE_SEQ + 1).win(DUT_WIN)]);
    assert_eq!(t.state(), State::Closed);
}

// ============================================================================================
// FIN-WAIT-2
// ============================================================================================

#[test]
fn fin_wait_2_fin_goes_to_time_wait() {
    let t = t_time_wait();
    assert_eq!(t.state(), State::TimeWait);
}

#[test]
fn fin_wait_2_orphan_times_out() {
    let mut t = t_established();
    t.stack.close(t.now, t.conn()).unwrap();
    let _ = t.output_at(0);
    send!(t, time 10, seg("A", REMOTE_SEQ + 1, t.iss + 2));
    assert_eq!(t.state(), State::FinWait2);
    recv_nothing!(t, time 60_009);
    assert_eq!(t.state(), State::FinWait2);
    recv_nothing!(t, time 60_010);
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.stack.connection_count(), 0);
}

// ============================================================================================
// CLOSE-WAIT
// ============================================================================================

#[test]
fn close_wait_close_goes_to_last_ack() {
    let t = t_last_ack();
    assert_eq!(t.state(), State::LastAck);
}

#[test]
fn close_wait_ignores_text_and_urg() {
    let mut t = t_close_wait();
    send!(t, time 15, seg("UA", REMOTE_SEQ + 2, t.iss + 1).data(b"zzz").up(3));
    let _ = t.output_at(15);
    assert_eq!(t.recv_data(), Ok(vec![]));
    assert_eq!(t.stack.urgent_pending(t.conn()), Ok(0));
}

#[test]
fn close_wait_rst_resets() {
    let mut t = t_close_wait();
    send!(t, time 15, seg("R", REMOTE_SEQ + 2, 0));
    assert_eq!(t.state(), State::Closed);
}

// ============================================================================================
// CLOSING
// ============================================================================================

#[test]
fn closing_ack_of_fin_goes_to_time_wait() {
    let mut t = t_closing();
    send!(t, time 20, seg("A", REMOTE_SEQ + 2, t.iss + 2));
    recv_nothing!(t, time 20);
    assert_eq!(t.state(), State::TimeWait);
}

#[test]
fn closing_other_ack_is_ignored() {
    let mut t = t_closing();
    send!(t, time 20, seg("A", REMOTE_SEQ + 2, t.iss + 1));
    assert_eq!(t.state(), State::Closing);
}

// ============================================================================================
// LAST-ACK
// ============================================================================================

#[test]
fn last_ack_ack_of_fin_closes() {
    let mut t = t_last_ack();
    send!(t, time 30, seg("A", REMOTE_SEQ + 2, t.iss + 2));
    recv_nothing!(t, time 30);
    assert_eq!(t.state(), State::Closed);
    assert!(t.take_events().contains(&Event::Closed {
        conn: t.conn(),
        reason: CloseReason::Normal
    }));
    t.stack.close(t.now, t.conn()).unwrap();
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn last_ack_fin_is_retransmitted() {
    let mut t = t_last_ack();
    recv!(t, time 1020, [seg("FA", t.iss + 1, REMOTE_SEQ + 2).win(DUT_WIN)]);
}

#[test]
fn last_ack_orphan_lives_until_acked() {
    let mut t = t_close_wait();
    t.stack.close(t.now, t.conn()).unwrap();
    recv!(t, time 20, [seg("FA", t.iss + 1, REMOTE_SEQ + 2).win(DUT_WIN)]);
    assert_eq!(t.state(), State::LastAck);
    send!(t, time 30, seg("A", REMOTE_SEQ + 2, t.iss + 2));
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.stack.connection_count(), 0);
}

// ============================================================================================
// TIME-WAIT
// ============================================================================================

#[test]
fn time_wait_lasts_2msl() {
    // MUST-13: 2 MSL (MSL 30 s here, as Linux's 60 s TIME-WAIT).
    let mut t = t_time_wait();
    recv_nothing!(t, time 60_019);
    assert_eq!(t.state(), State::TimeWait);
    recv_nothing!(t, time 60_020);
    assert_eq!(t.state(), State::Closed);
    assert!(t.take_events().contains(&Event::Closed {
        conn: t.conn(),
        reason: CloseReason::Normal
    }));
}

#[test]
fn time_wait_fin_retransmission_is_acked_and_restarts_2msl() {
    let mut t = t_time_wait();
    send!(t, time 30_000, seg("FA", REMOTE_SEQ + 1, t.iss + 2));
    recv!(t, time 30_000, [seg("A", t.iss + 2, REMOTE_SEQ + 2).win(DUT_WIN)]);
    recv_nothing!(t, time 89_999);
    assert_eq!(t.state(), State::TimeWait);
    recv_nothing!(t, time 90_000);
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn time_wait_rst_closes_unless_rfc1337() {
    let mut t = t_time_wait();
    send!(t, time 100, seg("R", REMOTE_SEQ + 2, 0));
    assert_eq!(t.state(), State::Closed);

    let mut t = t_established_with(Config {
        rfc1337: true,
        ..plain_config(false)
    });
    t.stack.close(t.now, t.conn()).unwrap();
    let _ = t.output_at(0);
    send!(t, time 10, seg("FA", REMOTE_SEQ + 1, t.iss + 2));
    let _ = t.output_at(10);
    assert_eq!(t.state(), State::TimeWait);
    send!(t, time 100, seg("R", REMOTE_SEQ + 2, 0));
    assert_eq!(t.state(), State::TimeWait);
}

#[test]
fn time_wait_new_syn_opens_a_new_connection() {
    // MAY-2: a SYN above RCV.NXT is accepted from TIME-WAIT, with an ISS beyond the old one.
    let mut t = t_time_wait();
    send!(t, time 1000, seg("S", REMOTE_SEQ + 10_000, 0).mss(1460));
    let sent = t.output_at(1000);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].seg.flags, "SA".parse().unwrap());
    assert_eq!(sent[0].seg.ack, REMOTE_SEQ + 10_001);
    assert_eq!(sent[0].seg.seq, t.iss.wrapping_add(2 + 65_535 + 2));
    assert_eq!(t.state(), State::SynReceived);
}

#[test]
fn time_wait_old_syn_gets_challenge_ack() {
    let mut t = t_time_wait();
    send!(t, time 1000, seg("S", REMOTE_SEQ, 0));
    recv!(t, time 1000, [seg("A", t.iss + 2, REMOTE_SEQ + 2).win(DUT_WIN)]);
    assert_eq!(t.state(), State::TimeWait);
}

#[test]
fn time_wait_abort_deletes() {
    let mut t = t_time_wait();
    t.stack.abort(t.now, t.conn()).unwrap();
    recv_nothing!(t, time 30);
    assert_eq!(t.state(), State::Closed);
}

// ============================================================================================
// User calls in the wrong state
// ============================================================================================

#[test]
fn calls_on_closed_handles_and_states() {
    let mut t = t_fin_wait_2();
    // Second shutdown: no second FIN.
    t.stack.shutdown(t.now, t.conn(), How::Write).unwrap();
    recv_nothing!(t, time 20);
    assert_eq!(t.stack.send(t.now, t.conn(), b"x"), Err(Error::BrokenPipe));
    let conn = t.conn();
    t.stack.close(t.now, conn).unwrap();
    assert_eq!(t.stack.close(t.now, conn), Err(Error::BadHandle));
    assert_eq!(t.stack.conn_state(conn), State::Closed);
    // The orphan is still visible by 4-tuple.
    assert_eq!(t.state(), State::FinWait2);
}

#[test]
fn shutdown_read_discards_data() {
    let mut t = t_established();
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 1).data(b"before"));
    t.stack.shutdown(t.now, t.conn(), How::Read).unwrap();
    assert_eq!(t.recv_data(), Ok(vec![]));
    send!(t, time 20, seg("PA", REMOTE_SEQ + 7, t.iss + 1).data(b"after"));
    // Still acknowledged (the right edge of the window stays put: the discarded bytes free
    // less than an MSS, MUST-39).
    recv!(t, time 60, [seg("A", t.iss + 1, REMOTE_SEQ + 12).win(DUT_WIN - 11)]);
    assert_eq!(t.recv_data(), Ok(vec![]));
}

#[test]
fn connect_argument_checks() {
    let mut t = Dut::new(plain_config(false));
    let opts = SocketOptions::default();
    let bcast = SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), 80);
    // MUST-46.
    assert_eq!(
        t.stack.connect(t.now, t.local(), bcast, &opts),
        Err(Error::InvalidArgument)
    );
    let foreign = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 0);
    assert_eq!(
        t.stack.connect(t.now, foreign, t.remote(), &opts),
        Err(Error::AddrNotAvailable)
    );
    // MUST-44: an unspecified local address takes the stack's own; port 0 an ephemeral one.
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    let conn = t.stack.connect(t.now, any, t.remote(), &opts).unwrap();
    let local = t.stack.local_addr(conn).unwrap();
    assert_eq!(local.ip(), dut_addr(false));
    assert!((32768..=60999).contains(&local.port()));
    assert_eq!(
        t.stack.connect(t.now, local, t.remote(), &opts),
        Err(Error::AddrInUse)
    );
    assert_eq!(Error::AddrInUse.errno_name(), "EADDRINUSE");
}

#[test]
fn dscp_and_ttl_options() {
    // MUST-48, SHLD-21, SHLD-22 (DS field), MUST-49 (TTL).
    let mut t = t_established();
    t.stack.set_dscp(t.conn(), 46).unwrap();
    t.stack.set_hop_limit(t.conn(), 9).unwrap();
    assert_eq!(t.stack.set_dscp(t.conn(), 64), Err(Error::InvalidArgument));
    t.send_data(b"ef");
    let mut buf = Vec::new();
    let _ = t.stack.poll_transmit(t.now, &mut buf).unwrap();
    let (ip, _) = parse_packet(&buf).unwrap();
    assert_eq!((ip.dscp(), ip.hop_limit()), (46, 9));
}

#[test]
fn reset_connection_frees_its_4_tuple() {
    // After a RST the user still holds the handle (to read the error), but a new SYN for the
    // same 4-tuple reaches the listener.
    let mut t = t_established();
    send!(t, time 10, seg("R", REMOTE_SEQ + 1, 0));
    assert_eq!(t.stack.conn_state(t.conn()), State::Closed);
    send!(t, time 20, seg("S", REMOTE_SEQ + 5000, 0));
    let sent = t.output_at(20);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].seg.flags, "SA".parse().unwrap());
    assert_eq!(t.state(), State::SynReceived);
    assert_eq!(t.recv_data(), Err(Error::ConnectionReset));
}

#[test]
fn time_wait_reincarnation_closes_the_old_handle() {
    let mut t = t_time_wait();
    let old = t.conn();
    send!(t, time 1000, seg("S", REMOTE_SEQ + 10_000, 0));
    let events = t.take_events();
    assert!(events.contains(&Event::Closed {
        conn: old,
        reason: CloseReason::Normal
    }));
    assert_eq!(t.stack.conn_state(old), State::Closed);
    assert_eq!(t.state(), State::SynReceived);
}

#[test]
fn recv_with_reads_in_place() {
    let mut t = t_established();
    send!(t, time 10, seg("PA", REMOTE_SEQ + 1, t.iss + 1).data(b"hello"));
    let mut seen = Vec::new();
    let n = t
        .stack
        .recv_with(t.conn(), |data| {
            seen.extend_from_slice(&data[..2]);
            2
        })
        .unwrap();
    assert_eq!((n, seen.as_slice()), (2, &b"he"[..]));
    assert_eq!(t.recv_data(), Ok(b"llo".to_vec()));
    assert_eq!(
        t.stack.recv_with(t.conn(), |d| d.len()),
        Err(Error::WouldBlock)
    );
    send!(t, time 20, seg("FA", REMOTE_SEQ + 6, t.iss + 1));
    assert_eq!(t.stack.recv_with(t.conn(), |d| d.len()), Ok(0));
}

#[test]
fn stack_is_send() {
    // Drivers run the stack on a thread of their own.
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Stack>();
    assert_send::<Event>();
}
