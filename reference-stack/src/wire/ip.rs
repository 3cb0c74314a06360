//! Version-independent IP: protocol numbers, ECN codepoints, and [`Repr`] over IPv4 and IPv6.

use core::fmt;
use core::net::IpAddr;

use super::{Error, Result, ipv4, ipv6};

/// An IP protocol number / IPv6 next header value (IANA "Assigned Internet Protocol Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// ICMP, 1.
    Icmp,
    /// TCP, 6.
    Tcp,
    /// UDP, 17.
    Udp,
    /// ICMPv6, 58.
    Icmpv6,
    /// Any other value (including IPv6 extension headers, which this codec does not walk).
    ///
    /// Build values with `From<u8>`: `Unknown(6)` is not equal to `Tcp`.
    Unknown(u8),
}

impl From<u8> for Protocol {
    fn from(value: u8) -> Self {
        match value {
            1 => Self::Icmp,
            6 => Self::Tcp,
            17 => Self::Udp,
            58 => Self::Icmpv6,
            other => Self::Unknown(other),
        }
    }
}

impl From<Protocol> for u8 {
    fn from(value: Protocol) -> Self {
        match value {
            Protocol::Icmp => 1,
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Icmpv6 => 58,
            Protocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Icmp => f.write_str("ICMP"),
            Self::Tcp => f.write_str("TCP"),
            Self::Udp => f.write_str("UDP"),
            Self::Icmpv6 => f.write_str("ICMPv6"),
            Self::Unknown(other) => write!(f, "proto-{other}"),
        }
    }
}

/// An IP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// IPv4 (RFC 791).
    Ipv4,
    /// IPv6 (RFC 8200).
    Ipv6,
}

impl Version {
    /// The version of the packet in `data`, from the high nibble of its first byte.
    ///
    /// [`Error::Truncated`] on an empty buffer, [`Error::Unsupported`] on a version other than
    /// 4 or 6.
    pub fn of_packet(data: &[u8]) -> Result<Self> {
        match data.first().map(|byte| byte >> 4) {
            None => Err(Error::Truncated),
            Some(4) => Ok(Self::Ipv4),
            Some(6) => Ok(Self::Ipv6),
            Some(_) => Err(Error::Unsupported),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
        })
    }
}

/// An ECN codepoint: the low two bits of the IPv4 TOS octet / IPv6 traffic class (RFC 3168
/// section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Ecn {
    /// Not-ECT, `00`: not ECN-capable transport.
    #[default]
    NotEct,
    /// ECT(1), `01`.
    Ect1,
    /// ECT(0), `10`.
    Ect0,
    /// CE, `11`: congestion experienced.
    Ce,
}

impl Ecn {
    /// Whether the codepoint marks an ECN-capable transport: ECT(0), ECT(1) or CE.
    pub const fn is_ect(self) -> bool {
        !matches!(self, Self::NotEct)
    }
}

impl From<u8> for Ecn {
    /// Takes the low two bits; the rest are ignored.
    fn from(value: u8) -> Self {
        match value & 0b11 {
            0b00 => Self::NotEct,
            0b01 => Self::Ect1,
            0b10 => Self::Ect0,
            _ => Self::Ce,
        }
    }
}

impl From<Ecn> for u8 {
    fn from(value: Ecn) -> Self {
        match value {
            Ecn::NotEct => 0b00,
            Ecn::Ect1 => 0b01,
            Ecn::Ect0 => 0b10,
            Ecn::Ce => 0b11,
        }
    }
}

impl fmt::Display for Ecn {
    /// The RFC 3168 spelling: `Not-ECT`, `ECT(1)`, `ECT(0)`, `CE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotEct => "Not-ECT",
            Self::Ect1 => "ECT(1)",
            Self::Ect0 => "ECT(0)",
            Self::Ce => "CE",
        })
    }
}

/// The high-level representation of an IPv4 or IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repr {
    /// An IPv4 header.
    Ipv4(ipv4::Repr),
    /// An IPv6 header.
    Ipv6(ipv6::Repr),
}

impl From<ipv4::Repr> for Repr {
    fn from(repr: ipv4::Repr) -> Self {
        Self::Ipv4(repr)
    }
}

impl From<ipv6::Repr> for Repr {
    fn from(repr: ipv6::Repr) -> Self {
        Self::Ipv6(repr)
    }
}

