//! IPv4 headers (RFC 791 section 3.1, with the TOS octet as DSCP + ECN per RFC 2474 and
//! RFC 3168 section 5).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |   DSCP    |ECN|          Total Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |R|D|M|      Fragment Offset    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Source Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination Address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;
use core::net::Ipv4Addr;

use super::field::array;
use super::ip::{Ecn, Protocol};
use super::{Error, Result, checksum};

mod field {
    use crate::wire::field::Field;

    /// Version (high nibble) and IHL (low nibble, in 32-bit words).
    pub(super) const VER_IHL: usize = 0;
    /// DSCP (high six bits) and ECN (low two bits), the former TOS octet.
    pub(super) const DSCP_ECN: usize = 1;
    /// Total length of the datagram in bytes, header included.
    pub(super) const LENGTH: Field = 2..4;
    /// Identification.
    pub(super) const IDENT: Field = 4..6;
    /// Flags (reserved, DF, MF) and the fragment offset in 8-byte units.
    pub(super) const FLG_OFF: Field = 6..8;
    /// Time to live.
    pub(super) const TTL: usize = 8;
    /// Protocol.
    pub(super) const PROTOCOL: usize = 9;
    /// Header checksum.
    pub(super) const CHECKSUM: Field = 10..12;
    /// Source address.
    pub(super) const SRC_ADDR: Field = 12..16;
    /// Destination address.
    pub(super) const DST_ADDR: Field = 16..20;

    /// The reserved flag bit ("evil bit", RFC 3514), in the `FLG_OFF` word.
    pub(super) const FLG_RESERVED: u16 = 0x8000;
    /// Don't fragment.
    pub(super) const FLG_DF: u16 = 0x4000;
    /// More fragments.
    pub(super) const FLG_MF: u16 = 0x2000;
    /// The fragment offset bits.
    pub(super) const OFFSET: u16 = 0x1fff;
}

