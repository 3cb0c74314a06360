//! The edges of the stack: an arriving IP datagram becomes an [`Arrival`] (with the checks
//! that come before any state is looked at), and a segment the stack sends is written into the
//! caller's buffer as one IP datagram.

use core::net::IpAddr;

use super::checksum;
use crate::wire::checksum::{combine, pseudo_header};
use crate::wire::{
    Ecn, IpProtocol, IpRepr, Ipv4Repr, Ipv6Repr, TcpFlags, TcpOption, TcpPacket, TcpRepr,
    TcpSeqNumber, TcpTimestamp,
};

/// Why an arriving datagram or segment was dropped without any reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Not a well-formed IPv4/IPv6 datagram (or a fragment, which the stack does not reassemble).
    BadIp,
    /// Not TCP (IPv6 extension headers are not walked, so they land here too).
    NotTcp,
    /// Addressed to an address that is not one of the stack's.
    NotOurAddress,
    /// The source is multicast, broadcast or unspecified (MUST-63), or the destination is
    /// multicast or broadcast (MUST-57).
    BadAddress,
    /// Shorter than a TCP header, or a data offset below 5 or past the end.
    Malformed,
    /// The checksum does not verify (MUST-3): dropped silently.
    BadChecksum,
    /// Port 0.
    BadPort,
    /// A RST that matches no connection (RFC 9293 3.10.7.1) or arrives at a listener
    /// (3.10.7.2).
    RstIgnored,
    /// A segment for a listener with neither SYN nor ACK (3.10.7.2 "fourth").
    ListenOther,
    /// A SYN+FIN for a listener (dropped, as Linux does).
    SynFin,
    /// The listener's backlog, the SYN queue or the connection table is full.
    Backlog,
    /// RFC 7323 section 5.3 (PAWS): the timestamp is older than TS.Recent.
    Paws,
    /// RFC 7323 section 3.2: timestamps were negotiated but the segment has none.
    MissingTimestamp,
    /// RFC 9293 3.10.7.4 first: not acceptable by the sequence number test.
    OutOfWindow,
    /// RFC 5961 section 3.2: an in-window RST not at RCV.NXT (a challenge ACK was sent or
    /// rate-limited).
    RstChallenged,
    /// RFC 5961 section 4.2: a SYN in a synchronized state (challenge ACK).
    SynChallenged,
    /// The ACK bit is off (3.10.7.4 fifth).
    NoAck,
    /// RFC 5961 section 5.2 / RFC 9293: the ACK acknowledges something not yet sent or
    /// older than SND.UNA - MAX.SND.WND.
    AckUnacceptable,
    /// In SYN-SENT: an unacceptable ACK, or a segment without SYN or RST (3.10.7.3).
    SynSentIgnored,
    /// In CLOSING, an ACK that does not acknowledge our FIN ("otherwise ignore the segment").
    ClosingIgnored,
    /// The listener's accept queue was full when the handshake's last ACK arrived (Linux
    /// behaviour: the ACK is dropped, the SYN-ACK retransmitted later).
    AcceptQueueFull,
}

/// An arriving segment with the IP header fields the stack uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival<'a> {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) ecn: Ecn,
    pub(crate) tcp: TcpRepr<'a>,
}

/// Whether an address can be the source of a segment (MUST-63): not multicast, not the
/// limited broadcast, not unspecified.
pub(crate) fn is_valid_source(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => !(v4.is_multicast() || v4.is_broadcast() || v4.is_unspecified()),
        IpAddr::V6(v6) => !(v6.is_multicast() || v6.is_unspecified()),
    }
}

/// Whether an address can be a unicast destination (MUST-46, MUST-57).
pub(crate) fn is_unicast(addr: IpAddr) -> bool {
    is_valid_source(addr)
}

