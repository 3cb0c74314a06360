//! IPv6 fixed headers (RFC 8200 section 3, traffic class as DSCP + ECN per RFC 2474 and
//! RFC 3168 section 5).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Traffic Class |           Flow Label                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Source Address (128 bits)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Destination Address (128 bits)                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Extension headers are not walked: a next header other than TCP is simply reported.

use core::fmt;
use core::net::Ipv6Addr;

use super::field::array;
use super::ip::{Ecn, Protocol};
use super::{Error, Result};

mod field {
    use crate::wire::field::Field;

    /// Version (4 bits), traffic class (8 bits) and flow label (20 bits).
    pub(super) const VER_TC_FLOW: Field = 0..4;
    /// Payload length in bytes (everything after the fixed header).
    pub(super) const LENGTH: Field = 4..6;
    /// Next header.
    pub(super) const NXT_HDR: usize = 6;
    /// Hop limit.
    pub(super) const HOP_LIMIT: usize = 7;
    /// Source address.
    pub(super) const SRC_ADDR: Field = 8..24;
    /// Destination address.
    pub(super) const DST_ADDR: Field = 24..40;
}

/// The length of the IPv6 fixed header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// The flow label mask within the first header word.
const FLOW_LABEL_MASK: u32 = 0x000f_ffff;

/// A read/write view of an IPv6 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it; see the module-level panic contract of `wire`.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wrap a buffer after [`check_len`](Self::check_len): no getter or
    /// [`payload`](Packet::payload) of the result panics.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Check that the buffer holds the fixed header and the payload length
    /// ([`Error::Truncated`] otherwise). The version is not checked ([`Repr::parse`] does).
    ///
    /// The result is invalidated by [`set_payload_len`](Self::set_payload_len).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || HEADER_LEN + usize::from(self.payload_len()) > len {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Unwrap the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn first_word(&self) -> u32 {
        u32::from_be_bytes(array(self.buffer.as_ref(), field::VER_TC_FLOW))
    }

    /// The version field (6 for a valid packet).
    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }

    /// The traffic class field: DSCP (high six bits) and ECN (low two bits).
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// The DSCP: the high six bits of the traffic class (RFC 2474 section 3).
    pub fn dscp(&self) -> u8 {
        self.traffic_class() >> 2
    }

    /// The ECN codepoint: the low two bits of the traffic class (RFC 3168 section 5).
    pub fn ecn(&self) -> Ecn {
        Ecn::from(self.traffic_class())
    }

    /// The flow label field (20 bits, RFC 6437).
    pub fn flow_label(&self) -> u32 {
        self.first_word() & FLOW_LABEL_MASK
    }

    /// The payload length field.
    pub fn payload_len(&self) -> u16 {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::LENGTH))
    }

    /// The next header field.
    pub fn next_header(&self) -> Protocol {
        Protocol::from(self.buffer.as_ref()[field::NXT_HDR])
    }

    /// The hop limit field.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// The source address field.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::SRC_ADDR))
    }

    /// The destination address field.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::DST_ADDR))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload: the `payload_len` bytes after the fixed header. Bytes past it (Ethernet
    /// padding) are not payload.
    ///
    /// # Panics
    /// If the payload length is past the buffer (never after `new_checked`).
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer;
        &data.as_ref()[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_first_word(&mut self, value: u32) {
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the version field (the low four bits of `value`).
    pub fn set_version(&mut self, value: u8) {
        let word = self.first_word();
        self.set_first_word((word & 0x0fff_ffff) | (u32::from(value & 0x0f) << 28));
    }

    /// Set the whole traffic class field.
    pub fn set_traffic_class(&mut self, value: u8) {
        let word = self.first_word();
        self.set_first_word((word & 0xf00f_ffff) | (u32::from(value) << 20));
    }

    /// Set the DSCP (the low six bits of `value`), keeping the ECN bits.
    pub fn set_dscp(&mut self, value: u8) {
        let tc = self.traffic_class();
        self.set_traffic_class((tc & 0b11) | (value << 2));
    }

    /// Set the ECN codepoint, keeping the DSCP.
    pub fn set_ecn(&mut self, value: Ecn) {
        let tc = self.traffic_class();
        self.set_traffic_class((tc & !0b11) | u8::from(value));
    }

    /// Set the flow label (the low 20 bits of `value`).
    pub fn set_flow_label(&mut self, value: u32) {
        let word = self.first_word();
        self.set_first_word((word & !FLOW_LABEL_MASK) | (value & FLOW_LABEL_MASK));
    }

    /// Set the payload length field.
    pub fn set_payload_len(&mut self, value: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the next header field.
    pub fn set_next_header(&mut self, value: Protocol) {
        self.buffer.as_mut()[field::NXT_HDR] = value.into();
    }

    /// Set the hop limit field.
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = value;
    }

    /// Set the source address field.
    pub fn set_src_addr(&mut self, value: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&value.octets());
    }

    /// Set the destination address field.
    pub fn set_dst_addr(&mut self, value: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&value.octets());
    }

    /// The payload, mutably.
    ///
    /// # Panics
    /// If the payload length is past the buffer.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    /// A one-line summary. Never panics: a packet that fails `check_len` is described as such.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Err(error) = self.check_len() {
            return write!(f, "IPv6 {error} ({} bytes)", self.buffer.as_ref().len());
        }
        write!(
            f,
            "{} > {} {} hlim={} ecn={} dscp={} flow={:#x}",
            self.src_addr(),
            self.dst_addr(),
            self.next_header(),
            self.hop_limit(),
            self.ecn(),
            self.dscp(),
            self.flow_label(),
        )?;
        if self.version() != 6 {
            write!(f, " version={}", self.version())?;
        }
        write!(f, " len={}", self.payload_len())
    }
}

