//! TCP segments (RFC 9293 section 3.1), with the ECN flags of RFC 3168 section 6.1, the AE bit
//! of RFC 9768 (formerly NS, RFC 3540), the options of RFC 9293 section 3.2 (MSS), RFC 7323
//! (window scale, timestamps) and RFC 2018 (SACK).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Acknowledgment Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data |     |A|C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsv |E|W|C|R|C|S|S|Y|I|            Window             |
//! |       |     | |R|E|G|K|H|T|N|N|                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |         Urgent Pointer        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           [Options]                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! [`Packet`] is the raw view (every bit settable, for crafting malformed segments);
//! [`Repr`] is a valid segment as the stack sees it.

use core::cmp::Ordering;
use core::net::IpAddr;
use core::str::FromStr;
use core::{fmt, ops};

use super::field::array;
use super::ip::Protocol;
use super::{Error, Result, checksum};

/// A TCP sequence number, with modulo-2^32 arithmetic (RFC 9293 section 3.4).
///
/// Arithmetic wraps and never panics. Comparison follows the sign of the wrapping difference
/// ("`a < b`" means `b` is ahead of `a` by less than 2^31), which is **not a total order**: it
/// is not transitive around the circle, and two numbers exactly 2^31 apart are incomparable
/// (`partial_cmp` returns `None`, so neither `<` nor `>` holds). There is deliberately no
/// `Ord`. Comparisons are only meaningful within a window smaller than 2^31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The later of two sequence numbers (`self` if they are equal or incomparable).
    #[must_use]
    pub fn max(self, other: Self) -> Self {
        if self < other { other } else { self }
    }

    /// The earlier of two sequence numbers (`self` if they are equal or incomparable).
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        if other < self { other } else { self }
    }
}

impl ops::Add<u32> for SeqNumber {
    type Output = Self;

    fn add(self, rhs: u32) -> Self {
        Self(self.0.wrapping_add(rhs))
    }
}

impl ops::AddAssign<u32> for SeqNumber {
    fn add_assign(&mut self, rhs: u32) {
        *self = *self + rhs;
    }
}

impl ops::Sub<u32> for SeqNumber {
    type Output = Self;

    fn sub(self, rhs: u32) -> Self {
        Self(self.0.wrapping_sub(rhs))
    }
}

impl ops::SubAssign<u32> for SeqNumber {
    fn sub_assign(&mut self, rhs: u32) {
        *self = *self - rhs;
    }
}

impl ops::Sub for SeqNumber {
    /// The signed wrapping distance `self - rhs`, in `[-2^31, 2^31)`.
    type Output = i32;

    fn sub(self, rhs: Self) -> i32 {
        self.0.wrapping_sub(rhs.0) as i32
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match *self - *other {
            0 => Some(Ordering::Equal),
            i32::MIN => None,
            distance if distance < 0 => Some(Ordering::Less),
            _ => Some(Ordering::Greater),
        }
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The nine TCP control bits (RFC 9293 section 3.1, RFC 3168 section 6.1, RFC 9768).
///
/// The value is the low nine bits of the 16-bit word at offset 12: AE is bit 8 (the lowest bit
/// of byte 12), CWR..FIN are byte 13.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u16);

/// The letters of `Flags`' text form, in the canonical (display) order.
const LETTERS: [(Flags, char); 9] = [
    (Flags::SYN, 'S'),
    (Flags::FIN, 'F'),
    (Flags::RST, 'R'),
    (Flags::PSH, 'P'),
    (Flags::ACK, 'A'),
    (Flags::URG, 'U'),
    (Flags::ECE, 'E'),
    (Flags::CWR, 'C'),
    (Flags::AE, 'N'),
];

impl Flags {
    /// FIN: no more data from the sender.
    pub const FIN: Self = Self(0x001);
    /// SYN: synchronize sequence numbers.
    pub const SYN: Self = Self(0x002);
    /// RST: reset the connection.
    pub const RST: Self = Self(0x004);
    /// PSH: push function.
    pub const PSH: Self = Self(0x008);
    /// ACK: the acknowledgment field is significant.
    pub const ACK: Self = Self(0x010);
    /// URG: the urgent pointer field is significant.
    pub const URG: Self = Self(0x020);
    /// ECE: ECN-Echo (RFC 3168 section 6.1).
    pub const ECE: Self = Self(0x040);
    /// CWR: congestion window reduced (RFC 3168 section 6.1).
    pub const CWR: Self = Self(0x080);
    /// AE: accurate ECN (RFC 9768; the former NS bit of RFC 3540).
    pub const AE: Self = Self(0x100);

    const MASK: u16 = 0x1ff;

    /// No flags.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// All nine flags.
    pub const fn all() -> Self {
        Self(Self::MASK)
    }

    /// Flags from raw bits; bits above the ninth are dropped.
    pub const fn from_bits_truncate(bits: u16) -> Self {
        Self(bits & Self::MASK)
    }

    /// The raw bits (at most `0x1ff`).
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set in `self`.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Set the flags of `other`.
    pub const fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// Clear the flags of `other`.
    pub const fn remove(&mut self, other: Self) {
        self.0 &= !other.0;
    }

    /// Set or clear the flags of `other`.
    pub const fn set(&mut self, other: Self, value: bool) {
        if value {
            self.insert(other);
        } else {
            self.remove(other);
        }
    }
}

impl ops::BitOr for Flags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl ops::BitAnd for Flags {
    type Output = Self;

    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl ops::BitAndAssign for Flags {
    fn bitand_assign(&mut self, rhs: Self) {
        self.0 &= rhs.0;
    }
}

impl ops::Not for Flags {
    type Output = Self;

    /// The complement within the nine flag bits.
    fn not(self) -> Self {
        Self(!self.0 & Self::MASK)
    }
}

impl fmt::Display for Flags {
    /// One letter per set flag, in the canonical order `S F R P A U E C N` (SYN FIN RST PSH
    /// ACK URG ECE CWR AE): SYN+ACK is `SA`, FIN+ACK `FA`. No flags print as the empty string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, letter) in LETTERS {
            if self.contains(flag) {
                fmt::Write::write_char(f, letter)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({self})")
    }
}

impl FromStr for Flags {
    type Err = ParseFlagsError;

    /// Parse the letters `F S R P A U E C N` (FIN SYN RST PSH ACK URG ECE CWR AE), in any
    /// order, each at most once. The empty string is no flags.
    fn from_str(s: &str) -> core::result::Result<Self, ParseFlagsError> {
        let mut flags = Self::empty();
        for character in s.chars() {
            let Some(&(flag, _)) = LETTERS.iter().find(|(_, letter)| *letter == character) else {
                return Err(ParseFlagsError {
                    character,
                    duplicate: false,
                });
            };
            if flags.contains(flag) {
                return Err(ParseFlagsError {
                    character,
                    duplicate: true,
                });
            }
            flags.insert(flag);
        }
        Ok(flags)
    }
}

/// The error of parsing [`Flags`] from text: an unknown or repeated letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParseFlagsError {
    character: char,
    duplicate: bool,
}

impl ParseFlagsError {
    /// The offending character.
    pub const fn character(&self) -> char {
        self.character
    }

    /// Whether the character is a valid flag letter given twice (rather than an unknown one).
    pub const fn is_duplicate(&self) -> bool {
        self.duplicate
    }
}

impl fmt::Display for ParseFlagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.duplicate {
            write!(f, "duplicate TCP flag letter {:?}", self.character)
        } else {
            write!(
                f,
                "unknown TCP flag letter {:?} (expected some of FSRPAUECN)",
                self.character
            )
        }
    }
}

impl std::error::Error for ParseFlagsError {}

mod field {
    use crate::wire::field::Field;

    /// Source port.
    pub(super) const SRC_PORT: Field = 0..2;
    /// Destination port.
    pub(super) const DST_PORT: Field = 2..4;
    /// Sequence number.
    pub(super) const SEQ_NUM: Field = 4..8;
    /// Acknowledgment number.
    pub(super) const ACK_NUM: Field = 8..12;
    /// Data offset (4 bits), reserved (3 bits), AE and the eight other control bits.
    pub(super) const FLAGS: Field = 12..14;
    /// Window.
    pub(super) const WIN_SIZE: Field = 14..16;
    /// Checksum.
    pub(super) const CHECKSUM: Field = 16..18;
    /// Urgent pointer.
    pub(super) const URGENT: Field = 18..20;

    /// The options, from the end of the fixed header to the header length.
    pub(super) const fn options(header_len: usize) -> Field {
        URGENT.end..header_len
    }

    /// The data offset bits of the `FLAGS` word.
    pub(super) const DATA_OFFSET_MASK: u16 = 0xf000;
    /// The reserved bits of the `FLAGS` word (RFC 9293 section 3.1, less AE).
    pub(super) const RESERVED_MASK: u16 = 0x0e00;

    /// End of option list (RFC 9293 section 3.2).
    pub(super) const OPT_END: u8 = 0;
    /// No-operation (RFC 9293 section 3.2).
    pub(super) const OPT_NOP: u8 = 1;
    /// Maximum segment size (RFC 9293 section 3.2).
    pub(super) const OPT_MSS: u8 = 2;
    /// Window scale (RFC 7323 section 2.2).
    pub(super) const OPT_WS: u8 = 3;
    /// SACK permitted (RFC 2018 section 2).
    pub(super) const OPT_SACKPERM: u8 = 4;
    /// SACK (RFC 2018 section 3).
    pub(super) const OPT_SACKRNG: u8 = 5;
    /// Timestamps (RFC 7323 section 3.2).
    pub(super) const OPT_TSTAMP: u8 = 8;
}