/// Parse an IP datagram down to a TCP segment. Never panics.
///
/// The checks, in order: the IP header (version, lengths, IPv4 header checksum, no fragment),
/// protocol TCP, addresses (MUST-57, MUST-63; `is_local` decides what is ours), the TCP
/// header length, the TCP checksum (MUST-3) and non-zero ports. Options are then read by
/// [`parse_options`], which never rejects a segment.
pub(crate) fn parse<'a>(
    packet: &'a [u8],
    is_local: impl Fn(IpAddr) -> bool,
) -> Result<Arrival<'a>, DropReason> {
    let (ip, payload) = IpRepr::parse_packet(packet).map_err(|_| DropReason::BadIp)?;
    if ip.next_header() != IpProtocol::Tcp {
        return Err(DropReason::NotTcp);
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if !is_unicast(dst) || !is_valid_source(src) {
        return Err(DropReason::BadAddress);
    }
    if !is_local(dst) {
        return Err(DropReason::NotOurAddress);
    }
    let tcp = TcpPacket::new_checked(payload).map_err(|_| DropReason::Malformed)?;
    // MUST-3: verify the checksum; a failing segment is discarded without effect.
    if !checksum::verify(&src, &dst, payload) {
        return Err(DropReason::BadChecksum);
    }
    if tcp.src_port() == 0 || tcp.dst_port() == 0 {
        return Err(DropReason::BadPort);
    }
    let mut repr = TcpRepr {
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        flags: tcp.flags(),
        seq_number: tcp.seq_number(),
        ack_number: tcp.ack_number(),
        window_len: tcp.window_len(),
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        urgent_pointer: tcp.urgent_at(),
        payload: tcp.payload(),
    };
    parse_options(tcp.options(), &mut repr);
    Ok(Arrival {
        src,
        dst,
        ecn: ip.ecn(),
        tcp: repr,
    })
}