impl Repr {
    /// Parse an IP packet, dispatching on the version nibble, and return its header and its
    /// payload (bounded by the header's length fields, so Ethernet padding is dropped).
    ///
    /// Never panics. Errors are those of [`Version::of_packet`], `new_checked` and `parse` of
    /// the version's module.
    pub fn parse_packet(bytes: &[u8]) -> Result<(Self, &[u8])> {
        match Version::of_packet(bytes)? {
            Version::Ipv4 => {
                let packet = ipv4::Packet::new_checked(bytes)?;
                let repr = ipv4::Repr::parse(&packet)?;
                Ok((Self::Ipv4(repr), packet.payload()))
            }
            Version::Ipv6 => {
                let packet = ipv6::Packet::new_checked(bytes)?;
                let repr = ipv6::Repr::parse(&packet)?;
                Ok((Self::Ipv6(repr), packet.payload()))
            }
        }
    }

    /// The IP version.
    pub const fn version(&self) -> Version {
        match self {
            Self::Ipv4(_) => Version::Ipv4,
            Self::Ipv6(_) => Version::Ipv6,
        }
    }

    /// The source address.
    pub const fn src_addr(&self) -> IpAddr {
        match self {
            Self::Ipv4(repr) => IpAddr::V4(repr.src_addr),
            Self::Ipv6(repr) => IpAddr::V6(repr.src_addr),
        }
    }

    /// The destination address.
    pub const fn dst_addr(&self) -> IpAddr {
        match self {
            Self::Ipv4(repr) => IpAddr::V4(repr.dst_addr),
            Self::Ipv6(repr) => IpAddr::V6(repr.dst_addr),
        }
    }

    /// The protocol (IPv4) or next header (IPv6).
    pub const fn next_header(&self) -> Protocol {
        match self {
            Self::Ipv4(repr) => repr.next_header,
            Self::Ipv6(repr) => repr.next_header,
        }
    }

    /// The payload length in bytes (excluding the IP header).
    pub const fn payload_len(&self) -> usize {
        match self {
            Self::Ipv4(repr) => repr.payload_len,
            Self::Ipv6(repr) => repr.payload_len,
        }
    }

    /// Set the payload length in bytes.
    pub const fn set_payload_len(&mut self, payload_len: usize) {
        match self {
            Self::Ipv4(repr) => repr.payload_len = payload_len,
            Self::Ipv6(repr) => repr.payload_len = payload_len,
        }
    }

    /// The TTL (IPv4) or hop limit (IPv6).
    pub const fn hop_limit(&self) -> u8 {
        match self {
            Self::Ipv4(repr) => repr.hop_limit,
            Self::Ipv6(repr) => repr.hop_limit,
        }
    }

    /// The ECN codepoint.
    pub const fn ecn(&self) -> Ecn {
        match self {
            Self::Ipv4(repr) => repr.ecn,
            Self::Ipv6(repr) => repr.ecn,
        }
    }

    /// The DSCP (six bits).
    pub const fn dscp(&self) -> u8 {
        match self {
            Self::Ipv4(repr) => repr.dscp,
            Self::Ipv6(repr) => repr.dscp,
        }
    }

    /// The length of the emitted header: 20 for IPv4 (no options), 40 for IPv6.
    pub const fn header_len(&self) -> usize {
        match self {
            Self::Ipv4(repr) => repr.header_len(),
            Self::Ipv6(repr) => repr.header_len(),
        }
    }

    /// The length of the whole packet: header plus payload (unlike `ipv4::Repr::buffer_len`
    /// and `ipv6::Repr::buffer_len`, which count the header only, as in smoltcp).
    pub const fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len()
    }

    /// Emit the header into the first [`header_len`](Self::header_len) bytes of `buf`, filling
    /// the IPv4 header checksum. The payload is left to the caller.
    ///
    /// # Panics
    /// If `buf` is shorter than `header_len()`.
    pub fn emit(&self, buf: &mut [u8]) {
        let header = &mut buf[..self.header_len()];
        match self {
            Self::Ipv4(repr) => repr.emit(&mut ipv4::Packet::new_unchecked(header)),
            Self::Ipv6(repr) => repr.emit(&mut ipv6::Packet::new_unchecked(header)),
        }
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipv4(repr) => repr.fmt(f),
            Self::Ipv6(repr) => repr.fmt(f),
        }
    }
}

#[cfg(test)]
mod test {
    use core::net::{Ipv4Addr, Ipv6Addr};

    use rstest::rstest;

    use super::*;

    fn v4_repr() -> Repr {
        Repr::Ipv4(ipv4::Repr {
            src_addr: Ipv4Addr::new(192, 168, 1, 10),
            dst_addr: Ipv4Addr::new(192, 168, 1, 20),
            next_header: Protocol::Udp,
            payload_len: 10,
            hop_limit: 64,
            ecn: Ecn::Ect0,
            dscp: 46,
            ident: 0x1234,
            dont_frag: true,
        })
    }

    fn v6_repr() -> Repr {
        Repr::Ipv6(ipv6::Repr {
            src_addr: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            dst_addr: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
            next_header: Protocol::Udp,
            payload_len: 4,
            hop_limit: 64,
            ecn: Ecn::Ect1,
            dscp: 10,
            flow_label: 0x12345,
        })
    }