/// The length of a TCP header without options.
pub const HEADER_LEN: usize = field::URGENT.end;
/// The largest TCP header: data offset 15.
pub const MAX_HEADER_LEN: usize = 60;
/// The most option bytes a header can carry.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;

/// A read/write view of a TCP segment (header and payload; the buffer ends where the segment
/// does, i.e. it is the IP payload).
///
/// Setters write exactly what they are given, so they can build segments that
/// [`new_checked`](Self::new_checked) would reject (a data offset below 5 or past the buffer,
/// reserved bits, a wrong checksum): the tester relies on that. Fill the checksum last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it; see the module-level panic contract of `wire`.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wrap a buffer after [`check_len`](Self::check_len): no getter,
    /// [`options`](Packet::options) or [`payload`](Packet::payload) of the result panics.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Check the header length against the buffer.
    ///
    /// - [`Error::Truncated`]: the buffer is shorter than 20 bytes;
    /// - [`Error::Malformed`]: the data offset is below 5, or the header is longer than the
    ///   buffer (the buffer is the whole segment, so the data offset lies).
    ///
    /// The result is invalidated by [`set_data_offset`](Self::set_data_offset) and
    /// [`set_header_len`](Self::set_header_len).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            Err(Error::Truncated)
        } else if self.header_len() < HEADER_LEN || self.header_len() > len {
            Err(Error::Malformed)
        } else {
            Ok(())
        }
    }

    /// Unwrap the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The source port field.
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::SRC_PORT))
    }

    /// The destination port field.
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::DST_PORT))
    }

    /// The sequence number field.
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(u32::from_be_bytes(array(
            self.buffer.as_ref(),
            field::SEQ_NUM,
        )))
    }

    /// The acknowledgment number field (meaningful only with ACK set).
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(u32::from_be_bytes(array(
            self.buffer.as_ref(),
            field::ACK_NUM,
        )))
    }

    fn flags_word(&self) -> u16 {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::FLAGS))
    }

    /// The raw data offset field: the header length in 32-bit words.
    pub fn data_offset(&self) -> u8 {
        (self.flags_word() >> 12) as u8
    }

    /// The header length in bytes: data offset * 4.
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    /// The three reserved bits between the data offset and AE (must be zero, RFC 9293
    /// section 3.1; receivers ignore them).
    pub fn reserved(&self) -> u8 {
        ((self.flags_word() & field::RESERVED_MASK) >> 9) as u8
    }

    /// All nine control bits.
    pub fn flags(&self) -> Flags {
        Flags::from_bits_truncate(self.flags_word())
    }

    /// The FIN flag.
    pub fn fin(&self) -> bool {
        self.flags().contains(Flags::FIN)
    }

    /// The SYN flag.
    pub fn syn(&self) -> bool {
        self.flags().contains(Flags::SYN)
    }

    /// The RST flag.
    pub fn rst(&self) -> bool {
        self.flags().contains(Flags::RST)
    }

    /// The PSH flag.
    pub fn psh(&self) -> bool {
        self.flags().contains(Flags::PSH)
    }

    /// The ACK flag.
    pub fn ack(&self) -> bool {
        self.flags().contains(Flags::ACK)
    }

    /// The URG flag.
    pub fn urg(&self) -> bool {
        self.flags().contains(Flags::URG)
    }

    /// The ECE flag (RFC 3168 section 6.1).
    pub fn ece(&self) -> bool {
        self.flags().contains(Flags::ECE)
    }

    /// The CWR flag (RFC 3168 section 6.1).
    pub fn cwr(&self) -> bool {
        self.flags().contains(Flags::CWR)
    }

    /// The AE flag (RFC 9768; the former NS bit).
    pub fn ae(&self) -> bool {
        self.flags().contains(Flags::AE)
    }

    /// The window field, unscaled.
    pub fn window_len(&self) -> u16 {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::WIN_SIZE))
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::CHECKSUM))
    }

    /// The urgent pointer field.
    pub fn urgent_at(&self) -> u16 {
        u16::from_be_bytes(array(self.buffer.as_ref(), field::URGENT))
    }

    /// The sequence space the segment occupies: payload length plus one for SYN and one for
    /// FIN (RFC 9293 section 3.4). Never panics (a header past the buffer counts no payload).
    pub fn segment_len(&self) -> usize {
        let payload_len = self.buffer.as_ref().len().saturating_sub(self.header_len());
        payload_len + usize::from(self.syn()) + usize::from(self.fin())
    }

    /// Whether the checksum verifies over the pseudo-header for `src_addr` and `dst_addr`
    /// (see [`checksum::pseudo_header`] for mixed families) and the whole buffer. Never panics.
    pub fn verify_checksum(&self, src_addr: &IpAddr, dst_addr: &IpAddr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(length) = u32::try_from(data.len()) else {
            return false;
        };
        let pseudo = checksum::pseudo_header(src_addr, dst_addr, Protocol::Tcp, length);
        checksum::combine(&[pseudo, checksum::data(data)]) == !0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The options: the header bytes after the first 20. Walk them with [`options`].
    ///
    /// # Panics
    /// If the header length is below 20 or past the buffer (never after `new_checked`).
    pub fn options(&self) -> &'a [u8] {
        let data = self.buffer;
        &data.as_ref()[field::options(self.header_len())]
    }

    /// The payload: everything after the header.
    ///
    /// # Panics
    /// If the header length is past the buffer (never after `new_checked`).
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer;
        &data.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the source port field.
    pub fn set_src_port(&mut self, value: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the destination port field.
    pub fn set_dst_port(&mut self, value: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the sequence number field.
    pub fn set_seq_number(&mut self, value: SeqNumber) {
        self.buffer.as_mut()[field::SEQ_NUM].copy_from_slice(&value.0.to_be_bytes());
    }

    /// Set the acknowledgment number field.
    pub fn set_ack_number(&mut self, value: SeqNumber) {
        self.buffer.as_mut()[field::ACK_NUM].copy_from_slice(&value.0.to_be_bytes());
    }

    fn set_flags_word(&mut self, value: u16) {
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the raw data offset field (the low four bits of `value`), in 32-bit words. Any
    /// value may be written, including ones `new_checked` rejects.
    pub fn set_data_offset(&mut self, value: u8) {
        let word = self.flags_word() & !field::DATA_OFFSET_MASK;
        self.set_flags_word(word | (u16::from(value & 0x0f) << 12));
    }

    /// Set the header length in bytes: writes `len / 4` (truncated to four bits) into the data
    /// offset.
    pub fn set_header_len(&mut self, len: u8) {
        self.set_data_offset((len / 4) & 0x0f);
    }

    /// Set the three reserved bits (the low three bits of `value`).
    pub fn set_reserved(&mut self, value: u8) {
        let word = self.flags_word() & !field::RESERVED_MASK;
        self.set_flags_word(word | (u16::from(value & 0x07) << 9));
    }

    /// Set all nine control bits at once, keeping the data offset and reserved bits.
    pub fn set_flags(&mut self, value: Flags) {
        let word = self.flags_word() & !Flags::MASK;
        self.set_flags_word(word | value.bits());
    }

    fn set_flag(&mut self, flag: Flags, value: bool) {
        let mut flags = self.flags();
        flags.set(flag, value);
        self.set_flags(flags);
    }

    /// Set the FIN flag.
    pub fn set_fin(&mut self, value: bool) {
        self.set_flag(Flags::FIN, value);
    }

    /// Set the SYN flag.
    pub fn set_syn(&mut self, value: bool) {
        self.set_flag(Flags::SYN, value);
    }

    /// Set the RST flag.
    pub fn set_rst(&mut self, value: bool) {
        self.set_flag(Flags::RST, value);
    }

    /// Set the PSH flag.
    pub fn set_psh(&mut self, value: bool) {
        self.set_flag(Flags::PSH, value);
    }

    /// Set the ACK flag.
    pub fn set_ack(&mut self, value: bool) {
        self.set_flag(Flags::ACK, value);
    }

    /// Set the URG flag.
    pub fn set_urg(&mut self, value: bool) {
        self.set_flag(Flags::URG, value);
    }

    /// Set the ECE flag.
    pub fn set_ece(&mut self, value: bool) {
        self.set_flag(Flags::ECE, value);
    }

    /// Set the CWR flag.
    pub fn set_cwr(&mut self, value: bool) {
        self.set_flag(Flags::CWR, value);
    }

    /// Set the AE flag.
    pub fn set_ae(&mut self, value: bool) {
        self.set_flag(Flags::AE, value);
    }

    /// Set the window field.
    pub fn set_window_len(&mut self, value: u16) {
        self.buffer.as_mut()[field::WIN_SIZE].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the checksum field to an arbitrary value.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the urgent pointer field.
    pub fn set_urgent_at(&mut self, value: u16) {
        self.buffer.as_mut()[field::URGENT].copy_from_slice(&value.to_be_bytes());
    }

    /// Compute and write the checksum over the pseudo-header and the whole buffer. Call it
    /// after every other field and the payload are written. Works whatever the data offset.
    pub fn fill_checksum(&mut self, src_addr: &IpAddr, dst_addr: &IpAddr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let length = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let pseudo = checksum::pseudo_header(src_addr, dst_addr, Protocol::Tcp, length);
        let sum = checksum::combine(&[pseudo, checksum::data(data)]);
        self.set_checksum(!sum);
    }

    /// The options, mutably (the header bytes after the first 20).
    ///
    /// # Panics
    /// If the header length is below 20 or past the buffer.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let range = field::options(self.header_len());
        &mut self.buffer.as_mut()[range]
    }

    /// The payload, mutably (everything after the header).
    ///
    /// # Panics
    /// If the header length is past the buffer.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        &mut self.buffer.as_mut()[header_len..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// Write `[opt,opt,...]` for an option list, `malformed` in place of a bad option.
fn fmt_options(f: &mut fmt::Formatter<'_>, options: OptionsIter<'_>) -> fmt::Result {
    f.write_str(" [")?;
    for (i, option) in options.enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        match option {
            Ok(option) => write!(f, "{option}")?,
            Err(_) => f.write_str("malformed")?,
        }
    }
    f.write_str("]")
}

impl<T: AsRef<[u8]>> fmt::Display for Packet<T> {
    /// A one-line tcpdump-like summary:
    /// `40000 > 5000 [SA] seq=1 ack=2 win=64240 len=0 [mss 1460,nop,wscale 7]`.
    ///
    /// `ack=` is shown with ACK, `urg=` with URG, `res=` for non-zero reserved bits. Never
    /// panics: a short buffer or a lying data offset is described instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return write!(f, "TCP truncated ({} bytes)", data.len());
        }
        write!(
            f,
            "{} > {} [{}] seq={}",
            self.src_port(),
            self.dst_port(),
            self.flags(),
            self.seq_number()
        )?;
        if self.ack() {
            write!(f, " ack={}", self.ack_number())?;
        }
        write!(f, " win={}", self.window_len())?;
        if self.urg() {
            write!(f, " urg={}", self.urgent_at())?;
        }
        if self.reserved() != 0 {
            write!(f, " res={:#x}", self.reserved())?;
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN || header_len > data.len() {
            return write!(f, " bad-off={} len={}", self.data_offset(), data.len());
        }
        write!(f, " len={}", data.len() - header_len)?;
        let options = &data[field::options(header_len)];
        if options.is_empty() {
            Ok(())
        } else {
            fmt_options(f, self::options(options))
        }
    }
}

/// A TCP option (RFC 9293 section 3.2, RFC 7323, RFC 2018).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpOption<'a> {
    /// End of option list (kind 0, one byte).
    EndOfList,
    /// No-operation (kind 1, one byte), used for alignment.
    NoOperation,
    /// Maximum segment size (kind 2, length 4; RFC 9293 section 3.7.1).
    MaxSegmentSize(u16),
    /// Window scale shift count (kind 3, length 3; RFC 7323 section 2.2), as received: values
    /// above 14 are not clamped here.
    WindowScale(u8),
    /// SACK permitted (kind 4, length 2; RFC 2018 section 2).
    SackPermitted,
    /// SACK blocks `(left edge, right edge)` (kind 5, length 2 + 8n with n in 1..=4; RFC 2018
    /// section 3). Blocks fill the array from the front; the rest are `None`.
    SackRange([Option<(u32, u32)>; 4]),
    /// Timestamps (kind 8, length 10; RFC 7323 section 3.2).
    TimeStamp {
        /// TSval: the sender's timestamp clock.
        tsval: u32,
        /// TSecr: the echoed timestamp (meaningful with ACK).
        tsecr: u32,
    },
    /// Any other kind, with its data (the bytes after kind and length).
    Unknown {
        /// The option kind.
        kind: u8,
        /// The option data, without kind and length bytes.
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// Parse one option from the front of `buffer`, returning the bytes after it and the
    /// option. Never panics.
    ///
    /// - [`Error::Truncated`]: `buffer` is empty;
    /// - [`Error::Malformed`]: the length byte is missing, below 2 or past the buffer, or a
    ///   known kind has the wrong length.
    pub fn parse(buffer: &'a [u8]) -> Result<(&'a [u8], Self)> {
        let (&kind, after_kind) = buffer.split_first().ok_or(Error::Truncated)?;
        match kind {
            field::OPT_END => return Ok((after_kind, Self::EndOfList)),
            field::OPT_NOP => return Ok((after_kind, Self::NoOperation)),
            _ => {}
        }
        let length = usize::from(*after_kind.first().ok_or(Error::Malformed)?);
        if length < 2 || length > buffer.len() {
            return Err(Error::Malformed);
        }
        let (option, rest) = buffer.split_at(length);
        let data = &option[2..];
        let option = match (kind, data) {
            (field::OPT_MSS, &[hi, lo]) => Self::MaxSegmentSize(u16::from_be_bytes([hi, lo])),
            (field::OPT_WS, &[shift]) => Self::WindowScale(shift),
            (field::OPT_SACKPERM, []) => Self::SackPermitted,
            (field::OPT_SACKRNG, blocks)
                if !blocks.is_empty() && blocks.len() <= 32 && blocks.len() % 8 == 0 =>
            {
                let mut ranges = [None; 4];
                for (range, block) in ranges.iter_mut().zip(blocks.chunks_exact(8)) {
                    let left = u32::from_be_bytes([block[0], block[1], block[2], block[3]]);
                    let right = u32::from_be_bytes([block[4], block[5], block[6], block[7]]);
                    *range = Some((left, right));
                }
                Self::SackRange(ranges)
            }
            (field::OPT_TSTAMP, &[a, b, c, d, e, f, g, h]) => Self::TimeStamp {
                tsval: u32::from_be_bytes([a, b, c, d]),
                tsecr: u32::from_be_bytes([e, f, g, h]),
            },
            (
                field::OPT_MSS
                | field::OPT_WS
                | field::OPT_SACKPERM
                | field::OPT_SACKRNG
                | field::OPT_TSTAMP,
                _,
            ) => return Err(Error::Malformed),
            (kind, data) => Self::Unknown { kind, data },
        };
        Ok((rest, option))
    }

    /// The number of bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::EndOfList | Self::NoOperation => 1,
            Self::MaxSegmentSize(_) => 4,
            Self::WindowScale(_) => 3,
            Self::SackPermitted => 2,
            Self::SackRange(ranges) => 2 + 8 * ranges.iter().flatten().count(),
            Self::TimeStamp { .. } => 10,
            Self::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Write the option at the front of `buffer` and return the bytes after it.
    ///
    /// `SackRange` writes its `Some` blocks in order, skipping `None`s. An `Unknown` option
    /// with more than 253 bytes of data cannot be expressed; its length byte saturates at 255.
    ///
    /// # Panics
    /// If `buffer` is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit<'b>(&self, buffer: &'b mut [u8]) -> &'b mut [u8] {
        let length = self.buffer_len();
        let (option, rest) = buffer.split_at_mut(length);
        // Kind and length bytes, returning the data bytes after them.
        let header = |option: &'b mut [u8], kind: u8| -> &'b mut [u8] {
            option[0] = kind;
            option[1] = u8::try_from(length).unwrap_or(u8::MAX);
            &mut option[2..]
        };
        match *self {
            Self::EndOfList => option[0] = field::OPT_END,
            Self::NoOperation => option[0] = field::OPT_NOP,
            Self::MaxSegmentSize(mss) => {
                header(option, field::OPT_MSS).copy_from_slice(&mss.to_be_bytes());
            }
            Self::WindowScale(shift) => header(option, field::OPT_WS)[0] = shift,
            Self::SackPermitted => {
                header(option, field::OPT_SACKPERM);
            }
            Self::SackRange(ranges) => {
                let data = header(option, field::OPT_SACKRNG);
                for (block, (left, right)) in data.chunks_exact_mut(8).zip(ranges.iter().flatten())
                {
                    block[..4].copy_from_slice(&left.to_be_bytes());
                    block[4..].copy_from_slice(&right.to_be_bytes());
                }
            }
            Self::TimeStamp { tsval, tsecr } => {
                let data = header(option, field::OPT_TSTAMP);
                data[..4].copy_from_slice(&tsval.to_be_bytes());
                data[4..].copy_from_slice(&tsecr.to_be_bytes());
            }
            Self::Unknown { kind, data } => header(option, kind).copy_from_slice(data),
        }
        rest
    }
}

