//! Congestion control: RFC 5681 (slow start, congestion avoidance, fast retransmit and fast
//! recovery) with the NewReno modification of RFC 6582, and the ECN reaction of RFC 3168.
//!
//! This module holds the variables and their arithmetic; the connection decides *when* each
//! event happens (an ACK of new data, a duplicate ACK, a timeout) and what to retransmit.

use crate::wire::TcpSeqNumber as Seq;

/// An ongoing fast recovery (RFC 6582 section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recovery {
    /// `recover`: the highest sequence number sent when recovery began; an ACK at or beyond
    /// it ends recovery.
    pub(crate) recover: Seq,
    /// The end of the highest retransmission made in this recovery (HighRxt of RFC 6675):
    /// holes below it were already retransmitted once.
    pub(crate) high_rxt: Seq,
}

/// The NewReno state of one connection.
#[derive(Debug, Clone)]
pub(crate) struct NewReno {
    /// cwnd, in bytes.
    pub(crate) cwnd: u32,
    /// ssthresh, in bytes ("arbitrarily high" initially, RFC 5681 section 3.1).
    pub(crate) ssthresh: u32,
    /// SMSS, the sender's maximum segment size.
    smss: u32,
    /// Bytes acknowledged in congestion avoidance since cwnd last grew (RFC 5681 3.1, the
    /// byte-counting variant).
    bytes_acked: u32,
    /// Consecutive duplicate ACKs (RFC 5681 section 2 definition).
    pub(crate) dupacks: u32,
    /// Fast recovery in progress.
    pub(crate) recovery: Option<Recovery>,
    /// RFC 6582 `recover`, kept after recovery ends so duplicate ACKs for data sent before a
    /// loss do not start a second recovery (section 3.2 step 2, the "careful" variant).
    recover: Option<Seq>,
    /// After an ECN-Echo reduction: no further reduction until SND.UNA passes this
    /// (RFC 3168 section 6.1.2: at most once per window of data).
    ecn_recover: Option<Seq>,
}

impl NewReno {
    /// A fresh controller for a sender with maximum segment size `smss`.
    pub(crate) fn new(smss: u32) -> Self {
        let smss = smss.max(1);
        Self {
            cwnd: Self::initial_window(smss),
            ssthresh: u32::MAX,
            smss,
            bytes_acked: 0,
            dupacks: 0,
            recovery: None,
            recover: None,
            ecn_recover: None,
        }
    }

    /// RFC 5681 section 3.1 equation 1 (RFC5681-3.1-initial-window):
    /// `IW = min(4*SMSS, max(2*SMSS, 4380))`, i.e. 4, 3 or 2 segments by SMSS. (Linux uses
    /// ten segments, RFC 6928; this stack follows RFC 5681.)
    pub(crate) fn initial_window(smss: u32) -> u32 {
        (4 * smss).min((2 * smss).max(4380))
    }

    /// The SMSS is known (after the handshake): restart with the initial window for it.
    /// `syn_lost`: the SYN or SYN-ACK was retransmitted, so the initial window is one segment
    /// (RFC 5681 section 3.1, RFC5681-3.1-iw-one-after-syn-loss).
    pub(crate) fn established(&mut self, smss: u32, syn_lost: bool) {
        self.smss = smss.max(1);
        self.cwnd = if syn_lost {
            self.smss
        } else {
            Self::initial_window(self.smss)
        };
    }

    /// SMSS.
    pub(crate) fn smss(&self) -> u32 {
        self.smss
    }

    /// `acked` new bytes were cumulatively acknowledged outside fast recovery (RFC 5681 3.1).
    /// `cwnd_limited`: the sender had been using the window (growth is suppressed otherwise,
    /// RFC 7661's intent, so an application-limited flow does not inflate cwnd).
    pub(crate) fn on_ack(&mut self, acked: u32, cwnd_limited: bool) {
        self.dupacks = 0;
        if !cwnd_limited {
            return;
        }
        if self.cwnd < self.ssthresh {
            // Slow start: cwnd += min(N, SMSS) (RFC 5681 equation 2,
            // RFC5681-3.1-slow-start-growth).
            self.cwnd = self.cwnd.saturating_add(acked.min(self.smss));
        } else {
            // Congestion avoidance: one SMSS per cwnd of acknowledged bytes, i.e. at most one
            // SMSS per RTT (RFC5681-3.1-ca-growth-bound).
            self.bytes_acked = self.bytes_acked.saturating_add(acked);
            if self.bytes_acked >= self.cwnd {
                self.bytes_acked -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(self.smss);
            }
        }
    }

