//! Initial sequence numbers (RFC 6528, RFC 9293 section 3.4.1) and the keyed hash behind them.
//!
//! `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)` where `M` is a clock that
//! ticks every 4 microseconds (MUST-8) and `F` is a keyed pseudorandom function whose key never
//! leaves the host (MUST-9, SHLD-1). `F` is SipHash-2-4 (Aumasson and Bernstein, 2012),
//! written here by hand: the crate depends on nothing but `std`.
//!
//! The same keyed hash gives each connection its timestamp offset (RFC 7323 section 5.4, as
//! Linux does), the starting point of the ephemeral port search (RFC 6056 algorithm 3) and the
//! hash of the connection table (so a peer cannot flood one bucket: the key is secret).

use core::hash::{BuildHasher, Hasher};
use core::net::{IpAddr, SocketAddr};

use crate::time::Instant;
use crate::wire::TcpSeqNumber;

/// SipHash-2-4 of `data` under the 128-bit `key` (the key's bytes are read little-endian as
/// `k0 || k1`, as in the reference implementation).
pub(crate) fn siphash24(key: &[u8; 16], data: &[u8]) -> u64 {
    let k0 = u64::from_le_bytes(first_8(&key[..8]));
    let k1 = u64::from_le_bytes(first_8(&key[8..]));
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let m = u64::from_le_bytes(first_8(chunk));
        v[3] ^= m;
        sip_round(&mut v);
        sip_round(&mut v);
        v[0] ^= m;
    }
    // The last block: the remaining bytes, and the message length mod 256 in the top byte.
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    last[7] = data.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    sip_round(&mut v);
    sip_round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// The first eight bytes of `bytes` (zero-padded): callers pass exactly eight.
fn first_8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0; 8];
    let n = bytes.len().min(8);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}

fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// The 4-tuple serialised for hashing: family tag, local address and port, remote address and
/// port, with IPv4 addresses written in their IPv4-mapped IPv6 form.
pub(crate) fn tuple_bytes(local: SocketAddr, remote: SocketAddr) -> [u8; 37] {
    let mut out = [0u8; 37];
    out[0] = u8::from(local.is_ipv6());
    out[1..17].copy_from_slice(&v6_octets(local.ip()));
    out[17..19].copy_from_slice(&local.port().to_be_bytes());
    out[19..35].copy_from_slice(&v6_octets(remote.ip()));
    out[35..37].copy_from_slice(&remote.port().to_be_bytes());
    out
}

