//! The per-connection timers (quinn style: an enum and a table of deadlines) and the RFC 6298
//! retransmission-timeout estimator.

use crate::time::{Duration, Instant};

/// A connection timer. At most one deadline per kind is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Retransmission of the SYN, the SYN-ACK, data or FIN (RFC 6298, RFC 9293 3.8.1).
    Retransmit = 0,
    /// Zero-window probing (RFC 9293 3.8.6.1, MUST-36), also the sender SWS override
    /// (RFC 1122 4.2.3.4).
    Persist,
    /// The delayed ACK (RFC 9293 3.8.6.3, MUST-40).
    DelayedAck,
    /// Keep-alive idle and probe intervals (RFC 9293 3.8.4).
    KeepAlive,
    /// The 2 MSL wait of TIME-WAIT (MUST-13), also the FIN-WAIT-2 timeout of an orphaned
    /// connection (Linux's `tcp_fin_timeout`).
    Close,
    /// The user timeout (RFC 9293 3.10.8, RFC 5482 semantics as in Linux's
    /// `TCP_USER_TIMEOUT`): data left unacknowledged this long aborts the connection.
    User,
}

impl Timer {
    /// Every timer, in the order `handle_timeout` services expired ones.
    pub(crate) const VALUES: [Self; 6] = [
        Self::Close,
        Self::User,
        Self::Retransmit,
        Self::Persist,
        Self::KeepAlive,
        Self::DelayedAck,
    ];
}

/// The pending deadline of each [`Timer`], in microseconds; [`NEVER`] when disarmed (a plain
/// array, so finding the earliest is a branch-free minimum).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimerTable {
    data: [u64; 6],
}

/// A disarmed timer.
const NEVER: u64 = u64::MAX;

impl Default for TimerTable {
    fn default() -> Self {
        Self { data: [NEVER; 6] }
    }
}

impl TimerTable {
    /// Arm (or re-arm) `timer` to fire at `at`.
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        // An instant at the very end of time is as good as never; keep NEVER unambiguous.
        self.data[timer as usize] = at.total_micros().min(NEVER - 1);
    }

    #[cfg(test)]
    /// The deadline of `timer`, if armed.
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        let at = self.data[timer as usize];
        (at != NEVER).then(|| Instant::from_micros(at))
    }

    /// Disarm `timer`.
    pub(crate) fn stop(&mut self, timer: Timer) {
        self.data[timer as usize] = NEVER;
    }

    /// Whether `timer` is armed.
    pub(crate) fn is_armed(&self, timer: Timer) -> bool {
        self.data[timer as usize] != NEVER
    }

    /// Disarm every timer.
    pub(crate) fn stop_all(&mut self) {
        self.data = [NEVER; 6];
    }

    /// The earliest deadline of any timer.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        let at = self.data.iter().copied().fold(NEVER, u64::min);
        (at != NEVER).then(|| Instant::from_micros(at))
    }

    /// Whether `timer` is armed and its deadline is at or before `now`.
    pub(crate) fn is_expired(&self, timer: Timer, now: Instant) -> bool {
        let at = self.data[timer as usize];
        at != NEVER && at <= now.total_micros()
    }
}

/// The retransmission timeout of RFC 6298, with the exponential backoff of section 5.5.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RttEstimator {
    /// SRTT, once a first sample exists.
    srtt: Option<Duration>,
    /// RTTVAR.
    rttvar: Duration,
    /// The RTO before backoff.
    rto: Duration,
    /// Doublings applied since the last new RTT sample (RFC 6298 5.5).
    backoff: u32,
    min: Duration,
    max: Duration,
}

/// RFC 6298 section 2: the clock granularity G. Our clock has 1 us resolution; the timestamp
/// clock ticks in milliseconds, so samples are never finer than that.
const GRANULARITY: Duration = Duration::from_millis(1);

