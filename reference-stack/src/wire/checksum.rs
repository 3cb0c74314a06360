//! The Internet checksum (RFC 1071) and the TCP pseudo-headers.
//!
//! All functions return the 16-bit one's-complement **sum**, not its complement: a header's
//! checksum field holds `!combine(&[pseudo_header(..), data(..)])` (computed with the field
//! zeroed), and a received header verifies when the same sum over the whole header, checksum
//! field included, is `0xffff`. None of these functions panics.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ip::Protocol;

/// Fold a wide accumulator into 16 bits with end-around carry.
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The 16-bit one's-complement sum of `bytes` as big-endian words (RFC 1071 section 4.1).
///
/// An odd trailing byte is padded with a zero byte on the right. The result is not inverted.
pub fn data(bytes: &[u8]) -> u16 {
    // Eight bytes (four 16-bit words) per step, summed lane by lane: each step adds less than
    // 2^18, so the u64 accumulator cannot overflow for any slice that fits in memory.
    let mut chunks = bytes.chunks_exact(8);
    let mut acc: u64 = 0;
    for c in &mut chunks {
        let word = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (word >> 48) + ((word >> 32) & 0xffff) + ((word >> 16) & 0xffff) + (word & 0xffff);
    }
    let mut words = chunks.remainder().chunks_exact(2);
    for word in &mut words {
        acc += u64::from(u16::from_be_bytes([word[0], word[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold(acc)
}

/// Combine partial one's-complement sums (from [`data`] or [`pseudo_header`]) into one sum.
///
/// Sums of byte runs may be combined this way when every run but the last has an even length.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&sum| u64::from(sum)).sum())
}

/// The sum of the TCP/UDP pseudo-header for a segment of `length` bytes (header plus payload).
///
/// Two IPv4 addresses give the IPv4 pseudo-header (RFC 9293 section 3.1), two IPv6 addresses the
/// IPv6 one (RFC 8200 section 8.1). For mixed families, which no valid packet has, the IPv4
/// address is taken as its IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 section
/// 2.5.5.2) and the IPv6 pseudo-header is used.
pub fn pseudo_header(src: &IpAddr, dst: &IpAddr, protocol: Protocol, length: u32) -> u16 {
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => ipv4_pseudo_header(src, dst, protocol, length),
        (IpAddr::V6(src), IpAddr::V6(dst)) => ipv6_pseudo_header(src, dst, protocol, length),
        _ => ipv6_pseudo_header(&mapped(src), &mapped(dst), protocol, length),
    }
}

/// An address as IPv6, mapping IPv4 into `::ffff:0:0/96`.
fn mapped(addr: &IpAddr) -> Ipv6Addr {
    match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => *v6,
    }
}

/// The sum of the IPv4 pseudo-header (RFC 9293 section 3.1): source, destination, zero,
/// protocol, TCP length.
///
/// The IPv4 TCP length field is 16 bits wide; only the low 16 bits of `length` are used.
pub fn ipv4_pseudo_header(src: &Ipv4Addr, dst: &Ipv4Addr, protocol: Protocol, length: u32) -> u16 {
    let mut header = [0; 12];
    header[0..4].copy_from_slice(&src.octets());
    header[4..8].copy_from_slice(&dst.octets());
    header[9] = protocol.into();
    header[10..12].copy_from_slice(&(length as u16).to_be_bytes());
    data(&header)
}

/// The sum of the IPv6 pseudo-header (RFC 8200 section 8.1): source, destination, 32-bit
/// upper-layer packet length, three zero bytes, next header.
pub fn ipv6_pseudo_header(src: &Ipv6Addr, dst: &Ipv6Addr, protocol: Protocol, length: u32) -> u16 {
    let mut header = [0; 40];
    header[0..16].copy_from_slice(&src.octets());
    header[16..32].copy_from_slice(&dst.octets());
    header[32..36].copy_from_slice(&length.to_be_bytes());
    header[39] = protocol.into();
    data(&header)
}

#[cfg(test)]
mod test {
    use rstest::rstest;

    use super::*;

    /// The example of RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
    #[test]
    fn rfc1071_example() {
        assert_eq!(
            data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
        // The sum of the pieces is the sum of the whole (even-length pieces first).
        assert_eq!(
            combine(&[
                data(&[0x00, 0x01, 0xf2, 0x03]),
                data(&[0xf4, 0xf5, 0xf6, 0xf7])
            ]),
            0xddf2
        );
    }

    #[test]
    fn odd_length_is_padded_on_the_right() {
        assert_eq!(data(&[0xab]), 0xab00);
        assert_eq!(data(&[0x12, 0x34, 0xab]), 0x1234 + 0xab00);
        assert_eq!(data(&[]), 0);
    }

    /// The word-at-a-time definition of RFC 1071, for comparison with the eight-byte loop.
    fn naive(bytes: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        for (i, byte) in bytes.iter().enumerate() {
            acc += if i % 2 == 0 {
                u32::from(*byte) << 8
            } else {
                u32::from(*byte)
            };
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn matches_naive_sum_for_every_length() {
        let bytes: Vec<u8> = (0..200u32).map(|i| (i * 151 + 7) as u8).collect();
        for len in 0..bytes.len() {
            for start in 0..3 {
                let slice = &bytes[start.min(len)..len];
                assert_eq!(data(slice), naive(slice), "start {start} len {len}");
            }
        }
    }

    #[test]
    fn end_around_carry() {
        assert_eq!(data(&[0xff, 0xff, 0x00, 0x01]), 0x0001);
        assert_eq!(combine(&[0xffff, 0xffff]), 0xffff);
        assert_eq!(combine(&[0x8000, 0x8000]), 0x0001);
        assert_eq!(combine(&[]), 0);
        // Large inputs do not overflow the accumulator.
        assert_eq!(data(&[0xff; 100_000]), 0xffff);
    }

    /// A well-known IPv4 header (20 bytes, checksum field 0xb861) verifies to 0xffff.
    #[test]
    fn ipv4_header_known_value() {
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(data(&header), 0xffff);
        let mut zeroed = header;
        zeroed[10..12].fill(0);
        assert_eq!(!data(&zeroed), 0xb861);
    }

    /// IPv4, PSH|ACK 40000 > 5000 carrying "abc" (odd length); checksum 0xceee verified with
    /// Wireshark.
    static SEGMENT_V4_ODD: [u8; 23] = [
        0x9c, 0x40, 0x13, 0x88, 0xb2, 0xd0, 0x5e, 0x01, 0x9a, 0x2b, 0x3c, 0x4d, 0x50, 0x18, 0x01,
        0xf6, 0xce, 0xee, 0x00, 0x00, 0x61, 0x62, 0x63,
    ];

    /// IPv6, PSH|ACK 40000 > 5000, NOP NOP TS, carrying "hello" (odd length); checksum 0x5590
    /// verified with Wireshark.
    static SEGMENT_V6_ODD: [u8; 37] = [
        0x9c, 0x40, 0x13, 0x88, 0xb2, 0xd0, 0x5e, 0x01, 0x9a, 0x2b, 0x3c, 0x4d, 0x80, 0x18, 0x01,
        0xf6, 0x55, 0x90, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x12, 0xd6, 0xa8, 0x00, 0x0f,
        0x12, 0x06, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
    ];

    const V4_SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
    const V4_DST: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20));
    const V6_SRC: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    const V6_DST: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));

    #[rstest]
    #[case::ipv4(V4_SRC, V4_DST, &SEGMENT_V4_ODD, 0x838c, 0xceee)]
    #[case::ipv6(V6_SRC, V6_DST, &SEGMENT_V6_ODD, 0x5ba0, 0x5590)]
    fn tcp_segment_known_value(
        #[case] src: IpAddr,
        #[case] dst: IpAddr,
        #[case] segment: &[u8],
        #[case] pseudo: u16,
        #[case] field: u16,
    ) {
        let length = segment.len() as u32;
        assert_eq!(pseudo_header(&src, &dst, Protocol::Tcp, length), pseudo);
        // The whole segment, checksum included, verifies.
        assert_eq!(combine(&[pseudo, data(segment)]), 0xffff);
        // With the field zeroed, the complement of the sum is the field.
        let mut zeroed = segment.to_vec();
        zeroed[16..18].fill(0);
        assert_eq!(!combine(&[pseudo, data(&zeroed)]), field);
    }

    #[test]
    fn mixed_families_use_mapped_addresses() {
        let mapped_src = IpAddr::V6(Ipv4Addr::new(192, 168, 1, 10).to_ipv6_mapped());
        assert_eq!(
            pseudo_header(&V4_SRC, &V6_DST, Protocol::Tcp, 20),
            pseudo_header(&mapped_src, &V6_DST, Protocol::Tcp, 20)
        );
        let mapped_dst = IpAddr::V6(Ipv4Addr::new(192, 168, 1, 20).to_ipv6_mapped());
        assert_eq!(
            pseudo_header(&V6_SRC, &V4_DST, Protocol::Tcp, u32::MAX),
            pseudo_header(&V6_SRC, &mapped_dst, Protocol::Tcp, u32::MAX)
        );
    }
}