    /// A loss was detected by three duplicate ACKs (or by SACK): enter fast recovery per
    /// RFC 5681 3.2 steps 2-4 and RFC 6582 3.2 step 2, unless the careful variant forbids it.
    /// Returns whether recovery started (the caller then retransmits from SND.UNA).
    pub(crate) fn enter_recovery(
        &mut self,
        snd_una: Seq,
        snd_max: Seq,
        flight: u32,
        sack: bool,
    ) -> bool {
        if self.recovery.is_some() {
            return false;
        }
        // RFC 6582 3.2 step 2: only if the ACK covers more than `recover`.
        if let Some(recover) = self.recover
            && snd_una - recover <= 0
        {
            return false;
        }
        // RFC 5681 equation 4 (RFC5681-3.1-ssthresh-on-loss): ssthresh = max(FlightSize/2, 2*SMSS).
        self.ssthresh = (flight / 2).max(2 * self.smss);
        // Step 3 (inflation by the three segments that left) without SACK; with SACK the pipe
        // estimate accounts for them (RFC 6675), so cwnd = ssthresh.
        self.cwnd = if sack {
            self.ssthresh
        } else {
            self.ssthresh.saturating_add(3 * self.smss)
        };
        self.bytes_acked = 0;
        self.recover = Some(snd_max);
        self.recovery = Some(Recovery {
            recover: snd_max,
            high_rxt: snd_una,
        });
        true
    }

    /// A further duplicate ACK during recovery without SACK: inflate by one SMSS (RFC 5681
    /// 3.2 step 4).
    pub(crate) fn inflate(&mut self) {
        self.cwnd = self.cwnd.saturating_add(self.smss);
    }

    /// An ACK of new data during recovery. Returns true if it was a full ACK (recovery is
    /// over), false for a partial ACK.
    pub(crate) fn on_recovery_ack(
        &mut self,
        ack: Seq,
        acked: u32,
        flight_after: u32,
        sack: bool,
    ) -> bool {
        let Some(recovery) = self.recovery else {
            return true;
        };
        self.dupacks = 0;
        if ack >= recovery.recover {
            // RFC 6582 3.2 step 3, option 1: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
            self.cwnd = self.ssthresh.min(flight_after.max(self.smss) + self.smss);
            self.recovery = None;
            true
        } else {
            // RFC 6582 3.2 step 4: partial ACK. Deflate by the amount acknowledged, add back
            // one SMSS if that was at least one SMSS (without SACK; with SACK cwnd stays at
            // ssthresh and the pipe decides).
            if !sack {
                self.cwnd = self.cwnd.saturating_sub(acked);
                if acked >= self.smss {
                    self.cwnd = self.cwnd.saturating_add(self.smss);
                }
                self.cwnd = self.cwnd.max(self.smss);
            }
            false
        }
    }

    /// The retransmission timer expired (RFC 5681 section 3.1 equations 4 and the loss
    /// window, RFC5681-3.1-loss-window-after-rto): ssthresh = max(FlightSize/2, 2*SMSS),
    /// cwnd = 1 SMSS, recovery abandoned; `recover` = SND.MAX (RFC 6582 section 3.2 step 2).
    pub(crate) fn on_timeout(&mut self, flight: u32, snd_max: Seq, first_timeout: bool) {
        // Only the first timeout of a series halves ssthresh (RFC 5681 equation 4 note: a
        // retransmitted segment lost again must not halve it again).
        if first_timeout {
            self.ssthresh = (flight / 2).max(2 * self.smss);
        }
        self.cwnd = self.smss;
        self.bytes_acked = 0;
        self.dupacks = 0;
        self.recovery = None;
        self.recover = Some(snd_max);
    }