impl RttEstimator {
    /// A fresh estimator: RTO = `initial` (RFC 6298 2.1, RFC6298-2.1-initial-rto-1s), kept
    /// within `[min, max]` (2.4 and 2.5).
    pub(crate) fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        Self {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial.max(min).min(max),
            backoff: 0,
            min,
            max,
        }
    }

    /// Feed one RTT measurement `r` (RFC 6298 section 2).
    pub(crate) fn sample(&mut self, r: Duration) {
        match self.srtt {
            // 2.2 (RFC6298-2.2-first-sample): SRTT <- R, RTTVAR <- R/2.
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            // 2.3 (RFC6298-2.3-smoothing): RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R|,
            // then SRTT <- 7/8 SRTT + 1/8 R.
            Some(srtt) => {
                let delta = if srtt > r { srtt - r } else { r - srtt };
                self.rttvar = (self.rttvar * 3) / 4 + delta / 4;
                self.srtt = Some((srtt * 7) / 8 + r / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        // RTO <- SRTT + max(G, K*RTTVAR) with K = 4, then 2.4 (min, RFC6298-2.4-min-rto-1s)
        // and 2.5 (max, RFC6298-2.5-max-rto).
        self.rto = (srtt + GRANULARITY.max(self.rttvar * 4))
            .max(self.min)
            .min(self.max);
        // A new sample ends the backoff (RFC 6298 section 5, note after 5.7).
        self.backoff = 0;
    }

    /// The current RTO, backoff included.
    pub(crate) fn rto(&self) -> Duration {
        let factor = 1u64 << self.backoff.min(20);
        self.rto.saturating_mul(factor).min(self.max)
    }

    #[cfg(test)]
    /// The smoothed RTT, if any sample exists.
    pub(crate) fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// RFC 6298 5.5 (RFC6298-5.5-backoff): the timer expired; double the RTO.
    pub(crate) fn back_off(&mut self) {
        if self.rto() < self.max {
            self.backoff += 1;
        }
    }

    /// The number of backoffs since the last sample.
    pub(crate) fn backoff_count(&self) -> u32 {
        self.backoff
    }

    /// RFC 6298 5.7 (RFC6298-5.7-rto-3s-after-syn-timeout): the SYN or SYN-ACK timed out and
    /// no sample exists when the connection is established, so the RTO restarts at 3 s.
    pub(crate) fn reset_after_syn_timeout(&mut self) {
        self.backoff = 0;
        if self.srtt.is_none() && self.rto < Duration::from_secs(3) {
            self.rto = Duration::from_secs(3).min(self.max);
        }
    }

    /// Restart the backoff without a sample (used after the handshake).
    pub(crate) fn clear_backoff(&mut self) {
        self.backoff = 0;
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn timer_table() {
        let mut table = TimerTable::default();
        assert_eq!(table.next_timeout(), None);
        table.set(Timer::Retransmit, Instant::from_millis(300));
        table.set(Timer::DelayedAck, Instant::from_millis(40));
        assert_eq!(table.next_timeout(), Some(Instant::from_millis(40)));
        assert!(table.is_expired(Timer::DelayedAck, Instant::from_millis(40)));
        assert!(!table.is_expired(Timer::Retransmit, Instant::from_millis(40)));
        table.stop(Timer::DelayedAck);
        assert!(!table.is_armed(Timer::DelayedAck));
        assert_eq!(
            table.get(Timer::Retransmit),
            Some(Instant::from_millis(300))
        );
        table.stop_all();
        assert_eq!(table.next_timeout(), None);
    }

    #[test]
    fn rfc6298_estimator() {
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        let mut rtt = RttEstimator::new(secs(1), ms(200), secs(120));
        assert_eq!(rtt.rto(), secs(1));
        // First sample: SRTT = 100, RTTVAR = 50, RTO = 100 + 200 = 300 ms.
        rtt.sample(ms(100));
        assert_eq!(rtt.srtt(), Some(ms(100)));
        assert_eq!(rtt.rto(), ms(300));
        // Second sample 200: RTTVAR = 37.5 + 25 = 62.5, SRTT = 87.5 + 25 = 112.5,
        // RTO = 112.5 + 250 = 362.5 ms.
        rtt.sample(ms(200));
        assert_eq!(rtt.rto(), Duration::from_micros(362_500));
        // Backoff doubles, capped at the maximum; a sample clears it.
        rtt.back_off();
        assert_eq!(rtt.rto(), Duration::from_micros(725_000));
        for _ in 0..30 {
            rtt.back_off();
        }
        assert_eq!(rtt.rto(), secs(120));
        rtt.sample(ms(100));
        assert_eq!(rtt.backoff_count(), 0);
        // The minimum applies.
        let mut fast = RttEstimator::new(secs(1), secs(1), secs(60));
        fast.sample(ms(1));
        assert_eq!(fast.rto(), secs(1));
        // 5.7: after a SYN timeout without samples, 3 s.
        let mut syn = RttEstimator::new(secs(1), ms(200), secs(60));
        syn.back_off();
        syn.reset_after_syn_timeout();
        assert_eq!(syn.rto(), secs(3));
    }
}