impl fmt::Display for TcpOption<'_> {
    /// tcpdump's spelling: `eol`, `nop`, `mss 1460`, `wscale 7`, `sackOK`,
    /// `sack {1:2}{3:4}`, `TS val 1 ecr 2`, `unknown-30 len 2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EndOfList => f.write_str("eol"),
            Self::NoOperation => f.write_str("nop"),
            Self::MaxSegmentSize(mss) => write!(f, "mss {mss}"),
            Self::WindowScale(shift) => write!(f, "wscale {shift}"),
            Self::SackPermitted => f.write_str("sackOK"),
            Self::SackRange(ranges) => {
                f.write_str("sack ")?;
                for (left, right) in ranges.iter().flatten() {
                    write!(f, "{{{left}:{right}}}")?;
                }
                Ok(())
            }
            Self::TimeStamp { tsval, tsecr } => write!(f, "TS val {tsval} ecr {tsecr}"),
            Self::Unknown { kind, data } => write!(f, "unknown-{kind} len {}", data.len()),
        }
    }
}

/// Walk an option area in wire order.
pub fn options(buffer: &[u8]) -> OptionsIter<'_> {
    OptionsIter {
        rest: buffer,
        done: false,
    }
}

/// The iterator of [`options`]: yields each option in wire order and stops after
/// `EndOfList` (trailing bytes are padding) or after the first error.
#[derive(Debug, Clone)]
pub struct OptionsIter<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        match TcpOption::parse(self.rest) {
            Ok((rest, option)) => {
                self.rest = rest;
                self.done = option == TcpOption::EndOfList;
                Some(Ok(option))
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

impl core::iter::FusedIterator for OptionsIter<'_> {}

/// The values of a timestamps option (RFC 7323 section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpTimestamp {
    /// TSval: the sender's timestamp clock.
    pub tsval: u32,
    /// TSecr: the echoed timestamp.
    pub tsecr: u32,
}

/// The high-level representation of a valid TCP segment.
///
/// Reserved bits are not represented (receivers ignore them, RFC 9293 section 3.1); every
/// combination of the nine flags is (deciding what SYN+FIN means is the stack's job). The
/// `Default` value (ports 0) is a template for struct update, not a valid segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr<'a> {
    /// Source port (never 0 after `parse`).
    pub src_port: u16,
    /// Destination port (never 0 after `parse`).
    pub dst_port: u16,
    /// All nine control bits, ACK included.
    pub flags: Flags,
    /// Sequence number.
    pub seq_number: SeqNumber,
    /// Acknowledgment number, as on the wire; meaningful only when `flags` has ACK.
    pub ack_number: SeqNumber,
    /// The window field, unscaled.
    pub window_len: u16,
    /// Window scale option shift count, as received (may exceed 14: clamping is the stack's
    /// job, RFC 7323 section 2.3).
    pub window_scale: Option<u8>,
    /// Maximum segment size option.
    pub max_seg_size: Option<u16>,
    /// SACK-permitted option present.
    pub sack_permitted: bool,
    /// SACK option blocks `(left, right)`, from the front; `None` past the last block.
    pub sack_ranges: [Option<(u32, u32)>; 4],
    /// Timestamps option.
    pub timestamp: Option<TcpTimestamp>,
    /// The urgent pointer field, as on the wire.
    pub urgent_pointer: u16,
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parse a segment. Never panics. Checks, in this order:
    ///
    /// - errors of [`Packet::check_len`];
    /// - [`Error::Checksum`] if the checksum does not verify for `src_addr`/`dst_addr`;
    /// - [`Error::Malformed`] on port 0 or a malformed option.
    ///
    /// Options are read in wire order: NOPs and unknown kinds are skipped, options after EOL
    /// are ignored, and a repeated option overrides the earlier one. Nothing is clamped.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        src_addr: &IpAddr,
        dst_addr: &IpAddr,
    ) -> Result<Self> {
        packet.check_len()?;
        if !packet.verify_checksum(src_addr, dst_addr) {
            return Err(Error::Checksum);
        }
        // RFC 9293 section 3.1: port 0 is reserved; no valid segment carries it.
        if packet.src_port() == 0 || packet.dst_port() == 0 {
            return Err(Error::Malformed);
        }
        let mut repr = Self {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            flags: packet.flags(),
            seq_number: packet.seq_number(),
            ack_number: packet.ack_number(),
            window_len: packet.window_len(),
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            urgent_pointer: packet.urgent_at(),
            payload: packet.payload(),
        };
        for option in options(packet.options()) {
            match option.map_err(|_| Error::Malformed)? {
                TcpOption::EndOfList | TcpOption::NoOperation | TcpOption::Unknown { .. } => {}
                TcpOption::MaxSegmentSize(mss) => repr.max_seg_size = Some(mss),
                // RFC 7323 section 2.3 says a shift above 14 is used as 14 and logged; that
                // is the stack's decision, so the value is kept as received.
                TcpOption::WindowScale(shift) => repr.window_scale = Some(shift),
                TcpOption::SackPermitted => repr.sack_permitted = true,
                TcpOption::SackRange(ranges) => repr.sack_ranges = ranges,
                TcpOption::TimeStamp { tsval, tsecr } => {
                    repr.timestamp = Some(TcpTimestamp { tsval, tsecr });
                }
            }
        }
        Ok(repr)
    }

    /// The option layout: the option bytes and the number of SACK blocks that fit.
    fn options_layout(&self) -> (usize, usize) {
        let mut len = 0;
        if self.max_seg_size.is_some() {
            len += 4;
        }
        if self.timestamp.is_some() {
            // SACK-permitted + TS, or NOP NOP TS.
            len += 12;
        } else if self.sack_permitted {
            // NOP NOP SACK-permitted.
            len += 4;
        }
        if self.window_scale.is_some() {
            // NOP WS.
            len += 4;
        }
        // NOP NOP SACK: as many blocks as fit (RFC 2018 section 3: at most 3 beside TS).
        let wanted = self.sack_ranges.iter().flatten().count();
        let room = (MAX_OPTIONS_LEN - len).saturating_sub(4) / 8;
        let blocks = wanted.min(room);
        if blocks > 0 {
            len += 4 + 8 * blocks;
        }
        (len, blocks)
    }

    /// The header length this emits: 20 plus the options, a multiple of 4, never above 60.
    ///
    /// Options are laid out as Linux does: MSS; SACK-permitted + TS (or NOP NOP TS, or
    /// NOP NOP SACK-permitted); NOP WS; NOP NOP SACK. SACK blocks that do not fit in the
    /// 40 option bytes are left out (with every other option present, two fit).
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_layout().0
    }

    /// The length of the emitted segment: header plus payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// The sequence space the segment occupies: payload length plus one for SYN and one for
    /// FIN (RFC 9293 section 3.4).
    pub fn segment_len(&self) -> usize {
        self.payload.len()
            + usize::from(self.flags.contains(Flags::SYN))
            + usize::from(self.flags.contains(Flags::FIN))
    }

    /// Write the segment, options and payload included, and fill the checksum for
    /// `src_addr`/`dst_addr`. Reserved bits are written as zero.
    ///
    /// # Panics
    /// If the packet's buffer is not exactly [`buffer_len`](Self::buffer_len) bytes long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src_addr: &IpAddr,
        dst_addr: &IpAddr,
    ) {
        self.emit_header(packet);
        packet.payload_mut().copy_from_slice(self.payload);
        packet.fill_checksum(src_addr, dst_addr);
    }

    /// The header part of [`emit`](Self::emit): every field and option, with a zero checksum
    /// field, and nothing after the header. For a caller that appends the payload itself and
    /// computes the checksum over the whole segment once the bytes are in place.
    ///
    /// # Panics
    /// If `packet` is shorter than [`header_len`](Self::header_len).
    pub fn emit_header<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq_number);
        packet.set_ack_number(self.ack_number);
        packet.set_flags_word(0);
        // At most MAX_HEADER_LEN (60) by construction of options_layout.
        packet.set_header_len(self.header_len() as u8);
        packet.set_flags(self.flags);
        packet.set_window_len(self.window_len);
        packet.set_urgent_at(self.urgent_pointer);

        let (_, blocks) = self.options_layout();
        let mut options = packet.options_mut();
        if let Some(mss) = self.max_seg_size {
            options = TcpOption::MaxSegmentSize(mss).emit(options);
        }
        match (self.sack_permitted, self.timestamp) {
            (true, Some(TcpTimestamp { tsval, tsecr })) => {
                options = TcpOption::SackPermitted.emit(options);
                options = TcpOption::TimeStamp { tsval, tsecr }.emit(options);
            }
            (false, Some(TcpTimestamp { tsval, tsecr })) => {
                options = TcpOption::NoOperation.emit(options);
                options = TcpOption::NoOperation.emit(options);
                options = TcpOption::TimeStamp { tsval, tsecr }.emit(options);
            }
            (true, None) => {
                options = TcpOption::NoOperation.emit(options);
                options = TcpOption::NoOperation.emit(options);
                options = TcpOption::SackPermitted.emit(options);
            }
            (false, None) => {}
        }
        if let Some(shift) = self.window_scale {
            options = TcpOption::NoOperation.emit(options);
            options = TcpOption::WindowScale(shift).emit(options);
        }
        if blocks > 0 {
            let mut ranges = [None; 4];
            for (slot, range) in ranges.iter_mut().zip(self.sack_ranges.iter().flatten()) {
                *slot = Some(*range);
            }
            ranges[blocks..].fill(None);
            options = TcpOption::NoOperation.emit(options);
            options = TcpOption::NoOperation.emit(options);
            options = TcpOption::SackRange(ranges).emit(options);
        }
        debug_assert!(options.is_empty(), "options_layout and emit disagree");
        packet.set_checksum(0);
    }

    /// The options this emits, without the alignment NOPs, in emission order.
    fn options_summary(&self) -> impl Iterator<Item = TcpOption<'static>> {
        let (_, blocks) = self.options_layout();
        let mut ranges = [None; 4];
        for (slot, range) in ranges.iter_mut().zip(self.sack_ranges.iter().flatten()) {
            *slot = Some(*range);
        }
        ranges[blocks..].fill(None);
        [
            self.max_seg_size.map(TcpOption::MaxSegmentSize),
            self.sack_permitted.then_some(TcpOption::SackPermitted),
            self.timestamp
                .map(|TcpTimestamp { tsval, tsecr }| TcpOption::TimeStamp { tsval, tsecr }),
            self.window_scale.map(TcpOption::WindowScale),
            (blocks > 0).then_some(TcpOption::SackRange(ranges)),
        ]
        .into_iter()
        .flatten()
    }
}