/// The length of an IPv4 header without options.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// A read/write view of an IPv4 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it; see the module-level panic contract of `wire`.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wrap a buffer after [`check_len`](Self::check_len): no getter, [`options`](Packet::options)
    /// or [`payload`](Packet::payload) of the result panics.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Check the length fields against each other and the buffer.
    ///
    /// - [`Error::Truncated`]: the buffer is shorter than 20 bytes or than the total length;
    /// - [`Error::Malformed`]: IHL is below 5, or the header is longer than the total length.
    ///
    /// The version is not checked ([`Repr::parse`] does). The result is invalidated by
    /// [`set_header_len`](Self::set_header_len) and [`set_total_len`](Self::set_total_len).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        let total_len = usize::from(self.total_len());
        if header_len < HEADER_LEN || header_len > total_len {
            Err(Error::Malformed)
        } else if total_len > len {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Unwrap the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (4 for a valid packet).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The raw IHL field: the header length in 32-bit words.
    pub fn ihl(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] & 0x0f
    }

    /// The header length in bytes: IHL * 4.
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// The DSCP field: the high six bits of the former TOS octet (RFC 2474 section 3).
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// The ECN field: the low two bits of the former TOS octet (RFC 3168 section 5).
    pub fn ecn(&self) -> Ecn {
        Ecn::from(self.buffer.as_ref()[field::DSCP_ECN])
    }

    /// The total length field: header plus payload, in bytes.
    pub fn total_len(&self) -> u16 {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::LENGTH))
    }

    /// The identification field.
    pub fn ident(&self) -> u16 {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::IDENT))
    }

    fn flg_off(&self) -> u16 {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::FLG_OFF))
    }

    /// The reserved flag bit (must be zero, RFC 791).
    pub fn reserved_flag(&self) -> bool {
        self.flg_off() & field::FLG_RESERVED != 0
    }

    /// The don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.flg_off() & field::FLG_DF != 0
    }

    /// The more-fragments flag.
    pub fn more_frags(&self) -> bool {
        self.flg_off() & field::FLG_MF != 0
    }

    /// The fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (self.flg_off() & field::OFFSET) << 3
    }

    /// The time-to-live field.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The protocol field.
    pub fn next_header(&self) -> Protocol {
        Protocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::CHECKSUM))
    }

    /// The source address field.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::SRC_ADDR))
    }

    /// The destination address field.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::DST_ADDR))
    }

    /// Whether the header checksum verifies (the sum over the header is `0xffff`).
    ///
    /// Never panics: a header longer than the buffer is summed up to the buffer's end (and
    /// then fails [`check_len`](Self::check_len) anyway).
    pub fn verify_checksum(&self) -> bool {
        let data = self.buffer.as_ref();
        let end = self.header_len().min(data.len());
        checksum::data(&data[..end]) == !0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The options: the header bytes after the first 20.
    ///
    /// # Panics
    /// If the header length is below 20 or past the buffer (never after `new_checked`).
    pub fn options(&self) -> &'a [u8] {
        let data = self.buffer;
        &data.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload: from the end of the header to the total length. Bytes past the total
    /// length (Ethernet padding) are not payload.
    ///
    /// # Panics
    /// If the length fields are inconsistent with the buffer (never after `new_checked`).
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer;
        &data.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the version field (the low four bits of `value`).
    pub fn set_version(&mut self, value: u8) {
        let data = self.buffer.as_mut();
        data[field::VER_IHL] = (data[field::VER_IHL] & 0x0f) | (value << 4);
    }

    /// Set the raw IHL field, in 32-bit words (the low four bits of `value`).
    pub fn set_ihl(&mut self, value: u8) {
        let data = self.buffer.as_mut();
        data[field::VER_IHL] = (data[field::VER_IHL] & 0xf0) | (value & 0x0f);
    }

    /// Set the header length in bytes: writes `len / 4` (truncated to four bits) into IHL.
    pub fn set_header_len(&mut self, len: u8) {
        self.set_ihl((len / 4) & 0x0f);
    }

    /// Set the DSCP field (the low six bits of `value`).
    pub fn set_dscp(&mut self, value: u8) {
        let data = self.buffer.as_mut();
        data[field::DSCP_ECN] = (data[field::DSCP_ECN] & 0b11) | (value << 2);
    }

    /// Set the ECN field.
    pub fn set_ecn(&mut self, value: Ecn) {
        let data = self.buffer.as_mut();
        data[field::DSCP_ECN] = (data[field::DSCP_ECN] & !0b11) | u8::from(value);
    }

    /// Set the total length field.
    pub fn set_total_len(&mut self, value: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the identification field.
    pub fn set_ident(&mut self, value: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&value.to_be_bytes());
    }

    fn set_flg_off(&mut self, value: u16) {
        self.buffer.as_mut()[field::FLG_OFF].copy_from_slice(&value.to_be_bytes());
    }

    fn set_flag(&mut self, flag: u16, value: bool) {
        let word = self.flg_off();
        self.set_flg_off(if value { word | flag } else { word & !flag });
    }

    /// Set the reserved flag bit.
    pub fn set_reserved_flag(&mut self, value: bool) {
        self.set_flag(field::FLG_RESERVED, value);
    }

    /// Set the don't-fragment flag.
    pub fn set_dont_frag(&mut self, value: bool) {
        self.set_flag(field::FLG_DF, value);
    }

    /// Set the more-fragments flag.
    pub fn set_more_frags(&mut self, value: bool) {
        self.set_flag(field::FLG_MF, value);
    }

    /// Set the fragment offset in bytes: writes `value / 8` into the 13-bit field.
    pub fn set_frag_offset(&mut self, value: u16) {
        let word = self.flg_off();
        self.set_flg_off((word & !field::OFFSET) | ((value >> 3) & field::OFFSET));
    }

    /// Set the time-to-live field.
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }

    /// Set the protocol field.
    pub fn set_next_header(&mut self, value: Protocol) {
        self.buffer.as_mut()[field::PROTOCOL] = value.into();
    }

    /// Set the header checksum field to an arbitrary value.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the source address field.
    pub fn set_src_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&value.octets());
    }

    /// Set the destination address field.
    pub fn set_dst_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&value.octets());
    }

    /// Compute and write the header checksum over [`header_len`](Packet::header_len) bytes
    /// (capped at the buffer's length, so a lying IHL does not panic). Call it after every other
    /// header field is set.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = self.header_len();
        let data = self.buffer.as_ref();
        let sum = checksum::data(&data[..header_len.min(data.len())]);
        self.set_checksum(!sum);
    }

    /// The options, mutably.
    ///
    /// # Panics
    /// If the header length is below 20 or past the buffer.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..header_len]
    }

    /// The payload (header end to total length), mutably.
    ///
    /// # Panics
    /// If the length fields are inconsistent with the buffer.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
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
            return write!(f, "IPv4 {error} ({} bytes)", self.buffer.as_ref().len());
        }
        write!(
            f,
            "{} > {} {} ttl={} ecn={} dscp={} id={}",
            self.src_addr(),
            self.dst_addr(),
            self.next_header(),
            self.hop_limit(),
            self.ecn(),
            self.dscp(),
            self.ident(),
        )?;
        if self.dont_frag() {
            f.write_str(" DF")?;
        }
        if self.more_frags() {
            f.write_str(" MF")?;
        }
        if self.frag_offset() != 0 {
            write!(f, " off={}", self.frag_offset())?;
        }
        if self.version() != 4 {
            write!(f, " version={}", self.version())?;
        }
        if !self.verify_checksum() {
            write!(f, " bad-cksum={:#06x}", self.checksum())?;
        }
        let payload_len = usize::from(self.total_len()) - self.header_len();
        write!(f, " len={payload_len}")
    }
}

