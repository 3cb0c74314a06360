//! The sender's SACK scoreboard (RFC 2018, used for loss recovery in the manner of RFC 6675).
//!
//! The scoreboard remembers which bytes above SND.UNA the peer reported in SACK blocks. Data is
//! never freed because it was SACKed, only when the cumulative ACK covers it
//! (RFC2018-8-keep-data-until-cumack): the scoreboard only steers *which* bytes are
//! retransmitted. It is bounded (an [`Assembler`] of at most 32 ranges) and cleared after a
//! retransmission timeout (RFC 2018 section 5.1, RFC2018-5-rto-resend-left-edge), since the
//! receiver may have reneged.

use super::buffer::Assembler;
use crate::wire::TcpSeqNumber as Seq;

/// SACKed ranges above SND.UNA, as offsets from it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scoreboard {
    ranges: Assembler,
}

impl Scoreboard {
    /// Forget all SACK information.
    pub(crate) fn clear(&mut self) {
        self.ranges.clear();
    }

    /// No SACKed bytes.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The cumulative ACK moved SND.UNA forward by `n` bytes.
    pub(crate) fn advance(&mut self, n: u32) {
        self.ranges.shift(n);
    }

    /// Record the blocks of one arriving SACK option. Blocks that are malformed (right edge
    /// not after the left) or not within `(snd_una, snd_max]` are ignored, as are D-SACK
    /// blocks below SND.UNA (RFC 2883 is not implemented). Returns whether anything new was
    /// learned.
    pub(crate) fn update(
        &mut self,
        snd_una: Seq,
        snd_max: Seq,
        blocks: &[Option<(u32, u32)>],
    ) -> bool {
        let before = self.sacked_bytes();
        for &(left, right) in blocks.iter().flatten() {
            let (left, right) = (Seq(left), Seq(right));
            if right - left <= 0 || left < snd_una || right > snd_max {
                continue;
            }
            let offset = (left - snd_una) as u32;
            let len = (right - left) as u32;
            // A full scoreboard drops the block: recovery is then only less precise.
            let _ = self.ranges.add(offset, len);
        }
        self.sacked_bytes() != before
    }

    /// The number of SACKed bytes above SND.UNA.
    pub(crate) fn sacked_bytes(&self) -> u32 {
        self.ranges.ranges().iter().map(|&(s, e)| e - s).sum()
    }

    /// The offset (from SND.UNA) just past the highest SACKed byte, if any.
    pub(crate) fn highest_sacked(&self) -> Option<u32> {
        self.ranges.ranges().last().map(|&(_, e)| e)
    }

    /// The first hole at or after offset `from` and below offset `limit`: `(offset, len)`.
    pub(crate) fn next_hole(&self, from: u32, limit: u32) -> Option<(u32, u32)> {
        let mut at = from;
        for &(s, e) in self.ranges.ranges() {
            if at >= limit {
                return None;
            }
            if e <= at {
                continue;
            }
            if s > at {
                return Some((at, s.min(limit) - at));
            }
            at = e;
        }
        (at < limit).then(|| (at, limit - at))
    }

    /// The number of SACKed bytes within offsets `[from, to)`.
    pub(crate) fn sacked_between(&self, from: u32, to: u32) -> u32 {
        self.ranges
            .ranges()
            .iter()
            .map(|&(s, e)| e.min(to).saturating_sub(s.max(from)))
            .sum()
    }

    #[cfg(test)]
    /// Whether the byte at offset `at` is SACKed.
    pub(crate) fn is_sacked(&self, at: u32) -> bool {
        self.ranges.range_containing(at).is_some()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn scoreboard_tracks_blocks_and_holes() {
        let una = Seq(1000);
        let max = Seq(6000);
        let mut sb = Scoreboard::default();
        assert!(sb.update(una, max, &[Some((2000, 3000)), Some((4000, 5000)), None]));
        // Outside (una, max], inverted: ignored.
        assert!(!sb.update(
            una,
            max,
            &[Some((500, 900)), Some((5000, 7000)), Some((3000, 2000))]
        ));
        assert_eq!(sb.sacked_bytes(), 2000);
        assert_eq!(sb.highest_sacked(), Some(4000));
        assert_eq!(sb.next_hole(0, 4000), Some((0, 1000)));
        assert_eq!(sb.next_hole(1000, 4000), Some((2000, 1000)));
        assert_eq!(sb.next_hole(3000, 3000), None);
        assert_eq!(sb.sacked_between(0, 1500), 500);
        assert!(sb.is_sacked(1000) && !sb.is_sacked(2000));
        // The cumulative ACK moves past the first block.
        sb.advance(2500);
        assert_eq!(sb.sacked_bytes(), 1000);
        assert_eq!(sb.next_hole(0, 2500), Some((0, 500)));
        sb.clear();
        assert!(sb.is_empty());
    }
}