    /// An ACK carrying ECN-Echo arrived (RFC 3168 section 6.1.2, RFC3168-6.1.2-ece-response):
    /// halve like a loss, at most once per window. Returns whether cwnd was reduced (the
    /// caller then sets CWR on its next new data segment).
    pub(crate) fn on_ecn_echo(&mut self, snd_una: Seq, snd_max: Seq, flight: u32) -> bool {
        if self.recovery.is_some() {
            return false;
        }
        if let Some(until) = self.ecn_recover
            && snd_una < until
        {
            return false;
        }
        self.ssthresh = (flight / 2).max(2 * self.smss);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
        self.ecn_recover = Some(snd_max);
        true
    }

    /// RFC 5681 section 4.1 (RFC5681-4.1-restart-after-idle): after an idle period longer
    /// than the RTO, cwnd = min(IW, cwnd).
    pub(crate) fn restart_after_idle(&mut self) {
        self.cwnd = self.cwnd.min(Self::initial_window(self.smss));
    }

    /// Keep cwnd from growing far beyond what the peer's window ever allowed.
    pub(crate) fn clamp(&mut self, max: u32) {
        self.cwnd = self.cwnd.min(max.max(Self::initial_window(self.smss)));
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn initial_window_by_smss() {
        assert_eq!(NewReno::initial_window(1460), 4380);
        assert_eq!(NewReno::initial_window(536), 2144);
        assert_eq!(NewReno::initial_window(4000), 8000);
        let mut cc = NewReno::new(1460);
        cc.established(1460, true);
        assert_eq!(cc.cwnd, 1460);
    }

    #[test]
    fn slow_start_then_avoidance() {
        let mut cc = NewReno::new(1000);
        cc.established(1000, false);
        assert_eq!(cc.cwnd, 4000);
        // An ACK of 3000 bytes grows cwnd by at most one SMSS.
        cc.on_ack(3000, true);
        assert_eq!(cc.cwnd, 5000);
        // Not cwnd-limited: no growth.
        cc.on_ack(1000, false);
        assert_eq!(cc.cwnd, 5000);
        cc.ssthresh = 5000;
        for _ in 0..4 {
            cc.on_ack(1000, true);
        }
        assert_eq!(cc.cwnd, 5000);
        cc.on_ack(1000, true);
        assert_eq!(cc.cwnd, 6000);
    }

    #[test]
    fn newreno_recovery() {
        let mut cc = NewReno::new(1000);
        cc.established(1000, false);
        cc.cwnd = 10_000;
        let una = Seq(0);
        let max = Seq(10_000);
        assert!(cc.enter_recovery(una, max, 10_000, false));
        assert_eq!(cc.ssthresh, 5000);
        assert_eq!(cc.cwnd, 8000);
        assert!(!cc.enter_recovery(una, max, 10_000, false));
        cc.inflate();
        assert_eq!(cc.cwnd, 9000);
        // Partial ACK of 2000: deflate by 2000, add back 1000.
        assert!(!cc.on_recovery_ack(Seq(2000), 2000, 8000, false));
        assert_eq!(cc.cwnd, 8000);
        // Full ACK.
        assert!(cc.on_recovery_ack(Seq(10_000), 8000, 0, false));
        assert_eq!(cc.cwnd, 2000);
        assert!(cc.recovery.is_none());
        // The careful variant: duplicate ACKs below `recover` do not restart recovery.
        assert!(!cc.enter_recovery(Seq(10_000), Seq(20_000), 10_000, false));
        assert!(cc.enter_recovery(Seq(10_001), Seq(20_000), 10_000, true));
        assert_eq!(cc.cwnd, cc.ssthresh);
    }

    #[test]
    fn timeout_and_ecn() {
        let mut cc = NewReno::new(1000);
        cc.cwnd = 20_000;
        cc.on_timeout(20_000, Seq(20_000), true);
        assert_eq!((cc.cwnd, cc.ssthresh), (1000, 10_000));
        cc.on_timeout(1000, Seq(20_000), false);
        assert_eq!(cc.ssthresh, 10_000);
        cc.cwnd = 8000;
        assert!(cc.on_ecn_echo(Seq(0), Seq(8000), 8000));
        assert_eq!(cc.cwnd, 4000);
        // Once per window.
        assert!(!cc.on_ecn_echo(Seq(100), Seq(8000), 8000));
        assert!(cc.on_ecn_echo(Seq(8000), Seq(9000), 4000));
        cc.cwnd = 50_000;
        cc.restart_after_idle();
        assert_eq!(cc.cwnd, 4000);
    }
}
