//! Ethernet II frames (RFC 894; IEEE 802.3 clause 3.2), without 802.1Q tags.
//!
//! The frame check sequence is not part of the buffer: capture and injection on Linux packet
//! sockets see frames without it. Short frames padded to the 60-byte minimum carry the padding
//! in the payload; the IP layer bounds its payload by its own length fields.

use core::fmt;

use super::field::array;
use super::{Error, Result};

/// A six-octet Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 6]);

impl Address {
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: Self = Self([0xff; 6]);

    /// The address as bytes.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Whether this is a unicast address: the I/G bit (least significant bit of the first
    /// octet) is clear.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Whether this is a multicast (group) address, broadcast included.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether this is the broadcast address.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Whether this is a locally administered address (the U/L bit is set).
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for Address {
    /// Lowercase, colon-separated hex: `02:00:00:00:00:01`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// The EtherType field: which protocol the payload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EtherType {
    /// IPv4, 0x0800.
    Ipv4,
    /// IPv6, 0x86DD.
    Ipv6,
    /// ARP, 0x0806.
    Arp,
    /// Any other value (including 802.3 length values up to 1500).
    ///
    /// Build values with `From<u16>`: `Unknown(0x0800)` is not equal to `Ipv4`.
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(value: u16) -> Self {
        match value {
            0x0800 => Self::Ipv4,
            0x86dd => Self::Ipv6,
            0x0806 => Self::Arp,
            other => Self::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(value: EtherType) -> Self {
        match value {
            EtherType::Ipv4 => 0x0800,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Arp => 0x0806,
            EtherType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipv4 => f.write_str("IPv4"),
            Self::Ipv6 => f.write_str("IPv6"),
            Self::Arp => f.write_str("ARP"),
            Self::Unknown(other) => write!(f, "0x{other:04x}"),
        }
    }
}

mod field {
    use crate::wire::field::{Field, Rest};

    /// Destination MAC address.
    pub(super) const DESTINATION: Field = 0..6;
    /// Source MAC address.
    pub(super) const SOURCE: Field = 6..12;
    /// EtherType.
    pub(super) const ETHERTYPE: Field = 12..14;
    /// The payload, to the end of the buffer.
    pub(super) const PAYLOAD: Rest = 14..;
}

/// The length of an Ethernet II header without VLAN tags.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// A read/write view of an Ethernet II frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wrap a buffer without checking its length; see the module-level panic contract.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wrap a buffer after [`check_len`](Self::check_len): no accessor of the result panics.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Check that the buffer holds the 14-byte header ([`Error::Truncated`] otherwise).
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Unwrap the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The header length: always 14 (no VLAN tags).
    pub const fn header_len() -> usize {
        HEADER_LEN
    }

    /// The length of a frame carrying `payload_len` bytes of payload.
    pub const fn buffer_len(payload_len: usize) -> usize {
        HEADER_LEN + payload_len
    }

    /// The destination address field.
    pub fn dst_addr(&self) -> Address {
        Address(array(self.buffer.as_ref(), field::DESTINATION))
    }

    /// The source address field.
    pub fn src_addr(&self) -> Address {
        Address(array(self.buffer.as_ref(), field::SOURCE))
    }

    /// The EtherType field.
    pub fn ethertype(&self) -> EtherType {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::ETHERTYPE)).into()
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The payload: everything after the header, Ethernet padding included.
    ///
    /// # Panics
    /// If the buffer is shorter than the header (never after `new_checked`).
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer;
        &data.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Set the destination address field.
    pub fn set_dst_addr(&mut self, value: Address) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&value.0);
    }

    /// Set the source address field.
    pub fn set_src_addr(&mut self, value: Address) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&value.0);
    }

    /// Set the EtherType field.
    pub fn set_ethertype(&mut self, value: EtherType) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&u16::from(value).to_be_bytes());
    }

    /// The payload, mutably.
    ///
    /// # Panics
    /// If the buffer is shorter than the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Frame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Frame<T> {
    /// `src > dst type`, or a note when the buffer is too short. Never panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.check_len().is_err() {
            return write!(
                f,
                "Ethernet truncated ({} bytes)",
                self.buffer.as_ref().len()
            );
        }
        write!(
            f,
            "{} > {} {}",
            self.src_addr(),
            self.dst_addr(),
            self.ethertype()
        )
    }
}

/// The high-level representation of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Source MAC address.
    pub src_addr: Address,
    /// Destination MAC address.
    pub dst_addr: Address,
    /// EtherType of the payload.
    pub ethertype: EtherType,
}