/// Read the option area into `repr`, leniently, the way Linux's `tcp_parse_options` does.
///
/// - MUST-4: EOL, NOP and MSS are understood (and window scale, SACK-permitted, SACK and
///   timestamps); MUST-5: options are read on every segment (the connection decides which
///   ones matter, e.g. MSS only on a SYN, MUST-65).
/// - MUST-6, MUST-68: an unknown kind is skipped by its length byte.
/// - MUST-64: options are read byte by byte, with no alignment assumption.
/// - MUST-7: an illegal length (below 2, or past the end of the header) ends option
///   processing; the options before it stand and the segment is processed. A known kind with
///   the wrong length (an MSS of length 3) is ignored by itself. Nothing here panics.
pub(crate) fn parse_options(mut rest: &[u8], repr: &mut TcpRepr<'_>) {
    while let Some(&kind) = rest.first() {
        match kind {
            0 => break,
            1 => {
                rest = &rest[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = rest.get(1) else {
            break;
        };
        let len = usize::from(len);
        if len < 2 || len > rest.len() {
            break;
        }
        let (option, tail) = rest.split_at(len);
        rest = tail;
        match TcpOption::parse(option) {
            Ok((_, TcpOption::MaxSegmentSize(mss))) => repr.max_seg_size = Some(mss),
            Ok((_, TcpOption::WindowScale(shift))) => repr.window_scale = Some(shift),
            Ok((_, TcpOption::SackPermitted)) => repr.sack_permitted = true,
            Ok((_, TcpOption::SackRange(ranges))) => repr.sack_ranges = ranges,
            Ok((_, TcpOption::TimeStamp { tsval, tsecr })) => {
                repr.timestamp = Some(TcpTimestamp { tsval, tsecr });
            }
            Ok(_) | Err(_) => {}
        }
    }
}

/// The IP-level parameters of an outgoing segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpParams {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) ecn: Ecn,
    pub(crate) dscp: u8,
    pub(crate) ident: u16,
    pub(crate) hop_limit: u8,
}

/// The IP header length for an address family.
pub(crate) const fn ip_header_len(addr: IpAddr) -> usize {
    match addr {
        IpAddr::V4(_) => 20,
        IpAddr::V6(_) => 40,
    }
}

/// Write one IP datagram carrying `tcp` (whose `payload` must be empty) followed by
/// `payload_len` bytes that `fill` writes, into `buf`, replacing its contents. Returns the
/// datagram's length.
/// IPv4 datagrams have DF set and no options; IPv6 has flow label 0.
///
/// The source and destination are of the same family (the stack never mixes them).
pub(crate) fn emit(
    buf: &mut Vec<u8>,
    ip: IpParams,
    tcp: &TcpRepr<'_>,
    payload_len: usize,
    append: impl FnOnce(&mut Vec<u8>),
) -> usize {
    debug_assert!(tcp.payload.is_empty());
    let tcp_header_len = tcp.header_len();
    let tcp_len = tcp_header_len + payload_len;
    let ip_repr = match (ip.src, ip.dst) {
        (IpAddr::V6(src), IpAddr::V6(dst)) => IpRepr::Ipv6(Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp_len,
            hop_limit: ip.hop_limit,
            ecn: ip.ecn,
            dscp: ip.dscp,
            flow_label: 0,
        }),
        (src, dst) => IpRepr::Ipv4(Ipv4Repr {
            src_addr: to_v4(src),
            dst_addr: to_v4(dst),
            next_header: IpProtocol::Tcp,
            payload_len: tcp_len,
            hop_limit: ip.hop_limit,
            ecn: ip.ecn,
            dscp: ip.dscp,
            ident: ip.ident,
            dont_frag: true,
        }),
    };
    let ip_len = ip_repr.header_len();
    // The headers are built in a local buffer and the payload appended straight from the
    // send queue: the datagram is written once, with no zero-fill of its buffer first.
    let mut headers = [0u8; 40 + 60];
    ip_repr.emit(&mut headers[..ip_len]);
    tcp.emit_header(&mut TcpPacket::new_unchecked(
        &mut headers[ip_len..ip_len + tcp_header_len],
    ));
    buf.clear();
    buf.reserve(ip_len + tcp_len);
    buf.extend_from_slice(&headers[..ip_len + tcp_header_len]);
    if payload_len > 0 {
        append(buf);
        // Whatever the queue gave, the datagram has the length its headers announce.
        buf.resize(ip_len + tcp_len, 0);
    }
    // MUST-2: the checksum over the pseudo-header, the header and the payload, summed once the
    // bytes are in place (the header's bytes were stored long enough ago for the loads not to
    // wait on store forwarding). The header is summed from its local copy.
    let length = u32::try_from(tcp_len).unwrap_or(u32::MAX);
    let sum = combine(&[
        pseudo_header(&ip.src, &ip.dst, IpProtocol::Tcp, length),
        checksum::data(&headers[ip_len..ip_len + tcp_header_len]),
        checksum::data(&buf[ip_len + tcp_header_len..]),
    ]);
    TcpPacket::new_unchecked(&mut buf[ip_len..]).set_checksum(!sum);
    ip_len + tcp_len
}

fn to_v4(addr: IpAddr) -> core::net::Ipv4Addr {
    match addr {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .unwrap_or(core::net::Ipv4Addr::UNSPECIFIED),
    }
}

/// A RST sent without a connection (RFC 9293 3.10.7.1, 3.10.7.2, 3.10.7.3 and SYN-RECEIVED's
/// unacceptable ACK): `<SEQ=seq><CTL=RST>` or, with `ack`, `<SEQ=seq><ACK=ack><CTL=RST,ACK>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RstReply {
    pub(crate) local: core::net::SocketAddr,
    pub(crate) remote: core::net::SocketAddr,
    pub(crate) seq: TcpSeqNumber,
    pub(crate) ack: Option<TcpSeqNumber>,
}