    #[test]
    fn protocol_conversions() {
        for (value, protocol) in [
            (1, Protocol::Icmp),
            (6, Protocol::Tcp),
            (17, Protocol::Udp),
            (58, Protocol::Icmpv6),
            (0, Protocol::Unknown(0)),
            (253, Protocol::Unknown(253)),
        ] {
            assert_eq!(Protocol::from(value), protocol);
            assert_eq!(u8::from(protocol), value);
        }
        assert_eq!(Protocol::Tcp.to_string(), "TCP");
        assert_eq!(Protocol::Unknown(253).to_string(), "proto-253");
    }

    #[test]
    fn ecn_codepoints() {
        // RFC 3168 section 5: 00 Not-ECT, 01 ECT(1), 10 ECT(0), 11 CE.
        for (value, ecn) in [
            (0, Ecn::NotEct),
            (1, Ecn::Ect1),
            (2, Ecn::Ect0),
            (3, Ecn::Ce),
        ] {
            assert_eq!(Ecn::from(value), ecn);
            assert_eq!(u8::from(ecn), value);
            // Only the low two bits count.
            assert_eq!(Ecn::from(value | 0xb8), ecn);
        }
        assert!(!Ecn::NotEct.is_ect() && Ecn::Ect0.is_ect() && Ecn::Ce.is_ect());
        assert_eq!(Ecn::Ce.to_string(), "CE");
        assert_eq!(Ecn::Ect1.to_string(), "ECT(1)");
    }

    #[test]
    fn version_of_packet() {
        assert_eq!(Version::of_packet(&[]), Err(Error::Truncated));
        assert_eq!(Version::of_packet(&[0x45]), Ok(Version::Ipv4));
        assert_eq!(Version::of_packet(&[0x60]), Ok(Version::Ipv6));
        assert_eq!(Version::of_packet(&[0x55]), Err(Error::Unsupported));
        assert_eq!(Repr::parse_packet(&[]), Err(Error::Truncated));
        assert_eq!(Repr::parse_packet(&[0x00; 40]), Err(Error::Unsupported));
    }

    #[rstest]
    #[case::ipv4(v4_repr(), Version::Ipv4, 20)]
    #[case::ipv6(v6_repr(), Version::Ipv6, 40)]
    fn emit_then_parse_packet(
        #[case] repr: Repr,
        #[case] version: Version,
        #[case] header_len: usize,
    ) {
        assert_eq!(repr.version(), version);
        assert_eq!(repr.header_len(), header_len);
        assert_eq!(repr.buffer_len(), header_len + repr.payload_len());
        assert_eq!(repr.next_header(), Protocol::Udp);
        assert_eq!(repr.hop_limit(), 64);

        // Emit, append the payload and some Ethernet padding, parse back.
        let mut bytes = vec![0xa5; repr.buffer_len() + 6];
        repr.emit(&mut bytes);
        let payload_range = header_len..repr.buffer_len();
        bytes[payload_range.clone()].fill(0x42);
        let (parsed, payload) = Repr::parse_packet(&bytes).unwrap();
        assert_eq!(parsed, repr);
        assert_eq!(payload, &bytes[payload_range]);
        assert_eq!(parsed.src_addr(), repr.src_addr());
        assert_eq!(parsed.dst_addr(), repr.dst_addr());
        assert_eq!(parsed.ecn(), repr.ecn());
        assert_eq!(parsed.dscp(), repr.dscp());
    }

    #[rstest]
    #[case::ipv4(v4_repr())]
    #[case::ipv6(v6_repr())]
    fn set_payload_len(#[case] mut repr: Repr) {
        repr.set_payload_len(1000);
        assert_eq!(repr.payload_len(), 1000);
        assert_eq!(repr.buffer_len(), repr.header_len() + 1000);
    }

    #[rstest]
    #[case::ipv4(v4_repr())]
    #[case::ipv6(v6_repr())]
    fn parse_packet_truncated(#[case] repr: Repr) {
        let mut bytes = vec![0; repr.buffer_len()];
        repr.emit(&mut bytes);
        for len in 1..bytes.len() {
            assert_eq!(
                Repr::parse_packet(&bytes[..len]),
                Err(Error::Truncated),
                "length {len}"
            );
        }
    }

    #[test]
    fn display() {
        assert_eq!(
            v4_repr().to_string(),
            "192.168.1.10 > 192.168.1.20 UDP ttl=64 ecn=ECT(0) dscp=46 len=10"
        );
        assert_eq!(
            v6_repr().to_string(),
            "2001:db8::1 > 2001:db8::2 UDP hlim=64 ecn=ECT(1) dscp=10 flow=0x12345 len=4"
        );
    }
}
