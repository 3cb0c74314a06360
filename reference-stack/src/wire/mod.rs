//! The wire codec: Ethernet II, IPv4, IPv6 and TCP, in the smoltcp style.
//!
//! One codec serves three consumers: the reference stack (which parses untrusted frames), the
//! harness's tester (which crafts valid *and* deliberately malformed segments) and the pcap
//! verifier (which reads captured frames field by field).
//!
//! Every protocol module has two layers:
//!
//! - a zero-copy **view**, `Packet<T: AsRef<[u8]>>` (`Frame` for Ethernet), with one getter and
//!   one setter per header field. A view holds the raw bytes, so it can express anything,
//!   including headers that lie about their own length, carry reserved bits or a wrong checksum.
//!   This is the layer the tester crafts malformed segments with.
//! - a **representation**, `Repr`, a plain struct of normalised, meaningful values with
//!   `parse`, `header_len`, `buffer_len` and `emit`. A `Repr` can only express a valid header;
//!   `parse` rejects what it cannot represent.
//!
//! Inside a module the names are short (`tcp::Packet`, `tcp::Repr`); this module re-exports
//! them with a protocol prefix (`TcpPacket`, `TcpRepr`, `Ipv4Repr`, ...).
//!
//! # The panic contract
//!
//! The codec is fed untrusted bytes, so where it may panic is part of its API:
//!
//! - `new_checked` (which calls `check_len`) is **necessary** for untrusted input. Once it has
//!   returned `Ok`, no getter and no slice accessor (`payload()`, `options()`) of that view
//!   panics, whatever the bytes are. The guarantee holds until a length-bearing field (IPv4 IHL
//!   and total length, IPv6 payload length, TCP data offset) is changed through a setter.
//! - `new_unchecked` and the setters are for **emission** into a buffer at least as long as the
//!   fixed header (exactly `buffer_len()` long when a `Repr` emits into it). Setters write exactly
//!   the bits they are asked to, so they can build packets that `new_checked` would reject: the
//!   tester relies on this. Accessors of a view made with `new_unchecked` may panic when the
//!   buffer is shorter than the header fields claim; their `# Panics` sections say when.
//! - Getters of the *fixed* header fields need only the fixed header in the buffer (14 bytes
//!   for Ethernet, 20 for IPv4 and TCP, 40 for IPv6), so a verifier may read a header whose
//!   length fields lie through `new_unchecked` after checking that much, and leave
//!   `options()`/`payload()` alone.
//! - `Repr::parse` never panics, on any input: it validates the view itself first.
//! - `Repr::emit` never panics if the buffer is exactly `buffer_len()` bytes long.
//! - [`checksum`] functions and the `Display` impls of views never panic, on any input.
//!
//! Errors are a small `Copy` [`Error`] with no payload; the stack turns them into drop reasons.

use core::fmt;

pub mod checksum;
pub mod ethernet;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;

pub use self::ethernet::{
    Address as EthernetAddress, EtherType, Frame as EthernetFrame, Repr as EthernetRepr,
};
pub use self::ip::{Ecn, Protocol as IpProtocol, Repr as IpRepr, Version as IpVersion};
pub use self::ipv4::{Packet as Ipv4Packet, Repr as Ipv4Repr};
pub use self::ipv6::{Packet as Ipv6Packet, Repr as Ipv6Repr};
pub use self::tcp::{
    Flags as TcpFlags, Packet as TcpPacket, Repr as TcpRepr, SeqNumber as TcpSeqNumber, TcpOption,
    TcpTimestamp,
};

/// Byte-range helpers shared by the per-protocol `field` modules.
mod field {
    use core::ops::{Range, RangeFrom};

    /// The byte range of a fixed-size header field.
    pub(crate) type Field = Range<usize>;
    /// Everything from an offset to the end of the buffer.
    pub(crate) type Rest = RangeFrom<usize>;

    /// Copy the fixed-size field `field` out of `data`.
    ///
    /// Panics like indexing if `data` is shorter than `field.end`; the callers' `check_len` (or
    /// their documented `# Panics` contract) rules that out.
    pub(crate) fn array<const N: usize>(data: &[u8], field: Field) -> [u8; N] {
        let mut out = [0; N];
        out.copy_from_slice(&data[field]);
        out
    }
}