impl Repr {
    /// Parse a frame's header. Never panics: the length is checked here.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &Frame<&T>) -> Result<Self> {
        frame.check_len()?;
        Ok(Self {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// The length of the header this emits: 14.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into a frame; the payload is left untouched.
    ///
    /// # Panics
    /// If the frame's buffer is shorter than [`HEADER_LEN`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) {
        frame.set_src_addr(self.src_addr);
        frame.set_dst_addr(self.dst_addr);
        frame.set_ethertype(self.ethertype);
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} {}",
            self.src_addr, self.dst_addr, self.ethertype
        )
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// A frame 02:00:00:00:00:01 > 02:00:00:00:00:02, IPv4, with a 4-byte payload.
    static FRAME_BYTES: [u8; 18] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0xaa,
        0x00, 0x00, 0xff,
    ];

    static PAYLOAD_BYTES: [u8; 4] = [0xaa, 0x00, 0x00, 0xff];

    const SRC: Address = Address([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
    const DST: Address = Address([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]);

    fn frame_repr() -> Repr {
        Repr {
            src_addr: SRC,
            dst_addr: DST,
            ethertype: EtherType::Ipv4,
        }
    }

    #[test]
    fn deconstruct() {
        let frame = Frame::new_checked(&FRAME_BYTES[..]).unwrap();
        assert_eq!(frame.dst_addr(), DST);
        assert_eq!(frame.src_addr(), SRC);
        assert_eq!(frame.ethertype(), EtherType::Ipv4);
        assert_eq!(frame.payload(), &PAYLOAD_BYTES[..]);
        assert_eq!(Frame::<&[u8]>::header_len(), 14);
        assert_eq!(Frame::<&[u8]>::buffer_len(4), FRAME_BYTES.len());
    }

    #[test]
    fn construct() {
        let mut bytes = vec![0xa5; FRAME_BYTES.len()];
        let mut frame = Frame::new_unchecked(&mut bytes);
        frame.set_dst_addr(DST);
        frame.set_src_addr(SRC);
        frame.set_ethertype(EtherType::Ipv4);
        frame.payload_mut().copy_from_slice(&PAYLOAD_BYTES);
        assert_eq!(frame.into_inner().as_slice(), &FRAME_BYTES[..]);
    }

    #[test]
    fn parse() {
        let frame = Frame::new_checked(&FRAME_BYTES[..]).unwrap();
        assert_eq!(Repr::parse(&frame), Ok(frame_repr()));
    }

    #[test]
    fn emit() {
        let repr = frame_repr();
        let mut bytes = vec![0xa5; repr.buffer_len() + PAYLOAD_BYTES.len()];
        let mut frame = Frame::new_unchecked(&mut bytes);
        repr.emit(&mut frame);
        frame.payload_mut().copy_from_slice(&PAYLOAD_BYTES);
        assert_eq!(&bytes[..], &FRAME_BYTES[..]);
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Frame::new_checked(&FRAME_BYTES[..len]),
                Err(Error::Truncated)
            );
            let frame = Frame::new_unchecked(&FRAME_BYTES[..len]);
            assert_eq!(Repr::parse(&frame), Err(Error::Truncated));
            assert_eq!(
                frame.to_string(),
                format!("Ethernet truncated ({len} bytes)")
            );
        }
        // A bare header is a frame with an empty payload.
        let frame = Frame::new_checked(&FRAME_BYTES[..HEADER_LEN]).unwrap();
        assert!(frame.payload().is_empty());
    }

    #[test]
    fn ethertype_conversions() {
        for (value, ethertype) in [
            (0x0800, EtherType::Ipv4),
            (0x86dd, EtherType::Ipv6),
            (0x0806, EtherType::Arp),
            (0x88cc, EtherType::Unknown(0x88cc)),
        ] {
            assert_eq!(EtherType::from(value), ethertype);
            assert_eq!(u16::from(ethertype), value);
        }
        assert_eq!(EtherType::Ipv6.to_string(), "IPv6");
        assert_eq!(EtherType::Unknown(0x88cc).to_string(), "0x88cc");
    }

    #[test]
    fn address() {
        assert_eq!(SRC.to_string(), "02:00:00:00:00:01");
        assert_eq!(
            Address([0xde, 0xad, 0xbe, 0xef, 0x0a, 0xff]).to_string(),
            "de:ad:be:ef:0a:ff"
        );
        assert!(SRC.is_unicast() && SRC.is_local() && !SRC.is_multicast());
        assert!(Address::BROADCAST.is_broadcast() && !Address::BROADCAST.is_unicast());
        let multicast = Address([0x33, 0x33, 0, 0, 0, 1]);
        assert!(multicast.is_multicast() && !multicast.is_broadcast());
        assert_eq!(SRC.as_bytes(), &[2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn display() {
        let frame = Frame::new_checked(&FRAME_BYTES[..]).unwrap();
        assert_eq!(
            frame.to_string(),
            "02:00:00:00:00:01 > 02:00:00:00:00:02 IPv4"
        );
        assert_eq!(frame_repr().to_string(), frame.to_string());
    }
}