/// The high-level representation of an IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Next header (the payload's protocol; extension headers are not walked).
    pub next_header: Protocol,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// ECN codepoint (RFC 3168 section 5).
    pub ecn: Ecn,
    /// DSCP, six bits (RFC 2474 section 3).
    pub dscp: u8,
    /// Flow label, 20 bits (RFC 6437).
    pub flow_label: u32,
}

impl Repr {
    /// Parse a packet's fixed header. Never panics.
    ///
    /// Errors of [`Packet::check_len`], or [`Error::Malformed`] if the version is not 6.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Self> {
        packet.check_len()?;
        if packet.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(Self {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            ecn: packet.ecn(),
            dscp: packet.dscp(),
            flow_label: packet.flow_label(),
        })
    }

    /// The length of the emitted header: 40.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The length of what [`emit`](Self::emit) writes: the 40-byte header only (smoltcp's
    /// convention; the payload is the caller's). The whole packet is
    /// `buffer_len() + payload_len` bytes; [`IpRepr::buffer_len`](super::IpRepr::buffer_len)
    /// counts both.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the 40-byte fixed header; the payload is left untouched.
    ///
    /// A `payload_len` above 65535 (a jumbogram, unsupported) saturates the field at 65535;
    /// only the low 20 bits of `flow_label` and the low six bits of `dscp` are written.
    ///
    /// # Panics
    /// If the packet's buffer is shorter than 40 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_first_word(0);
        packet.set_version(6);
        packet.set_dscp(self.dscp);
        packet.set_ecn(self.ecn);
        packet.set_flow_label(self.flow_label);
        packet.set_payload_len(u16::try_from(self.payload_len).unwrap_or(u16::MAX));
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} {} hlim={} ecn={} dscp={} flow={:#x} len={}",
            self.src_addr,
            self.dst_addr,
            self.next_header,
            self.hop_limit,
            self.ecn,
            self.dscp,
            self.flow_label,
            self.payload_len
        )
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// 2001:db8::1 > 2001:db8::2, UDP, traffic class 0x29 (DSCP AF11 = 10, ECT(1)), flow label
    /// 0x12345, hop limit 64, 4 bytes of payload; decoded with Wireshark.
    static PACKET_BYTES: [u8; 44] = [
        0x62, 0x91, 0x23, 0x45, 0x00, 0x04, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xde, 0xad, 0xbe, 0xef,
    ];

    static PAYLOAD_BYTES: [u8; 4] = [0xde, 0xad, 0xbe, 0xef];

    const SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    const DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

    fn packet_repr() -> Repr {
        Repr {
            src_addr: SRC,
            dst_addr: DST,
            next_header: Protocol::Udp,
            payload_len: 4,
            hop_limit: 64,
            ecn: Ecn::Ect1,
            dscp: 10,
            flow_label: 0x12345,
        }
    }

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(packet.version(), 6);
        assert_eq!(packet.traffic_class(), 0x29);
        assert_eq!(packet.dscp(), 10);
        assert_eq!(packet.ecn(), Ecn::Ect1);
        assert_eq!(packet.flow_label(), 0x12345);
        assert_eq!(packet.payload_len(), 4);
        assert_eq!(packet.next_header(), Protocol::Udp);
        assert_eq!(packet.hop_limit(), 64);
        assert_eq!(packet.src_addr(), SRC);
        assert_eq!(packet.dst_addr(), DST);
        assert_eq!(packet.payload(), &PAYLOAD_BYTES[..]);
    }

    #[test]
    fn construct() {
        let mut bytes = vec![0xa5; PACKET_BYTES.len()];
        let mut packet = Packet::new_unchecked(&mut bytes);
        packet.set_version(6);
        packet.set_traffic_class(0x29);
        packet.set_flow_label(0x12345);
        packet.set_payload_len(4);
        packet.set_next_header(Protocol::Udp);
        packet.set_hop_limit(64);
        packet.set_src_addr(SRC);
        packet.set_dst_addr(DST);
        packet.payload_mut().copy_from_slice(&PAYLOAD_BYTES);
        assert_eq!(packet.into_inner().as_slice(), &PACKET_BYTES[..]);
    }

    #[test]
    fn traffic_class_bits() {
        let mut bytes = PACKET_BYTES;
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_ecn(Ecn::Ce);
        assert_eq!((packet.dscp(), packet.traffic_class()), (10, 0x2b));
        packet.set_dscp(0x3f);
        assert_eq!((packet.ecn(), packet.traffic_class()), (Ecn::Ce, 0xff));
        // Neither touches the version or the flow label.
        assert_eq!((packet.version(), packet.flow_label()), (6, 0x12345));
        packet.set_flow_label(0xfff_ffff);
        assert_eq!(
            (packet.flow_label(), packet.traffic_class()),
            (0xf_ffff, 0xff)
        );
        assert_eq!(packet.version(), 6);
    }

    #[test]
    fn parse() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(Repr::parse(&packet), Ok(packet_repr()));
    }

    #[test]
    fn emit() {
        let repr = packet_repr();
        assert_eq!(repr.buffer_len(), 40);
        let mut bytes = vec![0xa5; repr.buffer_len() + repr.payload_len];
        let mut packet = Packet::new_unchecked(&mut bytes);
        repr.emit(&mut packet);
        packet.payload_mut().copy_from_slice(&PAYLOAD_BYTES);
        assert_eq!(&bytes[..], &PACKET_BYTES[..]);
    }

    #[test]
    fn truncated() {
        for len in 0..PACKET_BYTES.len() {
            assert_eq!(
                Packet::new_checked(&PACKET_BYTES[..len]),
                Err(Error::Truncated),
                "length {len}"
            );
            let packet = Packet::new_unchecked(&PACKET_BYTES[..len]);
            assert_eq!(Repr::parse(&packet), Err(Error::Truncated));
        }
    }

    #[test]
    fn impossible_len() {
        let mut bytes = PACKET_BYTES;
        Packet::new_unchecked(&mut bytes[..]).set_payload_len(u16::MAX);
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Truncated));
    }

    #[test]
    fn trailing_padding_is_not_payload() {
        let mut bytes = PACKET_BYTES.to_vec();
        bytes.extend_from_slice(&[0; 16]);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.payload(), &PAYLOAD_BYTES[..]);
        assert_eq!(Repr::parse(&packet), Ok(packet_repr()));
    }

    #[test]
    fn malformed_version() {
        let mut bytes = PACKET_BYTES;
        Packet::new_unchecked(&mut bytes[..]).set_version(4);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(Repr::parse(&packet), Err(Error::Malformed));
    }

    #[test]
    fn display() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(
            packet.to_string(),
            "2001:db8::1 > 2001:db8::2 UDP hlim=64 ecn=ECT(1) dscp=10 flow=0x12345 len=4"
        );
        assert_eq!(packet_repr().to_string(), packet.to_string());
        assert_eq!(
            Packet::new_unchecked(&PACKET_BYTES[..3]).to_string(),
            "IPv6 truncated packet (3 bytes)"
        );
    }
}