/// Why a packet could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer is shorter than the header (or than a length field says it must be).
    Truncated,
    /// A field has a value the protocol does not allow (a length field that contradicts
    /// itself, port 0, a bad option length, ...).
    Malformed,
    /// The packet is well formed but its checksum does not verify.
    Checksum,
    /// The packet is valid but uses a feature this codec does not handle (IP fragments, an
    /// unknown IP version).
    Unsupported,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Truncated => "truncated packet",
            Self::Malformed => "malformed packet",
            Self::Checksum => "checksum mismatch",
            Self::Unsupported => "unsupported packet",
        })
    }
}

impl std::error::Error for Error {}

/// The result type of the wire codec.
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(test)]
mod test {
    //! Cross-protocol tests: the no-panic property test over every parser.

    use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn error_display() {
        assert_eq!(Error::Truncated.to_string(), "truncated packet");
        assert_eq!(Error::Malformed.to_string(), "malformed packet");
        assert_eq!(Error::Checksum.to_string(), "checksum mismatch");
        assert_eq!(Error::Unsupported.to_string(), "unsupported packet");
        let boxed: Box<dyn std::error::Error> = Box::new(Error::Malformed);
        assert_eq!(boxed.to_string(), "malformed packet");
    }

    /// xorshift64: a deterministic generator, so a failure is reproducible from the seed.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn byte(&mut self) -> u8 {
            self.next() as u8
        }
    }

    /// A formatter sink that discards the text: `Display` is run (and must not fail or panic)
    /// without allocating.
    struct Sink;

    impl fmt::Write for Sink {
        fn write_str(&mut self, _: &str) -> fmt::Result {
            Ok(())
        }
    }

    fn display(value: &dyn fmt::Display) {
        fmt::Write::write_fmt(&mut Sink, format_args!("{value}")).expect("Display never fails");
    }

    const V4_SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
    const V4_DST: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20));
    const V6_SRC: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    const V6_DST: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));

    /// A valid Ethernet + IP + TCP frame built with the emitters, with every option present.
    fn valid_frame(ip: IpRepr, payload: &[u8]) -> Vec<u8> {
        let tcp = TcpRepr {
            src_port: 40000,
            dst_port: 5000,
            flags: TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE,
            seq_number: TcpSeqNumber(0xffff_fff0),
            ack_number: TcpSeqNumber(7),
            window_len: 1024,
            window_scale: Some(7),
            max_seg_size: Some(1460),
            sack_permitted: true,
            sack_ranges: [Some((1, 2)), Some((3, 4)), None, None],
            timestamp: Some(TcpTimestamp { tsval: 5, tsecr: 6 }),
            urgent_pointer: 0,
            payload,
        };
        let mut ip = ip;
        ip.set_payload_len(tcp.buffer_len());
        let eth = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            ethertype: match ip {
                IpRepr::Ipv4(_) => EtherType::Ipv4,
                IpRepr::Ipv6(_) => EtherType::Ipv6,
            },
        };
        let mut buf = vec![0; eth.buffer_len() + ip.buffer_len()];
        eth.emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
        let ip_start = ethernet::HEADER_LEN;
        let tcp_start = ip_start + ip.header_len();
        ip.emit(&mut buf[ip_start..tcp_start]);
        tcp.emit(
            &mut TcpPacket::new_unchecked(&mut buf[tcp_start..]),
            &ip.src_addr(),
            &ip.dst_addr(),
        );
        buf
    }

    /// Re-fill the IPv4 header and TCP checksums of a mutated frame, when its lengths allow,
    /// so that mutations reach the option and field parsers instead of stopping at a checksum.
    fn fix_checksums(frame: &mut [u8]) {
        let Some(ip_bytes) = frame.get_mut(ethernet::HEADER_LEN..) else {
            return;
        };
        let (src, dst, range) = match ip_bytes.first().map(|b| b >> 4) {
            Some(4) => {
                let Ok(packet) = Ipv4Packet::new_checked(&ip_bytes[..]) else {
                    return;
                };
                let range = packet.header_len()..usize::from(packet.total_len());
                let (src, dst) = (packet.src_addr(), packet.dst_addr());
                let mut packet = Ipv4Packet::new_unchecked(&mut ip_bytes[..]);
                packet.fill_checksum();
                (IpAddr::V4(src), IpAddr::V4(dst), range)
            }
            Some(6) => {
                let Ok(packet) = Ipv6Packet::new_checked(&ip_bytes[..]) else {
                    return;
                };
                let range = ipv6::HEADER_LEN..ipv6::HEADER_LEN + usize::from(packet.payload_len());
                (
                    IpAddr::V6(packet.src_addr()),
                    IpAddr::V6(packet.dst_addr()),
                    range,
                )
            }
            _ => return,
        };
        let segment = &mut ip_bytes[range];
        if TcpPacket::new_checked(&segment[..]).is_ok() {
            TcpPacket::new_unchecked(segment).fill_checksum(&src, &dst);
        }
    }

    /// Returns whether the bytes parsed as a `TcpRepr`.
    fn exercise_tcp(bytes: &[u8], src: &IpAddr, dst: &IpAddr) -> bool {
        // Display must tolerate anything, even an unchecked view.
        display(&TcpPacket::new_unchecked(bytes));
        let _ = TcpOption::parse(bytes);
        for option in tcp::options(bytes).flatten() {
            display(&option);
            let _ = option.buffer_len();
        }
        let Ok(packet) = TcpPacket::new_checked(bytes) else {
            return false;
        };
        let _ = (
            packet.src_port(),
            packet.dst_port(),
            packet.seq_number(),
            packet.ack_number(),
            packet.data_offset(),
            packet.header_len(),
            packet.reserved(),
            packet.flags(),
            packet.fin() || packet.syn() || packet.rst() || packet.psh() || packet.ack(),
            packet.urg() || packet.ece() || packet.cwr() || packet.ae(),
            packet.window_len(),
            packet.checksum(),
            packet.urgent_at(),
            packet.payload(),
            packet.segment_len(),
            packet.verify_checksum(src, dst),
        );
        for option in tcp::options(packet.options()).flatten() {
            display(&option);
        }
        display(&packet);
        let Ok(repr) = TcpRepr::parse(&packet, src, dst) else {
            return false;
        };
        display(&repr);
        let _ = repr.segment_len();
        assert!(repr.header_len() <= tcp::MAX_HEADER_LEN);
        // A parsed Repr must emit, and what it emits must parse again.
        let mut buf = vec![0xa5; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), src, dst);
        let packet = TcpPacket::new_checked(&buf[..]).expect("re-emitted segment checks");
        TcpRepr::parse(&packet, src, dst).expect("re-emitted segment parses");
        true
    }

    /// Returns whether the bytes parsed as an IP packet carrying a valid `TcpRepr`.
    fn exercise_ip(bytes: &[u8]) -> bool {
        if let Ok(packet) = Ipv4Packet::new_checked(bytes) {
            let _ = (
                packet.version(),
                packet.header_len(),
                packet.dscp(),
                packet.ecn(),
                packet.total_len(),
                packet.ident(),
                packet.dont_frag(),
                packet.more_frags(),
                packet.frag_offset(),
                packet.hop_limit(),
                packet.next_header(),
                packet.checksum(),
                packet.src_addr(),
                packet.dst_addr(),
                packet.options(),
                packet.payload(),
                packet.verify_checksum(),
            );
            display(&packet);
            if let Ok(repr) = Ipv4Repr::parse(&packet) {
                display(&repr);
            }
        }
        if let Ok(packet) = Ipv6Packet::new_checked(bytes) {
            let _ = (
                packet.version(),
                packet.traffic_class(),
                packet.dscp(),
                packet.ecn(),
                packet.flow_label(),
                packet.payload_len(),
                packet.next_header(),
                packet.hop_limit(),
                packet.src_addr(),
                packet.dst_addr(),
                packet.payload(),
            );
            display(&packet);
            if let Ok(repr) = Ipv6Repr::parse(&packet) {
                display(&repr);
            }
        }
        let Ok((ip, payload)) = IpRepr::parse_packet(bytes) else {
            return false;
        };
        display(&ip);
        let mut header = vec![0xa5; ip.header_len()];
        ip.emit(&mut header);
        exercise_tcp(payload, &ip.src_addr(), &ip.dst_addr())
    }

    /// Feed `bytes` to every layer: as an Ethernet frame (and down through what it carries),
    /// as a bare IP packet, and as a bare TCP segment under the `addrs` pseudo-header.
    ///
    /// Returns whether the frame made it down to a valid `TcpRepr`.
    fn exercise(bytes: &[u8], addrs: (IpAddr, IpAddr)) -> bool {
        exercise_ip(bytes);
        exercise_tcp(bytes, &addrs.0, &addrs.1);
        let Ok(frame) = EthernetFrame::new_checked(bytes) else {
            return false;
        };
        let _ = (frame.dst_addr(), frame.src_addr(), frame.ethertype());
        let _ = EthernetRepr::parse(&frame);
        display(&frame);
        exercise_ip(frame.payload())
    }

    #[test]
    fn no_panic_on_any_input() {
        const ITERATIONS: usize = 200_000;
        let v4 = IpRepr::Ipv4(Ipv4Repr {
            src_addr: Ipv4Addr::new(192, 168, 1, 10),
            dst_addr: Ipv4Addr::new(192, 168, 1, 20),
            next_header: IpProtocol::Tcp,
            payload_len: 0,
            hop_limit: 64,
            ecn: Ecn::Ect0,
            dscp: 0,
            ident: 1,
            dont_frag: true,
        });
        let v6 = IpRepr::Ipv6(Ipv6Repr {
            src_addr: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            dst_addr: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
            next_header: IpProtocol::Tcp,
            payload_len: 0,
            hop_limit: 64,
            ecn: Ecn::NotEct,
            dscp: 0,
            flow_label: 0x12345,
        });
        let seeds = [valid_frame(v4, b"hello"), valid_frame(v6, b"odd")];
        // The seeds themselves must make it all the way through.
        for seed in &seeds {
            let frame = EthernetFrame::new_checked(&seed[..]).unwrap();
            let (ip, payload) = IpRepr::parse_packet(frame.payload()).unwrap();
            let packet = TcpPacket::new_checked(payload).unwrap();
            TcpRepr::parse(&packet, &ip.src_addr(), &ip.dst_addr()).unwrap();
        }

        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut buf = Vec::with_capacity(128);
        let mut reached_tcp_repr = 0;
        for i in 0..ITERATIONS {
            buf.clear();
            match i % 4 {
                // Random bytes of a random length.
                0 => buf.extend((0..rng.below(100)).map(|_| rng.byte())),
                // A valid frame with a few bit flips, checksums left broken.
                1 | 2 => {
                    buf.extend_from_slice(&seeds[rng.below(seeds.len())]);
                    for _ in 0..=rng.below(4) {
                        let at = rng.below(buf.len());
                        buf[at] ^= 1 << rng.below(8);
                    }
                    if i % 4 == 2 {
                        fix_checksums(&mut buf);
                    }
                }
                // A valid frame cut short, or with random bytes overwritten in the headers.
                _ => {
                    buf.extend_from_slice(&seeds[rng.below(seeds.len())]);
                    if rng.below(2) == 0 {
                        buf.truncate(rng.below(buf.len() + 1));
                    } else {
                        let at = rng.below(buf.len());
                        buf[at] = rng.byte();
                        fix_checksums(&mut buf);
                    }
                }
            }
            let addrs = [(V4_SRC, V4_DST), (V6_SRC, V6_DST), (V4_SRC, V6_DST)];
            if exercise(&buf, addrs[i % addrs.len()]) {
                reached_tcp_repr += 1;
            }
        }
        // The mutations must not all die at the first check: a good share of frames has to
        // get through Ethernet, IP, the checksums and the options.
        assert!(
            reached_tcp_repr > ITERATIONS / 10,
            "only {reached_tcp_repr} frames reached TcpRepr"
        );
    }
}