impl fmt::Display for Repr<'_> {
    /// A one-line summary in the same form as [`Packet`]'s, listing the options without
    /// alignment NOPs: `40000 > 5000 [S] seq=1 win=64240 len=0 [mss 1460,wscale 7]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} [{}] seq={}",
            self.src_port, self.dst_port, self.flags, self.seq_number
        )?;
        if self.flags.contains(Flags::ACK) {
            write!(f, " ack={}", self.ack_number)?;
        }
        write!(f, " win={}", self.window_len)?;
        if self.flags.contains(Flags::URG) {
            write!(f, " urg={}", self.urgent_pointer)?;
        }
        write!(f, " len={}", self.payload.len())?;
        let mut options = self.options_summary().peekable();
        if options.peek().is_none() {
            return Ok(());
        }
        f.write_str(" [")?;
        for (i, option) in options.enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{option}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod test {
    use core::net::{Ipv4Addr, Ipv6Addr};

    use rstest::rstest;

    use super::*;

    const V4_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
    const V4_SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20));
    const V6_CLIENT: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    const V6_SERVER: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));

    /// A SYN as Linux sends it, 192.168.1.10:40000 > 192.168.1.20:5000, seq 3000000000,
    /// win 64240, options MSS 1460, SACK-permitted, TS val 1234567 ecr 0, NOP, WS 7.
    /// Checksum 0x326d verified with Wireshark.
    static SYN_BYTES: [u8; 40] = [
        0x9c, 0x40, 0x13, 0x88, 0xb2, 0xd0, 0x5e, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x32, 0x6d, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x12,
        0xd6, 0x87, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    fn syn_repr() -> Repr<'static> {
        Repr {
            src_port: 40000,
            dst_port: 5000,
            flags: Flags::SYN,
            seq_number: SeqNumber(3_000_000_000),
            ack_number: SeqNumber(0),
            window_len: 64240,
            window_scale: Some(7),
            max_seg_size: Some(1460),
            sack_permitted: true,
            sack_ranges: [None; 4],
            timestamp: Some(TcpTimestamp {
                tsval: 1_234_567,
                tsecr: 0,
            }),
            urgent_pointer: 0,
            payload: &[],
        }
    }

    /// Over IPv6, [2001:db8::1]:40000 > [2001:db8::2]:5000, PSH+ACK, seq 3000000001,
    /// ack 0x9a2b3c4d, win 502, NOP NOP TS val 1234600 ecr 987654, payload "hello".
    /// Checksum 0x5590 verified with Wireshark.
    static DATA_V6_BYTES: [u8; 37] = [
        0x9c, 0x40, 0x13, 0x88, 0xb2, 0xd0, 0x5e, 0x01, 0x9a, 0x2b, 0x3c, 0x4d, 0x80, 0x18, 0x01,
        0xf6, 0x55, 0x90, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x12, 0xd6, 0xa8, 0x00, 0x0f,
        0x12, 0x06, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
    ];

    fn data_v6_repr() -> Repr<'static> {
        Repr {
            src_port: 40000,
            dst_port: 5000,
            flags: Flags::PSH | Flags::ACK,
            seq_number: SeqNumber(3_000_000_001),
            ack_number: SeqNumber(0x9a2b_3c4d),
            window_len: 502,
            timestamp: Some(TcpTimestamp {
                tsval: 1_234_600,
                tsecr: 987_654,
            }),
            payload: b"hello",
            ..Repr::default()
        }
    }

    /// 192.168.1.20:5000 > 192.168.1.10:40000, ACK, seq 0x9a2b3c4d, ack 3000000006, win 501,
    /// NOP NOP TS val 1234700 ecr 987700, NOP NOP SACK {1000:2000}{3000:4000}.
    /// Checksum 0xf3a7 verified with Wireshark.
    static SACK_BYTES: [u8; 52] = [
        0x13, 0x88, 0x9c, 0x40, 0x9a, 0x2b, 0x3c, 0x4d, 0xb2, 0xd0, 0x5e, 0x06, 0xd0, 0x10, 0x01,
        0xf5, 0xf3, 0xa7, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x12, 0xd7, 0x0c, 0x00, 0x0f,
        0x12, 0x34, 0x01, 0x01, 0x05, 0x12, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x07, 0xd0, 0x00,
        0x00, 0x0b, 0xb8, 0x00, 0x00, 0x0f, 0xa0,
    ];

    fn sack_repr() -> Repr<'static> {
        Repr {
            src_port: 5000,
            dst_port: 40000,
            flags: Flags::ACK,
            seq_number: SeqNumber(0x9a2b_3c4d),
            ack_number: SeqNumber(3_000_000_006),
            window_len: 501,
            sack_ranges: [Some((1000, 2000)), Some((3000, 4000)), None, None],
            timestamp: Some(TcpTimestamp {
                tsval: 1_234_700,
                tsecr: 987_700,
            }),
            ..Repr::default()
        }
    }

    // ===== SeqNumber =====

    #[test]
    fn seq_number_wrapping_arithmetic() {
        assert_eq!(SeqNumber(u32::MAX) + 1, SeqNumber(0));
        assert_eq!(SeqNumber(u32::MAX - 1) + 10, SeqNumber(8));
        assert_eq!(SeqNumber(0) - 1, SeqNumber(u32::MAX));
        let mut seq = SeqNumber(u32::MAX);
        seq += 2;
        assert_eq!(seq, SeqNumber(1));
        seq -= 3;
        assert_eq!(seq, SeqNumber(u32::MAX - 1));
        // Signed distance across the wrap.
        assert_eq!(SeqNumber(5) - SeqNumber(u32::MAX - 4), 10);
        assert_eq!(SeqNumber(u32::MAX - 4) - SeqNumber(5), -10);
        assert_eq!(SeqNumber(1 << 31) - SeqNumber(0), i32::MIN);
        assert_eq!(SeqNumber(0) - SeqNumber(1 << 31), i32::MIN);
        assert_eq!(SeqNumber(7) - SeqNumber(7), 0);
    }

    #[test]
    fn seq_number_compare_near_2_pow_32() {
        let before = SeqNumber(u32::MAX - 10);
        let after = SeqNumber(10);
        assert!(before < after);
        assert!(after > before);
        assert!(before <= after);
        assert!(after >= before);
        assert!(SeqNumber(u32::MAX) < SeqNumber(0));
        assert_eq!(before.max(after), after);
        assert_eq!(after.max(before), after);
        assert_eq!(before.min(after), before);
        assert_eq!(after.min(before), before);
    }

    #[test]
    fn seq_number_compare_near_2_pow_31() {
        let zero = SeqNumber(0);
        // Just under half the circle ahead: greater.
        assert!(SeqNumber((1 << 31) - 1) > zero);
        assert!(zero < SeqNumber((1 << 31) - 1));
        // Just over half the circle ahead: that is behind.
        assert!(SeqNumber((1 << 31) + 1) < zero);
        assert!(zero > SeqNumber((1 << 31) + 1));
        // Exactly half the circle: incomparable both ways.
        let half = SeqNumber(1 << 31);
        assert_eq!(half.partial_cmp(&zero), None);
        assert_eq!(zero.partial_cmp(&half), None);
        for (a, b) in [(half, zero), (zero, half)] {
            assert!(!a.lt(&b) && !a.gt(&b) && !a.le(&b) && !a.ge(&b));
        }
        assert_eq!(half.max(zero), half);
        assert_eq!(zero.max(half), zero);
        assert_eq!(half.min(zero), half);
        // Equality.
        assert_eq!(zero.partial_cmp(&SeqNumber(0)), Some(Ordering::Equal));
    }

    #[test]
    fn seq_number_display() {
        assert_eq!(SeqNumber(3_000_000_000).to_string(), "3000000000");
        assert_eq!(format!("{:>5}", SeqNumber(42)), "   42");
    }

    // ===== Flags =====

    #[test]
    fn flags_bits() {
        let all = [
            (Flags::FIN, 0x001),
            (Flags::SYN, 0x002),
            (Flags::RST, 0x004),
            (Flags::PSH, 0x008),
            (Flags::ACK, 0x010),
            (Flags::URG, 0x020),
            (Flags::ECE, 0x040),
            (Flags::CWR, 0x080),
            (Flags::AE, 0x100),
        ];
        for (flag, bits) in all {
            assert_eq!(flag.bits(), bits);
        }
        assert_eq!(Flags::from_bits_truncate(0xffff), Flags::all());
        assert_eq!(Flags::all().bits(), 0x1ff);
        let mut flags = Flags::SYN | Flags::ACK;
        assert!(flags.contains(Flags::SYN) && flags.contains(Flags::SYN | Flags::ACK));
        assert!(!flags.contains(Flags::SYN | Flags::FIN));
        assert!(flags.intersects(Flags::SYN | Flags::FIN));
        assert!(!flags.intersects(Flags::FIN | Flags::RST));
        flags.insert(Flags::ECE);
        flags.remove(Flags::SYN);
        assert_eq!(flags, Flags::ACK | Flags::ECE);
        assert_eq!(flags & Flags::ACK, Flags::ACK);
        assert_eq!(!Flags::empty(), Flags::all());
        assert_eq!((!Flags::ACK).bits(), 0x1ef);
        flags.set(Flags::CWR, true);
        flags.set(Flags::ACK, false);
        assert_eq!(flags, Flags::ECE | Flags::CWR);
        flags |= Flags::AE;
        flags &= Flags::AE | Flags::CWR;
        assert_eq!(flags, Flags::AE | Flags::CWR);
        assert!(Flags::empty().is_empty() && Flags::default().is_empty());
        assert_eq!(format!("{:?}", Flags::SYN | Flags::ACK), "Flags(SA)");
    }

    #[rstest]
    #[case::syn_ack(Flags::SYN | Flags::ACK, "SA")]
    #[case::fin_ack(Flags::FIN | Flags::ACK, "FA")]
    #[case::rst_ack(Flags::RST | Flags::ACK, "RA")]
    #[case::psh_ack(Flags::PSH | Flags::ACK, "PA")]
    #[case::ecn_setup_syn(Flags::SYN | Flags::ECE | Flags::CWR, "SEC")]
    #[case::accecn_syn(Flags::SYN | Flags::ECE | Flags::CWR | Flags::AE, "SECN")]
    #[case::all(Flags::all(), "SFRPAUECN")]
    #[case::empty(Flags::empty(), "")]
    fn flags_display(#[case] flags: Flags, #[case] text: &str) {
        assert_eq!(flags.to_string(), text);
        assert_eq!(text.parse::<Flags>(), Ok(flags));
    }

    #[test]
    fn flags_from_str_any_order_round_trip() {
        assert_eq!("AS".parse::<Flags>(), Ok(Flags::SYN | Flags::ACK));
        assert_eq!("NCEUAPRSF".parse::<Flags>(), Ok(Flags::all()));
        for bits in 0..=0x1ff {
            let flags = Flags::from_bits_truncate(bits);
            assert_eq!(flags.to_string().parse::<Flags>(), Ok(flags));
        }
    }

    #[test]
    fn flags_from_str_errors() {
        let error = "SX".parse::<Flags>().unwrap_err();
        assert_eq!(error.character(), 'X');
        assert!(!error.is_duplicate());
        assert_eq!(
            error.to_string(),
            "unknown TCP flag letter 'X' (expected some of FSRPAUECN)"
        );
        // Letters are case-sensitive, and tcpdump's '.' is not accepted.
        assert_eq!("s".parse::<Flags>().unwrap_err().character(), 's');
        assert_eq!(".".parse::<Flags>().unwrap_err().character(), '.');
        let error = "SAS".parse::<Flags>().unwrap_err();
        assert_eq!(error.character(), 'S');
        assert!(error.is_duplicate());
        assert_eq!(error.to_string(), "duplicate TCP flag letter 'S'");
    }

    // ===== Packet =====

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&SYN_BYTES[..]).unwrap();
        assert_eq!(packet.src_port(), 40000);
        assert_eq!(packet.dst_port(), 5000);
        assert_eq!(packet.seq_number(), SeqNumber(3_000_000_000));
        assert_eq!(packet.ack_number(), SeqNumber(0));
        assert_eq!(packet.data_offset(), 10);
        assert_eq!(packet.header_len(), 40);
        assert_eq!(packet.reserved(), 0);
        assert_eq!(packet.flags(), Flags::SYN);
        assert!(packet.syn());
        assert!(!packet.fin() && !packet.rst() && !packet.psh() && !packet.ack());
        assert!(!packet.urg() && !packet.ece() && !packet.cwr() && !packet.ae());
        assert_eq!(packet.window_len(), 64240);
        assert_eq!(packet.checksum(), 0x326d);
        assert_eq!(packet.urgent_at(), 0);
        assert_eq!(packet.options(), &SYN_BYTES[20..]);
        assert!(packet.payload().is_empty());
        assert_eq!(packet.segment_len(), 1);
        assert!(packet.verify_checksum(&V4_CLIENT, &V4_SERVER));
        // The checksum covers the addresses (not their order: the sum commutes).
        assert!(packet.verify_checksum(&V4_SERVER, &V4_CLIENT));
        let other = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 21));
        assert!(!packet.verify_checksum(&V4_CLIENT, &other));
        assert!(!packet.verify_checksum(&V6_CLIENT, &V6_SERVER));
    }

    #[test]
    fn deconstruct_ipv6_data() {
        let packet = Packet::new_checked(&DATA_V6_BYTES[..]).unwrap();
        assert_eq!(packet.data_offset(), 8);
        assert_eq!(packet.flags(), Flags::PSH | Flags::ACK);
        assert!(packet.psh() && packet.ack());
        assert_eq!(packet.ack_number(), SeqNumber(0x9a2b_3c4d));
        assert_eq!(packet.payload(), b"hello");
        assert_eq!(packet.segment_len(), 5);
        assert!(packet.verify_checksum(&V6_CLIENT, &V6_SERVER));
    }

    #[test]
    fn construct() {
        let mut bytes = vec![0xa5; SYN_BYTES.len()];
        let mut packet = Packet::new_unchecked(&mut bytes);
        packet.set_src_port(40000);
        packet.set_dst_port(5000);
        packet.set_seq_number(SeqNumber(3_000_000_000));
        packet.set_ack_number(SeqNumber(0));
        packet.set_header_len(40);
        packet.set_reserved(0);
        packet.set_flags(Flags::empty());
        packet.set_syn(true);
        packet.set_window_len(64240);
        packet.set_urgent_at(0);
        packet.options_mut().copy_from_slice(&[
            0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x12, 0xd6, 0x87, 0x00, 0x00,
            0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
        ]);
        assert!(packet.payload_mut().is_empty());
        packet.fill_checksum(&V4_CLIENT, &V4_SERVER);
        assert_eq!(packet.into_inner().as_slice(), &SYN_BYTES[..]);
    }

    #[test]
    fn flag_and_reserved_bit_positions() {
        let mut packet = Packet::new_unchecked(SYN_BYTES.to_vec());
        // AE is the lowest bit of byte 12; the data offset is untouched.
        packet.set_ae(true);
        assert_eq!(packet.as_ref()[12..14], [0xa1, 0x02]);
        packet.set_cwr(true);
        packet.set_ece(true);
        assert_eq!(packet.as_ref()[12..14], [0xa1, 0xc2]);
        assert_eq!(
            packet.flags(),
            Flags::SYN | Flags::ECE | Flags::CWR | Flags::AE
        );
        // The reserved bits sit between the data offset and AE.
        packet.set_reserved(0b111);
        assert_eq!(packet.as_ref()[12], 0xaf);
        assert_eq!(packet.reserved(), 0b111);
        assert!(packet.ae());
        packet.set_reserved(0b010);
        assert_eq!(packet.as_ref()[12], 0xa5);
        // set_flags keeps the data offset and reserved bits.
        packet.set_flags(Flags::FIN | Flags::URG);
        assert_eq!(packet.as_ref()[12..14], [0xa4, 0x21]);
        assert_eq!(packet.data_offset(), 10);
        assert_eq!(packet.reserved(), 0b010);
        // Each single-flag setter sets exactly its own bit.
        type Setter = fn(&mut Packet<Vec<u8>>, bool);
        let setters: [(Setter, Flags); 9] = [
            (Packet::set_fin, Flags::FIN),
            (Packet::set_syn, Flags::SYN),
            (Packet::set_rst, Flags::RST),
            (Packet::set_psh, Flags::PSH),
            (Packet::set_ack, Flags::ACK),
            (Packet::set_urg, Flags::URG),
            (Packet::set_ece, Flags::ECE),
            (Packet::set_cwr, Flags::CWR),
            (Packet::set_ae, Flags::AE),
        ];
        for (setter, flag) in setters {
            packet.set_flags(Flags::empty());
            setter(&mut packet, true);
            assert_eq!(packet.flags(), flag);
            setter(&mut packet, false);
            assert_eq!(packet.flags(), Flags::empty());
        }
        // The data offset setter writes four bits only.
        packet.set_data_offset(0xff);
        assert_eq!(packet.data_offset(), 15);
        assert_eq!(packet.reserved(), 0b010);
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&SYN_BYTES[..len]),
                Err(Error::Truncated),
                "length {len}"
            );
            let packet = Packet::new_unchecked(&SYN_BYTES[..len]);
            assert_eq!(
                Repr::parse(&packet, &V4_CLIENT, &V4_SERVER),
                Err(Error::Truncated)
            );
            assert_eq!(packet.to_string(), format!("TCP truncated ({len} bytes)"));
        }
        // Cut into the options: the data offset now points past the buffer.
        for len in HEADER_LEN..SYN_BYTES.len() {
            assert_eq!(
                Packet::new_checked(&SYN_BYTES[..len]),
                Err(Error::Malformed),
                "length {len}"
            );
        }
    }

    #[test]
    fn impossible_len() {
        let mut bytes = SYN_BYTES;
        for offset in 0..5 {
            Packet::new_unchecked(&mut bytes[..]).set_data_offset(offset);
            assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Malformed));
            let packet = Packet::new_unchecked(&bytes[..]);
            assert_eq!(
                Repr::parse(&packet, &V4_CLIENT, &V4_SERVER),
                Err(Error::Malformed)
            );
            assert!(packet.to_string().contains(&format!(" bad-off={offset} ")));
        }
        for offset in 11..16 {
            Packet::new_unchecked(&mut bytes[..]).set_data_offset(offset);
            assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Malformed));
        }
        // The largest header fits a 60-byte segment.
        let mut bytes = [0u8; 60];
        Packet::new_unchecked(&mut bytes[..]).set_header_len(60);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.options().len(), MAX_OPTIONS_LEN);
        assert!(packet.payload().is_empty());
    }

    #[test]
    fn setters_can_build_what_new_checked_rejects() {
        // The tester needs segments with a lying data offset and a checksum that still
        // verifies over the bytes actually sent.
        let mut bytes = SYN_BYTES;
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_data_offset(3);
        packet.fill_checksum(&V4_CLIENT, &V4_SERVER);
        assert!(packet.verify_checksum(&V4_CLIENT, &V4_SERVER));
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Malformed));
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_data_offset(15);
        packet.fill_checksum(&V4_CLIENT, &V4_SERVER);
        assert_eq!(packet.segment_len(), 1);
        assert_eq!(Packet::new_checked(&bytes[..]), Err(Error::Malformed));
    }

    #[rstest]
    #[case::ipv4_syn(&SYN_BYTES, V4_CLIENT, V4_SERVER, syn_repr())]
    #[case::ipv6(&DATA_V6_BYTES, V6_CLIENT, V6_SERVER, data_v6_repr())]
    #[case::ipv4_sack(&SACK_BYTES, V4_SERVER, V4_CLIENT, sack_repr())]
    fn parse(
        #[case] bytes: &[u8],
        #[case] src: IpAddr,
        #[case] dst: IpAddr,
        #[case] repr: Repr<'static>,
    ) {
        let packet = Packet::new_checked(bytes).unwrap();
        assert_eq!(Repr::parse(&packet, &src, &dst), Ok(repr));
    }

    #[rstest]
    #[case::ipv4_syn(&SYN_BYTES, V4_CLIENT, V4_SERVER, syn_repr())]
    #[case::ipv6(&DATA_V6_BYTES, V6_CLIENT, V6_SERVER, data_v6_repr())]
    #[case::ipv4_sack(&SACK_BYTES, V4_SERVER, V4_CLIENT, sack_repr())]
    fn emit(
        #[case] bytes: &[u8],
        #[case] src: IpAddr,
        #[case] dst: IpAddr,
        #[case] repr: Repr<'static>,
    ) {
        assert_eq!(repr.buffer_len(), bytes.len());
        let mut buf = vec![0xa5; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), &src, &dst);
        assert_eq!(&buf[..], bytes);
    }

    #[rstest]
    #[case::ipv4(&SYN_BYTES, V4_CLIENT, V4_SERVER)]
    #[case::ipv6(&DATA_V6_BYTES, V6_CLIENT, V6_SERVER)]
    fn malformed_checksum(#[case] bytes: &[u8], #[case] src: IpAddr, #[case] dst: IpAddr) {
        let mut bytes = bytes.to_vec();
        let good = Packet::new_unchecked(&bytes[..]).checksum();
        Packet::new_unchecked(&mut bytes[..]).set_checksum(good ^ 0x0100);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert!(!packet.verify_checksum(&src, &dst));
        assert_eq!(Repr::parse(&packet, &src, &dst), Err(Error::Checksum));
        // The wrong family's pseudo-header does not verify either.
        let (other_src, other_dst) = match src {
            IpAddr::V4(_) => (V6_CLIENT, V6_SERVER),
            IpAddr::V6(_) => (V4_CLIENT, V4_SERVER),
        };
        Packet::new_unchecked(&mut bytes[..]).set_checksum(good);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            Repr::parse(&packet, &other_src, &other_dst),
            Err(Error::Checksum)
        );
    }

    #[rstest]
    #[case::src_port(0, 5000)]
    #[case::dst_port(40000, 0)]
    fn malformed_port(#[case] src_port: u16, #[case] dst_port: u16) {
        let mut bytes = SYN_BYTES;
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_src_port(src_port);
        packet.set_dst_port(dst_port);
        packet.fill_checksum(&V4_CLIENT, &V4_SERVER);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            Repr::parse(&packet, &V4_CLIENT, &V4_SERVER),
            Err(Error::Malformed)
        );
    }

    /// A 40-byte SYN header with the given 20 option bytes, checksum filled.
    fn syn_with_options(options: [u8; 20]) -> [u8; 40] {
        let mut bytes = SYN_BYTES;
        bytes[20..].copy_from_slice(&options);
        Packet::new_unchecked(&mut bytes[..]).fill_checksum(&V4_CLIENT, &V4_SERVER);
        bytes
    }

    #[rstest]
    #[case::length_zero([0x1e, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
    #[case::length_one([0x1e, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
    #[case::length_past_end([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x1e, 0x03])]
    #[case::missing_length([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x1e])]
    #[case::mss_length_3([2, 3, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
    #[case::ws_length_4([3, 4, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
    #[case::sack_perm_length_3([4, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
    #[case::sack_no_blocks([5, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
    #[case::sack_odd_block([5, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
    #[case::ts_length_9([8, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
    fn malformed_options(#[case] options: [u8; 20]) {
        let bytes = syn_with_options(options);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            Repr::parse(&packet, &V4_CLIENT, &V4_SERVER),
            Err(Error::Malformed)
        );
        assert!(packet.to_string().contains("malformed"));
    }

    #[test]
    fn options_after_eol_are_ignored() {
        // MSS, EOL, then garbage that would be malformed.
        let bytes = syn_with_options([
            2, 4, 0x05, 0xb4, 0, 0x1e, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff,
        ]);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let repr = Repr::parse(&packet, &V4_CLIENT, &V4_SERVER).unwrap();
        assert_eq!(repr.max_seg_size, Some(1460));
        assert_eq!(repr.window_scale, None);
        let parsed: Vec<_> = options(packet.options()).collect();
        assert_eq!(
            parsed,
            [
                Ok(TcpOption::MaxSegmentSize(1460)),
                Ok(TcpOption::EndOfList)
            ]
        );
    }

    #[test]
    fn unknown_options_are_skipped() {
        // TFO cookie request (kind 34, length 2), an experimental option (kind 254, length 6),
        // NOPs, then a window scale above 14, which is kept as received.
        let bytes = syn_with_options([
            34, 2, 254, 6, 0xf9, 0x89, 0xaa, 0xbb, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 15,
        ]);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let repr = Repr::parse(&packet, &V4_CLIENT, &V4_SERVER).unwrap();
        assert_eq!(repr.window_scale, Some(15));
        assert_eq!(repr.max_seg_size, None);
        assert!(!repr.sack_permitted);
        let mut iter = options(packet.options());
        assert_eq!(
            iter.next(),
            Some(Ok(TcpOption::Unknown {
                kind: 34,
                data: &[]
            }))
        );
        assert_eq!(
            iter.next(),
            Some(Ok(TcpOption::Unknown {
                kind: 254,
                data: &[0xf9, 0x89, 0xaa, 0xbb]
            }))
        );
        assert_eq!(iter.filter(|o| *o == Ok(TcpOption::NoOperation)).count(), 9);
    }

    #[test]
    fn repeated_option_overrides() {
        let bytes = syn_with_options([
            2, 4, 0x05, 0xb4, 2, 4, 0x05, 0xdc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let repr = Repr::parse(&packet, &V4_CLIENT, &V4_SERVER).unwrap();
        assert_eq!(repr.max_seg_size, Some(1500));
    }

    #[test]
    fn options_iter_stops_after_first_error() {
        let buf = [1, 2, 4, 0x05, 0xb4, 3, 9, 1, 1, 1];
        let parsed: Vec<_> = options(&buf).collect();
        assert_eq!(
            parsed,
            [
                Ok(TcpOption::NoOperation),
                Ok(TcpOption::MaxSegmentSize(1460)),
                Err(Error::Malformed)
            ]
        );
        assert_eq!(options(&[]).count(), 0);
    }

    #[test]
    fn option_parse_errors() {
        assert_eq!(TcpOption::parse(&[]), Err(Error::Truncated));
        assert_eq!(TcpOption::parse(&[2]), Err(Error::Malformed));
        assert_eq!(TcpOption::parse(&[2, 4, 5]), Err(Error::Malformed));
        assert_eq!(TcpOption::parse(&[30, 1]), Err(Error::Malformed));
        assert_eq!(TcpOption::parse(&[30, 0]), Err(Error::Malformed));
        // Five SACK blocks do not fit the representation (nor any TCP header).
        let mut five = vec![5, 42];
        five.resize(42, 0);
        assert_eq!(TcpOption::parse(&five), Err(Error::Malformed));
        // The rest is returned.
        assert_eq!(
            TcpOption::parse(&[3, 3, 7, 0xee]),
            Ok((&[0xee][..], TcpOption::WindowScale(7)))
        );
        assert_eq!(
            TcpOption::parse(&[0, 0xee]),
            Ok((&[0xee][..], TcpOption::EndOfList))
        );
    }

    #[rstest]
    #[case::eol(TcpOption::EndOfList, &[0])]
    #[case::nop(TcpOption::NoOperation, &[1])]
    #[case::mss(TcpOption::MaxSegmentSize(1460), &[2, 4, 0x05, 0xb4])]
    #[case::window_scale(TcpOption::WindowScale(14), &[3, 3, 14])]
    #[case::sack_permitted(TcpOption::SackPermitted, &[4, 2])]
    #[case::sack_one(
        TcpOption::SackRange([Some((1, 2)), None, None, None]),
        &[5, 10, 0, 0, 0, 1, 0, 0, 0, 2]
    )]
    #[case::sack_four(
        TcpOption::SackRange([
            Some((1, 2)),
            Some((3, 4)),
            Some((0xffff_fff0, 0x10)),
            Some((7, 8)),
        ]),
        &[
            5, 34, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xf0, 0, 0,
            0, 0x10, 0, 0, 0, 7, 0, 0, 0, 8,
        ]
    )]
    #[case::timestamp(
        TcpOption::TimeStamp { tsval: 0x0102_0304, tsecr: 0xa0b0_c0d0 },
        &[8, 10, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0]
    )]
    #[case::unknown(TcpOption::Unknown { kind: 30, data: &[0x20, 0x01] }, &[30, 4, 0x20, 0x01])]
    #[case::unknown_empty(TcpOption::Unknown { kind: 34, data: &[] }, &[34, 2])]
    fn option_round_trip(#[case] option: TcpOption<'static>, #[case] bytes: &[u8]) {
        assert_eq!(option.buffer_len(), bytes.len());
        let mut buf = vec![0xa5; bytes.len() + 1];
        let rest = option.emit(&mut buf);
        assert_eq!(rest, &[0xa5]);
        assert_eq!(&buf[..bytes.len()], bytes);
        assert_eq!(TcpOption::parse(bytes), Ok((&[][..], option)));
    }

    #[test]
    fn option_display() {
        let cases = [
            (TcpOption::EndOfList, "eol"),
            (TcpOption::NoOperation, "nop"),
            (TcpOption::MaxSegmentSize(1460), "mss 1460"),
            (TcpOption::WindowScale(7), "wscale 7"),
            (TcpOption::SackPermitted, "sackOK"),
            (
                TcpOption::SackRange([Some((1, 2)), Some((3, 4)), None, None]),
                "sack {1:2}{3:4}",
            ),
            (
                TcpOption::TimeStamp { tsval: 1, tsecr: 2 },
                "TS val 1 ecr 2",
            ),
            (
                TcpOption::Unknown {
                    kind: 30,
                    data: &[1, 2],
                },
                "unknown-30 len 2",
            ),
        ];
        for (option, text) in cases {
            assert_eq!(option.to_string(), text);
        }
    }

    // ===== Repr =====

    #[test]
    fn repr_layout_without_timestamps() {
        // MSS, NOP NOP SACK-permitted, NOP WS: Linux's SYN with timestamps off.
        let repr = Repr {
            timestamp: None,
            ..syn_repr()
        };
        assert_eq!(repr.header_len(), 32);
        let mut buf = vec![0xa5; repr.buffer_len()];
        repr.emit(
            &mut Packet::new_unchecked(&mut buf[..]),
            &V4_CLIENT,
            &V4_SERVER,
        );
        assert_eq!(&buf[20..], &[2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]);
        let packet = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Repr::parse(&packet, &V4_CLIENT, &V4_SERVER), Ok(repr));
    }

    #[test]
    fn repr_header_len_never_above_60() {
        let full = Repr {
            src_port: 1,
            dst_port: 2,
            window_scale: Some(14),
            max_seg_size: Some(536),
            sack_permitted: true,
            sack_ranges: [Some((1, 2)), Some((3, 4)), Some((5, 6)), Some((7, 8))],
            timestamp: Some(TcpTimestamp { tsval: 1, tsecr: 2 }),
            ..Repr::default()
        };
        // 4 + 12 + 4 + (4 + 2 * 8) = 40 option bytes: two blocks fit.
        assert_eq!(full.header_len(), MAX_HEADER_LEN);
        let cases = [
            (full, 2),
            (
                Repr {
                    max_seg_size: None,
                    window_scale: None,
                    sack_permitted: false,
                    ..full
                },
                3,
            ),
            (
                Repr {
                    timestamp: None,
                    ..full
                },
                3,
            ),
            (
                Repr {
                    timestamp: None,
                    max_seg_size: None,
                    window_scale: None,
                    sack_permitted: false,
                    ..full
                },
                4,
            ),
        ];
        for (repr, blocks) in cases {
            assert!(repr.header_len() <= MAX_HEADER_LEN);
            assert_eq!(repr.header_len() % 4, 0);
            let mut buf = vec![0xa5; repr.buffer_len()];
            repr.emit(
                &mut Packet::new_unchecked(&mut buf[..]),
                &V6_CLIENT,
                &V6_SERVER,
            );
            let packet = Packet::new_checked(&buf[..]).unwrap();
            let parsed = Repr::parse(&packet, &V6_CLIENT, &V6_SERVER).unwrap();
            let sent: Vec<_> = parsed.sack_ranges.iter().flatten().copied().collect();
            let expected: Vec<_> = repr
                .sack_ranges
                .iter()
                .flatten()
                .copied()
                .take(blocks)
                .collect();
            assert_eq!(sent, expected);
            assert_eq!(
                Repr {
                    sack_ranges: repr.sack_ranges,
                    ..parsed
                },
                repr
            );
        }
    }

    #[test]
    fn repr_sack_ranges_are_packed() {
        let repr = Repr {
            src_port: 1,
            dst_port: 2,
            sack_ranges: [None, Some((10, 20)), None, Some((30, 40))],
            ..Repr::default()
        };
        let mut buf = vec![0xa5; repr.buffer_len()];
        repr.emit(
            &mut Packet::new_unchecked(&mut buf[..]),
            &V4_CLIENT,
            &V4_SERVER,
        );
        let packet = Packet::new_checked(&buf[..]).unwrap();
        let parsed = Repr::parse(&packet, &V4_CLIENT, &V4_SERVER).unwrap();
        assert_eq!(
            parsed.sack_ranges,
            [Some((10, 20)), Some((30, 40)), None, None]
        );
    }

    #[test]
    fn repr_round_trips_every_flag_and_field() {
        for bits in 0..=0x1ff {
            let repr = Repr {
                src_port: 65535,
                dst_port: 1,
                flags: Flags::from_bits_truncate(bits),
                seq_number: SeqNumber(u32::MAX),
                ack_number: SeqNumber(0x8000_0000),
                window_len: 65535,
                urgent_pointer: 0xbeef,
                payload: b"x",
                ..Repr::default()
            };
            let mut buf = vec![0xa5; repr.buffer_len()];
            repr.emit(
                &mut Packet::new_unchecked(&mut buf[..]),
                &V4_CLIENT,
                &V4_SERVER,
            );
            let packet = Packet::new_checked(&buf[..]).unwrap();
            assert_eq!(packet.reserved(), 0);
            assert_eq!(Repr::parse(&packet, &V4_CLIENT, &V4_SERVER), Ok(repr));
        }
    }

    #[test]
    fn repr_ignores_reserved_bits() {
        let mut bytes = SYN_BYTES;
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_reserved(0b101);
        packet.fill_checksum(&V4_CLIENT, &V4_SERVER);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(Repr::parse(&packet, &V4_CLIENT, &V4_SERVER), Ok(syn_repr()));
        assert!(packet.to_string().contains(" res=0x5 "));
    }

    #[test]
    fn segment_len() {
        assert_eq!(syn_repr().segment_len(), 1);
        assert_eq!(data_v6_repr().segment_len(), 5);
        let fin = Repr {
            flags: Flags::SYN | Flags::FIN | Flags::ACK,
            ..data_v6_repr()
        };
        assert_eq!(fin.segment_len(), 7);
        assert_eq!(sack_repr().segment_len(), 0);
    }

    #[test]
    fn display() {
        let packet = Packet::new_checked(&SYN_BYTES[..]).unwrap();
        assert_eq!(
            packet.to_string(),
            "40000 > 5000 [S] seq=3000000000 win=64240 len=0 \
             [mss 1460,sackOK,TS val 1234567 ecr 0,nop,wscale 7]"
        );
        assert_eq!(
            syn_repr().to_string(),
            "40000 > 5000 [S] seq=3000000000 win=64240 len=0 \
             [mss 1460,sackOK,TS val 1234567 ecr 0,wscale 7]"
        );
        let packet = Packet::new_checked(&DATA_V6_BYTES[..]).unwrap();
        assert_eq!(
            packet.to_string(),
            "40000 > 5000 [PA] seq=3000000001 ack=2586524749 win=502 len=5 \
             [nop,nop,TS val 1234600 ecr 987654]"
        );
        let packet = Packet::new_checked(&SACK_BYTES[..]).unwrap();
        assert_eq!(
            packet.to_string(),
            "5000 > 40000 [A] seq=2586524749 ack=3000000006 win=501 len=0 \
             [nop,nop,TS val 1234700 ecr 987700,nop,nop,sack {1000:2000}{3000:4000}]"
        );
        let bare = Repr {
            src_port: 1,
            dst_port: 2,
            flags: Flags::RST | Flags::ACK | Flags::URG,
            ack_number: SeqNumber(9),
            urgent_pointer: 3,
            ..Repr::default()
        };
        assert_eq!(
            bare.to_string(),
            "1 > 2 [RAU] seq=0 ack=9 win=0 urg=3 len=0"
        );
    }
}
