//! The Internet checksum on the stack's hot path: the same sums as [`wire::checksum`], computed
//! over native-endian 64-bit words.
//!
//! The one's-complement sum does not depend on byte order (RFC 1071 section 2(B)): summing the
//! words byte-swapped gives the byte-swapped sum. So the data is summed as native-endian 64-bit
//! words with end-around carries, folded to 16 bits and swapped back on little-endian machines.
//! This is faster than 16-bit big-endian words and gives exactly [`wire::checksum::data`]'s
//! result (a test checks that).
//!
//! [`wire::checksum`]: crate::wire::checksum
//! [`wire::checksum::data`]: crate::wire::checksum::data

use core::net::IpAddr;

use crate::wire::IpProtocol;
use crate::wire::checksum::{combine, pseudo_header};

/// A running one's-complement sum over native-endian 64-bit words, in four independent
/// accumulators (the add-with-carry chains run in parallel) with end-around carry: a carry out
/// of bit 63 is added back at bit 0, which keeps each sum exact modulo 2^64 - 1, a multiple of
/// 2^16 - 1. (After an overflow the wrapped sum is at most 2^64 - 2, so adding the carry back
/// never overflows again.)
#[derive(Default)]
struct Sum {
    acc: [u64; 4],
}

/// `acc + x` with end-around carry.
#[inline(always)]
fn add_eac(acc: u64, x: u64) -> u64 {
    let (sum, carry) = acc.overflowing_add(x);
    sum + u64::from(carry)
}

impl Sum {
    #[inline(always)]
    fn add(&mut self, block: &[u8; 32]) {
        for (acc, word) in self.acc.iter_mut().zip(block.chunks_exact(8)) {
            *acc = add_eac(*acc, u64::from_ne_bytes(first_8(word)));
        }
    }

    /// The tail of the data, zero-padded: in network order a lone last byte is the high byte
    /// of its 16-bit word, which is where it lands in a zero-padded buffer too.
    fn add_tail(&mut self, rest: &[u8]) {
        let mut tail = [0u8; 32];
        tail[..rest.len()].copy_from_slice(rest);
        self.add(&tail);
    }

    /// Fold to 16 bits, in network byte order (the value `wire::checksum::data` gives).
    fn finish(self) -> u16 {
        let [a, b, c, d] = self.acc;
        let mut acc = add_eac(add_eac(a, b), add_eac(c, d));
        acc = (acc & 0xffff_ffff) + (acc >> 32);
        acc = (acc & 0xffff_ffff) + (acc >> 32);
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        let folded = acc as u16;
        if cfg!(target_endian = "little") {
            folded.swap_bytes()
        } else {
            folded
        }
    }
}

/// The 16-bit one's-complement sum of `bytes` (not complemented), an odd last byte padded with
/// zero on the right: the value of [`wire::checksum::data`](crate::wire::checksum::data).
pub(crate) fn data(bytes: &[u8]) -> u16 {
    let mut sum = Sum::default();
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        let mut x = [0u8; 32];
        x.copy_from_slice(block);
        sum.add(&x);
    }
    sum.add_tail(blocks.remainder());
    sum.finish()
}

fn first_8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&bytes[..8]);
    out
}

fn pseudo(src: &IpAddr, dst: &IpAddr, segment: &[u8]) -> u16 {
    let length = u32::try_from(segment.len()).unwrap_or(u32::MAX);
    pseudo_header(src, dst, IpProtocol::Tcp, length)
}

/// Whether a whole TCP segment's checksum verifies (MUST-3).
pub(crate) fn verify(src: &IpAddr, dst: &IpAddr, segment: &[u8]) -> bool {
    combine(&[pseudo(src, dst, segment), data(segment)]) == !0
}

#[cfg(test)]
mod test {
    use core::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::testing::XorShift;
    use crate::wire::{TcpPacket, checksum};

    /// Compute and write the checksum of a whole TCP segment (MUST-2).
    fn fill(src: &IpAddr, dst: &IpAddr, segment: &mut [u8]) {
        let mut packet = TcpPacket::new_unchecked(&mut *segment);
        packet.set_checksum(0);
        let sum = combine(&[pseudo(src, dst, segment), data(segment)]);
        TcpPacket::new_unchecked(segment).set_checksum(!sum);
    }

    #[test]
    fn same_sums_as_the_codec() {
        let mut rng = XorShift::new(5);
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            assert_eq!(data(&bytes), checksum::data(&bytes), "length {len}");
        }
        let big = vec![0xff; 70_000];
        assert_eq!(data(&big), checksum::data(&big));
    }

    #[test]
    fn fill_then_verify() {
        let addrs = [
            (
                IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)),
                IpAddr::V4(Ipv4Addr::new(5, 6, 7, 8)),
            ),
            (
                IpAddr::V6(Ipv6Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            ),
        ];
        for (src, dst) in addrs {
            let mut segment = vec![0u8; 20 + 33];
            segment[12] = 5 << 4;
            segment[20..].fill(0x5a);
            fill(&src, &dst, &mut segment);
            assert!(verify(&src, &dst, &segment));
            assert!(TcpPacket::new_unchecked(&segment[..]).verify_checksum(&src, &dst));
            segment[30] ^= 1;
            assert!(!verify(&src, &dst, &segment));
        }
    }
}