fn v6_octets(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The RFC 6528 generator: a secret key and the 4-microsecond clock.
#[derive(Debug, Clone)]
pub(crate) struct IsnGenerator {
    secret: [u8; 16],
}

impl IsnGenerator {
    pub(crate) const fn new(secret: [u8; 16]) -> Self {
        Self { secret }
    }

    /// The keyed hash of the 4-tuple: the low half is `F` of RFC 6528, the high half the
    /// connection's timestamp offset.
    fn hash(&self, local: SocketAddr, remote: SocketAddr) -> u64 {
        siphash24(&self.secret, &tuple_bytes(local, remote))
    }

    /// The ISN for a new connection on this 4-tuple at `now` (RFC 6528 section 3):
    /// `M + F(4-tuple, secret)` with `M` a 4 microsecond timer (MUST-8, MUST-9, SHLD-1).
    pub(crate) fn isn(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> TcpSeqNumber {
        let m = (now.total_micros() / 4) as u32;
        TcpSeqNumber(m.wrapping_add(self.hash(local, remote) as u32))
    }

    /// The per-connection offset added to the timestamp clock (RFC 7323 section 5.4
    /// recommends a random offset per connection; Linux derives it from a keyed hash too).
    pub(crate) fn ts_offset(&self, local: SocketAddr, remote: SocketAddr) -> u32 {
        (self.hash(local, remote) >> 32) as u32
    }

    /// A keyed hash of an arbitrary label, for the ephemeral port search (RFC 6056 section
    /// 3.3.3, algorithm 3: `offset = F(local, remote, secret)`).
    pub(crate) fn port_offset(&self, local: IpAddr, remote: SocketAddr) -> u32 {
        siphash24(
            &self.secret,
            &tuple_bytes(SocketAddr::new(local, 0), remote),
        ) as u32
    }

    /// A `BuildHasher` for the connection table keyed by (a derivation of) the secret.
    pub(crate) fn table_hasher(&self) -> TableHasher {
        let mut key = self.secret;
        // Use a different key than the ISN function, so table hashes reveal nothing about ISNs.
        for byte in &mut key {
            *byte ^= 0x5c;
        }
        TableHasher { key }
    }
}

/// A SipHash-2-4 `BuildHasher` with a fixed secret key: deterministic (no OS randomness) yet
/// unpredictable to peers.
#[derive(Debug, Clone)]
pub(crate) struct TableHasher {
    key: [u8; 16],
}

impl BuildHasher for TableHasher {
    type Hasher = TableHasherState;

    fn build_hasher(&self) -> TableHasherState {
        TableHasherState {
            key: self.key,
            buf: [0; 64],
            len: 0,
            spill: 0,
        }
    }
}

/// The state of [`TableHasher`]: buffers up to 64 bytes (a 4-tuple key is 37) and hashes them
/// in `finish`; anything longer is folded in 64-byte blocks.
#[derive(Debug)]
pub(crate) struct TableHasherState {
    key: [u8; 16],
    buf: [u8; 64],
    len: usize,
    spill: u64,
}

impl Hasher for TableHasherState {
    fn write(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.len == self.buf.len() {
                self.spill ^= siphash24(&self.key, &self.buf);
                self.len = 0;
            }
            let n = bytes.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
    }

    fn finish(&self) -> u64 {
        self.spill ^ siphash24(&self.key, &self.buf[..self.len])
    }
}

#[cfg(test)]
mod test {
    use core::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    #[test]
    fn siphash_reference_vectors() {
        // Appendix A of the SipHash paper: key 00..0f, messages 00, 00 01, ...
        assert_eq!(siphash24(&KEY, &[]), 0x726f_db47_dd0e_0e31);
        let message: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(&KEY, &message), 0xa129_ca61_49be_45e5);
    }

    #[test]
    #[allow(deprecated)]
    fn siphash_matches_std_sip24() {
        // `std::hash::SipHasher` is SipHash-2-4 (deprecated, but still a correct oracle).
        let k0 = u64::from_le_bytes(first_8(&KEY[..8]));
        let k1 = u64::from_le_bytes(first_8(&KEY[8..]));
        let data: Vec<u8> = (0u32..100).map(|i| (i * 37 + 11) as u8).collect();
        for len in 0..data.len() {
            let mut oracle = std::hash::SipHasher::new_with_keys(k0, k1);
            oracle.write(&data[..len]);
            assert_eq!(
                siphash24(&KEY, &data[..len]),
                oracle.finish(),
                "length {len}"
            );
        }
    }

    #[test]
    fn isn_has_a_4us_clock_and_a_keyed_tuple_component() {
        let isn = IsnGenerator::new(KEY);
        let local = SocketAddr::new(Ipv4Addr::new(198, 18, 0, 2).into(), 5000);
        let remote = SocketAddr::new(Ipv4Addr::new(198, 18, 0, 1).into(), 40000);
        let t0 = isn.isn(Instant::ZERO, local, remote);
        // MUST-8: the clock component advances by one every 4 us.
        assert_eq!(
            isn.isn(Instant::from_micros(4000), local, remote) - t0,
            1000
        );
        // SHLD-1: a different tuple or key gives an unrelated ISN.
        let other = SocketAddr::new(Ipv4Addr::new(198, 18, 0, 1).into(), 40001);
        assert_ne!(isn.isn(Instant::ZERO, local, other), t0);
        assert_ne!(
            IsnGenerator::new([9; 16]).isn(Instant::ZERO, local, remote),
            t0
        );
        let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 5000);
        assert_ne!(isn.isn(Instant::ZERO, v6, remote), t0);
        assert_ne!(isn.ts_offset(local, remote), isn.ts_offset(local, other));
    }

    #[test]
    fn table_hasher_is_deterministic_and_handles_long_input() {
        let build = IsnGenerator::new(KEY).table_hasher();
        let hash = |bytes: &[u8]| {
            let mut h = build.build_hasher();
            h.write(bytes);
            h.finish()
        };
        assert_eq!(hash(b"abc"), hash(b"abc"));
        assert_ne!(hash(b"abc"), hash(b"abd"));
        let long = [7u8; 200];
        assert_eq!(hash(&long), hash(&long));
        let mut split = build.build_hasher();
        split.write(&long[..13]);
        split.write(&long[13..]);
        assert_eq!(split.finish(), hash(&long));
    }
}