impl RstReply {
    /// The reset that answers `seg` when no connection can (RFC 9293 3.10.7.1): if the ACK bit
    /// is off, `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`, else `<SEQ=SEG.ACK><CTL=RST>`.
    pub(crate) fn for_segment(arrival: &Arrival<'_>) -> Self {
        let seg = &arrival.tcp;
        let local = core::net::SocketAddr::new(arrival.dst, seg.dst_port);
        let remote = core::net::SocketAddr::new(arrival.src, seg.src_port);
        if seg.flags.contains(TcpFlags::ACK) {
            Self {
                local,
                remote,
                seq: seg.ack_number,
                ack: None,
            }
        } else {
            Self {
                local,
                remote,
                seq: TcpSeqNumber(0),
                ack: Some(seg.seq_number + seg.segment_len() as u32),
            }
        }
    }

    /// The segment to emit (window 0, no options).
    pub(crate) fn repr(&self) -> TcpRepr<'static> {
        TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            flags: if self.ack.is_some() {
                TcpFlags::RST | TcpFlags::ACK
            } else {
                TcpFlags::RST
            },
            seq_number: self.seq,
            ack_number: self.ack.unwrap_or_default(),
            ..TcpRepr::default()
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn options_of(bytes: &[u8]) -> TcpRepr<'static> {
        let mut repr = TcpRepr::default();
        parse_options(bytes, &mut repr);
        repr
    }

    #[test]
    fn options_lenient_parsing() {
        // Unaligned MSS after one NOP, unknown kind 30 skipped by length, then WS.
        let repr = options_of(&[1, 2, 4, 5, 0xb4, 30, 4, 9, 9, 3, 3, 7]);
        assert_eq!(repr.max_seg_size, Some(1460));
        assert_eq!(repr.window_scale, Some(7));
        // A zero length stops parsing without losing what came before.
        let repr = options_of(&[2, 4, 5, 0xb4, 8, 0, 3, 3, 7]);
        assert_eq!(repr.max_seg_size, Some(1460));
        assert_eq!(repr.window_scale, None);
        // A length past the end, a missing length byte.
        assert_eq!(options_of(&[2, 40, 5, 0xb4]).max_seg_size, None);
        assert_eq!(options_of(&[1, 1, 2]).max_seg_size, None);
        // A known kind with a wrong length is skipped alone.
        let repr = options_of(&[2, 3, 5, 4, 2]);
        assert_eq!(repr.max_seg_size, None);
        assert!(repr.sack_permitted);
        // Everything after EOL is padding.
        assert!(!options_of(&[0, 4, 2]).sack_permitted);
        // Timestamps and SACK blocks.
        let repr = options_of(&[8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 10, 0, 0, 0, 5, 0, 0, 0, 9]);
        assert_eq!(repr.timestamp, Some(TcpTimestamp { tsval: 1, tsecr: 2 }));
        assert_eq!(repr.sack_ranges[0], Some((5, 9)));
    }

    #[test]
    fn rst_reply_forms() {
        let v4 = |last| IpAddr::V4(core::net::Ipv4Addr::new(198, 18, 0, last));
        let mut arrival = Arrival {
            src: v4(1),
            dst: v4(2),
            ecn: Ecn::NotEct,
            tcp: TcpRepr {
                src_port: 40000,
                dst_port: 5000,
                flags: TcpFlags::SYN | TcpFlags::FIN,
                seq_number: TcpSeqNumber(100),
                payload: b"abc",
                ..TcpRepr::default()
            },
        };
        let rst = RstReply::for_segment(&arrival);
        assert_eq!(rst.seq, TcpSeqNumber(0));
        assert_eq!(rst.ack, Some(TcpSeqNumber(105)));
        assert_eq!(rst.repr().flags, TcpFlags::RST | TcpFlags::ACK);
        arrival.tcp.flags = TcpFlags::ACK;
        arrival.tcp.ack_number = TcpSeqNumber(77);
        let rst = RstReply::for_segment(&arrival);
        assert_eq!((rst.seq, rst.ack), (TcpSeqNumber(77), None));
        assert_eq!(rst.repr().flags, TcpFlags::RST);
        assert_eq!(rst.repr().dst_port, 40000);
    }
}