/// The high-level representation of an IPv4 header without options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol of the payload.
    pub next_header: Protocol,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub hop_limit: u8,
    /// ECN codepoint (RFC 3168 section 5).
    pub ecn: Ecn,
    /// DSCP, six bits (RFC 2474 section 3).
    pub dscp: u8,
    /// Identification.
    pub ident: u16,
    /// Don't-fragment flag.
    pub dont_frag: bool,
}

impl Repr {
    /// Parse a packet's header. Never panics.
    ///
    /// - errors of [`Packet::check_len`];
    /// - [`Error::Malformed`] if the version is not 4;
    /// - [`Error::Checksum`] if the header checksum does not verify;
    /// - [`Error::Unsupported`] for a fragment (MF set or a non-zero offset).
    ///
    /// Options are skipped (the payload starts after them); the reserved flag is ignored.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Self> {
        packet.check_len()?;
        if packet.version() != 4 {
            return Err(Error::Malformed);
        }
        if !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        if packet.more_frags() || packet.frag_offset() != 0 {
            return Err(Error::Unsupported);
        }
        Ok(Self {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
            hop_limit: packet.hop_limit(),
            ecn: packet.ecn(),
            dscp: packet.dscp(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
        })
    }

    /// The length of the emitted header: 20 (no options).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The length of what [`emit`](Self::emit) writes: the 20-byte header only (smoltcp's
    /// convention; the payload is the caller's). The whole packet is
    /// `buffer_len() + payload_len` bytes; [`IpRepr::buffer_len`](super::IpRepr::buffer_len)
    /// counts both.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write a 20-byte header (no options, not a fragment) with its checksum filled. The
    /// payload is left untouched.
    ///
    /// A `payload_len` above 65515 does not fit the total length field, which then saturates
    /// at 65535.
    ///
    /// # Panics
    /// If the packet's buffer is shorter than 20 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_version(4);
        packet.set_header_len(HEADER_LEN as u8);
        packet.set_dscp(self.dscp);
        packet.set_ecn(self.ecn);
        packet.set_total_len(u16::try_from(HEADER_LEN + self.payload_len).unwrap_or(u16::MAX));
        packet.set_ident(self.ident);
        packet.set_flg_off(if self.dont_frag { field::FLG_DF } else { 0 });
        packet.set_hop_limit(self.hop_limit);
        packet.set_next_header(self.next_header);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.set_checksum(!self.header_sum());
    }

    /// The one's-complement sum of the 20-byte header [`emit`](Self::emit) writes, with a zero
    /// checksum field, computed from the fields rather than read back from the buffer (a read
    /// just after the header's narrow stores would stall on store forwarding).
    fn header_sum(&self) -> u16 {
        let total_len = u16::try_from(HEADER_LEN + self.payload_len).unwrap_or(u16::MAX);
        let tos = (self.dscp << 2) | (u8::from(self.ecn) & 0b11);
        let words = [
            u16::from_be_bytes([0x45, tos]),
            total_len,
            self.ident,
            if self.dont_frag { field::FLG_DF } else { 0 },
            u16::from_be_bytes([self.hop_limit, u8::from(self.next_header)]),
        ];
        let (s, d) = (self.src_addr.octets(), self.dst_addr.octets());
        let addrs = [
            u16::from_be_bytes([s[0], s[1]]),
            u16::from_be_bytes([s[2], s[3]]),
            u16::from_be_bytes([d[0], d[1]]),
            u16::from_be_bytes([d[2], d[3]]),
        ];
        checksum::combine(&[checksum::combine(&words), checksum::combine(&addrs)])
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} {} ttl={} ecn={} dscp={} len={}",
            self.src_addr,
            self.dst_addr,
            self.next_header,
            self.hop_limit,
            self.ecn,
            self.dscp,
            self.payload_len
        )
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// 192.168.1.10 > 192.168.1.20, UDP, DSCP EF (46) + ECT(0), DF, ident 0x1234, TTL 64,
    /// 10 bytes of payload; header checksum 0xa472 verified with Wireshark.
    static PACKET_BYTES: [u8; 30] = [
        0x45, 0xba, 0x00, 0x1e, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0xa4, 0x72, 0xc0, 0xa8, 0x01,
        0x0a, 0xc0, 0xa8, 0x01, 0x14, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9,
    ];

    static PAYLOAD_BYTES: [u8; 10] = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9];

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 20);

    fn packet_repr() -> Repr {
        Repr {
            src_addr: SRC,
            dst_addr: DST,
            next_header: Protocol::Udp,
            payload_len: 10,
            hop_limit: 64,
            ecn: Ecn::Ect0,
            dscp: 46,
            ident: 0x1234,
            dont_frag: true,
        }
    }

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.ihl(), 5);
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.dscp(), 46);
        assert_eq!(packet.ecn(), Ecn::Ect0);
        assert_eq!(packet.total_len(), 30);
        assert_eq!(packet.ident(), 0x1234);
        assert!(!packet.reserved_flag());
        assert!(packet.dont_frag());
        assert!(!packet.more_frags());
        assert_eq!(packet.frag_offset(), 0);
        assert_eq!(packet.hop_limit(), 64);
        assert_eq!(packet.next_header(), Protocol::Udp);
        assert_eq!(packet.checksum(), 0xa472);
        assert_eq!(packet.src_addr(), SRC);
        assert_eq!(packet.dst_addr(), DST);
        assert!(packet.verify_checksum());
        assert!(packet.options().is_empty());
        assert_eq!(packet.payload(), &PAYLOAD_BYTES[..]);
    }

    #[test]
    fn construct() {
        let mut bytes = vec![0xa5; PACKET_BYTES.len()];
        let mut packet = Packet::new_unchecked(&mut bytes);
        packet.set_version(4);
        packet.set_header_len(20);
        packet.set_dscp(46);
        packet.set_ecn(Ecn::Ect0);
        packet.set_total_len(30);
        packet.set_ident(0x1234);
        packet.set_reserved_flag(false);
        packet.set_dont_frag(true);
        packet.set_more_frags(false);
        packet.set_frag_offset(0);
        packet.set_hop_limit(64);
        packet.set_next_header(Protocol::Udp);
        packet.set_src_addr(SRC);
        packet.set_dst_addr(DST);
        packet.fill_checksum();
        packet.payload_mut().copy_from_slice(&PAYLOAD_BYTES);
        assert_eq!(packet.into_inner().as_slice(), &PACKET_BYTES[..]);
    }

    #[test]
    fn parse() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(Repr::parse(&packet), Ok(packet_repr()));
    }

    #[test]
    fn emit() {
        let repr = packet_repr();
        assert_eq!(repr.buffer_len(), 20);
        let mut bytes = vec![0xa5; repr.buffer_len() + repr.payload_len];
        let mut packet = Packet::new_unchecked(&mut bytes);
        repr.emit(&mut packet);
        packet.payload_mut().copy_from_slice(&PAYLOAD_BYTES);
        assert_eq!(&bytes[..], &PACKET_BYTES[..]);
    }

    #[test]
    fn flags_and_offset_bits() {
        let mut bytes = PACKET_BYTES;
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_reserved_flag(true);
        packet.set_more_frags(true);
        packet.set_frag_offset(65528);
        assert_eq!(packet.as_ref()[6..8], [0xff, 0xff]);
        assert!(packet.reserved_flag() && packet.dont_frag() && packet.more_frags());
        assert_eq!(packet.frag_offset(), 65528);
        packet.set_dont_frag(false);
        packet.set_frag_offset(8);
        assert_eq!(packet.as_ref()[6..8], [0xa0, 0x01]);
        // DSCP and ECN do not clobber each other.
        packet.set_ecn(Ecn::Ce);
        assert_eq!(packet.dscp(), 46);
        packet.set_dscp(0);
        assert_eq!(packet.ecn(), Ecn::Ce);
        assert_eq!(packet.as_ref()[1], 0x03);
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
        // IHL below 5.
        for ihl in 0..5 {
            Packet::new_unchecked(&mut bytes[..]).set_ihl(ihl);
            assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Malformed));
        }
        // A header longer than the total length.
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_header_len(24);
        packet.set_total_len(22);
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Malformed));
        // A total length shorter than the minimum header.
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_header_len(20);
        packet.set_total_len(19);
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Malformed));
        // A total length past the buffer.
        Packet::new_unchecked(&mut bytes[..]).set_total_len(31);
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Truncated));
        // The largest IHL with the header filling the buffer.
        let mut bytes = [0u8; 60];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_version(4);
        packet.set_header_len(60);
        packet.set_total_len(60);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.options().len(), 40);
        assert!(packet.payload().is_empty());
    }

    #[test]
    fn trailing_padding_is_not_payload() {
        let mut bytes = PACKET_BYTES.to_vec();
        bytes.extend_from_slice(&[0; 16]);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.payload(), &PAYLOAD_BYTES[..]);
        assert_eq!(Repr::parse(&packet).unwrap().payload_len, 10);
    }

    #[test]
    fn malformed_version() {
        let mut bytes = PACKET_BYTES;
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_version(6);
        packet.fill_checksum();
        assert_eq!(
            Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn malformed_checksum() {
        let mut bytes = PACKET_BYTES;
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_checksum(0xa473);
        assert!(!packet.verify_checksum());
        assert_eq!(
            Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()),
            Err(Error::Checksum)
        );
        // Any change to a header field invalidates the checksum.
        let mut bytes = PACKET_BYTES;
        Packet::new_unchecked(&mut bytes[..]).set_hop_limit(63);
        assert!(!Packet::new_unchecked(&bytes[..]).verify_checksum());
    }

    #[test]
    fn fragments_are_unsupported() {
        let mut bytes = PACKET_BYTES;
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_more_frags(true);
        packet.fill_checksum();
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(Repr::parse(&packet), Err(Error::Unsupported));
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_more_frags(false);
        packet.set_frag_offset(1480);
        packet.fill_checksum();
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(Repr::parse(&packet), Err(Error::Unsupported));
    }

    #[test]
    fn options_are_skipped() {
        // IHL 6 with a 4-byte option (NOP NOP NOP EOL) and the same payload.
        let mut bytes = [0u8; 34];
        bytes[..20].copy_from_slice(&PACKET_BYTES[..20]);
        bytes[20..24].copy_from_slice(&[1, 1, 1, 0]);
        bytes[24..].copy_from_slice(&PAYLOAD_BYTES);
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_header_len(24);
        packet.set_total_len(34);
        packet.fill_checksum();
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.options(), &[1, 1, 1, 0]);
        assert_eq!(packet.payload(), &PAYLOAD_BYTES[..]);
        assert_eq!(Repr::parse(&packet), Ok(packet_repr()));
    }

    #[test]
    fn lying_lengths_do_not_panic_checksum() {
        let mut bytes = PACKET_BYTES;
        let mut packet = Packet::new_unchecked(&mut bytes[..20]);
        packet.set_header_len(60);
        packet.fill_checksum();
        assert!(packet.verify_checksum());
    }

    #[test]
    fn display() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(
            packet.to_string(),
            "192.168.1.10 > 192.168.1.20 UDP ttl=64 ecn=ECT(0) dscp=46 id=4660 DF len=10"
        );
        assert_eq!(
            packet_repr().to_string(),
            "192.168.1.10 > 192.168.1.20 UDP ttl=64 ecn=ECT(0) dscp=46 len=10"
        );
        assert_eq!(
            Packet::new_unchecked(&PACKET_BYTES[..7]).to_string(),
            "IPv4 truncated packet (7 bytes)"
        );
        let mut bytes = PACKET_BYTES;
        Packet::new_unchecked(&mut bytes[..]).set_checksum(0);
        assert!(
            Packet::new_unchecked(&bytes[..])
                .to_string()
                .contains("bad-cksum=0x0000")
        );
    }
}
